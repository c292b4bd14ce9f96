// Package kernels holds the numeric inner loops of the engine: SGEMM,
// im2col/col2im, pooling and a bounded worker pool. Everything above it
// reaches matrix multiplication through Sgemm alone.
//
// Sgemm packs and cache-blocks its operands around a register-blocked
// micro-kernel: AVX-512 (8×32 tile) or AVX2+FMA (6×16) assembly on amd64,
// chosen at start-up from the CPU's features, or a portable Go kernel on
// other architectures. METACNN_KERNELS=generic (or avx2, avx512) forces one;
// ActiveKernel says which is in use.
package kernels

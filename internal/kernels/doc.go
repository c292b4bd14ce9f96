// Package kernels holds the numeric inner loops of the engine: SGEMM,
// im2col/col2im and a bounded worker pool. Everything above it reaches matrix
// multiplication through Sgemm alone, so faster implementations (assembly
// micro-kernels, packing, blocking) replace the body without touching callers.
package kernels

package kernels

import "golang.org/x/sys/cpu"

// Blocking for the assembly kernels, sized for a core with a 32 KiB L1d and
// 1 MiB L2 (AMD Zen 4; most AVX2 parts have at least 256 KiB L2):
//
//   - kc = 256: an MR×kc A micro-panel (8 KiB for 8×32) stays in L1 while
//     the kernel sweeps B, and a C tile's load+store is amortised over
//     256 rank-1 updates.
//   - nc*kc*4 bytes is the packed B block the kernel streams from L2 for
//     every A micro-panel: 384×256×4 = 384 KiB, well inside 1 MiB with room
//     for A and C.
//   - mc bounds the packed A block (mc×kc); A micro-panels are reused from
//     L1, so mc only needs to cover the row counts the engine uses.
func archKernels() []*microKernel {
	var ks []*microKernel
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, &microKernel{
			name: "avx512", mr: 8, nr: 32,
			kc: 256, mc: 256, nc: 1536, directRows: 64,
			fn: kernel8x32AVX512,
		})
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, &microKernel{
			name: "avx2", mr: 6, nr: 16,
			kc: 256, mc: 252, nc: 1536, directRows: 48,
			fn: kernel6x16AVX2,
		})
	}
	return ks
}

//go:noescape
func sgemmKernel8x32AVX512(k int, a, b *float32, ldb int, c *float32, ldc int, beta float32)

//go:noescape
func sgemmKernel6x16AVX2(k int, a, b *float32, ldb int, c *float32, ldc int, beta float32)

// The wrappers bound-check the whole tile once, so the assembly cannot write
// outside the slices it was given.
func kernel8x32AVX512(k int, a, b []float32, ldb int, c []float32, ldc int, beta float32) {
	_ = a[8*k-1]
	_ = b[(k-1)*ldb+31]
	_ = c[7*ldc+31]
	sgemmKernel8x32AVX512(k, &a[0], &b[0], ldb, &c[0], ldc, beta)
}

func kernel6x16AVX2(k int, a, b []float32, ldb int, c []float32, ldc int, beta float32) {
	_ = a[6*k-1]
	_ = b[(k-1)*ldb+15]
	_ = c[5*ldc+15]
	sgemmKernel6x16AVX2(k, &a[0], &b[0], ldb, &c[0], ldc, beta)
}

//go:noescape
func transpose8AVX2(src *float32, ld int, dst *float32, w int, blocks int)

// useAVX2 reports whether the AVX2 helpers (packing transpose, pooling) run;
// it follows the SGEMM kernel choice so METACNN_KERNELS=generic is portable
// Go throughout.
var useAVX2 = cpu.X86.HasAVX2 && activeKernel != genericKernel

// transpose8 sets d[p*w + i] = src[off + i*ld + p] for i < 8 and p < kc8
// (a multiple of 8) with 8×8 AVX2 transposes.
func transpose8(d []float32, w int, src []float32, ld, off, kc8 int) {
	_ = src[off+7*ld+kc8-1]
	_ = d[(kc8-1)*w+7]
	transpose8AVX2(&src[off], ld, &d[0], w, kc8/8)
}

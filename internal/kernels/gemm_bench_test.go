package kernels

import "testing"

// sgemmShapes are the products that matter: the seed CNN at batch 32
// (conv via im2col per image, Linear over the batch; dW and dX are the two
// backward products) and square sizes for comparison with BLAS figures.
// bench/sgemm_openblas.py times the same list with OpenBLAS.
var sgemmShapes = []struct {
	name           string
	transA, transB bool
	m, n, k        int
}{
	{"square256", false, false, 256, 256, 256},
	{"square512", false, false, 512, 512, 512},
	{"square1024", false, false, 1024, 1024, 1024},
	{"conv1-fwd", false, false, 32, 3136, 27},
	{"conv2-fwd", false, false, 64, 784, 288},
	{"conv1-dW", false, true, 32, 27, 3136},
	{"conv2-dW", false, true, 64, 288, 784},
	{"conv1-dXcols", true, false, 27, 3136, 32},
	{"conv2-dXcols", true, false, 288, 784, 64},
	{"fc-fwd", false, true, 32, 128, 12544},
	{"fc-dW", true, false, 128, 12544, 32},
	{"fc-dX", false, false, 32, 12544, 128},
}

// BenchmarkSgemm reports GFLOP/s (2mnk per call, beta = 0) with the active
// micro-kernel; set METACNN_KERNELS=avx2 or generic to time the others.
func BenchmarkSgemm(b *testing.B) {
	for _, s := range sgemmShapes {
		b.Run(s.name, func(b *testing.B) {
			a := make([]float32, s.m*s.k)
			bb := make([]float32, s.k*s.n)
			c := make([]float32, s.m*s.n)
			for i := range a {
				a[i] = float32(i%7) - 3
			}
			for i := range bb {
				bb[i] = float32(i%5) - 2
			}
			lda, ldb := s.k, s.n
			if s.transA {
				lda = s.m
			}
			if s.transB {
				ldb = s.k
			}
			Sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n)
			b.ResetTimer()
			for b.Loop() {
				Sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n)
			}
			flops := 2 * float64(s.m) * float64(s.n) * float64(s.k)
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkSgemmKernel times each micro-kernel alone on one L1-resident
// 256-deep tile: the per-core ceiling the blocked driver works towards.
func BenchmarkSgemmKernel(b *testing.B) {
	for _, kn := range kernels {
		b.Run(kn.name, func(b *testing.B) {
			const kc = 256
			a := make([]float32, kn.mr*kc)
			bb := make([]float32, kn.nr*kc)
			c := make([]float32, kn.mr*kn.nr)
			for b.Loop() {
				kn.fn(kc, a, bb, kn.nr, c, kn.nr, 1)
			}
			flops := 2 * float64(kn.mr*kn.nr*kc)
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

package kernels

// A product with one or two rows against a transposed B (a Linear layer on
// a single image: x·Wᵀ) is a handful of dot products along the contiguous
// rows of B. The packed driver would transpose all of B into panels and
// then fill only one row of each 8-row tile; reading B once in place is
// several times faster.

// gemvRows is the most rows of C that take the dot-product path.
const gemvRows = 2

// Dot returns Σ a[i]*b[i] (AVX2+FMA where the CPU has it; dotGeneric is
// the portable twin; the two differ only in summation order).
func Dot(a, b []float32) float32 {
	b = b[:len(a)]
	i := 0
	var s float32
	if useAVX2FMA && len(a) >= 32 {
		i = len(a) &^ 31
		s = dotBlocks(a, b, i/32)
	}
	return s + dotGeneric(a[i:], b[i:])
}

func dotGeneric(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// gemvTransB computes C = alpha*A*Bᵀ + beta*C (then ReLU when relu) for a
// row-major A of m rows, one dot product per element, split over columns.
func gemvTransB(workers int, relu bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	cols := func(lo, hi int) {
		for i := 0; i < m; i++ {
			ar := a[i*lda : i*lda+k]
			cr := c[i*ldc : i*ldc+n]
			for j := lo; j < hi; j++ {
				s := alpha * Dot(ar, b[j*ldb:j*ldb+k])
				if beta != 0 {
					s += beta * cr[j]
				}
				if relu {
					s = ReLU32(s)
				}
				cr[j] = s
			}
		}
	}
	if workers == 1 || m*n*k < parallelGemm {
		cols(0, n)
		return
	}
	ParallelFor(n, max(1, n/(4*workers)), cols)
}

package kernels

import "fmt"

// Sgemm computes C = alpha*op(A)*op(B) + beta*C on row-major float32
// matrices, where op(X) is X or its transpose. op(A) is m×k, op(B) is k×n and
// C is m×n. lda, ldb and ldc are the row strides of A, B and C as stored
// (A is m×k, or k×m when transA). With beta == 0, C is overwritten and its
// previous contents (even NaN) are ignored, as in BLAS.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemm(transA, transB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	if m == 0 || n == 0 {
		return
	}
	scaleC(m, n, beta, c, ldc)
	if k == 0 || alpha == 0 {
		return
	}
	ParallelFor(m, gemmGrain(n, k), func(lo, hi int) {
		sgemmRows(transA, transB, lo, hi, n, k, alpha, a, lda, b, ldb, c, ldc)
	})
}

// gemmGrain picks how many rows of C one task handles so each task does at
// least ~64k multiply-adds.
func gemmGrain(n, k int) int {
	work := n * k
	if work <= 0 {
		return 1
	}
	g := (1 << 16) / work
	return max(g, 1)
}

func scaleC(m, n int, beta float32, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// sgemmRows accumulates alpha*op(A)[lo:hi]*op(B) into rows lo..hi of C.
func sgemmRows(transA, transB bool, lo, hi, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	for i := lo; i < hi; i++ {
		crow := c[i*ldc : i*ldc+n]
		for p := 0; p < k; p++ {
			var av float32
			if transA {
				av = a[p*lda+i]
			} else {
				av = a[i*lda+p]
			}
			if av == 0 {
				continue
			}
			av *= alpha
			if !transB {
				axpy(av, b[p*ldb:p*ldb+n], crow)
				continue
			}
			for j := range crow {
				crow[j] += av * b[j*ldb+p]
			}
		}
	}
}

func axpy(a float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += a * v
	}
}

func checkGemm(transA, transB bool, m, n, k, la, lda, lb, ldb, lc, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("kernels.Sgemm: negative size m=%d n=%d k=%d", m, n, k))
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	need := func(name string, rows, cols, ld, l int) {
		if rows == 0 || cols == 0 {
			return
		}
		if ld < cols {
			panic(fmt.Sprintf("kernels.Sgemm: ld%s=%d smaller than %d columns", name, ld, cols))
		}
		if (rows-1)*ld+cols > l {
			panic(fmt.Sprintf("kernels.Sgemm: %s has %d elements, needs %d (%dx%d, ld %d)", name, l, (rows-1)*ld+cols, rows, cols, ld))
		}
	}
	need("a", ar, ac, lda, la)
	need("b", br, bc, ldb, lb)
	need("c", m, n, ldc, lc)
}

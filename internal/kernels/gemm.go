package kernels

import (
	"fmt"
	"sync"
)

// Sgemm computes C = alpha*op(A)*op(B) + beta*C on row-major float32
// matrices, where op(X) is X or its transpose. op(A) is m×k, op(B) is k×n and
// C is m×n. lda, ldb and ldc are the row strides of A, B and C as stored
// (A is m×k, or k×m when transA). With beta == 0, C is overwritten and its
// previous contents (even NaN) are ignored, as in BLAS.
//
// Large products go through a packed, cache-blocked driver around a
// register-blocked micro-kernel (AVX-512 or AVX2+FMA assembly where the CPU
// has it, portable Go otherwise; see gemm_kernels.go) and are split across
// the worker pool. Tiny products take a plain loop, where packing would cost
// more than it saves.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemm(Workers, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmSerial is Sgemm on the calling goroutine only, for callers that
// already run many products in parallel (a convolution over the images of a
// batch): splitting each product again would only add hand-offs and pack
// shared operands once per task.
func SgemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemm(1, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmReLU is Sgemm followed by C = max(C, 0) (ReLU32 on every element),
// applied to each tile of C right after its last update, while the tile is
// still in cache, instead of in a second pass over C.
func SgemmReLU(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmEpi(Workers, true, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmSerialReLU is SgemmReLU on the calling goroutine only.
func SgemmSerialReLU(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmEpi(1, true, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// reluRows applies ReLUInPlace to an m×n block of C.
func reluRows(m, n int, c []float32, ldc int) {
	if useAVX2 && n%8 == 0 && m > 0 {
		reluRowBlocks(c, ldc, m, n/8)
		return
	}
	for i := 0; i < m; i++ {
		ReLUInPlace(c[i*ldc : i*ldc+n])
	}
}

func sgemm(workers int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmEpi(workers, false, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func sgemmEpi(workers int, relu, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemm(transA, transB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		if relu {
			reluRows(m, n, c, ldc)
		}
		return
	}
	g := gemmArgs{
		transA: transA, transB: transB, m: m, n: n, k: k,
		alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc,
		kern: activeKernel, relu: relu,
	}
	if m*n*k < smallGemm {
		scaleC(m, n, beta, c, ldc)
		sgemmRows(transA, transB, 0, m, n, k, alpha, a, lda, b, ldb, c, ldc)
		if relu {
			reluRows(m, n, c, ldc)
		}
		return
	}
	if m <= gemvRows && transB && !transA {
		gemvTransB(workers, relu, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if workers == 1 || m*n*k < parallelGemm {
		g.tm, g.tn = 1, 1
		g.task(0)
		return
	}
	// Only the parallel path moves the arguments to the heap, where the
	// pool's goroutines can reach them.
	gp := new(gemmArgs)
	*gp = g
	gp.run(workers)
}

const (
	// smallGemm is the m*n*k below which packing is not worth it: the plain
	// loop wins for the engine's tiny products (a 32×8×2 metadata layer).
	smallGemm = 4096
	// parallelGemm is the m*n*k below which one core does the whole product:
	// handing work to the pool costs a few microseconds.
	parallelGemm = 1 << 18
)

// gemmArgs is one Sgemm call as seen by the packed driver.
type gemmArgs struct {
	transA, transB bool
	m, n, k        int
	alpha          float32
	a              []float32
	lda            int
	b              []float32
	ldb            int
	beta           float32
	c              []float32
	ldc            int
	kern           *microKernel
	relu           bool // apply ReLU32 to C once each tile is final

	// The task grid: C is cut into tm row ranges (whole MR panels) times tn
	// column ranges (whole NR panels); each task runs the full blocked loop
	// on its part with its own packing buffers.
	tm, tn int
}

// run splits the product over up to workers tasks and computes it.
func (g *gemmArgs) run(workers int) {
	kn := g.kern
	mp := (g.m + kn.mr - 1) / kn.mr
	np := (g.n + kn.nr - 1) / kn.nr
	g.tm, g.tn = 1, 1
	if workers > 1 {
		// Prefer cutting columns: each task then packs only its share of B
		// (the larger, often transposed operand) and reads its own part of
		// it. Cut rows only when columns balance clearly worse, as for the
		// narrow products (n = 27) of the seed model's weight gradients.
		if splitEfficiency(np, workers) >= 0.85*splitEfficiency(mp, workers) {
			g.tn = min(workers, np)
		} else {
			g.tm = min(workers, mp)
		}
	}
	tasks := g.tm * g.tn
	if tasks == 1 {
		g.task(0)
		return
	}
	ParallelFor(tasks, 1, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			g.task(t)
		}
	})
}

// splitEfficiency is the fraction of w workers kept busy when p equal panels
// are dealt out in contiguous runs.
func splitEfficiency(p, w int) float64 {
	per := (p + w - 1) / w
	return float64(p) / float64(per*min(w, p))
}

// task computes task t of the grid.
func (g *gemmArgs) task(t int) {
	kn := g.kern
	ti, tj := t/g.tn, t%g.tn
	mp := (g.m + kn.mr - 1) / kn.mr
	np := (g.n + kn.nr - 1) / kn.nr
	i0 := ti * mp / g.tm * kn.mr
	i1 := min((ti+1)*mp/g.tm*kn.mr, g.m)
	j0 := tj * np / g.tn * kn.nr
	j1 := min((tj+1)*np/g.tn*kn.nr, g.n)
	buf := getGemmBuf(kn)
	g.block(i0, i1, j0, j1, buf)
	gemmBufs.Put(buf)
}

// block computes rows [i0, i1) and columns [j0, j1) of C, GotoBLAS style:
// for each NC-wide column block and KC-deep slice of k, pack that slice of
// op(B) into NR-wide micro-panels; for each MC-tall row block pack op(A)
// (times alpha) into MR-tall micro-panels; then run the micro-kernel over
// every MR×NR tile, each B micro-panel staying in cache while the A
// micro-panels stream past it. The first k slice applies beta; later ones
// add.
//
// When few A micro-panels share each B micro-panel (directB), copying B costs
// as much as multiplying by it, so the kernel reads whole NR-wide panels of
// an untransposed B in place and only a ragged last panel is packed.
func (g *gemmArgs) block(i0, i1, j0, j1 int, buf *gemmBuf) {
	kn := g.kern
	mr, nr := kn.mr, kn.nr
	ldc := g.ldc
	directB := !g.transB && i1-i0 <= kn.directRows
	// Cut k into equal slices of about kn.kc (at most 1.5×) rather than
	// leaving a thin last one: k = 288 is one pass, not 256 + 32.
	passes := max(1, (g.k+kn.kc/2)/kn.kc)
	kcStep := (g.k + passes - 1) / passes
	for jc := j0; jc < j1; jc += kn.nc {
		nc := min(kn.nc, j1-jc)
		for pc := 0; pc < g.k; pc += kcStep {
			kc := min(kcStep, g.k-pc)
			beta := g.beta
			if pc > 0 {
				beta = 1
			}
			last := g.relu && pc+kc >= g.k
			if directB {
				if r := nc % nr; r != 0 {
					packB(buf.b, false, g.b, g.ldb, pc, kc, jc+nc-r, r, nr)
				}
			} else {
				packB(buf.b, g.transB, g.b, g.ldb, pc, kc, jc, nc, nr)
			}
			for ic := i0; ic < i1; ic += kn.mc {
				mc := min(kn.mc, i1-ic)
				packA(buf.a, g.transA, g.a, g.lda, ic, mc, pc, kc, mr, g.alpha)
				for jr := 0; jr < nc; jr += nr {
					nv := min(nr, nc-jr)
					var bp []float32
					ldb := nr
					switch {
					case !directB:
						bp = buf.b[jr*kc : (jr+nr)*kc]
					case nv == nr:
						bp, ldb = g.b[pc*g.ldb+jc+jr:], g.ldb
					default:
						bp = buf.b[:nr*kc]
					}
					for ir := 0; ir < mc; ir += mr {
						ap := buf.a[ir*kc : (ir+mr)*kc]
						mv := min(mr, mc-ir)
						off := (ic+ir)*ldc + jc + jr
						if mv == mr && nv == nr {
							kn.fn(kc, ap, bp, ldb, g.c[off:], ldc, beta)
						} else {
							// Edge tile: compute the whole tile aside and
							// merge the valid part.
							kn.fn(kc, ap, bp, ldb, buf.tile, nr, 0)
							mergeTile(g.c[off:], ldc, buf.tile, nr, mv, nv, beta)
						}
						if last {
							reluRows(mv, nv, g.c[off:], ldc)
						}
					}
				}
			}
		}
	}
}

// mergeTile sets the mv×nv corner of C to tile + beta*C.
func mergeTile(c []float32, ldc int, tile []float32, nr, mv, nv int, beta float32) {
	for i := 0; i < mv; i++ {
		src := tile[i*nr : i*nr+nv]
		dst := c[i*ldc : i*ldc+nv]
		if beta == 0 {
			copy(dst, src)
			continue
		}
		for j, v := range src {
			dst[j] = v + beta*dst[j]
		}
	}
}

// packA writes alpha*op(A)[i0:i0+mc, p0:p0+kc] into dst as MR-tall
// micro-panels: panel q holds rows q*mr.. at dst[q*mr*kc + p*mr + i], with
// rows past the matrix zero so the micro-kernel never needs a row count.
func packA(dst []float32, transA bool, a []float32, lda, i0, mc, p0, kc, mr int, alpha float32) {
	for ir := 0; ir < mc; ir += mr {
		d := dst[ir*kc : (ir+mr)*kc]
		rows := min(mr, mc-ir)
		if transA {
			// op(A)[i, p] = a[p*lda + i]: each k step is a contiguous run.
			for p := 0; p < kc; p++ {
				src := a[(p0+p)*lda+i0+ir : (p0+p)*lda+i0+ir+rows]
				dp := d[p*mr : p*mr+mr]
				scaleCopy(dp, src, alpha)
				clear(dp[rows:])
			}
			continue
		}
		// op(A)[i, p] = a[i*lda + p]: rows of A become columns of the panel.
		transposeInto(d, mr, a, lda, (i0+ir)*lda+p0, rows, kc, alpha)
		if rows < mr {
			for p := 0; p < kc; p++ {
				clear(d[p*mr+rows : p*mr+mr])
			}
		}
	}
}

// packB writes op(B)[p0:p0+kc, j0:j0+nc] into dst as NR-wide micro-panels:
// panel q holds columns q*nr.. at dst[q*nr*kc + p*nr + j], zero past n.
func packB(dst []float32, transB bool, b []float32, ldb, p0, kc, j0, nc, nr int) {
	for jr := 0; jr < nc; jr += nr {
		d := dst[jr*kc : (jr+nr)*kc]
		cols := min(nr, nc-jr)
		if !transB {
			// op(B)[p, j] = b[p*ldb + j]: each k step is a contiguous run.
			for p := 0; p < kc; p++ {
				row := (p0+p)*ldb + j0 + jr
				dp := d[p*nr : p*nr+nr]
				copy(dp, b[row:row+cols])
				clear(dp[cols:])
			}
			continue
		}
		// op(B)[p, j] = b[j*ldb + p]: rows of B become columns of the panel.
		transposeInto(d, nr, b, ldb, (j0+jr)*ldb+p0, cols, kc, 1)
		if cols < nr {
			for p := 0; p < kc; p++ {
				clear(d[p*nr+cols : p*nr+nr])
			}
		}
	}
}

// transposeInto sets d[p*w + r] = alpha*src[off + r*ld + p] for r < rows,
// p < kc: rows of src become columns of a w-wide panel. Four source rows go
// at a time so each store writes four adjacent floats.
func transposeInto(d []float32, w int, src []float32, ld, off, rows, kc int, alpha float32) {
	r := 0
	if useAVX2 && alpha == 1 && kc >= 8 {
		// Eight rows at a time in assembly; the last kc%8 steps in Go.
		kc8 := kc &^ 7
		for ; r+8 <= rows; r += 8 {
			o := off + r*ld
			transpose8(d[r:], w, src, ld, o, kc8)
			for p := kc8; p < kc; p++ {
				dp := d[p*w+r : p*w+r+8 : p*w+r+8]
				for i := range dp {
					dp[i] = src[o+i*ld+p]
				}
			}
		}
	}
	for ; r+4 <= rows; r += 4 {
		o := off + r*ld
		s0 := src[o : o+kc]
		s1 := src[o+ld : o+ld+kc]
		s2 := src[o+2*ld : o+2*ld+kc]
		s3 := src[o+3*ld : o+3*ld+kc]
		if alpha == 1 {
			for p := range s0 {
				dp := d[p*w+r : p*w+r+4 : p*w+r+4]
				dp[0], dp[1], dp[2], dp[3] = s0[p], s1[p], s2[p], s3[p]
			}
			continue
		}
		for p := range s0 {
			dp := d[p*w+r : p*w+r+4 : p*w+r+4]
			dp[0], dp[1], dp[2], dp[3] = alpha*s0[p], alpha*s1[p], alpha*s2[p], alpha*s3[p]
		}
	}
	for ; r < rows; r++ {
		o := off + r*ld
		dc := d[r:]
		for p, v := range src[o : o+kc] {
			dc[p*w] = alpha * v
		}
	}
}

func scaleCopy(dst, src []float32, alpha float32) {
	if alpha == 1 {
		copy(dst, src)
		return
	}
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = alpha * v
	}
}

// gemmBuf holds one task's packing buffers; pooled so the steady state
// allocates nothing.
type gemmBuf struct {
	a, b, tile []float32
}

var gemmBufs sync.Pool

func getGemmBuf(kn *microKernel) *gemmBuf {
	buf, _ := gemmBufs.Get().(*gemmBuf)
	if buf == nil {
		buf = new(gemmBuf)
	}
	grow := func(s []float32, n int) []float32 {
		if cap(s) < n {
			return make([]float32, n)
		}
		return s[:n]
	}
	kc := kn.kc * 3 / 2 // see the k slicing in block
	buf.a = grow(buf.a, roundUp(kn.mc, kn.mr)*kc)
	buf.b = grow(buf.b, roundUp(kn.nc, kn.nr)*kc)
	buf.tile = grow(buf.tile, kn.mr*kn.nr)
	return buf
}

func roundUp(x, to int) int { return (x + to - 1) / to * to }

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

// sgemmRows accumulates alpha*op(A)[lo:hi]*op(B) into rows lo..hi of C with
// plain loops; used for products too small to pack.
func sgemmRows(transA, transB bool, lo, hi, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	for i := lo; i < hi; i++ {
		crow := c[i*ldc : i*ldc+n]
		if transB {
			for j := range crow {
				var s float32
				for p := 0; p < k; p++ {
					var av float32
					if transA {
						av = a[p*lda+i]
					} else {
						av = a[i*lda+p]
					}
					s += av * b[j*ldb+p]
				}
				crow[j] += alpha * s
			}
			continue
		}
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
			axpy(alpha*av, b[p*ldb:p*ldb+n], crow)
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

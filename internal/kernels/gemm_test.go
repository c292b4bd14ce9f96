package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// gemmCase is one product with its operands as stored.
type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int
}

// newGemmCase fills A, B and C with uniform [-1, 1) values; pad > 0 makes
// every leading dimension larger than its row so stray reads and writes show.
// With nanC, C starts as NaN (only meaningful with beta == 0).
func newGemmCase(rng *rand.Rand, transA, transB bool, m, n, k int, alpha, beta float32, pad int, nanC bool) *gemmCase {
	g := &gemmCase{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	g.lda, g.ldb, g.ldc = ac+pad, bc+pad, n+pad
	fill := func(rows, ld int) []float32 {
		s := make([]float32, rows*ld)
		for i := range s {
			s[i] = rng.Float32()*2 - 1
		}
		return s
	}
	g.a, g.b, g.c = fill(ar, g.lda), fill(br, g.ldb), fill(m, g.ldc)
	if nanC {
		for i := range g.c {
			g.c[i] = float32(math.NaN())
		}
	}
	return g
}

func (g *gemmCase) at(x []float32, ld int, trans bool, i, j int) float64 {
	if trans {
		return float64(x[j*ld+i])
	}
	return float64(x[i*ld+j])
}

// check compares got (C after the product) with a float64 reference. The
// bound is the standard forward error of a float32 dot product of length k,
// k*eps*Σ|a||b| (Higham, Accuracy and Stability of Numerical Algorithms,
// §3.1), scaled by |alpha|, plus the rounding of the beta term and of the
// final alpha multiply, doubled for slack. Entries of C outside the m×n
// window (the ld padding) must be untouched.
func (g *gemmCase) check(t *testing.T, name string, got []float32) {
	t.Helper()
	const eps = 1.0 / (1 << 23)
	bad := 0
	for i := 0; i < g.m; i++ {
		for j := 0; j < g.ldc; j++ {
			idx := i*g.ldc + j
			if j >= g.n {
				if math.Float32bits(got[idx]) != math.Float32bits(g.c[idx]) {
					t.Errorf("%s: padding C[%d,%d] changed to %v", name, i, j, got[idx])
					return
				}
				continue
			}
			var s, abs float64
			for p := 0; p < g.k; p++ {
				v := g.at(g.a, g.lda, g.transA, i, p) * g.at(g.b, g.ldb, g.transB, p, j)
				s += v
				abs += math.Abs(v)
			}
			want := float64(g.alpha) * s
			bound := float64(g.k+2) * eps * math.Abs(float64(g.alpha)) * abs
			if g.beta != 0 {
				old := float64(g.beta) * float64(g.c[idx])
				want += old
				bound += 2 * eps * math.Abs(old)
			}
			bound = 2*bound + 1e-30
			if d := math.Abs(float64(got[idx]) - want); !(d <= bound) {
				if bad++; bad <= 3 {
					t.Errorf("%s: C[%d,%d] = %v, want %v (diff %.3g > bound %.3g)", name, i, j, got[idx], want, d, bound)
				}
			}
		}
	}
}

func (g *gemmCase) String() string {
	return fmt.Sprintf("tA=%v tB=%v m=%d n=%d k=%d alpha=%v beta=%v lda=%d ldb=%d ldc=%d",
		g.transA, g.transB, g.m, g.n, g.k, g.alpha, g.beta, g.lda, g.ldb, g.ldc)
}

// runPacked runs the packed driver with kernel kn on workers tasks,
// bypassing the small-size and parallel thresholds.
func (g *gemmCase) runPacked(kn *microKernel, workers int) []float32 {
	c := append([]float32(nil), g.c...)
	checkGemm(g.transA, g.transB, g.m, g.n, g.k, len(g.a), g.lda, len(g.b), g.ldb, len(c), g.ldc)
	ga := gemmArgs{
		transA: g.transA, transB: g.transB, m: g.m, n: g.n, k: g.k,
		alpha: g.alpha, a: g.a, lda: g.lda, b: g.b, ldb: g.ldb, beta: g.beta, c: c, ldc: g.ldc,
		kern: kn,
	}
	ga.run(workers)
	return c
}

// smallBlocks is kn with tiny cache blocks, so small products cross every
// kc, mc and nc boundary (and edge tile) the real sizes would.
func smallBlocks(kn *microKernel) *microKernel {
	s := *kn
	s.name += "/small-blocks"
	s.kc, s.mc, s.nc = 5, 2*kn.mr, 2*kn.nr
	return &s
}

// packedB is kn with B always packed, never read in place.
func packedB(kn *microKernel) *microKernel {
	s := *kn
	s.name += "/packed-b"
	s.directRows = 0
	return &s
}

var gemmDims = []int{1, 2, 3, 5, 7, 8, 13, 16, 17, 31, 32, 33, 37}

// TestSgemmKernels checks every micro-kernel this CPU runs (avx512, avx2,
// generic) through the packed driver against a float64 reference: random
// odd and edge sizes, all transposes, padded leading dimensions, alpha in
// {1, -0.5}, beta in {0, 1, 0.3}, and beta == 0 over a NaN-filled C.
func TestSgemmKernels(t *testing.T) {
	for _, kn0 := range kernels {
		for _, kn := range []*microKernel{kn0, smallBlocks(kn0), packedB(kn0), packedB(smallBlocks(kn0))} {
			t.Run(kn.name, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(1, uint64(len(kn.name))))
				for iter := 0; iter < 150; iter++ {
					m := gemmDims[rng.IntN(len(gemmDims))]
					n := gemmDims[rng.IntN(len(gemmDims))]
					k := gemmDims[rng.IntN(len(gemmDims))]
					tA, tB := iter&1 != 0, iter&2 != 0
					alpha := []float32{1, -0.5}[rng.IntN(2)]
					beta := []float32{0, 1, 0.3}[rng.IntN(3)]
					nanC := beta == 0 && rng.IntN(2) == 0
					g := newGemmCase(rng, tA, tB, m, n, k, alpha, beta, rng.IntN(3)*3, nanC)
					g.check(t, g.String(), g.runPacked(kn, 1))
				}
			})
		}
	}
}

// TestSgemmBlocking runs each kernel with its real blocking on products that
// span more than one kc, mc and nc block.
func TestSgemmBlocking(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for _, kn := range kernels {
		for _, tr := range [][2]bool{{false, false}, {true, true}} {
			m, n, k := kn.mc+kn.mr+1, kn.nc+kn.nr+3, kn.kc+7
			g := newGemmCase(rng, tr[0], tr[1], m, n, k, -0.5, 0.3, 1, false)
			g.check(t, kn.name+" "+g.String(), g.runPacked(kn, 1))
		}
	}
}

// TestSgemmPublic goes through Sgemm itself: the small-product loop, the
// packed driver with the active kernel, and the alpha == 0 and k == 0
// shortcuts.
func TestSgemmPublic(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	sizes := [][3]int{{4, 2, 8}, {1, 1, 1}, {3, 5, 0}, {32, 8, 2}, {17, 33, 9}, {64, 96, 37}, {40, 300, 50}}
	for _, s := range sizes {
		for tr := 0; tr < 4; tr++ {
			for _, alpha := range []float32{1, -0.5, 0} {
				for _, beta := range []float32{0, 1, 0.3} {
					g := newGemmCase(rng, tr&1 != 0, tr&2 != 0, s[0], s[1], s[2], alpha, beta, 2, beta == 0)
					c := append([]float32(nil), g.c...)
					Sgemm(g.transA, g.transB, g.m, g.n, g.k, g.alpha, g.a, g.lda, g.b, g.ldb, g.beta, c, g.ldc)
					g.check(t, "Sgemm "+g.String(), c)
				}
			}
		}
	}
}

// TestSgemmParallelSplit checks that cutting C across tasks (by columns for
// wide products, by rows for narrow ones) gives bit-identical results to one
// task: every element sees the same k order either way.
func TestSgemmParallelSplit(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	sizes := [][3]int{{64, 300, 40}, {64, 27, 100}, {37, 41, 19}, {5, 200, 300}}
	for _, kn := range kernels {
		for _, s := range sizes {
			for tr := 0; tr < 4; tr++ {
				g := newGemmCase(rng, tr&1 != 0, tr&2 != 0, s[0], s[1], s[2], 1, 0.3, 1, false)
				one := g.runPacked(kn, 1)
				for _, w := range []int{2, 3} {
					got := g.runPacked(kn, w)
					for i := range one {
						if math.Float32bits(one[i]) != math.Float32bits(got[i]) {
							t.Fatalf("%s %v workers=%d: C[%d] = %v, one task gives %v", kn.name, g, w, i, got[i], one[i])
						}
					}
				}
			}
		}
	}
}

// TestSgemmNoAlloc checks the steady state reuses its packing buffers. The
// product is below parallelGemm: handing work to the pool allocates its job.
func TestSgemmNoAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	m, n, k := 32, 64, 64
	a, b, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
	Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
	allocs := testing.AllocsPerRun(20, func() {
		Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
	})
	if allocs > 0 {
		t.Errorf("single-task Sgemm allocates %v times per call", allocs)
	}
}

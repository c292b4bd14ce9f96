package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// reluSpecials are the inputs where a ReLU is easy to get wrong: signed
// zeros, infinities, NaNs of either sign and the smallest subnormals.
var reluSpecials = []float32{
	0, float32(math.Copysign(0, -1)), 1, -1,
	float32(math.Inf(1)), float32(math.Inf(-1)),
	float32(math.NaN()), math.Float32frombits(0xffc00000), // -NaN
	math.Float32frombits(1), math.Float32frombits(0x80000001),
	math.MaxFloat32, -math.MaxFloat32,
}

// reluInput returns n values mixing random signs with the specials.
func reluInput(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		if rng.IntN(4) == 0 {
			x[i] = reluSpecials[rng.IntN(len(reluSpecials))]
		} else {
			x[i] = rng.Float32()*2 - 1
		}
	}
	return x
}

// sameF32 treats any two NaNs as equal and otherwise compares bits, so +0
// and -0 differ.
func sameF32(a, b float32) bool {
	if a != a || b != b {
		return a != a && b != b
	}
	return math.Float32bits(a) == math.Float32bits(b)
}

// TestReLU32 checks ReLU32 against the max builtin (the definition: Go's
// max gives +0 for max(-0, 0) and NaN for a NaN operand).
func TestReLU32(t *testing.T) {
	for _, x := range reluSpecials {
		if got, want := ReLU32(x), max(x, 0); !sameF32(got, want) {
			t.Errorf("ReLU32(%v [%#x]) = %v [%#x], want %v", x, math.Float32bits(x), got, math.Float32bits(got), want)
		}
	}
}

// TestReLUInPlaceAgrees checks the vectorised ReLUInPlace and ReLUMask
// (AVX2 where the CPU has it) against their portable twins on odd lengths,
// offsets and the special values, and that nothing outside the slice is
// touched.
func TestReLUInPlaceAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 9))
	for _, n := range []int{0, 1, 7, 8, 9, 16, 31, 33, 100, 257} {
		for _, off := range []int{0, 1, 3} {
			t.Run(fmt.Sprintf("n%d_off%d", n, off), func(t *testing.T) {
				x := reluInput(rng, off+n+5)
				want := append([]float32(nil), x...)
				reluGeneric(want[off : off+n])
				got := append([]float32(nil), x...)
				ReLUInPlace(got[off : off+n])
				for i := range got {
					if !sameF32(got[i], want[i]) {
						t.Fatalf("ReLUInPlace: element %d = %v, want %v (input %v)", i, got[i], want[i], x[i])
					}
				}

				g := reluInput(rng, off+n+5)
				wantM := make([]float32, off+n+5)
				gotM := make([]float32, off+n+5)
				for i := range wantM {
					wantM[i], gotM[i] = 777, 777
				}
				reluMaskGeneric(wantM[off:off+n], g[off:off+n], x[off:off+n])
				ReLUMask(gotM[off:off+n], g[off:off+n], x[off:off+n])
				for i := range gotM {
					if !sameF32(gotM[i], wantM[i]) {
						t.Fatalf("ReLUMask: element %d = %v, want %v (g %v, y %v)", i, gotM[i], wantM[i], g[i], x[i])
					}
				}
				// In place (dst is g).
				inPlace := append([]float32(nil), g...)
				ReLUMask(inPlace[off:off+n], inPlace[off:off+n], x[off:off+n])
				for i := off; i < off+n; i++ {
					if !sameF32(inPlace[i], wantM[i]) {
						t.Fatalf("ReLUMask in place: element %d = %v, want %v", i, inPlace[i], wantM[i])
					}
				}
			})
		}
	}
}

// TestSgemmReLU checks that SgemmReLU equals Sgemm followed by ReLUInPlace
// on every path (tiny loop, serial packed, parallel, edge tiles, several k
// slices, beta).
func TestSgemmReLU(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 8))
	for _, c := range []struct{ m, n, k int }{
		{3, 5, 7}, {8, 32, 27}, {16, 64, 40}, {11, 40, 64}, {32, 3136, 28}, {64, 784, 289}, {13, 77, 600}, {9, 33, 1}, {5, 5, 0},
	} {
		for _, beta := range []float32{0, 1, 0.5} {
			for _, serial := range []bool{false, true} {
				t.Run(fmt.Sprintf("m%d_n%d_k%d_beta%v_serial%v", c.m, c.n, c.k, beta, serial), func(t *testing.T) {
					a := randSlice(rng, c.m*c.k)
					b := randSlice(rng, c.k*c.n)
					c0 := randSlice(rng, c.m*c.n)
					want := append([]float32(nil), c0...)
					Sgemm(false, false, c.m, c.n, c.k, 1, a, max(c.k, 1), b, c.n, beta, want, c.n)
					reluGeneric(want)
					got := append([]float32(nil), c0...)
					f := SgemmReLU
					if serial {
						f = SgemmSerialReLU
					}
					f(false, false, c.m, c.n, c.k, 1, a, max(c.k, 1), b, c.n, beta, got, c.n)
					for i := range got {
						if !sameF32(got[i], want[i]) {
							t.Fatalf("element %d = %v, want %v", i, got[i], want[i])
						}
					}
				})
			}
		}
	}
}

// TestDotAgrees checks Dot (AVX2+FMA blocks where the CPU has them) and its
// portable twin against a float64 sum on odd lengths; they differ from each
// other only in summation order.
func TestDotAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 1))
	for _, n := range []int{0, 1, 5, 31, 32, 33, 64, 100, 12544, 12545} {
		a, b := randSlice(rng, n), randSlice(rng, n)
		var want, scale float64
		for i := range a {
			want += float64(a[i]) * float64(b[i])
			scale += math.Abs(float64(a[i]) * float64(b[i]))
		}
		tol := 1e-6 * (scale + 1)
		if got := Dot(a, b); math.Abs(float64(got)-want) > tol {
			t.Errorf("Dot n=%d = %v, want %v", n, got, want)
		}
		if got := dotGeneric(a, b); math.Abs(float64(got)-want) > tol {
			t.Errorf("dotGeneric n=%d = %v, want %v", n, got, want)
		}
	}
}

// TestSum32Agrees checks that Sum32's vector path adds in exactly the
// order of its portable twin, on odd lengths and values of mixed scale
// (where a different order would round differently).
func TestSum32Agrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 1))
	for _, n := range []int{0, 1, 3, 4, 15, 16, 17, 18, 19, 64, 784, 3137} {
		x := make([]float32, n)
		for i := range x {
			x[i] = (rng.Float32()*2 - 1) * float32(math.Pow(10, float64(rng.IntN(10)-5)))
		}
		if got, want := Sum32(x), sum32Generic(x); math.Float32bits(got) != math.Float32bits(want) {
			t.Errorf("n=%d: Sum32 = %v, want %v", n, got, want)
		}
	}
}

// TestMaxPool2DReLUBackward checks the folded pool+ReLU backward against
// MaxPool2DBackward followed by ReLUMask, with repeated indices
// (overlapping windows) and outputs of both signs, NaN and zeros.
func TestMaxPool2DReLUBackward(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 1))
	const n, m = 50, 20
	y := reluInput(rng, n)
	dy := randSlice(rng, m)
	argmax := make([]int32, m)
	for i := range argmax {
		argmax[i] = int32(rng.IntN(n))
	}
	want := make([]float32, n)
	MaxPool2DBackward(dy, argmax, want)
	ReLUMask(want, want, y)
	got := make([]float32, n)
	MaxPool2DReLUBackward(dy, argmax, y, got)
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("dx[%d] = %v, want %v (y %v)", i, got[i], want[i], y[i])
		}
	}
}

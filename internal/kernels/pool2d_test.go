package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestPoolOutSize checks PyTorch's pooling_output_shape, evaluated by hand:
// floor((in + 2p - k + (ceil ? s-1 : 0)) / s) + 1, minus one in ceil mode
// when the last window would start at or past in + p.
func TestPoolOutSize(t *testing.T) {
	cases := []struct {
		in, k, s, p int
		ceil        bool
		want        int
	}{
		{6, 2, 2, 0, false, 3},
		{5, 2, 2, 0, false, 2},
		{5, 2, 2, 0, true, 3},  // (5-2+1)/2+1 = 3; last start 4 < 5
		{5, 3, 2, 1, false, 3}, // (5+2-3)/2+1
		{6, 3, 2, 1, true, 4},  // (6+2-3+1)/2+1 = 4; last start 6 < 7
		{4, 2, 3, 1, false, 2}, // (4+2-2)/3+1 = 2
		{4, 2, 3, 1, true, 2},  // (4+2-2+2)/3+1 = 3, but start 6 >= 4+1: 2
		{7, 4, 3, 2, true, 3},  // (7+4-4+2)/3+1 = 4, but start 9 >= 7+2: 3
		{3, 3, 1, 0, false, 1},
		{2, 3, 1, 0, false, 0}, // floor(-1/1)+1: the window does not fit
		{4, 5, 5, 0, false, 0}, // floor(-1/5) = -1 (rounds down, not to 0)
	}
	for _, c := range cases {
		if got := poolOutSize(c.in, c.k, c.s, c.p, c.ceil); got != c.want {
			t.Errorf("poolOutSize(in=%d k=%d s=%d p=%d ceil=%v) = %d, want %d", c.in, c.k, c.s, c.p, c.ceil, got, c.want)
		}
	}
}

// TestAdaptiveRange checks start = floor(i*in/out), end = ceil((i+1)*in/out).
func TestAdaptiveRange(t *testing.T) {
	cases := []struct {
		in, out int
		want    [][2]int
	}{
		{5, 3, [][2]int{{0, 2}, {1, 4}, {3, 5}}},
		{4, 2, [][2]int{{0, 2}, {2, 4}}},
		{2, 3, [][2]int{{0, 1}, {0, 2}, {1, 2}}},
		{7, 1, [][2]int{{0, 7}}},
	}
	for _, c := range cases {
		for i, w := range c.want {
			if s, e := AdaptiveRange(i, c.in, c.out); s != w[0] || e != w[1] {
				t.Errorf("AdaptiveRange(%d, in=%d, out=%d) = [%d,%d), want [%d,%d)", i, c.in, c.out, s, e, w[0], w[1])
			}
		}
	}
}

// TestMaxPool2DArgmax checks the recorded indices on a plane with ties and
// padding: kernel 3, stride 2, padding 1 over
//
//	2 7 7
//	7 1 0
//	3 3 3
//
// gives 2x2 windows whose first maxima (row-major) sit at flat indices
// 1 (rows 0-1, cols 0-1), 1 (cols 1-2), 3 (rows 1-2, cols 0-1: 7 at (1,0)),
// and 7 (rows 1-2, cols 1-2: 3 at (2,1) before (2,2)).
func TestMaxPool2DArgmax(t *testing.T) {
	g := PoolGeom{H: 3, W: 3, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}
	src := []float32{2, 7, 7, 7, 1, 0, 3, 3, 3}
	dst := make([]float32, 4)
	idx := make([]int32, 4)
	MaxPool2D(g, src, dst, idx)
	wantV := []float32{7, 7, 7, 3}
	wantI := []int32{1, 1, 3, 7}
	for i := range dst {
		if dst[i] != wantV[i] || idx[i] != wantI[i] {
			t.Fatalf("values %v indices %v, want %v %v", dst, idx, wantV, wantI)
		}
	}
	dx := make([]float32, 9)
	MaxPool2DBackward([]float32{1, 2, 3, 4}, idx, dx)
	want := []float32{0, 3, 0, 3, 0, 0, 0, 4, 0}
	for i := range dx {
		if dx[i] != want[i] {
			t.Fatalf("dx %v, want %v", dx, want)
		}
	}
}

// TestMaxPool2x2MatchesGeneric checks the 2×2 stride-2 fast path against the
// generic scan on random planes of even and odd sizes, with ties, -inf and
// NaN sprinkled in, including its argmax.
func TestMaxPool2x2MatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	special := []float32{0, 1, float32(math.Inf(-1)), float32(math.NaN()), float32(math.Inf(1))}
	for _, hw := range [][2]int{{2, 2}, {4, 6}, {5, 7}, {7, 4}, {28, 28}, {56, 56}, {3, 9}, {4, 17}, {9, 33}, {6, 38}, {3, 50}} {
		g := PoolGeom{H: hw[0], W: hw[1], KH: 2, KW: 2, StrideH: 2, StrideW: 2}
		oh, ow := g.Out()
		for trial := range 20 {
			src := randSlice(rng, g.H*g.W)
			for i := range src {
				switch r := rng.IntN(10); {
				case trial > 0 && r < 3:
					src[i] = special[rng.IntN(len(special))]
				case r < 5:
					src[i] = float32(rng.IntN(3)) // ties
				}
			}
			got, want := make([]float32, oh*ow), make([]float32, oh*ow)
			gi, wi := make([]int32, oh*ow), make([]int32, oh*ow)
			MaxPool2D(g, src, got, gi)
			maxPool2DGeneric(g, src, want, wi)
			for i := range got {
				same := got[i] == want[i] || (got[i] != got[i] && want[i] != want[i])
				if !same || gi[i] != wi[i] {
					t.Fatalf("%dx%d trial %d out %d: fast (%v at %d), generic (%v at %d)", g.H, g.W, trial, i, got[i], gi[i], want[i], wi[i])
				}
			}
		}
	}
}

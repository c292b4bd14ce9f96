package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// im2colGeoms covers square and non-square inputs and kernels, stride,
// padding (including padding wider than the dilated kernel reach) and
// dilation, each alone and combined.
var im2colGeoms = []ConvGeom{
	{C: 1, H: 3, W: 3, KH: 3, KW: 3, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1},
	{C: 2, H: 5, W: 4, KH: 3, KW: 2, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1},
	{C: 3, H: 6, W: 7, KH: 3, KW: 3, PadH: 1, PadW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1},
	{C: 2, H: 7, W: 6, KH: 3, KW: 3, PadH: 1, PadW: 1, StrideH: 2, StrideW: 2, DilH: 1, DilW: 1},
	{C: 2, H: 8, W: 9, KH: 3, KW: 2, PadH: 2, PadW: 0, StrideH: 3, StrideW: 2, DilH: 1, DilW: 1},
	{C: 1, H: 9, W: 8, KH: 3, KW: 3, PadH: 2, PadW: 2, StrideH: 1, StrideW: 1, DilH: 2, DilW: 2},
	{C: 3, H: 10, W: 7, KH: 2, KW: 3, PadH: 1, PadW: 3, StrideH: 2, StrideW: 3, DilH: 3, DilW: 1},
	{C: 2, H: 4, W: 5, KH: 1, KW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1},
	{C: 1, H: 2, W: 2, KH: 2, KW: 2, PadH: 3, PadW: 1, StrideH: 1, StrideW: 2, DilH: 1, DilW: 1},
	{C: 2, H: 5, W: 1, KH: 5, KW: 1, PadH: 0, PadW: 2, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1},
}

// sameWidthGeoms take Im2col's shifted-copy path (stride 1, OutW == W):
// taps wholly above or below the image, a one-column image, dilated taps,
// the seed model's shapes.
var sameWidthGeoms = []ConvGeom{
	{C: 2, H: 3, W: 4, KH: 5, KW: 3, PadH: 3, PadW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1},
	{C: 1, H: 4, W: 1, KH: 3, KW: 3, PadH: 1, PadW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1},
	{C: 2, H: 6, W: 5, KH: 3, KW: 3, PadH: 3, PadW: 2, StrideH: 1, StrideW: 1, DilH: 3, DilW: 1},
	{C: 3, H: 56, W: 56, KH: 3, KW: 3, PadH: 1, PadW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1},
	{C: 32, H: 28, W: 28, KH: 3, KW: 3, PadH: 1, PadW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1},
}

// im2colDirect is the definition of Im2col written as one loop per index:
// dst[(c, i, j), (y, x)] = src[c, y*sh - ph + i*dh, x*sw - pw + j*dw], or 0
// outside the image.
func im2colDirect(g ConvGeom, src []float32) []float32 {
	oh, ow := g.Out()
	dst := make([]float32, g.C*g.KH*g.KW*oh*ow)
	for c := range g.C {
		for i := range g.KH {
			for j := range g.KW {
				row := (c*g.KH+i)*g.KW + j
				for y := range oh {
					for x := range ow {
						iy := y*g.StrideH - g.PadH + i*g.DilH
						ix := x*g.StrideW - g.PadW + j*g.DilW
						var v float32
						if iy >= 0 && iy < g.H && ix >= 0 && ix < g.W {
							v = src[(c*g.H+iy)*g.W+ix]
						}
						dst[row*oh*ow+y*ow+x] = v
					}
				}
			}
		}
	}
	return dst
}

// geomName is a short label for subtests and messages.
func geomName(g ConvGeom) string {
	return fmt.Sprintf("C%d_%dx%d_k%dx%d_p%d,%d_s%d,%d_d%d,%d", g.C, g.H, g.W, g.KH, g.KW, g.PadH, g.PadW, g.StrideH, g.StrideW, g.DilH, g.DilW)
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.Float64()*2 - 1)
	}
	return s
}

func TestConvGeomOut(t *testing.T) {
	// PyTorch's floor((H + 2p - d(k-1) - 1)/s) + 1, evaluated by hand per axis.
	want := [][2]int{
		{1, 1}, // (3-2-1)/1+1 both ways
		{3, 3}, // (5-2-1)+1, (4-1-1)+1
		{6, 7}, // padding 1 keeps a 3x3 kernel's output at the input size
		{4, 3}, // (7+2-2-1)/2+1, (6+2-2-1)/2+1 = 5/2+1
		{4, 4}, // (8+4-2-1)/3+1, (9-1-1)/2+1 = 7/2+1
		{9, 8}, // (9+4-4-1)+1, (8+4-4-1)+1
		{5, 4}, // (10+2-3-1)/2+1, (7+6-2-1)/3+1 = 10/3+1
		{4, 5}, // 1x1 kernel
		{7, 2}, // (2+6-1-1)+1, (2+2-1-1)/2+1
		{1, 5}, // (5-4-1)+1, (1+4-0-1)+1
	}
	for k, g := range im2colGeoms {
		if oh, ow := g.Out(); oh != want[k][0] || ow != want[k][1] {
			t.Errorf("%s: Out() = %d, %d, want %d, %d", geomName(g), oh, ow, want[k][0], want[k][1])
		}
	}
}

func TestIm2colMatchesDirect(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 1))
	for _, g := range append(im2colGeoms[:len(im2colGeoms):len(im2colGeoms)], sameWidthGeoms...) {
		t.Run(geomName(g), func(t *testing.T) {
			oh, ow := g.Out()
			src := randSlice(rng, g.C*g.H*g.W)
			want := im2colDirect(g, src)
			// Start from garbage so padding taps must be written as 0.
			got := make([]float32, len(want))
			for i := range got {
				got[i] = float32(math.NaN())
			}
			Im2col(g, src, got)
			for k := range want {
				if got[k] != want[k] {
					row, pos := k/(oh*ow), k%(oh*ow)
					t.Fatalf("dst[row %d, pos %d] = %g, want %g", row, pos, got[k], want[k])
				}
			}
		})
	}
}

// TestIm2colAdjoint checks <Im2col(x), y> = <x, Col2im(y)> in float64 for
// random x and y. Conv backward uses Col2im to route column gradients back
// to the input, which is correct exactly when Col2im is Im2col's adjoint.
func TestIm2colAdjoint(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 1))
	for _, g := range append(im2colGeoms[:len(im2colGeoms):len(im2colGeoms)], sameWidthGeoms...) {
		oh, ow := g.Out()
		for trial := range 3 {
			x := randSlice(rng, g.C*g.H*g.W)
			y := randSlice(rng, g.C*g.KH*g.KW*oh*ow)
			cols := make([]float32, len(y))
			Im2col(g, x, cols)
			back := make([]float32, len(x))
			Col2im(g, y, back)
			var lhs, rhs, scale float64
			for i := range cols {
				lhs += float64(cols[i]) * float64(y[i])
				scale += math.Abs(float64(cols[i]) * float64(y[i]))
			}
			for i := range x {
				rhs += float64(x[i]) * float64(back[i])
			}
			// Both sides sum the same float32 products; only the order of
			// the float64 sums and the float32 accumulation in Col2im differ.
			if d := math.Abs(lhs - rhs); d > 1e-5*max(scale, 1) {
				t.Errorf("%s trial %d: <Im2col(x), y> = %.10g, <x, Col2im(y)> = %.10g", geomName(g), trial, lhs, rhs)
			}
		}
	}
}

// TestCol2imAccumulates checks that Col2im adds into dst: running it on a
// non-zero dst gives dst plus the result on a zero one, and running it twice
// doubles the contribution.
func TestCol2imAccumulates(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 1))
	for _, g := range im2colGeoms {
		oh, ow := g.Out()
		cols := randSlice(rng, g.C*g.KH*g.KW*oh*ow)
		fresh := make([]float32, g.C*g.H*g.W)
		Col2im(g, cols, fresh)

		base := randSlice(rng, len(fresh))
		acc := append([]float32(nil), base...)
		Col2im(g, cols, acc)
		Col2im(g, cols, acc)
		for i := range acc {
			want := float64(base[i]) + 2*float64(fresh[i])
			if d := math.Abs(float64(acc[i]) - want); d > 1e-5 {
				t.Fatalf("%s: dst[%d] = %g after two Col2im on %g, want %g", geomName(g), i, acc[i], base[i], want)
			}
		}
	}
}

// TestCol2imOverlapCount checks Col2im of all-ones columns by hand: each
// input pixel receives the number of (tap, output position) pairs that read
// it. For a 3x3 kernel, stride 1, padding 1 over a 3x3 image every tap that
// lands inside counts once, so a corner is read by 4 windows, an edge by 6
// and the centre by 9.
func TestCol2imOverlapCount(t *testing.T) {
	g := ConvGeom{C: 1, H: 3, W: 3, KH: 3, KW: 3, PadH: 1, PadW: 1, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1}
	cols := make([]float32, 9*9)
	for i := range cols {
		cols[i] = 1
	}
	dst := make([]float32, 9)
	Col2im(g, cols, dst)
	want := []float32{4, 6, 4, 6, 9, 6, 4, 6, 4}
	for i := range want {
		if dst[i] != want[i] {
			t.Fatalf("Col2im(ones) = %v, want %v", dst, want)
		}
	}
}

// TestCol2imScratchMatchesCol2im checks the shifted-block Col2imScratch
// against Col2im exactly on every geometry, over a non-zero dst: each input
// element receives the same additions in the same order, plus additions of
// +0 for the padding taps, which change nothing.
func TestCol2imScratchMatchesCol2im(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 1))
	for _, g := range append(im2colGeoms[:len(im2colGeoms):len(im2colGeoms)], sameWidthGeoms...) {
		oh, ow := g.Out()
		cols := randSlice(rng, g.C*g.KH*g.KW*oh*ow)
		base := randSlice(rng, g.C*g.H*g.W)
		want := append([]float32(nil), base...)
		Col2im(g, cols, want)
		got := append([]float32(nil), base...)
		Col2imScratch(g, append([]float32(nil), cols...), got)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s: dst[%d] = %g, want %g", geomName(g), i, got[i], want[i])
			}
		}
	}
}

// TestAddToAgrees checks AddTo (AVX2 where the CPU has it) against its
// portable twin on odd lengths.
func TestAddToAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 1))
	for _, n := range []int{0, 1, 7, 8, 9, 27, 28, 100} {
		src, dst := randSlice(rng, n), randSlice(rng, n+3)
		want := append([]float32(nil), dst...)
		addGeneric(want[:n], src)
		AddTo(dst[:n], src)
		for i := range want {
			if dst[i] != want[i] {
				t.Fatalf("n=%d: dst[%d] = %g, want %g", n, i, dst[i], want[i])
			}
		}
	}
}

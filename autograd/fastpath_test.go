package autograd

import (
	"fmt"
	"math"
	"testing"

	"github.com/metacnn/metacnn/tensor"
)

// binaryRef computes a broadcasting binary op and its operand gradients for
// upstream gradient g in float64 through the generic per-element iterator
// (bcast.each), the definition the run-based fast paths must reproduce.
func binaryRef(op string, a, b, g *tensor.Tensor) (out, ga, gb []float64) {
	bc := newBcast(op, a.Shape(), b.Shape())
	x, y, gd := a.Data(), b.Data(), g.Data()
	out = make([]float64, bc.n)
	ga, gb = make([]float64, len(x)), make([]float64, len(y))
	bc.each(func(i, ia, ib int) {
		u, v, gv := float64(x[ia]), float64(y[ib]), float64(gd[i])
		switch op {
		case "Add":
			out[i], ga[ia], gb[ib] = u+v, ga[ia]+gv, gb[ib]+gv
		case "Sub":
			out[i], ga[ia], gb[ib] = u-v, ga[ia]+gv, gb[ib]-gv
		case "Mul":
			out[i], ga[ia], gb[ib] = u*v, ga[ia]+gv*v, gb[ib]+gv*u
		case "Div":
			out[i], ga[ia], gb[ib] = u/v, ga[ia]+gv/v, gb[ib]-gv*u/(v*v)
		}
	})
	return out, ga, gb
}

// TestBinaryFastPathsMatchGeneric runs Add, Sub, Mul and Div on the
// broadcast patterns the run planner special-cases (equal shapes, scalar,
// row vector, per-channel, column) and irregular ones, large enough to take
// the parallel path, against the float64 per-element reference.
func TestBinaryFastPathsMatchGeneric(t *testing.T) {
	cases := [][2][]int{
		{{3, 5}, {3, 5}},
		{{70000}, {70000}},
		{{2, 7}, {}},
		{{}, {2, 7}},
		{{40000}, {1}},
		{{9, 13}, {13}},
		{{13}, {9, 13}},
		{{9, 13}, {9, 1}},
		{{32, 64, 14, 14}, {32, 64, 1, 1}},
		{{32, 64, 1, 1}, {32, 64, 14, 14}},
		{{3, 5, 7, 9}, {1, 5, 1, 1}},
		{{3, 5, 7, 9}, {5, 7, 1}},
		{{3, 1, 7, 1}, {1, 5, 1, 9}},
		{{2, 1, 4}, {3, 1}},
		{{4, 1, 1}, {1, 1, 1}},
		{{1, 1}, {1}},
		{{6, 1, 33}, {6, 20, 33}},
	}
	rng := newRNG(3)
	for _, c := range cases {
		for _, op := range []string{"Add", "Sub", "Mul", "Div"} {
			t.Run(fmt.Sprintf("%s/%v_%v", op, c[0], c[1]), func(t *testing.T) {
				a := RandVar(rng, true, -1, 1, c[0]...)
				b := RandVar(rng, true, 0.5, 1.5, c[1]...)
				tp := NewTape()
				var y *Var
				switch op {
				case "Add":
					y = tp.Add(a, b)
				case "Sub":
					y = tp.Sub(a, b)
				case "Mul":
					y = tp.Mul(a, b)
				case "Div":
					y = tp.Div(a, b)
				}
				g := RandVar(rng, false, -1, 1, y.Shape()...).Value
				tp.BackwardWith(y, g)
				out, ga, gb := binaryRef(op, a.Value, b.Value, g)
				closeTo(t, "out", y.Data(), out, 1)
				closeTo(t, "grad a", a.Grad.Data(), ga, len(out)/len(ga))
				closeTo(t, "grad b", b.Grad.Data(), gb, len(out)/len(gb))
			})
		}
	}
}

// closeTo compares float32 results with a float64 reference; terms is how
// many float32 values were summed into each result (float32 rounding grows
// with it).
func closeTo(t *testing.T, what string, got []float32, want []float64, terms int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i, w := range want {
		if d := math.Abs(float64(got[i]) - w); d > 1e-5+1e-5*math.Abs(w)+3e-7*float64(terms) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], w)
		}
	}
}

// TestUnaryFastPathsMatchDefinition checks ReLU and the scalar ops, on a
// tensor large enough to be split across workers, against their
// definitions element by element.
func TestUnaryFastPathsMatchDefinition(t *testing.T) {
	rng := newRNG(4)
	const n = 100003
	type def struct {
		f  func(tp *Tape, a *Var) *Var
		fx func(x float64) float64
		df func(x float64) float64
	}
	defs := map[string]def{
		"ReLU": {(*Tape).ReLU, func(x float64) float64 { return math.Max(x, 0) }, func(x float64) float64 {
			if x > 0 {
				return 1
			}
			return 0
		}},
		"AddScalar":  {func(tp *Tape, a *Var) *Var { return tp.AddScalar(a, 0.5) }, func(x float64) float64 { return x + 0.5 }, func(float64) float64 { return 1 }},
		"MulScalar":  {func(tp *Tape, a *Var) *Var { return tp.MulScalar(a, -3) }, func(x float64) float64 { return -3 * x }, func(float64) float64 { return -3 }},
		"RSubScalar": {func(tp *Tape, a *Var) *Var { return tp.RSubScalar(2, a) }, func(x float64) float64 { return 2 - x }, func(float64) float64 { return -1 }},
		"Sigmoid": {(*Tape).Sigmoid, func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }, func(x float64) float64 {
			s := 1 / (1 + math.Exp(-x))
			return s * (1 - s)
		}},
	}
	for name, d := range defs {
		t.Run(name, func(t *testing.T) {
			a := RandVar(rng, true, -2, 2, n)
			tp := NewTape()
			y := d.f(tp, a)
			g := RandVar(rng, false, -1, 1, n).Value
			tp.BackwardWith(y, g)
			out, ga := make([]float64, n), make([]float64, n)
			for i, x := range a.Data() {
				out[i] = d.fx(float64(x))
				ga[i] = float64(g.Data()[i]) * d.df(float64(x))
			}
			closeTo(t, "out", y.Data(), out, 1)
			closeTo(t, "grad", a.Grad.Data(), ga, 1)
		})
	}
}

// TestPositiveMask checks the branchless x > 0 test on the edge values.
func TestPositiveMask(t *testing.T) {
	nan := float32(math.NaN())
	for _, x := range []float32{0, float32(math.Copysign(0, -1)), 1e-45, -1e-45, 1, -1, 3e38,
		float32(math.Inf(1)), float32(math.Inf(-1)), nan, -nan, math.Float32frombits(0x7fc00001)} {
		want := uint32(0)
		if x > 0 {
			want = ^uint32(0)
		}
		if got := positiveMask(x); got != want {
			t.Errorf("positiveMask(%v [%#x]) = %#x, want %#x", x, math.Float32bits(x), got, want)
		}
	}
}

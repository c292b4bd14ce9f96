package autograd

import (
	"fmt"
	"math"
	"testing"

	"github.com/metacnn/metacnn/tensor"
)

func TestSoftmaxForward(t *testing.T) {
	// Hand computation: softmax(0, ln 3) = (1/4, 3/4); along axis 0 of the
	// 2x2 matrix [[0, ln 3], [ln 3, 0]] the columns are (1/4, 3/4) and (3/4, 1/4).
	l3 := float32(math.Log(3))
	x := Const(tensor.FromSlice([]float32{0, l3, l3, 0}, 2, 2))
	wantFloats(t, "axis 1", (*Tape)(nil).Softmax(x, 1).Data(), []float64{0.25, 0.75, 0.75, 0.25}, 1e-7)
	wantFloats(t, "axis 0", (*Tape)(nil).Softmax(x, 0).Data(), []float64{0.25, 0.75, 0.75, 0.25}, 1e-7)
	wantFloats(t, "log axis -1", (*Tape)(nil).LogSoftmax(x, -1).Data(),
		[]float64{math.Log(0.25), math.Log(0.75), math.Log(0.75), math.Log(0.25)}, 1e-6)
}

func TestLogSoftmaxLargeLogits(t *testing.T) {
	// log softmax(1000, 0) = (-log(1+e^-1000), -1000 - log(1+e^-1000)) = (0, -1000)
	// to float32 precision; a naive exp(1000) would overflow.
	x := Param(tensor.FromSlice([]float32{1000, 0, -1000, 1000}, 2, 2))
	tp := NewTape()
	y := tp.LogSoftmax(x, 1)
	wantFloats(t, "log_softmax", y.Data(), []float64{0, -1000, -2000, 0}, 0)
	wantFloats(t, "softmax", (*Tape)(nil).Softmax(x, 1).Data(), []float64{1, 0, 0, 1}, 0)
	tp.Backward(tp.Sum(y, false))
	// d/dx Σ log_softmax = 1 - 2·softmax: (-1, 1) and (1, -1).
	wantFloats(t, "grad", x.Grad.Data(), []float64{-1, 1, 1, -1}, 0)
}

func TestGradSoftmax(t *testing.T) {
	rng := newRNG(41)
	x2 := RandVar(rng, true, -2, 2, 3, 5)
	x4 := RandVar(rng, true, -2, 2, 2, 3, 2, 3)
	ops := map[string]func(tp *Tape, x *Var, axis int) *Var{
		"Softmax": (*Tape).Softmax, "LogSoftmax": (*Tape).LogSoftmax,
	}
	cases := []struct {
		x    *Var
		axis int
	}{{x2, 0}, {x2, 1}, {x4, 0}, {x4, 1}, {x4, 2}, {x4, -1}}
	for name, op := range ops {
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s/rank%d/axis%d", name, c.x.Value.Rank(), c.axis), func(t *testing.T) {
				f := func(tp *Tape) *Var { return op(tp, c.x, c.axis) }
				if err := CheckGrad(f, []*Var{c.x}, CheckOptions{}); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestSoftmaxLargeParallel is big enough to be split across workers (run it
// under -race): every line along the axis sums to 1.
func TestSoftmaxLargeParallel(t *testing.T) {
	x := RandVar(newRNG(42), true, -5, 5, 64, 4, 64)
	tp := NewTape()
	y := tp.Softmax(x, 1)
	d := y.Data()
	for o := 0; o < 64; o++ {
		for in := 0; in < 64; in++ {
			var s float64
			for k := 0; k < 4; k++ {
				s += float64(d[(o*4+k)*64+in])
			}
			if math.Abs(s-1) > 1e-6 {
				t.Fatalf("line (%d, %d) sums to %v", o, in, s)
			}
		}
	}
	// Softmax lines sum to a constant, so the gradient of Σ y is zero.
	tp.Backward(tp.Sum(y, false))
	for i, g := range x.Grad.Data() {
		if math.Abs(float64(g)) > 1e-6 {
			t.Fatalf("grad[%d] = %v, want 0", i, g)
		}
	}
}

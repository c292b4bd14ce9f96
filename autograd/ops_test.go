package autograd

import (
	"math/rand/v2"
	"testing"
)

// Finite-difference checks use CheckGrad's documented defaults (step 1e-2,
// |a-n| <= 1e-3 + 1e-2*max(|a|,|n|)) unless a case says otherwise.

func newRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 1)) }

// awayFromZero pushes values out of (-gap, gap) so kinks at 0 (ReLU,
// LeakyReLU) sit further than the finite-difference step.
func awayFromZero(v *Var, gap float32) *Var {
	d := v.Data()
	for i, x := range d {
		if x >= 0 && x < gap {
			d[i] += gap
		} else if x < 0 && x > -gap {
			d[i] -= gap
		}
	}
	return v
}

func TestGradBinaryBroadcast(t *testing.T) {
	cases := []struct {
		name   string
		sa, sb []int
	}{
		{"same", []int{2, 3}, []int{2, 3}},
		{"row", []int{2, 3}, []int{3}},
		{"col", []int{2, 3}, []int{2, 1}},
		{"scalar", []int{2, 3}, []int{}},
		{"channel", []int{2, 3, 2, 2}, []int{1, 3, 1, 1}},
		{"both", []int{2, 1, 4}, []int{3, 1}},
	}
	ops := map[string]func(tp *Tape, a, b *Var) *Var{
		"Add": (*Tape).Add, "Sub": (*Tape).Sub, "Mul": (*Tape).Mul, "Div": (*Tape).Div,
	}
	for _, c := range cases {
		for name, op := range ops {
			t.Run(name+"/"+c.name, func(t *testing.T) {
				rng := newRNG(1)
				a := RandVar(rng, true, -1, 1, c.sa...)
				b := RandVar(rng, true, 0.5, 1.5, c.sb...) // away from 0 for Div
				if err := CheckGrad(func(tp *Tape) *Var { return op(tp, a, b) }, []*Var{a, b}, CheckOptions{}); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

func TestGradUnary(t *testing.T) {
	ops := map[string]func(tp *Tape, a *Var) *Var{
		"ReLU":      (*Tape).ReLU,
		"LeakyReLU": func(tp *Tape, a *Var) *Var { return tp.LeakyReLU(a, 0.1) },
		"GELU":      (*Tape).GELU,
		"SiLU":      (*Tape).SiLU,
		"Sigmoid":   (*Tape).Sigmoid,
		"Tanh":      (*Tape).Tanh,
		"Exp":       (*Tape).Exp,
		"Neg":       (*Tape).Neg,
		"AddScalar": func(tp *Tape, a *Var) *Var { return tp.AddScalar(a, 2.5) },
		"MulScalar": func(tp *Tape, a *Var) *Var { return tp.MulScalar(a, -3) },
		"RSub":      func(tp *Tape, a *Var) *Var { return tp.RSubScalar(1, a) },
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			a := awayFromZero(RandVar(newRNG(2), true, -2, 2, 3, 5), 0.05)
			if err := CheckGrad(func(tp *Tape) *Var { return op(tp, a) }, []*Var{a}, CheckOptions{}); err != nil {
				t.Fatal(err)
			}
		})
	}
	positive := map[string]func(tp *Tape, a *Var) *Var{
		"Log":  (*Tape).Log,
		"Sqrt": (*Tape).Sqrt,
		"Pow":  func(tp *Tape, a *Var) *Var { return tp.PowScalar(a, 2.5) },
	}
	for name, op := range positive {
		t.Run(name, func(t *testing.T) {
			a := RandVar(newRNG(3), true, 0.5, 2, 4, 3)
			if err := CheckGrad(func(tp *Tape) *Var { return op(tp, a) }, []*Var{a}, CheckOptions{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestGradShapeOps(t *testing.T) {
	rng := newRNG(4)
	a := RandVar(rng, true, -1, 1, 2, 3, 4)
	b := RandVar(rng, true, -1, 1, 2, 2, 4)
	cases := map[string]func(tp *Tape) *Var{
		"Reshape":   func(tp *Tape) *Var { return tp.Reshape(a, 6, -1) },
		"Flatten":   func(tp *Tape) *Var { return tp.Flatten(a) },
		"Permute":   func(tp *Tape) *Var { return tp.Permute(a, 2, 0, 1) },
		"Transpose": func(tp *Tape) *Var { return tp.Transpose(a, 0, -1) },
		"Concat":    func(tp *Tape) *Var { return tp.Concat(1, a, b, a) },
		"Split": func(tp *Tape) *Var {
			p := tp.Split(a, 1, 1, 2)
			return tp.Add(tp.Mul(p[0], p[0]), p[1])
		},
		"SumAxis":  func(tp *Tape) *Var { return tp.Sum(a, false, 1) },
		"SumKeep":  func(tp *Tape) *Var { return tp.Sum(a, true, 0, 2) },
		"SumAll":   func(tp *Tape) *Var { return tp.Sum(a, false) },
		"MeanAxis": func(tp *Tape) *Var { return tp.Mean(a, false, -1) },
		"MeanAll":  func(tp *Tape) *Var { return tp.Mean(a, true) },
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			if err := CheckGrad(f, []*Var{a, b}, CheckOptions{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestGradMatMulLinear(t *testing.T) {
	rng := newRNG(5)
	a := RandVar(rng, true, -1, 1, 3, 4, 5)
	b := RandVar(rng, true, -1, 1, 3, 5, 2)
	w2 := RandVar(rng, true, -1, 1, 5, 2)
	x := RandVar(rng, true, -1, 1, 4, 5)
	w := RandVar(rng, true, -1, 1, 3, 5)
	bias := RandVar(rng, true, -1, 1, 3)
	cases := map[string]func(tp *Tape) *Var{
		"MatMul2D":     func(tp *Tape) *Var { return tp.MatMul(x, w2) },
		"MatMulBatch":  func(tp *Tape) *Var { return tp.MatMul(a, b) },
		"MatMulShared": func(tp *Tape) *Var { return tp.MatMul(a, w2) },
		"Linear":       func(tp *Tape) *Var { return tp.Linear(x, w, bias) },
		"LinearNoBias": func(tp *Tape) *Var { return tp.Linear(a, w, nil) },
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			if err := CheckGrad(f, []*Var{a, b, w2, x, w, bias}, CheckOptions{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestGradAccumulatesAcrossBackward(t *testing.T) {
	a := RandVar(newRNG(6), true, -1, 1, 3)
	for range 2 {
		tp := NewTape()
		tp.Backward(tp.Sum(tp.MulScalar(a, 2), false))
	}
	for i, g := range a.Grad.Data() {
		if g != 4 { // two backward passes of d(2a)/da = 2
			t.Fatalf("grad[%d] = %v, want 4", i, g)
		}
	}
	a.ZeroGrad()
	if a.Grad != nil {
		t.Fatal("ZeroGrad left a gradient")
	}
}

func TestNoGradAndDetach(t *testing.T) {
	a := RandVar(newRNG(7), true, -1, 1, 3)
	var nilTape *Tape
	if out := nilTape.Mul(a, a); out.RequiresGrad() {
		t.Fatal("nil tape produced a variable that requires grad")
	}
	tp := NewTape()
	d := a.Detach()
	out := tp.Mul(d, d)
	if out.RequiresGrad() || tp.Len() != 0 {
		t.Fatal("detached input was recorded")
	}
	// A detached branch contributes no gradient.
	y := tp.Sum(tp.Add(tp.Mul(a, d), a), false)
	tp.Backward(y)
	for i, g := range a.Grad.Data() {
		if want := d.Data()[i] + 1; g != want {
			t.Fatalf("grad[%d] = %v, want %v", i, g, want)
		}
	}
}

package autograd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/metacnn/metacnn/tensor"
)

// CheckOptions tunes CheckGrad. Zero fields take the documented defaults.
type CheckOptions struct {
	// Eps is the central-difference step (default 1e-2: float32 forward
	// passes make smaller steps noisier than they are accurate).
	Eps float64
	// ATol and RTol bound |analytic - numeric| <= ATol + RTol*max(|a|,|n|)
	// (defaults 1e-3 and 1e-2).
	ATol, RTol float64
	// MaxPerInput caps how many elements of each input are perturbed, chosen
	// at random (default 0: all).
	MaxPerInput int
	// Seed seeds the random output weighting and element sampling.
	Seed uint64
}

// CheckGrad compares the gradients that Backward computes for f against
// central finite differences. The scalar checked is L = Σ out ⊙ R for a fixed
// random R, so every output element contributes. f must be deterministic and
// build its result from inputs on the tape it is given. It returns an error
// describing the first mismatches, or nil.
func CheckGrad(f func(tp *Tape) *Var, inputs []*Var, opt CheckOptions) error {
	if opt.Eps == 0 {
		opt.Eps = 1e-2
	}
	if opt.ATol == 0 {
		opt.ATol = 1e-3
	}
	if opt.RTol == 0 {
		opt.RTol = 1e-2
	}
	rng := rand.New(rand.NewPCG(opt.Seed, 0x9e3779b97f4a7c15))
	for _, in := range inputs {
		in.ZeroGrad()
	}
	tp := NewTape()
	out := f(tp)
	r := tensor.New(out.Shape()...)
	for i := range r.Data() {
		r.Data()[i] = float32(rng.Float64()*2 - 1)
	}
	tp.BackwardWith(out, r)
	loss := func() float64 {
		o := f(nil).Data()
		s := 0.0
		for i, v := range o {
			s += float64(v) * float64(r.Data()[i])
		}
		return s
	}
	var errs []string
	for k, in := range inputs {
		if !in.requiresGrad {
			continue
		}
		x := in.Data()
		idx := make([]int, len(x))
		for i := range idx {
			idx[i] = i
		}
		if opt.MaxPerInput > 0 && len(idx) > opt.MaxPerInput {
			rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
			idx = idx[:opt.MaxPerInput]
		}
		var analytic []float32
		if in.Grad != nil {
			analytic = in.Grad.Data()
		}
		for _, i := range idx {
			orig := x[i]
			x[i] = orig + float32(opt.Eps)
			lp := loss()
			x[i] = orig - float32(opt.Eps)
			lm := loss()
			x[i] = orig
			// The step actually taken in float32 may differ from Eps.
			h := float64(orig+float32(opt.Eps)) - float64(orig-float32(opt.Eps))
			num := (lp - lm) / h
			var an float64
			if analytic != nil {
				an = float64(analytic[i])
			}
			if d := math.Abs(an - num); !(d <= opt.ATol+opt.RTol*math.Max(math.Abs(an), math.Abs(num))) {
				errs = append(errs, fmt.Sprintf("input %d element %d: analytic %.6g, numeric %.6g", k, i, an, num))
				if len(errs) >= 8 {
					return fmt.Errorf("gradient check failed:\n%s", strings.Join(errs, "\n"))
				}
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("gradient check failed:\n%s", strings.Join(errs, "\n"))
	}
	return nil
}

// RandVar returns a leaf of the given shape with values uniform in [lo, hi),
// drawn from rng; for tests and examples.
func RandVar(rng *rand.Rand, requiresGrad bool, lo, hi float64, shape ...int) *Var {
	t := tensor.New(shape...)
	for i := range t.Data() {
		t.Data()[i] = float32(lo + (hi-lo)*rng.Float64())
	}
	return NewVar(t, requiresGrad)
}

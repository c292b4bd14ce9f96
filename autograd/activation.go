package autograd

import (
	"math"

	"github.com/metacnn/metacnn/internal/kernels"
	"github.com/metacnn/metacnn/tensor"
)

// ReLU returns max(x, 0); its gradient at 0 is 0, as in PyTorch.
func (tp *Tape) ReLU(a *Var) *Var {
	x := a.Data()
	out := tp.alloc(false, a.Shape()...)
	o := out.Data()
	parallelRange(len(x), func(lo, hi int) {
		d := o[lo:hi]
		copy(d, x[lo:hi])
		kernels.ReLUInPlace(d)
	})
	return tp.result(out, func(g *tensor.Tensor) {
		ga, gd := a.grad(), g.Data()
		parallelRange(len(gd), func(lo, hi int) {
			d, xs := ga[lo:hi], x[lo:hi]
			for i, gv := range gd[lo:hi] {
				d[i] += math.Float32frombits(math.Float32bits(gv) & positiveMask(xs[i]))
			}
		})
	}, a)
}

// positiveMask is all ones when x > 0 (+Inf included, NaN not) and zero
// otherwise, without a branch: signs are random in a ReLU's input, so a
// branch would mispredict half the time. x > 0 exactly when its bits lie in
// [1, 0x7f800000].
func positiveMask(x float32) uint32 {
	u := int64(math.Float32bits(x) - 1) // 0 wraps to 0xffffffff
	return uint32((u - 0x7f800000) >> 63)
}

// LeakyReLU returns x for x > 0 and slope*x otherwise (PyTorch's default
// slope is 0.01).
func (tp *Tape) LeakyReLU(a *Var, slope float32) *Var {
	return tp.unary(a, func(x float32) float32 {
		if x > 0 {
			return x
		}
		return slope * x
	}, func(x, _ float32) float32 {
		if x > 0 {
			return 1
		}
		return slope
	})
}

// GELU returns the exact Gaussian error linear unit x·Φ(x) =
// 0.5·x·(1 + erf(x/√2)) (PyTorch's approximate='none').
func (tp *Tape) GELU(a *Var) *Var {
	return tp.unary(a, func(x float32) float32 {
		v := float64(x)
		return float32(0.5 * v * (1 + math.Erf(v/math.Sqrt2)))
	}, func(x, _ float32) float32 {
		v := float64(x)
		cdf := 0.5 * (1 + math.Erf(v/math.Sqrt2))
		pdf := math.Exp(-0.5*v*v) / math.Sqrt(2*math.Pi)
		return float32(cdf + v*pdf)
	})
}

// Sigmoid returns 1/(1+exp(-x)).
func (tp *Tape) Sigmoid(a *Var) *Var {
	return tp.unary(a, sigmoid, func(_, y float32) float32 { return y * (1 - y) })
}

// SiLU returns x·sigmoid(x).
func (tp *Tape) SiLU(a *Var) *Var {
	return tp.unary(a, func(x float32) float32 { return x * sigmoid(x) }, func(x, _ float32) float32 {
		s := sigmoid(x)
		return s * (1 + x*(1-s))
	})
}

// Tanh returns the hyperbolic tangent.
func (tp *Tape) Tanh(a *Var) *Var {
	return tp.unary(a, func(x float32) float32 { return float32(math.Tanh(float64(x))) },
		func(_, y float32) float32 { return 1 - y*y })
}

// Exp returns e^x.
func (tp *Tape) Exp(a *Var) *Var {
	return tp.unary(a, func(x float32) float32 { return float32(math.Exp(float64(x))) },
		func(_, y float32) float32 { return y })
}

// Log returns the natural logarithm.
func (tp *Tape) Log(a *Var) *Var {
	return tp.unary(a, func(x float32) float32 { return float32(math.Log(float64(x))) },
		func(x, _ float32) float32 { return 1 / x })
}

// Sqrt returns the square root.
func (tp *Tape) Sqrt(a *Var) *Var {
	return tp.unary(a, func(x float32) float32 { return float32(math.Sqrt(float64(x))) },
		func(_, y float32) float32 { return 0.5 / y })
}

// PowScalar returns x^p.
func (tp *Tape) PowScalar(a *Var, p float32) *Var {
	return tp.unary(a, func(x float32) float32 { return float32(math.Pow(float64(x), float64(p))) },
		func(x, _ float32) float32 { return p * float32(math.Pow(float64(x), float64(p-1))) })
}

func sigmoid(x float32) float32 {
	// Split on sign so exp never overflows.
	if x >= 0 {
		return float32(1 / (1 + math.Exp(-float64(x))))
	}
	e := math.Exp(float64(x))
	return float32(e / (1 + e))
}

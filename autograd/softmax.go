package autograd

import (
	"math"

	"github.com/metacnn/metacnn/internal/kernels"
	"github.com/metacnn/metacnn/tensor"
)

// Softmax returns exp(x) normalised to sum to 1 along axis (negative counts
// from the end); the result has x's shape. The maximum along the axis is
// subtracted first, so large inputs do not overflow.
func (tp *Tape) Softmax(x *Var, axis int) *Var {
	out, lines := softmaxForward("Softmax", x, axis, false)
	y := out.Data()
	return tp.result(out, func(g *tensor.Tensor) {
		gd := g.Data()
		gx := x.grad()
		// dx = y ⊙ (g - Σ g·y)
		lines.each(func(base, stride, n int) {
			var dot float64
			for k := 0; k < n; k++ {
				i := base + k*stride
				dot += float64(gd[i]) * float64(y[i])
			}
			for k := 0; k < n; k++ {
				i := base + k*stride
				gx[i] += float32(float64(y[i]) * (float64(gd[i]) - dot))
			}
		})
	}, x)
}

// LogSoftmax returns x - log Σ exp(x) along axis (negative counts from the
// end); the result has x's shape. It is computed as (x - max) - log Σ
// exp(x - max), so it stays finite for large logits.
func (tp *Tape) LogSoftmax(x *Var, axis int) *Var {
	out, lines := softmaxForward("LogSoftmax", x, axis, true)
	y := out.Data()
	return tp.result(out, func(g *tensor.Tensor) {
		gd := g.Data()
		gx := x.grad()
		// dx = g - softmax·Σ g
		lines.each(func(base, stride, n int) {
			var sum float64
			for k := 0; k < n; k++ {
				sum += float64(gd[base+k*stride])
			}
			for k := 0; k < n; k++ {
				i := base + k*stride
				gx[i] += float32(float64(gd[i]) - math.Exp(float64(y[i]))*sum)
			}
		})
	}, x)
}

// axisLines enumerates the 1-D lines of a tensor along one axis.
type axisLines struct {
	outer, n, inner int
}

func newAxisLines(op string, shape []int, axis int) axisLines {
	axis = normAxis(op, axis, len(shape))
	return axisLines{
		outer: tensor.NumElements(shape[:axis]),
		n:     shape[axis],
		inner: tensor.NumElements(shape[axis+1:]),
	}
}

// each calls f(base, stride, n) for every line, in parallel; element k of a
// line is at base + k*stride. Lines are disjoint, so f may write its own.
func (l axisLines) each(f func(base, stride, n int)) {
	kernels.ParallelFor(l.outer*l.inner, max(1, (8<<10)/max(l.n, 1)), func(lo, hi int) {
		for line := lo; line < hi; line++ {
			o, in := line/l.inner, line%l.inner
			f(o*l.n*l.inner+in, l.inner, l.n)
		}
	})
}

func softmaxForward(op string, x *Var, axis int, logOut bool) (*tensor.Tensor, axisLines) {
	lines := newAxisLines(op, x.Shape(), axis)
	xd := x.Data()
	out := tensor.New(x.Shape()...)
	o := out.Data()
	lines.each(func(base, stride, n int) {
		mx := math.Inf(-1)
		for k := 0; k < n; k++ {
			mx = math.Max(mx, float64(xd[base+k*stride]))
		}
		var sum float64
		for k := 0; k < n; k++ {
			sum += math.Exp(float64(xd[base+k*stride]) - mx)
		}
		if logOut {
			ls := math.Log(sum)
			for k := 0; k < n; k++ {
				i := base + k*stride
				o[i] = float32(float64(xd[i]) - mx - ls)
			}
			return
		}
		for k := 0; k < n; k++ {
			i := base + k*stride
			o[i] = float32(math.Exp(float64(xd[i])-mx) / sum)
		}
	})
	return out, lines
}

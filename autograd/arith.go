package autograd

import (
	"github.com/metacnn/metacnn/internal/kernels"
	"github.com/metacnn/metacnn/tensor"
)

// binary is one broadcasting elementwise op: the forward value and the
// backward accumulation into each operand that needs a gradient. The
// broadcast is cut into runs (see runPlan) so every loop below is a plain
// slice loop; operands reduced by the broadcast accumulate serially, the
// rest in parallel.
type binary struct {
	bc   *bcast
	p    runPlan
	x, y []float32
}

func newBinary(op string, a, b *Var) *binary {
	bc := newBcast(op, a.Shape(), b.Shape())
	return &binary{bc: bc, p: bc.plan(), x: a.Data(), y: b.Data()}
}

// gradRuns runs f over every run for the gradient of an operand with n
// elements: in parallel when that operand is not broadcast (each run then
// owns its slice of the gradient), serially otherwise.
func (op *binary) gradRuns(n int, f func(o, ia, ib, n int)) {
	op.bc.forRuns(&op.p, n == op.bc.n, f)
}

// sumGrads is the backward pass of a + sign·b: it accumulates g into a's
// gradient and sign·g into b's, summed over the broadcast dimensions.
func (op *binary) sumGrads(a, b *Var, g *tensor.Tensor, sign float32) {
	gd := g.Data()
	as, bs := op.p.aStep, op.p.bStep
	if a.requiresGrad {
		ga := a.grad()
		op.gradRuns(len(ga), func(i, ia, _, n int) { accum(ga, ia, as, gd[i:i+n], 1) })
	}
	if b.requiresGrad {
		gb := b.grad()
		op.gradRuns(len(gb), func(i, _, ib, n int) { accum(gb, ib, bs, gd[i:i+n], sign) })
	}
}

// Add returns a + b with NumPy/PyTorch broadcasting.
func (tp *Tape) Add(a, b *Var) *Var {
	op := newBinary("Add", a, b)
	x, y := op.x, op.y
	out := tp.alloc(false, op.bc.shape...)
	o := out.Data()
	as, bs := op.p.aStep, op.p.bStep
	op.bc.forRuns(&op.p, true, func(i, ia, ib, n int) {
		d := o[i : i+n]
		switch {
		case as == 1 && bs == 1:
			xs, ys := x[ia:ia+n], y[ib:ib+n]
			for k := range d {
				d[k] = xs[k] + ys[k]
			}
		case as == 1:
			xs, v := x[ia:ia+n], y[ib]
			for k := range d {
				d[k] = xs[k] + v
			}
		case bs == 1:
			u, ys := x[ia], y[ib:ib+n]
			for k := range d {
				d[k] = u + ys[k]
			}
		default:
			fill(d, x[ia]+y[ib])
		}
	})
	return tp.result(out, func(g *tensor.Tensor) { op.sumGrads(a, b, g, 1) }, a, b)
}

// Sub returns a - b with broadcasting.
func (tp *Tape) Sub(a, b *Var) *Var {
	op := newBinary("Sub", a, b)
	x, y := op.x, op.y
	out := tp.alloc(false, op.bc.shape...)
	o := out.Data()
	as, bs := op.p.aStep, op.p.bStep
	op.bc.forRuns(&op.p, true, func(i, ia, ib, n int) {
		d := o[i : i+n]
		for k := range d {
			d[k] = x[ia+k*as] - y[ib+k*bs]
		}
	})
	return tp.result(out, func(g *tensor.Tensor) { op.sumGrads(a, b, g, -1) }, a, b)
}

// Mul returns the elementwise product a * b with broadcasting.
func (tp *Tape) Mul(a, b *Var) *Var {
	op := newBinary("Mul", a, b)
	x, y := op.x, op.y
	out := tp.alloc(false, op.bc.shape...)
	o := out.Data()
	as, bs := op.p.aStep, op.p.bStep
	op.bc.forRuns(&op.p, true, func(i, ia, ib, n int) {
		d := o[i : i+n]
		switch {
		case as == 1 && bs == 1:
			xs, ys := x[ia:ia+n], y[ib:ib+n]
			for k := range d {
				d[k] = xs[k] * ys[k]
			}
		case as == 1:
			xs, v := x[ia:ia+n], y[ib]
			for k := range d {
				d[k] = xs[k] * v
			}
		case bs == 1:
			u, ys := x[ia], y[ib:ib+n]
			for k := range d {
				d[k] = u * ys[k]
			}
		default:
			fill(d, x[ia]*y[ib])
		}
	})
	return tp.result(out, func(g *tensor.Tensor) {
		gd := g.Data()
		if a.requiresGrad {
			ga := a.grad()
			op.gradRuns(len(ga), func(i, ia, ib, n int) { accumProd(ga, ia, as, gd[i:i+n], y, ib, bs) })
		}
		if b.requiresGrad {
			gb := b.grad()
			op.gradRuns(len(gb), func(i, ia, ib, n int) { accumProd(gb, ib, bs, gd[i:i+n], x, ia, as) })
		}
	}, a, b)
}

// Div returns the elementwise quotient a / b with broadcasting.
func (tp *Tape) Div(a, b *Var) *Var {
	op := newBinary("Div", a, b)
	x, y := op.x, op.y
	out := tp.alloc(false, op.bc.shape...)
	o := out.Data()
	as, bs := op.p.aStep, op.p.bStep
	op.bc.forRuns(&op.p, true, func(i, ia, ib, n int) {
		d := o[i : i+n]
		for k := range d {
			d[k] = x[ia+k*as] / y[ib+k*bs]
		}
	})
	return tp.result(out, func(g *tensor.Tensor) {
		gd := g.Data()
		if a.requiresGrad {
			ga := a.grad()
			op.gradRuns(len(ga), func(i, ia, ib, n int) {
				if as == 1 {
					for k, gv := range gd[i : i+n] {
						ga[ia+k] += gv / y[ib+k*bs]
					}
					return
				}
				var s float32
				for k, gv := range gd[i : i+n] {
					s += gv / y[ib+k*bs]
				}
				ga[ia] += s
			})
		}
		if b.requiresGrad {
			gb := b.grad()
			// d(x/y)/dy = -x/y² = -out/y
			op.gradRuns(len(gb), func(i, _, ib, n int) {
				if bs == 1 {
					for k, gv := range gd[i : i+n] {
						gb[ib+k] -= gv * o[i+k] / y[ib+k]
					}
					return
				}
				var s float32
				v := y[ib]
				for k, gv := range gd[i : i+n] {
					s += gv * o[i+k] / v
				}
				gb[ib] -= s
			})
		}
	}, a, b)
}

// accum adds sign*g into dst: element by element from off when step is 1,
// or its sum into dst[off] when the operand was broadcast over the run.
func accum(dst []float32, off, step int, g []float32, sign float32) {
	if step == 1 {
		d := dst[off : off+len(g)]
		if sign == 1 {
			for k, v := range g {
				d[k] += v
			}
			return
		}
		for k, v := range g {
			d[k] -= v
		}
		return
	}
	dst[off] += sign * sum32(g)
}

// accumProd adds g ⊙ other into dst (the gradient of one factor of a
// product): other is read from oOff with step oStep; dst is written from
// off with step, or summed into dst[off] when step is 0.
func accumProd(dst []float32, off, step int, g, other []float32, oOff, oStep int) {
	n := len(g)
	switch {
	case step == 1 && oStep == 1:
		d, u := dst[off:off+n], other[oOff:oOff+n]
		for k, v := range g {
			d[k] += v * u[k]
		}
	case step == 1:
		d, u := dst[off:off+n], other[oOff]
		for k, v := range g {
			d[k] += v * u
		}
	case oStep == 1:
		dst[off] += dot32(g, other[oOff:oOff+n])
	default:
		dst[off] += other[oOff] * sum32(g)
	}
}

// sum32 adds x in float32 with four partial sums (kernels.Sum32).
func sum32(x []float32) float32 { return kernels.Sum32(x) }

// dot32 is Σ x[i]*y[i] in float32 with four partial sums.
func dot32(x, y []float32) float32 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		u, v := x[i:i+4:i+4], y[i:i+4:i+4]
		s0 += u[0] * v[0]
		s1 += u[1] * v[1]
		s2 += u[2] * v[2]
		s3 += u[3] * v[3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func fill(d []float32, v float32) {
	for k := range d {
		d[k] = v
	}
}

// AddScalar returns a + c.
func (tp *Tape) AddScalar(a *Var, c float32) *Var {
	x := a.Data()
	out := tp.alloc(false, a.Shape()...)
	o := out.Data()
	parallelRange(len(x), func(lo, hi int) {
		for i, v := range x[lo:hi] {
			o[lo+i] = v + c
		}
	})
	return tp.result(out, func(g *tensor.Tensor) { accumScaled(a.grad(), g.Data(), 1) }, a)
}

// MulScalar returns a * c.
func (tp *Tape) MulScalar(a *Var, c float32) *Var {
	x := a.Data()
	out := tp.alloc(false, a.Shape()...)
	o := out.Data()
	parallelRange(len(x), func(lo, hi int) {
		for i, v := range x[lo:hi] {
			o[lo+i] = v * c
		}
	})
	return tp.result(out, func(g *tensor.Tensor) { accumScaled(a.grad(), g.Data(), c) }, a)
}

// Neg returns -a.
func (tp *Tape) Neg(a *Var) *Var { return tp.MulScalar(a, -1) }

// RSubScalar returns c - a.
func (tp *Tape) RSubScalar(c float32, a *Var) *Var {
	x := a.Data()
	out := tp.alloc(false, a.Shape()...)
	o := out.Data()
	parallelRange(len(x), func(lo, hi int) {
		for i, v := range x[lo:hi] {
			o[lo+i] = c - v
		}
	})
	return tp.result(out, func(g *tensor.Tensor) { accumScaled(a.grad(), g.Data(), -1) }, a)
}

// accumScaled adds c*g into dst, in parallel for large slices.
func accumScaled(dst, g []float32, c float32) {
	parallelRange(len(g), func(lo, hi int) {
		d := dst[lo:hi]
		for i, v := range g[lo:hi] {
			d[i] += c * v
		}
	})
}

// parallelRange runs f over [0, n) in chunks across the worker pool when n
// is large enough to pay for the hand-off.
func parallelRange(n int, f func(lo, hi int)) {
	if n < parallelElems {
		f(0, n)
		return
	}
	kernels.ParallelFor(n, parallelElems/2, f)
}

// unary applies f elementwise; df(x, y) gives dy/dx from the input x and the
// output y = f(x).
func (tp *Tape) unary(a *Var, f func(float32) float32, df func(x, y float32) float32) *Var {
	x := a.Data()
	out := tp.alloc(false, a.Shape()...)
	o := out.Data()
	parallelRange(len(x), func(lo, hi int) {
		for i, v := range x[lo:hi] {
			o[lo+i] = f(v)
		}
	})
	return tp.result(out, func(g *tensor.Tensor) {
		ga, gd := a.grad(), g.Data()
		parallelRange(len(gd), func(lo, hi int) {
			for i, gv := range gd[lo:hi] {
				ga[lo+i] += gv * df(x[lo+i], o[lo+i])
			}
		})
	}, a)
}

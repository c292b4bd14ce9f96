package autograd

import (
	"github.com/metacnn/metacnn/tensor"
)

// Add returns a + b with NumPy/PyTorch broadcasting.
func (tp *Tape) Add(a, b *Var) *Var {
	bc := newBcast("Add", a.Shape(), b.Shape())
	x, y := a.Data(), b.Data()
	out := tensor.New(bc.shape...)
	o := out.Data()
	bc.each(func(i, ia, ib int) { o[i] = x[ia] + y[ib] })
	return tp.result(out, func(g *tensor.Tensor) {
		gd := g.Data()
		if a.requiresGrad {
			ga := a.grad()
			bc.each(func(i, ia, _ int) { ga[ia] += gd[i] })
		}
		if b.requiresGrad {
			gb := b.grad()
			bc.each(func(i, _, ib int) { gb[ib] += gd[i] })
		}
	}, a, b)
}

// Sub returns a - b with broadcasting.
func (tp *Tape) Sub(a, b *Var) *Var {
	bc := newBcast("Sub", a.Shape(), b.Shape())
	x, y := a.Data(), b.Data()
	out := tensor.New(bc.shape...)
	o := out.Data()
	bc.each(func(i, ia, ib int) { o[i] = x[ia] - y[ib] })
	return tp.result(out, func(g *tensor.Tensor) {
		gd := g.Data()
		if a.requiresGrad {
			ga := a.grad()
			bc.each(func(i, ia, _ int) { ga[ia] += gd[i] })
		}
		if b.requiresGrad {
			gb := b.grad()
			bc.each(func(i, _, ib int) { gb[ib] -= gd[i] })
		}
	}, a, b)
}

// Mul returns the elementwise product a * b with broadcasting.
func (tp *Tape) Mul(a, b *Var) *Var {
	bc := newBcast("Mul", a.Shape(), b.Shape())
	x, y := a.Data(), b.Data()
	out := tensor.New(bc.shape...)
	o := out.Data()
	bc.each(func(i, ia, ib int) { o[i] = x[ia] * y[ib] })
	return tp.result(out, func(g *tensor.Tensor) {
		gd := g.Data()
		if a.requiresGrad {
			ga := a.grad()
			bc.each(func(i, ia, ib int) { ga[ia] += gd[i] * y[ib] })
		}
		if b.requiresGrad {
			gb := b.grad()
			bc.each(func(i, ia, ib int) { gb[ib] += gd[i] * x[ia] })
		}
	}, a, b)
}

// Div returns the elementwise quotient a / b with broadcasting.
func (tp *Tape) Div(a, b *Var) *Var {
	bc := newBcast("Div", a.Shape(), b.Shape())
	x, y := a.Data(), b.Data()
	out := tensor.New(bc.shape...)
	o := out.Data()
	bc.each(func(i, ia, ib int) { o[i] = x[ia] / y[ib] })
	return tp.result(out, func(g *tensor.Tensor) {
		gd := g.Data()
		if a.requiresGrad {
			ga := a.grad()
			bc.each(func(i, ia, ib int) { ga[ia] += gd[i] / y[ib] })
		}
		if b.requiresGrad {
			gb := b.grad()
			// d(x/y)/dy = -x/y² = -out/y
			bc.each(func(i, _, ib int) { gb[ib] -= gd[i] * o[i] / y[ib] })
		}
	}, a, b)
}

// AddScalar returns a + c.
func (tp *Tape) AddScalar(a *Var, c float32) *Var {
	return tp.unary(a, func(x float32) float32 { return x + c }, func(x, y float32) float32 { return 1 })
}

// MulScalar returns a * c.
func (tp *Tape) MulScalar(a *Var, c float32) *Var {
	return tp.unary(a, func(x float32) float32 { return x * c }, func(x, y float32) float32 { return c })
}

// Neg returns -a.
func (tp *Tape) Neg(a *Var) *Var { return tp.MulScalar(a, -1) }

// RSubScalar returns c - a.
func (tp *Tape) RSubScalar(c float32, a *Var) *Var {
	return tp.unary(a, func(x float32) float32 { return c - x }, func(x, y float32) float32 { return -1 })
}

// unary applies f elementwise; df(x, y) gives dy/dx from the input x and the
// output y = f(x).
func (tp *Tape) unary(a *Var, f func(float32) float32, df func(x, y float32) float32) *Var {
	x := a.Data()
	out := tensor.New(a.Shape()...)
	o := out.Data()
	for i, v := range x {
		o[i] = f(v)
	}
	return tp.result(out, func(g *tensor.Tensor) {
		ga := a.grad()
		for i, gv := range g.Data() {
			ga[i] += gv * df(x[i], o[i])
		}
	}, a)
}

package autograd

import (
	"github.com/metacnn/metacnn/tensor"
)

// Sum adds a over the given axes (all axes when none are given). With
// keepDim the reduced axes stay as size 1; otherwise they are removed.
func (tp *Tape) Sum(a *Var, keepDim bool, axes ...int) *Var {
	return tp.reduce(a, keepDim, 1, axes)
}

// Mean averages a over the given axes (all axes when none are given).
func (tp *Tape) Mean(a *Var, keepDim bool, axes ...int) *Var {
	s := a.Shape()
	n := 1
	for i, red := range reducedAxes("Mean", s, axes) {
		if red {
			n *= s[i]
		}
	}
	return tp.reduce(a, keepDim, 1/float32(n), axes)
}

func reducedAxes(op string, s []int, axes []int) []bool {
	red := make([]bool, len(s))
	if len(axes) == 0 {
		for i := range red {
			red[i] = true
		}
		return red
	}
	for _, ax := range axes {
		red[normAxis(op, ax, len(s))] = true
	}
	return red
}

// reduce sums a over axes and multiplies by scale. Sums accumulate in
// float64 so long reductions stay accurate.
func (tp *Tape) reduce(a *Var, keepDim bool, scale float32, axes []int) *Var {
	s := a.Shape()
	red := reducedAxes("Sum", s, axes)
	kept := make([]int, len(s)) // shape with reduced axes set to 1
	var outShape []int
	for i, d := range s {
		if red[i] {
			kept[i] = 1
			if keepDim {
				outShape = append(outShape, 1)
			}
			continue
		}
		kept[i] = d
		outShape = append(outShape, d)
	}
	if outShape == nil {
		outShape = []int{}
	}
	bc := newBcast("Sum", s, kept) // maps each input element to its output slot
	acc := make([]float64, tensor.NumElements(kept))
	x := a.Data()
	bc.each(func(i, _, io int) { acc[io] += float64(x[i]) })
	out := tensor.New(outShape...)
	o := out.Data()
	for i, v := range acc {
		o[i] = float32(v) * scale
	}
	return tp.result(out, func(g *tensor.Tensor) {
		gd := g.Data()
		ga := a.grad()
		bc.each(func(i, _, io int) { ga[i] += gd[io] * scale })
	}, a)
}

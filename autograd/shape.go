package autograd

import (
	"fmt"

	"github.com/metacnn/metacnn/tensor"
)

// Reshape returns a view of a with a new shape (one dimension may be -1).
func (tp *Tape) Reshape(a *Var, shape ...int) *Var {
	out := a.Value.Reshape(shape...)
	return tp.result(out, func(g *tensor.Tensor) {
		ga := a.grad()
		for i, v := range g.Data() {
			ga[i] += v
		}
	}, a)
}

// Flatten keeps the first dimension and merges the rest: [N, ...] -> [N, prod(...)],
// like torch's x.view(x.size(0), -1).
func (tp *Tape) Flatten(a *Var) *Var {
	if a.Value.Rank() < 1 {
		panic(fmt.Sprintf("autograd.Flatten: shape %v has no batch dimension", a.Shape()))
	}
	return tp.Reshape(a, a.Value.Dim(0), -1)
}

// Permute reorders dimensions: output dimension i is input dimension perm[i].
func (tp *Tape) Permute(a *Var, perm ...int) *Var {
	out := a.Value.Permute(perm...)
	return tp.result(out, func(g *tensor.Tensor) {
		inv := make([]int, len(perm))
		for i, p := range perm {
			inv[p] = i
		}
		gp := g.Permute(inv...).Data()
		ga := a.grad()
		for i, v := range gp {
			ga[i] += v
		}
	}, a)
}

// Transpose swaps dimensions d0 and d1 (negative values count from the end).
func (tp *Tape) Transpose(a *Var, d0, d1 int) *Var {
	r := a.Value.Rank()
	d0, d1 = normAxis("Transpose", d0, r), normAxis("Transpose", d1, r)
	perm := make([]int, r)
	for i := range perm {
		perm[i] = i
	}
	perm[d0], perm[d1] = perm[d1], perm[d0]
	return tp.Permute(a, perm...)
}

// Concat joins vars along axis; all other dimensions must agree.
func (tp *Tape) Concat(axis int, vars ...*Var) *Var {
	if len(vars) == 0 {
		panic("autograd.Concat: no inputs")
	}
	first := vars[0].Shape()
	axis = normAxis("Concat", axis, len(first))
	outShape := append([]int(nil), first...)
	outShape[axis] = 0
	for _, v := range vars {
		s := v.Shape()
		if len(s) != len(first) {
			panic(fmt.Sprintf("autograd.Concat: shapes %v and %v differ in rank", first, s))
		}
		for i := range s {
			if i != axis && s[i] != first[i] {
				panic(fmt.Sprintf("autograd.Concat: shapes %v and %v differ outside axis %d", first, s, axis))
			}
		}
		outShape[axis] += s[axis]
	}
	outer := tensor.NumElements(first[:axis])
	inner := tensor.NumElements(first[axis+1:])
	out := tensor.New(outShape...)
	o := out.Data()
	rowLen := outShape[axis] * inner
	off := 0
	offs := make([]int, len(vars))
	for k, v := range vars {
		offs[k] = off
		w := v.Value.Dim(axis) * inner
		d := v.Data()
		for r := 0; r < outer; r++ {
			copy(o[r*rowLen+off:r*rowLen+off+w], d[r*w:(r+1)*w])
		}
		off += w
	}
	return tp.result(out, func(g *tensor.Tensor) {
		gd := g.Data()
		for k, v := range vars {
			if !v.requiresGrad {
				continue
			}
			w := v.Value.Dim(axis) * inner
			gv := v.grad()
			for r := 0; r < outer; r++ {
				src := gd[r*rowLen+offs[k] : r*rowLen+offs[k]+w]
				dst := gv[r*w : (r+1)*w]
				for i, x := range src {
					dst[i] += x
				}
			}
		}
	}, vars...)
}

// Split cuts a along axis into pieces of the given sizes, which must sum to
// the axis length.
func (tp *Tape) Split(a *Var, axis int, sizes ...int) []*Var {
	s := a.Shape()
	axis = normAxis("Split", axis, len(s))
	total := 0
	for _, n := range sizes {
		if n < 0 {
			panic(fmt.Sprintf("autograd.Split: negative size in %v", sizes))
		}
		total += n
	}
	if total != s[axis] {
		panic(fmt.Sprintf("autograd.Split: sizes %v sum to %d, axis %d of %v has %d", sizes, total, axis, s, s[axis]))
	}
	outer := tensor.NumElements(s[:axis])
	inner := tensor.NumElements(s[axis+1:])
	rowLen := s[axis] * inner
	d := a.Data()
	outs := make([]*Var, len(sizes))
	off := 0
	for k, n := range sizes {
		shape := append([]int(nil), s...)
		shape[axis] = n
		t := tensor.New(shape...)
		w := n * inner
		o := t.Data()
		for r := 0; r < outer; r++ {
			copy(o[r*w:(r+1)*w], d[r*rowLen+off:r*rowLen+off+w])
		}
		start := off
		outs[k] = tp.result(t, func(g *tensor.Tensor) {
			ga := a.grad()
			gd := g.Data()
			for r := 0; r < outer; r++ {
				dst := ga[r*rowLen+start : r*rowLen+start+w]
				for i, x := range gd[r*w : (r+1)*w] {
					dst[i] += x
				}
			}
		}, a)
		off += w
	}
	return outs
}

func normAxis(op string, axis, rank int) int {
	if axis < 0 {
		axis += rank
	}
	if axis < 0 || axis >= rank {
		panic(fmt.Sprintf("autograd.%s: axis out of range for rank %d", op, rank))
	}
	return axis
}

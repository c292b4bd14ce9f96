package autograd

import (
	"fmt"

	"github.com/metacnn/metacnn/tensor"
)

// bcast maps each element of a broadcast output to its source elements in
// two operands.
type bcast struct {
	shape   []int // output shape
	sa, sb  []int // operand strides per output axis (0 on broadcast axes)
	same    bool  // both operands already have the output shape
	n       int
	aN, bN  int
	bIsScal bool
}

func newBcast(op string, a, b []int) *bcast {
	out, err := tensor.BroadcastShapes(a, b)
	if err != nil {
		panic(fmt.Sprintf("autograd.%s: %v", op, err))
	}
	bc := &bcast{shape: out, n: tensor.NumElements(out), aN: tensor.NumElements(a), bN: tensor.NumElements(b)}
	bc.same = tensor.EqualShapes(a, out) && tensor.EqualShapes(b, out)
	bc.bIsScal = tensor.EqualShapes(a, out) && bc.bN == 1
	bc.sa = alignedStrides(a, out)
	bc.sb = alignedStrides(b, out)
	return bc
}

// alignedStrides returns, for each axis of out, the stride of shape s on the
// matching (right-aligned) axis, or 0 where s is broadcast.
func alignedStrides(s, out []int) []int {
	st := tensor.Strides(s)
	r := make([]int, len(out))
	off := len(out) - len(s)
	for i := range out {
		j := i - off
		if j >= 0 && s[j] != 1 {
			r[i] = st[j]
		}
	}
	return r
}

// each calls f(o, ia, ib) for every output index o with the operand indices
// it reads.
func (bc *bcast) each(f func(o, ia, ib int)) {
	switch {
	case bc.same:
		for i := 0; i < bc.n; i++ {
			f(i, i, i)
		}
		return
	case bc.bIsScal:
		for i := 0; i < bc.n; i++ {
			f(i, i, 0)
		}
		return
	}
	r := len(bc.shape)
	if bc.n == 0 {
		return
	}
	idx := make([]int, r)
	ia, ib := 0, 0
	for o := 0; o < bc.n; o++ {
		f(o, ia, ib)
		for ax := r - 1; ax >= 0; ax-- {
			idx[ax]++
			ia += bc.sa[ax]
			ib += bc.sb[ax]
			if idx[ax] < bc.shape[ax] {
				break
			}
			ia -= bc.sa[ax] * bc.shape[ax]
			ib -= bc.sb[ax] * bc.shape[ax]
			idx[ax] = 0
		}
	}
}

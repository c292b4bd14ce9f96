package autograd

import (
	"fmt"

	"github.com/metacnn/metacnn/internal/kernels"
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

// runPlan cuts a broadcast into runs: blocks of inner consecutive output
// elements over which each operand either advances with the output (step 1)
// or stays on one element (step 0). The common patterns (equal shapes, a
// scalar, a per-channel [N, C, 1, 1] against [N, C, H, W], a row vector) are
// a few long runs, so the ops' inner loops are plain slice loops.
type runPlan struct {
	inner        int // output elements per run
	runs         int // number of runs
	split        int // axes [0, split) index the runs
	aStep, bStep int // 0 or 1
}

func (bc *bcast) plan() runPlan {
	r := len(bc.shape)
	p := runPlan{inner: 1, split: r, aStep: -1, bStep: -1}
	if bc.n == 0 {
		return runPlan{inner: 1}
	}
	// fits reports whether stride s on an axis continues mode step over a
	// suffix of size inner.
	fits := func(step, s, inner int) bool {
		if step == 0 {
			return s == 0
		}
		return s == inner
	}
	for ax := r - 1; ax >= 0; ax-- {
		d := bc.shape[ax]
		if d == 1 {
			p.split = ax
			continue
		}
		sa, sb := bc.sa[ax], bc.sb[ax]
		if p.aStep < 0 && p.bStep < 0 {
			// First non-trivial axis from the end: each stride must be 0 or 1.
			if (sa != 0 && sa != 1) || (sb != 0 && sb != 1) {
				break
			}
			p.aStep, p.bStep = sa, sb
		} else if !fits(p.aStep, sa, p.inner) || !fits(p.bStep, sb, p.inner) {
			break
		}
		p.inner *= d
		p.split = ax
	}
	p.aStep, p.bStep = max(p.aStep, 0), max(p.bStep, 0)
	p.runs = bc.n / p.inner
	return p
}

// offsets returns the operand indices at the start of run r.
func (bc *bcast) offsets(p *runPlan, r int) (ia, ib int) {
	for ax := p.split - 1; ax >= 0 && r > 0; ax-- {
		d := bc.shape[ax]
		q := r % d
		r /= d
		ia += q * bc.sa[ax]
		ib += q * bc.sb[ax]
	}
	return ia, ib
}

// forRuns calls f(o, ia, ib, n) for every run: n output elements from o,
// reading the operands from ia and ib with the plan's steps. With parallel
// set and enough work the runs are split across the worker pool, so f must
// then write only to its own output range.
func (bc *bcast) forRuns(p *runPlan, parallel bool, f func(o, ia, ib, n int)) {
	body := func(lo, hi int) {
		for r := lo; r < hi; r++ {
			ia, ib := bc.offsets(p, r)
			f(r*p.inner, ia, ib, p.inner)
		}
	}
	if parallel && bc.n >= parallelElems {
		kernels.ParallelFor(p.runs, max(1, parallelElems/p.inner), body)
		return
	}
	body(0, p.runs)
}

// parallelElems is the element count above which elementwise loops are
// split across the worker pool; below it the hand-off costs more than it
// saves.
const parallelElems = 1 << 15

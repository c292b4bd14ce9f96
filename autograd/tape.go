package autograd

import (
	"fmt"

	"github.com/metacnn/metacnn/tensor"
)

// Tape records operations for reverse-mode differentiation. The zero value
// is ready to use; a nil *Tape records nothing (inference mode).
type Tape struct {
	nodes []node
}

// node is one recorded op: backward reads out.Grad and accumulates into the
// gradients of the op's inputs that require them.
type node struct {
	out      *Var
	backward func(g *tensor.Tensor)
}

// NewTape returns an empty tape.
func NewTape() *Tape { return &Tape{} }

// Len returns the number of recorded ops.
func (tp *Tape) Len() int {
	if tp == nil {
		return 0
	}
	return len(tp.nodes)
}

// Reset forgets every recorded op so the tape can be reused.
func (tp *Tape) Reset() {
	clear(tp.nodes)
	tp.nodes = tp.nodes[:0]
}

// Recording reports whether ops are being recorded (tp is not nil).
func (tp *Tape) Recording() bool { return tp != nil }

// result wraps value as the output of an op on inputs. When tp records and
// any input requires a gradient, the output requires one too and backward is
// recorded; backward is then called once with the output's gradient.
func (tp *Tape) result(value *tensor.Tensor, backward func(g *tensor.Tensor), inputs ...*Var) *Var {
	out := &Var{Value: value}
	if tp == nil {
		return out
	}
	for _, in := range inputs {
		if in != nil && in.requiresGrad {
			out.requiresGrad = true
			tp.nodes = append(tp.nodes, node{out: out, backward: backward})
			break
		}
	}
	return out
}

// Backward computes gradients of the scalar loss with respect to every
// variable recorded on the tape and every leaf that requires a gradient,
// accumulating into their Grad fields.
func (tp *Tape) Backward(loss *Var) {
	if loss.Value.Len() != 1 {
		panic(fmt.Sprintf("autograd.Backward: loss has shape %v, want a single value (use BackwardWith)", loss.Shape()))
	}
	tp.BackwardWith(loss, tensor.Full(1, loss.Shape()...))
}

// BackwardWith seeds out's gradient with grad (same shape as out) and
// propagates it backwards through the tape.
func (tp *Tape) BackwardWith(out *Var, grad *tensor.Tensor) {
	tensor.MustSameShape("autograd.BackwardWith", out.Value, grad)
	if !out.requiresGrad {
		panic("autograd.Backward: output does not depend on any variable that requires a gradient")
	}
	g := out.grad()
	for i, v := range grad.Data() {
		g[i] += v
	}
	for i := len(tp.nodes) - 1; i >= 0; i-- {
		n := tp.nodes[i]
		if n.out.Grad != nil {
			n.backward(n.out.Grad)
		}
	}
}

package autograd

import (
	"fmt"

	"github.com/metacnn/metacnn/internal/kernels"
	"github.com/metacnn/metacnn/tensor"
)

// Tape records operations for reverse-mode differentiation. The zero value
// is ready to use; a nil *Tape records nothing (inference mode).
//
// The big values and gradients a tape's ops create come from a shared
// buffer pool; Release hands them back, so a loop that releases its tape
// after every step (or reuses one tape, releasing it) runs on the same
// memory step after step.
type Tape struct {
	nodes     []node
	bufs      [][]float32 // pooled buffers behind the ops' values and gradients
	ibufs     [][]int32   // pooled index buffers kept for backward (max-pool argmax)
	inference bool        // records nothing; only owns buffers (NewInferenceTape)
}

// node is one recorded op: backward reads out.Grad and accumulates into the
// gradients of the op's inputs that require them.
type node struct {
	out      *Var
	backward func(g *tensor.Tensor)
}

// NewTape returns an empty tape.
func NewTape() *Tape { return &Tape{} }

// NewInferenceTape returns a tape that records nothing, like a nil tape,
// but allocates the ops' values from the buffer pool so that Release can
// recycle them between batches.
func NewInferenceTape() *Tape { return &Tape{inference: true} }

// Release resets the tape and returns the memory behind every value and
// gradient its ops created to the buffer pool. Vars produced by ops on this
// tape (and their gradients) must not be used afterwards: copy what you
// need (logits, the loss) first. Parameters and other leaves are not
// affected.
func (tp *Tape) Release() {
	if tp == nil {
		return
	}
	tp.Reset()
	for i, b := range tp.bufs {
		kernels.PutF32(b)
		tp.bufs[i] = nil
	}
	tp.bufs = tp.bufs[:0]
	for i, b := range tp.ibufs {
		kernels.PutI32(b)
		tp.ibufs[i] = nil
	}
	tp.ibufs = tp.ibufs[:0]
}

// keepIndices hands idx (from kernels.GetI32) to the tape when the op's
// backward will read it, to be recycled by Release; otherwise (inference)
// it is recycled at once.
func (tp *Tape) keepIndices(out *Var, idx []int32) {
	if out.requiresGrad {
		tp.ibufs = append(tp.ibufs, idx)
		return
	}
	kernels.PutI32(idx)
}

// alloc returns a tensor of the given shape for an op's value or a
// gradient, from the buffer pool when tp is not nil. Its contents are
// unspecified unless zero is set: ops that write every element pass false.
func (tp *Tape) alloc(zero bool, shape ...int) *tensor.Tensor {
	if tp == nil {
		return tensor.New(shape...)
	}
	var d []float32
	if zero {
		d = kernels.GetF32Zeroed(tensor.NumElements(shape))
	} else {
		d = kernels.GetF32(tensor.NumElements(shape))
	}
	tp.bufs = append(tp.bufs, d)
	return tensor.FromSlice(d, shape...)
}

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

// Recording reports whether ops are being recorded (tp is neither nil nor
// an inference tape).
func (tp *Tape) Recording() bool { return tp != nil && !tp.inference }

// result wraps value as the output of an op on inputs. When tp records and
// any input requires a gradient, the output requires one too and backward is
// recorded; backward is then called once with the output's gradient.
func (tp *Tape) result(value *tensor.Tensor, backward func(g *tensor.Tensor), inputs ...*Var) *Var {
	out := &Var{Value: value}
	if tp == nil || tp.inference {
		return out
	}
	for _, in := range inputs {
		if in != nil && in.requiresGrad {
			out.requiresGrad = true
			out.tape = tp
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

package autograd

import (
	"fmt"

	"github.com/metacnn/metacnn/internal/kernels"
	"github.com/metacnn/metacnn/tensor"
)

// Var is a value in a computation together with its gradient.
type Var struct {
	// Value is the forward value. Ops never modify the Value of their inputs.
	Value *tensor.Tensor
	// Grad is d(loss)/d(Value), the same shape as Value, or nil when no
	// gradient has reached this variable.
	Grad *tensor.Tensor

	requiresGrad bool
	tape         *Tape // the tape whose op made this value, for pooled gradients
	// leafGrad is a leaf's gradient buffer when it came from the kernels'
	// pool; ZeroGrad hands it back so the next step reuses it.
	leafGrad []float32
}

// NewVar wraps t as a leaf variable. Leaves with requiresGrad set
// (parameters) receive gradients from Backward.
func NewVar(t *tensor.Tensor, requiresGrad bool) *Var {
	return &Var{Value: t, requiresGrad: requiresGrad}
}

// Param wraps t as a leaf that requires a gradient.
func Param(t *tensor.Tensor) *Var { return NewVar(t, true) }

// Const wraps t as a leaf that needs no gradient (inputs, targets).
func Const(t *tensor.Tensor) *Var { return NewVar(t, false) }

// RequiresGrad reports whether gradients flow to this variable.
func (v *Var) RequiresGrad() bool { return v.requiresGrad }

// SetRequiresGrad turns gradient tracking of a leaf on or off (freezing).
func (v *Var) SetRequiresGrad(b bool) { v.requiresGrad = b }

// Detach returns a new leaf sharing v's value that needs no gradient.
func (v *Var) Detach() *Var { return &Var{Value: v.Value} }

// ZeroGrad drops the accumulated gradient.
//
// A leaf's gradient buffer goes back to a pool for the next Backward to
// reuse, so a Grad tensor kept from before ZeroGrad must not be used after.
func (v *Var) ZeroGrad() {
	if v.Grad != nil && len(v.leafGrad) > 0 && &v.Grad.Data()[0] == &v.leafGrad[0] {
		kernels.PutF32(v.leafGrad)
	}
	v.leafGrad = nil
	v.Grad = nil
}

// newGrad allocates v's gradient buffer: from its tape for a value an op
// made, from the kernels' pool (returned by ZeroGrad) for a leaf.
func (v *Var) newGrad(zero bool) *tensor.Tensor {
	if v.tape != nil {
		return v.tape.alloc(zero, v.Value.Shape()...)
	}
	n := v.Value.Len()
	if zero {
		v.leafGrad = kernels.GetF32Zeroed(n)
	} else {
		v.leafGrad = kernels.GetF32(n)
	}
	return tensor.FromSlice(v.leafGrad, v.Value.Shape()...)
}

// Shape returns the shape of the value.
func (v *Var) Shape() []int { return v.Value.Shape() }

// Data returns the value's backing slice.
func (v *Var) Data() []float32 { return v.Value.Data() }

// String describes the variable for debugging.
func (v *Var) String() string {
	return fmt.Sprintf("Var(%v, requiresGrad=%v)", v.Value, v.requiresGrad)
}

// grad returns v's gradient buffer, allocating a zero one on first use, so
// backward functions can accumulate into it with +=.
func (v *Var) grad() []float32 {
	if v.Grad == nil {
		v.Grad = v.newGrad(true)
	}
	return v.Grad.Data()
}

// gradUninit is grad for a backward that can zero the gradient piece by
// piece just before accumulating into it, while that piece is in cache,
// instead of in a separate pass over the whole buffer: fresh reports that
// the buffer was just created and its contents are unspecified, so the
// caller must clear every element before adding to it.
func (v *Var) gradUninit() (g []float32, fresh bool) {
	if v.Grad == nil {
		v.Grad = v.newGrad(false)
		return v.Grad.Data(), true
	}
	return v.Grad.Data(), false
}

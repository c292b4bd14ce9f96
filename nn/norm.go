package nn

import (
	"fmt"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/tensor"
)

// BatchNorm2D is torch.nn.BatchNorm2d with affine parameters and running
// statistics: [N, C, H, W] -> same shape. In training it normalises with
// batch statistics and updates the running ones; in evaluation it uses the
// running ones.
type BatchNorm2D struct {
	C        int
	Eps      float64 // default 1e-5
	Momentum float64 // default 0.1
	Weight   *autograd.Var
	Bias     *autograd.Var
	// RunningMean and RunningVar ([C]) and NumBatchesTracked ([] holding a
	// count) are buffers.
	RunningMean, RunningVar, NumBatchesTracked *autograd.Var
	training                                   bool
}

var _ Layer = (*BatchNorm2D)(nil)

// NewBatchNorm2D builds batch norm over c channels with PyTorch's defaults:
// weight 1, bias 0, running mean 0, running variance 1, eps 1e-5, momentum
// 0.1, training mode.
func NewBatchNorm2D(c int) *BatchNorm2D {
	if c <= 0 {
		panic(fmt.Sprintf("nn.NewBatchNorm2D: channels must be positive, got %d", c))
	}
	return &BatchNorm2D{
		C: c, Eps: 1e-5, Momentum: 0.1,
		Weight:            autograd.Param(tensor.Full(1, c)),
		Bias:              autograd.Param(tensor.New(c)),
		RunningMean:       autograd.Const(tensor.New(c)),
		RunningVar:        autograd.Const(tensor.Full(1, c)),
		NumBatchesTracked: autograd.Const(tensor.Scalar(0)),
		training:          true,
	}
}

// Forward normalises x [N, C, H, W].
func (b *BatchNorm2D) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	y := tp.BatchNorm2D(x, b.Weight, b.Bias, b.RunningMean.Value, b.RunningVar.Value, autograd.BatchNormOptions{
		Training: b.training, Momentum: b.Momentum, Eps: b.Eps,
	})
	// Counted after the op so a forward that panics on a bad input does not
	// count a batch whose statistics were never applied.
	if b.training {
		b.NumBatchesTracked.Value.Data()[0]++
	}
	return y
}

// Params returns weight, bias and the running_mean, running_var and
// num_batches_tracked buffers, in PyTorch's state_dict order.
func (b *BatchNorm2D) Params() []Param {
	return []Param{
		{Name: "weight", Var: b.Weight},
		{Name: "bias", Var: b.Bias},
		{Name: "running_mean", Var: b.RunningMean, Buffer: true},
		{Name: "running_var", Var: b.RunningVar, Buffer: true},
		{Name: "num_batches_tracked", Var: b.NumBatchesTracked, Buffer: true, Integer: true},
	}
}

// SetTraining selects batch statistics (true) or running statistics (false).
func (b *BatchNorm2D) SetTraining(t bool) { b.training = t }

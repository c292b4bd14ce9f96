package fusion

import (
	"math/rand/v2"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/nn"
	"github.com/metacnn/metacnn/tensor"
)

// CondBatchNorm is conditional batch norm (de Vries et al. 2017): batch
// norm without affine parameters, then FiLM whose γ and β come from the
// metadata. It replaces a backbone's nn.BatchNorm2D.
// x [N, C, H, W] and m [N, D] -> x's shape.
//
//	x̂ = (x - mean) / √(var + eps)     batch statistics in training, running ones otherwise
//	y = (weight + gamma_layer(h)) ⊙ x̂ + (bias + beta_layer(h))
//
// h is m, or ReLU(hidden_layer(m)) with Options.Hidden. weight (init 1) and
// bias (init 0) are the unconditional part, the "1 +" of FiLM's γ = 1 + Δγ
// made learnable; gamma_layer and beta_layer are zero-initialised. So a
// fresh block equals a fresh nn.BatchNorm2D, and the names weight, bias,
// running_mean, running_var and num_batches_tracked are those of the batch
// norm it replaces: a pretrained (torchvision) batch norm loads into it
// unchanged, with the generator starting from zero.
type CondBatchNorm struct {
	C, D     int
	Eps      float64 // default 1e-5
	Momentum float64 // default 0.1
	Weight   *autograd.Var
	Bias     *autograd.Var
	// RunningMean, RunningVar ([C]) and NumBatchesTracked ([]) are buffers,
	// as in nn.BatchNorm2D.
	RunningMean, RunningVar, NumBatchesTracked *autograd.Var
	gen                                        generator
	GammaLayer                                 *nn.Linear // gamma_layer: [D or Hidden] -> [C]
	BetaLayer                                  *nn.Linear // beta_layer: [D or Hidden] -> [C]
	training                                   bool
}

var _ Block = (*CondBatchNorm)(nil)

// NewCondBatchNorm builds conditional batch norm over c channels from a
// metadata vector of width d, in training mode, with PyTorch's batch norm
// defaults (eps 1e-5, momentum 0.1). Options.Raw is not supported.
func NewCondBatchNorm(rng *rand.Rand, c, d int, opt Options) *CondBatchNorm {
	checkSizes("NewCondBatchNorm", c, d)
	opt.check("NewCondBatchNorm", false, true)
	gen, h := newGenerator(rng, d, opt.Hidden)
	b := &CondBatchNorm{
		C: c, D: d, Eps: 1e-5, Momentum: 0.1,
		Weight:            autograd.Param(tensor.Full(1, c)),
		Bias:              autograd.Param(tensor.New(c)),
		RunningMean:       autograd.Const(tensor.New(c)),
		RunningVar:        autograd.Const(tensor.Full(1, c)),
		NumBatchesTracked: autograd.Const(tensor.Scalar(0)),
		gen:               gen,
		GammaLayer:        nn.NewLinear(rng, h, c, true),
		BetaLayer:         nn.NewLinear(rng, h, c, true),
		training:          true,
	}
	b.GammaLayer.ZeroInit()
	b.BetaLayer.ZeroInit()
	return b
}

// Hidden returns the hidden generator layer, or nil.
func (b *CondBatchNorm) Hidden() *nn.Linear { return b.gen.hidden }

// Forward normalises x per channel and modulates it by γ, β from m.
func (b *CondBatchNorm) Forward(tp *autograd.Tape, x, m *autograd.Var) *autograd.Var {
	checkInputs("CondBatchNorm", x, m, b.C, b.D)
	if b.training {
		b.NumBatchesTracked.Value.Data()[0]++
	}
	xh := tp.BatchNorm2D(x, nil, nil, b.RunningMean.Value, b.RunningVar.Value, autograd.BatchNormOptions{
		Training: b.training, Momentum: b.Momentum, Eps: b.Eps,
	})
	h := b.gen.forward(tp, m)
	g := tp.Add(b.GammaLayer.Forward(tp, h), b.Weight)
	s := tp.Add(b.BetaLayer.Forward(tp, h), b.Bias)
	return affine(tp, xh, g, s)
}

// Params returns weight, bias, running_mean, running_var and
// num_batches_tracked (nn.BatchNorm2D's names and order), then
// hidden_layer.* (when present), gamma_layer.* and beta_layer.*.
func (b *CondBatchNorm) Params() []nn.Param {
	ps := []nn.Param{
		{Name: "weight", Var: b.Weight},
		{Name: "bias", Var: b.Bias},
		{Name: "running_mean", Var: b.RunningMean, Buffer: true},
		{Name: "running_var", Var: b.RunningVar, Buffer: true},
		{Name: "num_batches_tracked", Var: b.NumBatchesTracked, Buffer: true, Integer: true},
	}
	ps = append(ps, b.gen.params()...)
	ps = append(ps, nn.Prefixed("gamma_layer", b.GammaLayer.Params())...)
	return append(ps, nn.Prefixed("beta_layer", b.BetaLayer.Params())...)
}

// SetTraining selects batch statistics (true) or running statistics (false).
func (b *CondBatchNorm) SetTraining(t bool) { b.training = t }

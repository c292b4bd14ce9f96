package fusion

import (
	"math/rand/v2"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/nn"
)

// ScaleBias is the reference document's Example 2: a per-channel scale and
// bias, each a Linear map of the metadata vector.
// x [N, C, H, W] (or [N, C]) and m [N, D] -> x's shape.
//
// By default y = (1 + scale_layer(m)) ⊙ x + bias_layer(m) with both layers
// zero-initialised, so a fresh block returns x exactly. With Options.Raw it
// is the document's y = scale_layer(m) ⊙ x + bias_layer(m) with PyTorch's
// default initialisation (the scale then starts near 0).
type ScaleBias struct {
	C, D       int
	Raw        bool
	ScaleLayer *nn.Linear // scale_layer: [D] -> [C]
	BiasLayer  *nn.Linear // bias_layer: [D] -> [C]
}

var _ Block = (*ScaleBias)(nil)

// NewScaleBias builds a scale+bias block over c channels from a metadata
// vector of width d. Options.Hidden is not supported.
func NewScaleBias(rng *rand.Rand, c, d int, opt Options) *ScaleBias {
	checkSizes("NewScaleBias", c, d)
	opt.check("NewScaleBias", true, false)
	b := &ScaleBias{
		C: c, D: d, Raw: opt.Raw,
		ScaleLayer: nn.NewLinear(rng, d, c, true),
		BiasLayer:  nn.NewLinear(rng, d, c, true),
	}
	if !opt.Raw {
		b.ScaleLayer.ZeroInit()
		b.BiasLayer.ZeroInit()
	}
	return b
}

// Forward scales and shifts every channel of x by values generated from m.
func (b *ScaleBias) Forward(tp *autograd.Tape, x, m *autograd.Var) *autograd.Var {
	checkInputs("ScaleBias", x, m, b.C, b.D)
	s := b.ScaleLayer.Forward(tp, m)
	if !b.Raw {
		s = tp.AddScalar(s, 1)
	}
	return affine(tp, x, s, b.BiasLayer.Forward(tp, m))
}

// Params returns scale_layer.{weight,bias} and bias_layer.{weight,bias}.
func (b *ScaleBias) Params() []nn.Param {
	return append(nn.Prefixed("scale_layer", b.ScaleLayer.Params()), nn.Prefixed("bias_layer", b.BiasLayer.Params())...)
}

// SetTraining has no effect.
func (b *ScaleBias) SetTraining(bool) {}

// FiLM is feature-wise linear modulation (Perez et al. 2018; the reference
// document's Example 3): y = γ(m) ⊙ x + β(m) per channel.
// x [N, C, H, W] (or [N, C]) and m [N, D] -> x's shape.
//
// By default γ = 1 + gamma_layer(h) and β = beta_layer(h) with both layers
// zero-initialised, so a fresh block returns x exactly; h is m, or
// ReLU(hidden_layer(m)) with Options.Hidden. With Options.Raw γ =
// gamma_layer(m) exactly as the document's FiLM module, with PyTorch's
// default initialisation.
type FiLM struct {
	C, D       int
	Raw        bool
	gen        generator
	GammaLayer *nn.Linear // gamma_layer: [D or Hidden] -> [C]
	BetaLayer  *nn.Linear // beta_layer: [D or Hidden] -> [C]
}

var _ Block = (*FiLM)(nil)

// NewFiLM builds a FiLM block over c channels from a metadata vector of
// width d. Parameters are drawn in the order hidden_layer, gamma_layer,
// beta_layer (the document's order for the last two).
func NewFiLM(rng *rand.Rand, c, d int, opt Options) *FiLM {
	checkSizes("NewFiLM", c, d)
	opt.check("NewFiLM", true, true)
	gen, h := newGenerator(rng, d, opt.Hidden)
	f := &FiLM{
		C: c, D: d, Raw: opt.Raw, gen: gen,
		GammaLayer: nn.NewLinear(rng, h, c, true),
		BetaLayer:  nn.NewLinear(rng, h, c, true),
	}
	if !opt.Raw {
		f.GammaLayer.ZeroInit()
		f.BetaLayer.ZeroInit()
	}
	return f
}

// Hidden returns the hidden generator layer, or nil.
func (f *FiLM) Hidden() *nn.Linear { return f.gen.hidden }

// Forward modulates every channel of x by γ and β generated from m.
func (f *FiLM) Forward(tp *autograd.Tape, x, m *autograd.Var) *autograd.Var {
	checkInputs("FiLM", x, m, f.C, f.D)
	h := f.gen.forward(tp, m)
	g := f.GammaLayer.Forward(tp, h)
	if !f.Raw {
		g = tp.AddScalar(g, 1)
	}
	return affine(tp, x, g, f.BetaLayer.Forward(tp, h))
}

// Params returns hidden_layer.* (when present), gamma_layer.* and
// beta_layer.*.
func (f *FiLM) Params() []nn.Param {
	ps := f.gen.params()
	ps = append(ps, nn.Prefixed("gamma_layer", f.GammaLayer.Params())...)
	return append(ps, nn.Prefixed("beta_layer", f.BetaLayer.Params())...)
}

// SetTraining has no effect.
func (f *FiLM) SetTraining(bool) {}

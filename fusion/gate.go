package fusion

import (
	"math/rand/v2"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/nn"
)

// Gate is metadata-guided attention in the style of MetaBlock (Pacheco and
// Krohling 2021), with f and g Linear maps of the metadata broadcast over
// the image plane. x [N, C, H, W] (or [N, C]) and m [N, D] -> x's shape.
//
// With Options.Raw it is MetaBlock's form
//
//	V' = σ(tanh(V ⊙ f(m)) + g(m))
//
// with PyTorch's default initialisation (MetaBlock's batch norm after f and
// g is left out). That form cannot start as the identity: its output lies in
// (0, 1) whatever V is, and with f and g zero it is the constant 0.5. So
// the default form gates V instead of replacing it,
//
//	V' = V ⊙ 2σ(tanh(V ⊙ f(m)) + g(m))
//
// with f_layer and g_layer zero-initialised: tanh(0) = 0 and 2σ(0) = 1
// exactly, so a fresh block returns V exactly, and training learns a
// per-element gain in (0, 2) that depends on the metadata and on V itself.
type Gate struct {
	C, D   int
	Raw    bool
	FLayer *nn.Linear // f_layer: [D] -> [C]
	GLayer *nn.Linear // g_layer: [D] -> [C]
}

var _ Block = (*Gate)(nil)

// NewGate builds a gate over c channels from a metadata vector of width d.
// Options.Hidden is not supported.
func NewGate(rng *rand.Rand, c, d int, opt Options) *Gate {
	checkSizes("NewGate", c, d)
	opt.check("NewGate", true, false)
	g := &Gate{
		C: c, D: d, Raw: opt.Raw,
		FLayer: nn.NewLinear(rng, d, c, true),
		GLayer: nn.NewLinear(rng, d, c, true),
	}
	if !opt.Raw {
		g.FLayer.ZeroInit()
		g.GLayer.ZeroInit()
	}
	return g
}

// Forward gates x by the metadata.
func (g *Gate) Forward(tp *autograd.Tape, x, m *autograd.Var) *autograd.Var {
	checkInputs("Gate", x, m, g.C, g.D)
	f := perChannel(tp, g.FLayer.Forward(tp, m), x)
	b := perChannel(tp, g.GLayer.Forward(tp, m), x)
	s := tp.Sigmoid(tp.Add(tp.Tanh(tp.Mul(x, f)), b))
	if g.Raw {
		return s
	}
	return tp.Mul(x, tp.MulScalar(s, 2))
}

// Params returns f_layer.{weight,bias} and g_layer.{weight,bias}.
func (g *Gate) Params() []nn.Param {
	return append(nn.Prefixed("f_layer", g.FLayer.Params()), nn.Prefixed("g_layer", g.GLayer.Params())...)
}

// SetTraining has no effect.
func (g *Gate) SetTraining(bool) {}

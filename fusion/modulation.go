package fusion

import (
	"fmt"

	"github.com/metacnn/metacnn/autograd"
)

// Modulator is a block that transforms features per channel as
// y = scale(m) ⊙ x + shift(m), with scale and shift generated from the
// metadata vector. Modulation exposes what the metadata generates, for
// explaining a model (which channels a metadata value amplifies, silences
// or shifts); it does not change the block.
type Modulator interface {
	Block
	// Modulation returns scale and shift [N, C] for the metadata vector
	// m [N, D]: exactly the values Forward multiplies and adds, the
	// identity offset of the default (non-raw) form included.
	Modulation(tp *autograd.Tape, m *autograd.Var) (scale, shift *autograd.Var)
}

var (
	_ Modulator = (*FiLM)(nil)
	_ Modulator = (*ScaleBias)(nil)
)

// Modulation returns γ and β [N, C] for m [N, D]: γ = 1 + gamma_layer(h)
// (γ = gamma_layer(h) with Raw) and β = beta_layer(h), h being m or
// ReLU(hidden_layer(m)). Forward computes γ ⊙ x + β with the same values.
func (f *FiLM) Modulation(tp *autograd.Tape, m *autograd.Var) (gamma, beta *autograd.Var) {
	checkMeta("FiLM", m, f.D)
	h := f.gen.forward(tp, m)
	gamma = f.GammaLayer.Forward(tp, h)
	if !f.Raw {
		gamma = tp.AddScalar(gamma, 1)
	}
	return gamma, f.BetaLayer.Forward(tp, h)
}

// Modulation returns the scale and bias [N, C] for m [N, D]: scale =
// 1 + scale_layer(m) (scale_layer(m) with Raw) and bias = bias_layer(m).
// Forward computes scale ⊙ x + bias with the same values.
func (b *ScaleBias) Modulation(tp *autograd.Tape, m *autograd.Var) (scale, bias *autograd.Var) {
	checkMeta("ScaleBias", m, b.D)
	scale = b.ScaleLayer.Forward(tp, m)
	if !b.Raw {
		scale = tp.AddScalar(scale, 1)
	}
	return scale, b.BiasLayer.Forward(tp, m)
}

// checkMeta panics unless m is [N, d].
func checkMeta(op string, m *autograd.Var, d int) {
	if m == nil {
		panic(fmt.Sprintf("fusion.%s.Modulation: no metadata vector, want [N, %d]", op, d))
	}
	if s := m.Shape(); len(s) != 2 || s[1] != d {
		panic(fmt.Sprintf("fusion.%s.Modulation: metadata has shape %v, want [N, %d]", op, s, d))
	}
}

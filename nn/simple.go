package nn

import (
	"fmt"
	"math/rand/v2"

	"github.com/metacnn/metacnn/autograd"
)

// Activation is a parameter-free elementwise layer.
type Activation struct {
	Kind  ActivationKind
	Slope float32 // LeakyReLU negative slope; PyTorch's default is 0.01
}

// ActivationKind names an activation function.
type ActivationKind int

// Activation kinds.
const (
	ReLU ActivationKind = iota
	LeakyReLU
	GELU
	SiLU
	Sigmoid
	Tanh
)

var activationNames = [...]string{"relu", "leaky_relu", "gelu", "silu", "sigmoid", "tanh"}

// String returns the lower-case name used in configs.
func (k ActivationKind) String() string {
	if k >= 0 && int(k) < len(activationNames) {
		return activationNames[k]
	}
	return fmt.Sprintf("ActivationKind(%d)", int(k))
}

// ParseActivation parses a name as written by String.
func ParseActivation(s string) (ActivationKind, error) {
	for i, n := range activationNames {
		if n == s {
			return ActivationKind(i), nil
		}
	}
	return 0, fmt.Errorf("unknown activation %q (want one of %v)", s, activationNames)
}

// NewActivation returns an activation layer; LeakyReLU gets slope 0.01.
func NewActivation(k ActivationKind) *Activation { return &Activation{Kind: k, Slope: 0.01} }

var _ Layer = (*Activation)(nil)

// Forward applies the activation elementwise; the shape is unchanged.
func (a *Activation) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	switch a.Kind {
	case ReLU:
		return tp.ReLU(x)
	case LeakyReLU:
		return tp.LeakyReLU(x, a.Slope)
	case GELU:
		return tp.GELU(x)
	case SiLU:
		return tp.SiLU(x)
	case Sigmoid:
		return tp.Sigmoid(x)
	case Tanh:
		return tp.Tanh(x)
	}
	panic(fmt.Sprintf("nn.Activation: unknown kind %v", a.Kind))
}

// Params is empty.
func (a *Activation) Params() []Param { return nil }

// SetTraining has no effect.
func (a *Activation) SetTraining(bool) {}

// Flatten merges all dimensions after the first: [N, ...] -> [N, prod(...)].
type Flatten struct{}

var _ Layer = Flatten{}

// Forward flattens x.
func (Flatten) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var { return tp.Flatten(x) }

// Params is empty.
func (Flatten) Params() []Param { return nil }

// SetTraining has no effect.
func (Flatten) SetTraining(bool) {}

// Dropout zeroes each element with probability P during training and scales
// the rest by 1/(1-P), as torch.nn.Dropout; it is the identity in
// evaluation. Its random stream comes from the RNG given at construction, so
// a seeded run is reproducible.
type Dropout struct {
	P        float64
	rng      *rand.Rand
	training bool
}

var _ Layer = (*Dropout)(nil)

// NewDropout returns a dropout layer in training mode drawing masks from
// rng. p must be in [0, 1].
func NewDropout(rng *rand.Rand, p float64) *Dropout {
	if p < 0 || p > 1 {
		panic(fmt.Sprintf("nn.NewDropout: probability %v outside [0, 1]", p))
	}
	return &Dropout{P: p, rng: rng, training: true}
}

// Forward applies dropout to x (any shape).
func (d *Dropout) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return tp.Dropout(x, d.P, d.training, d.rng)
}

// Params is empty.
func (d *Dropout) Params() []Param { return nil }

// SetTraining turns dropout on (true) or makes it the identity (false).
func (d *Dropout) SetTraining(t bool) { d.training = t }

// Sequential applies layers in order, as torch.nn.Sequential; child i's
// parameters are named "i.<name>".
type Sequential struct {
	Layers []Layer
}

var _ Layer = (*Sequential)(nil)

// NewSequential chains layers.
func NewSequential(layers ...Layer) *Sequential { return &Sequential{Layers: layers} }

// Forward runs x through every layer. A Conv2D followed by a ReLU (and a
// MaxPool2D) runs as one fused op (autograd.Conv2DReLU,
// autograd.Conv2DReLUMaxPool2D), with the same values and gradients.
func (s *Sequential) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	for i := 0; i < len(s.Layers); i++ {
		if c, ok := s.Layers[i].(*Conv2D); ok && i+1 < len(s.Layers) {
			if a, ok := s.Layers[i+1].(*Activation); ok && a.Kind == ReLU {
				if mp, ok := s.layer(i + 2).(*MaxPool2D); ok {
					x = tp.Conv2DReLUMaxPool2D(x, c.Weight, c.Bias, c.Opt, mp.Opt)
					i += 2
					continue
				}
				x = tp.Conv2DReLU(x, c.Weight, c.Bias, c.Opt)
				i++
				continue
			}
		}
		x = s.Layers[i].Forward(tp, x)
	}
	return x
}

// layer returns layer i, or nil past the end.
func (s *Sequential) layer(i int) Layer {
	if i < len(s.Layers) {
		return s.Layers[i]
	}
	return nil
}

// Params returns the children's parameters prefixed by their index.
func (s *Sequential) Params() []Param {
	var ps []Param
	for i, l := range s.Layers {
		ps = append(ps, Prefixed(fmt.Sprint(i), l.Params())...)
	}
	return ps
}

// SetTraining sets the mode of every child.
func (s *Sequential) SetTraining(t bool) {
	for _, l := range s.Layers {
		l.SetTraining(t)
	}
}

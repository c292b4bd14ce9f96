package nn

import (
	"fmt"
	"math/rand/v2"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/tensor"
)

// Linear is a fully connected layer, y = x·Wᵀ + b, as torch.nn.Linear.
// Input [..., In]; output [..., Out]. Weight is [Out, In], Bias [Out] or nil.
type Linear struct {
	In, Out int
	Weight  *autograd.Var
	Bias    *autograd.Var
}

var _ Layer = (*Linear)(nil)

// NewLinear builds a Linear layer with PyTorch's default initialisation,
// U(-1/√in, 1/√in) for weight and bias, drawn from rng.
func NewLinear(rng *rand.Rand, in, out int, bias bool) *Linear {
	if in <= 0 || out <= 0 {
		panic(fmt.Sprintf("nn.NewLinear: sizes must be positive, got in=%d out=%d", in, out))
	}
	bound := fanInBound(in)
	l := &Linear{In: in, Out: out, Weight: autograd.Param(uniform(rng, bound, out, in))}
	if bias {
		l.Bias = autograd.Param(uniform(rng, bound, out))
	}
	return l
}

// Forward applies the layer to x [..., In].
func (l *Linear) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return tp.Linear(x, l.Weight, l.Bias)
}

// Params returns "weight" and, when present, "bias".
func (l *Linear) Params() []Param {
	ps := []Param{{Name: "weight", Var: l.Weight}}
	if l.Bias != nil {
		ps = append(ps, Param{Name: "bias", Var: l.Bias})
	}
	return ps
}

// SetTraining has no effect on a Linear layer.
func (l *Linear) SetTraining(bool) {}

// ZeroInit sets weight and bias to zero (used for identity-start
// generators of multiplicative fusion blocks).
func (l *Linear) ZeroInit() {
	l.Weight.Value.Zero()
	if l.Bias != nil {
		l.Bias.Value.Zero()
	}
}

// Embedding maps integer ids to learned vectors, as torch.nn.Embedding.
// Weight is [Num, Dim]; ids in [0, Num) give rows of Weight.
type Embedding struct {
	Num, Dim int
	Weight   *autograd.Var
}

var _ Module = (*Embedding)(nil)

// NewEmbedding builds an embedding table initialised from N(0, 1), PyTorch's
// default.
func NewEmbedding(rng *rand.Rand, num, dim int) *Embedding {
	if num <= 0 || dim <= 0 {
		panic(fmt.Sprintf("nn.NewEmbedding: sizes must be positive, got num=%d dim=%d", num, dim))
	}
	return &Embedding{Num: num, Dim: dim, Weight: autograd.Param(normal(rng, num, dim))}
}

// Forward looks up ids and returns [len(ids), Dim].
func (e *Embedding) Forward(tp *autograd.Tape, ids []int) *autograd.Var {
	return tp.Embedding(e.Weight, ids)
}

// Params returns "weight".
func (e *Embedding) Params() []Param { return []Param{{Name: "weight", Var: e.Weight}} }

// SetTraining has no effect on an embedding.
func (e *Embedding) SetTraining(bool) {}

// LayerNorm normalises over the trailing Shape dimensions, as
// torch.nn.LayerNorm with elementwise affine parameters (weight 1, bias 0).
type LayerNorm struct {
	Shape  []int
	Eps    float64
	Weight *autograd.Var
	Bias   *autograd.Var
}

var _ Layer = (*LayerNorm)(nil)

// NewLayerNorm builds a LayerNorm over the trailing dimensions shape with
// eps 1e-5 (PyTorch's default).
func NewLayerNorm(shape ...int) *LayerNorm {
	return &LayerNorm{
		Shape:  append([]int(nil), shape...),
		Eps:    1e-5,
		Weight: autograd.Param(tensor.Full(1, shape...)),
		Bias:   autograd.Param(tensor.New(shape...)),
	}
}

// Forward normalises x [..., Shape...].
func (l *LayerNorm) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return tp.LayerNorm(x, l.Weight, l.Bias, l.Shape, l.Eps)
}

// Params returns "weight" and "bias".
func (l *LayerNorm) Params() []Param {
	return []Param{{Name: "weight", Var: l.Weight}, {Name: "bias", Var: l.Bias}}
}

// SetTraining has no effect on layer norm.
func (l *LayerNorm) SetTraining(bool) {}

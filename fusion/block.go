package fusion

import (
	"fmt"
	"math/rand/v2"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/nn"
	"github.com/metacnn/metacnn/tensor"
)

// Block combines a feature tensor x with a metadata vector m [N, D]. The
// output shape depends on the block and is stated on each Forward.
type Block interface {
	nn.Module
	// Forward fuses x and m. A nil tape runs inference.
	Forward(tp *autograd.Tape, x, m *autograd.Var) *autograd.Var
}

// Options configures the blocks that generate parameters from the metadata.
// The zero value is the default: identity start, no hidden generator layer.
type Options struct {
	// Raw selects the reference document's exact form for ScaleBias and
	// FiLM (scale = layer(m), γ = layer(m)) and MetaBlock's exact form for
	// Gate (V' = σ(tanh(V ⊙ f(m)) + g(m))), with PyTorch's default
	// initialisation. CondBatchNorm has no raw form.
	Raw bool
	// Hidden, when positive, gives FiLM and CondBatchNorm a shared generator
	// layer Linear(D, Hidden) + ReLU (named hidden_layer) in front of the
	// γ and β layers. 0 means none: γ and β are linear in m.
	Hidden int
}

func (o Options) check(op string, rawOK, hiddenOK bool) {
	if o.Raw && !rawOK {
		panic(fmt.Sprintf("fusion.%s: has no raw form", op))
	}
	if o.Hidden < 0 || (o.Hidden > 0 && !hiddenOK) {
		panic(fmt.Sprintf("fusion.%s: hidden %d not supported", op, o.Hidden))
	}
}

func checkSizes(op string, c, d int) {
	if c <= 0 || d <= 0 {
		panic(fmt.Sprintf("fusion.%s: channels and metadata width must be positive, got c=%d d=%d", op, c, d))
	}
}

// checkInputs panics unless x is [N, C, ...] with rank 2 or 4 (when c > 0)
// and m is [N, d].
func checkInputs(op string, x, m *autograd.Var, c, d int) {
	xs := x.Shape()
	if c > 0 && ((len(xs) != 4 && len(xs) != 2) || xs[1] != c) {
		panic(fmt.Sprintf("fusion.%s: features have shape %v, want [N, %d, H, W] or [N, %d]", op, xs, c, c))
	}
	if len(xs) < 1 {
		panic(fmt.Sprintf("fusion.%s: features have shape %v, want a batch dimension", op, xs))
	}
	if m == nil {
		panic(fmt.Sprintf("fusion.%s: no metadata vector, want [%d, %d]", op, xs[0], d))
	}
	if ms := m.Shape(); len(ms) != 2 || ms[0] != xs[0] || (d > 0 && ms[1] != d) {
		want := "D"
		if d > 0 {
			want = fmt.Sprint(d)
		}
		panic(fmt.Sprintf("fusion.%s: metadata has shape %v, want [%d, %s]", op, ms, xs[0], want))
	}
}

// perChannel reshapes v [N, C] so it broadcasts over x: [N, C, 1, 1] for a
// feature map, unchanged for a pooled [N, C].
func perChannel(tp *autograd.Tape, v, x *autograd.Var) *autograd.Var {
	if x.Value.Rank() == 4 {
		return tp.Reshape(v, v.Value.Dim(0), v.Value.Dim(1), 1, 1)
	}
	return v
}

// affine returns scale ⊙ x + shift with scale and shift [N, C] applied per
// channel of x.
func affine(tp *autograd.Tape, x, scale, shift *autograd.Var) *autograd.Var {
	return tp.Add(tp.Mul(perChannel(tp, scale, x), x), perChannel(tp, shift, x))
}

// generator is the optional hidden layer in front of γ/β layers.
type generator struct{ hidden *nn.Linear }

func newGenerator(rng *rand.Rand, d, hidden int) (generator, int) {
	if hidden <= 0 {
		return generator{}, d
	}
	return generator{hidden: nn.NewLinear(rng, d, hidden, true)}, hidden
}

func (g generator) forward(tp *autograd.Tape, m *autograd.Var) *autograd.Var {
	if g.hidden == nil {
		return m
	}
	return tp.ReLU(g.hidden.Forward(tp, m))
}

func (g generator) params() []nn.Param {
	if g.hidden == nil {
		return nil
	}
	return nn.Prefixed("hidden_layer", g.hidden.Params())
}

// Concat is the reference document's Example 1: the image features,
// flattened, followed by the metadata vector. It has no parameters.
// x [N, ...] and m [N, D] -> [N, prod(...) + D].
type Concat struct{}

var _ Block = Concat{}

// Forward flattens x and appends m along the feature axis.
func (Concat) Forward(tp *autograd.Tape, x, m *autograd.Var) *autograd.Var {
	checkInputs("Concat", x, m, 0, 0)
	if x.Value.Rank() != 2 {
		x = tp.Flatten(x)
	}
	return tp.Concat(1, x, m)
}

// Params is empty.
func (Concat) Params() []nn.Param { return nil }

// SetTraining has no effect.
func (Concat) SetTraining(bool) {}

// Early broadcasts the metadata vector over the image plane and appends it
// as extra input channels, the document's counter-example kept for
// ablation: x [N, C, H, W] and m [N, D] -> [N, C + D, H, W]. The first
// convolution of the network must then take C + D channels. No parameters.
type Early struct{}

var _ Block = Early{}

// Forward appends m as D constant channels to x.
func (Early) Forward(tp *autograd.Tape, x, m *autograd.Var) *autograd.Var {
	checkInputs("Early", x, m, 0, 0)
	xs := x.Shape()
	if len(xs) != 4 {
		panic(fmt.Sprintf("fusion.Early: images have shape %v, want [N, C, H, W]", xs))
	}
	n, d := xs[0], m.Value.Dim(1)
	plane := autograd.Const(tensor.New(1, 1, xs[2], xs[3]))
	mm := tp.Add(tp.Reshape(m, n, d, 1, 1), plane)
	return tp.Concat(1, x, mm)
}

// Params is empty.
func (Early) Params() []nn.Param { return nil }

// SetTraining has no effect.
func (Early) SetTraining(bool) {}

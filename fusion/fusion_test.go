package fusion

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/nn"
	"github.com/metacnn/metacnn/tensor"
)

func newRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

// randomize overwrites every learnable parameter of m with U(-0.5, 0.5) so
// zero-initialised generators do not hide terms from a gradient check.
func randomize(m nn.Module, rng *rand.Rand) {
	for _, p := range m.Params() {
		if p.Buffer {
			continue
		}
		for i := range p.Var.Data() {
			p.Var.Data()[i] = float32(rng.Float64() - 0.5)
		}
	}
}

// awayFromKinks keeps the ReLU of a hidden generator layer away from 0 for
// inputs in [-1, 1]^D: randomize bounds |m·w| by D/2, so biases of ±(D/2 + 1)
// make even units always active and odd ones always off, and finite
// differences never straddle the kink.
func awayFromKinks(b Block) {
	var h *nn.Linear
	switch b := b.(type) {
	case *FiLM:
		h = b.Hidden()
	case *CondBatchNorm:
		h = b.Hidden()
	}
	if h == nil {
		return
	}
	for i := range h.Bias.Data() {
		v := float32(h.In)/2 + 1
		if i%2 == 1 {
			v = -v
		}
		h.Bias.Data()[i] = v
	}
}

func TestKindRoundTrip(t *testing.T) {
	for _, k := range Kinds() {
		b, err := k.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var got Kind
		if err := got.UnmarshalText(b); err != nil || got != k {
			t.Errorf("%v: round trip gave %v, %v", k, got, err)
		}
	}
	if k, err := ParseKind(" FiLM "); err != nil || k != KindFiLM {
		t.Errorf("ParseKind(\" FiLM \") = %v, %v", k, err)
	}
	_, err := ParseKind("attention")
	if err == nil || !strings.Contains(err.Error(), "attention") || !strings.Contains(err.Error(), "cbn") {
		t.Errorf("ParseKind(attention) error %v, want it to name the input and the choices", err)
	}
	if _, err := Kind(42).MarshalText(); err == nil {
		t.Error("Kind(42).MarshalText: no error")
	}
	if got := Kind(42).String(); got != "Kind(42)" {
		t.Errorf("Kind(42).String() = %q", got)
	}
}

// blockCase builds one block over c channels from a d-wide metadata vector.
type blockCase struct {
	name     string
	identity bool // the fresh block returns x exactly
	rank2    bool // also accepts pooled [N, C]
	make     func(rng *rand.Rand, c, d int) Block
}

var blockCases = []blockCase{
	{"scalebias", true, true, func(r *rand.Rand, c, d int) Block { return NewScaleBias(r, c, d, Options{}) }},
	{"scalebias/raw", false, true, func(r *rand.Rand, c, d int) Block { return NewScaleBias(r, c, d, Options{Raw: true}) }},
	{"film", true, true, func(r *rand.Rand, c, d int) Block { return NewFiLM(r, c, d, Options{}) }},
	{"film/raw", false, true, func(r *rand.Rand, c, d int) Block { return NewFiLM(r, c, d, Options{Raw: true}) }},
	{"film/hidden", true, true, func(r *rand.Rand, c, d int) Block { return NewFiLM(r, c, d, Options{Hidden: 5}) }},
	{"cbn", false, false, func(r *rand.Rand, c, d int) Block { return NewCondBatchNorm(r, c, d, Options{}) }},
	{"cbn/hidden", false, false, func(r *rand.Rand, c, d int) Block { return NewCondBatchNorm(r, c, d, Options{Hidden: 5}) }},
	{"gate", true, true, func(r *rand.Rand, c, d int) Block { return NewGate(r, c, d, Options{}) }},
	{"gate/raw", false, true, func(r *rand.Rand, c, d int) Block { return NewGate(r, c, d, Options{Raw: true}) }},
}

func TestBlockShapes(t *testing.T) {
	const n, c, h, w, d = 3, 4, 5, 6, 7
	for _, bc := range blockCases {
		t.Run(bc.name, func(t *testing.T) {
			rng := newRNG(1)
			b := bc.make(rng, c, d)
			m := autograd.RandVar(rng, false, -1, 1, n, d)
			y := b.Forward(nil, autograd.RandVar(rng, false, -1, 1, n, c, h, w), m)
			if !slices.Equal(y.Shape(), []int{n, c, h, w}) {
				t.Errorf("feature map: output %v, want [%d %d %d %d]", y.Shape(), n, c, h, w)
			}
			if bc.rank2 {
				y := b.Forward(nil, autograd.RandVar(rng, false, -1, 1, n, c), m)
				if !slices.Equal(y.Shape(), []int{n, c}) {
					t.Errorf("pooled: output %v, want [%d %d]", y.Shape(), n, c)
				}
			}
		})
	}
	rng := newRNG(2)
	x := autograd.RandVar(rng, false, -1, 1, n, c, h, w)
	m := autograd.RandVar(rng, false, -1, 1, n, d)
	if got := (Concat{}).Forward(nil, x, m).Shape(); !slices.Equal(got, []int{n, c*h*w + d}) {
		t.Errorf("Concat: output %v, want [%d %d]", got, n, c*h*w+d)
	}
	if got := (Early{}).Forward(nil, x, m).Shape(); !slices.Equal(got, []int{n, c + d, h, w}) {
		t.Errorf("Early: output %v, want [%d %d %d %d]", got, n, c+d, h, w)
	}
}

// TestBlockGradients checks every block's gradients with respect to the
// feature map, the metadata and every parameter against central finite
// differences (autograd.CheckGrad's default tolerances). Zero-initialised
// generators are randomised first so every term is exercised.
func TestBlockGradients(t *testing.T) {
	const n, c, h, w, d = 3, 2, 2, 3, 4
	for _, bc := range blockCases {
		t.Run(bc.name, func(t *testing.T) {
			rng := newRNG(3)
			b := bc.make(rng, c, d)
			randomize(b, rng)
			awayFromKinks(b)
			x := autograd.RandVar(rng, true, -1, 1, n, c, h, w)
			m := autograd.RandVar(rng, true, -1, 1, n, d)
			inputs := append([]*autograd.Var{x, m}, nn.Trainable(b)...)
			f := func(tp *autograd.Tape) *autograd.Var { return b.Forward(tp, x, m) }
			if err := autograd.CheckGrad(f, inputs, autograd.CheckOptions{Seed: 4}); err != nil {
				t.Fatal(err)
			}
		})
	}
	for _, b := range []Block{Concat{}, Early{}} {
		t.Run(fmt.Sprintf("%T", b), func(t *testing.T) {
			rng := newRNG(5)
			x := autograd.RandVar(rng, true, -1, 1, n, c, h, w)
			m := autograd.RandVar(rng, true, -1, 1, n, d)
			f := func(tp *autograd.Tape) *autograd.Var { return b.Forward(tp, x, m) }
			if err := autograd.CheckGrad(f, []*autograd.Var{x, m}, autograd.CheckOptions{Seed: 6}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestIdentityStart: fresh default ScaleBias, FiLM and Gate blocks return
// the feature map bit for bit, whatever the metadata.
func TestIdentityStart(t *testing.T) {
	for _, bc := range blockCases {
		if !bc.identity {
			continue
		}
		t.Run(bc.name, func(t *testing.T) {
			rng := newRNG(7)
			b := bc.make(rng, 3, 4)
			x := autograd.RandVar(rng, false, -3, 3, 2, 3, 4, 4)
			m := autograd.RandVar(rng, false, -5, 5, 2, 4)
			y := b.Forward(nil, x, m)
			if !slices.Equal(y.Data(), x.Data()) {
				t.Errorf("fresh block changed the features: got %v, want %v", y.Value, x.Value)
			}
		})
	}
}

// TestCondBatchNormStartsAsBatchNorm: a fresh CondBatchNorm computes what a
// fresh nn.BatchNorm2D computes, in training (batch statistics, running
// statistics updated alike) and in evaluation.
func TestCondBatchNormStartsAsBatchNorm(t *testing.T) {
	rng := newRNG(8)
	cbn := NewCondBatchNorm(rng, 3, 4, Options{})
	bn := nn.NewBatchNorm2D(3)
	m := autograd.RandVar(rng, false, -5, 5, 4, 4)
	for _, training := range []bool{true, true, false} {
		cbn.SetTraining(training)
		bn.SetTraining(training)
		x := autograd.RandVar(rng, false, -2, 4, 4, 3, 3, 3)
		got, want := cbn.Forward(nil, x, m).Data(), bn.Forward(nil, x).Data()
		for i := range want {
			if math.Abs(float64(got[i]-want[i])) > 1e-6 {
				t.Fatalf("training=%v: element %d = %g, batch norm gives %g", training, i, got[i], want[i])
			}
		}
	}
	for i, name := range []string{"running_mean", "running_var", "num_batches_tracked"} {
		if !slices.Equal(cbn.Params()[2+i].Var.Data(), bn.Params()[2+i].Var.Data()) {
			t.Errorf("%s differs: %v vs %v", name, cbn.Params()[2+i].Var.Value, bn.Params()[2+i].Var.Value)
		}
	}
}

// setLinear gives l fixed weights and biases.
func setLinear(l *nn.Linear, w, b []float32) {
	copy(l.Weight.Data(), w)
	copy(l.Bias.Data(), b)
}

// TestRawForms checks the document's FiLM and MetaBlock's gate on one
// hand-computed example: C = 1, D = 2, x = [1, -2] (one row, two positions),
// m = [0.5, 1].
func TestRawForms(t *testing.T) {
	x := autograd.Const(tensor.FromSlice([]float32{1, -2}, 1, 1, 1, 2))
	m := autograd.Const(tensor.FromSlice([]float32{0.5, 1}, 1, 2))
	rng := newRNG(9)

	// γ = 2·0.5 + 1·1 + 0.5 = 2.5, β = -1·0.5 + 0 + 0.25 = -0.25:
	// y = 2.5·[1, -2] - 0.25 = [2.25, -5.25].
	film := NewFiLM(rng, 1, 2, Options{Raw: true})
	setLinear(film.GammaLayer, []float32{2, 1}, []float32{0.5})
	setLinear(film.BetaLayer, []float32{-1, 0}, []float32{0.25})
	if got := film.Forward(nil, x, m).Data(); !slices.Equal(got, []float32{2.25, -5.25}) {
		t.Errorf("raw FiLM = %v, want [2.25 -5.25]", got)
	}
	// The default form adds 1 to γ: y = 3.5·x - 0.25 = [3.25, -7.25].
	film.Raw = false
	if got := film.Forward(nil, x, m).Data(); !slices.Equal(got, []float32{3.25, -7.25}) {
		t.Errorf("FiLM = %v, want [3.25 -7.25]", got)
	}

	// f = 0.5·1 + 1·0 + 0 = 0.5, g = 0.5·0 + 1·1 - 0.5 = 0.5:
	// V' = σ(tanh(0.5·V) + 0.5), by float64 arithmetic below.
	gate := NewGate(rng, 1, 2, Options{Raw: true})
	setLinear(gate.FLayer, []float32{1, 0}, []float32{0})
	setLinear(gate.GLayer, []float32{0, 1}, []float32{-0.5})
	sig := func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }
	for _, raw := range []bool{true, false} {
		gate.Raw = raw
		got := gate.Forward(nil, x, m).Data()
		for i, v := range []float64{1, -2} {
			want := sig(math.Tanh(0.5*v) + 0.5)
			if !raw {
				want = v * 2 * want
			}
			if math.Abs(float64(got[i])-want) > 1e-6 {
				t.Errorf("gate raw=%v at %d = %g, want %g", raw, i, got[i], want)
			}
		}
	}
}

func TestConcatAndEarlyValues(t *testing.T) {
	x := autograd.Const(tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6, 7, 8}, 2, 1, 2, 2))
	m := autograd.Const(tensor.FromSlice([]float32{-1, -2}, 2, 1))
	if got, want := (Concat{}).Forward(nil, x, m).Data(), []float32{1, 2, 3, 4, -1, 5, 6, 7, 8, -2}; !slices.Equal(got, want) {
		t.Errorf("Concat = %v, want %v", got, want)
	}
	if got, want := (Early{}).Forward(nil, x, m).Data(), []float32{1, 2, 3, 4, -1, -1, -1, -1, 5, 6, 7, 8, -2, -2, -2, -2}; !slices.Equal(got, want) {
		t.Errorf("Early = %v, want %v", got, want)
	}
}

func TestParamNames(t *testing.T) {
	names := func(m nn.Module) string {
		var s []string
		for _, p := range m.Params() {
			s = append(s, p.Name)
		}
		return strings.Join(s, " ")
	}
	rng := newRNG(10)
	cases := []struct {
		m    nn.Module
		want string
	}{
		{NewScaleBias(rng, 2, 3, Options{}), "scale_layer.weight scale_layer.bias bias_layer.weight bias_layer.bias"},
		{NewFiLM(rng, 2, 3, Options{}), "gamma_layer.weight gamma_layer.bias beta_layer.weight beta_layer.bias"},
		{NewFiLM(rng, 2, 3, Options{Hidden: 4}), "hidden_layer.weight hidden_layer.bias gamma_layer.weight gamma_layer.bias beta_layer.weight beta_layer.bias"},
		{NewCondBatchNorm(rng, 2, 3, Options{}), "weight bias running_mean running_var num_batches_tracked gamma_layer.weight gamma_layer.bias beta_layer.weight beta_layer.bias"},
		{NewGate(rng, 2, 3, Options{}), "f_layer.weight f_layer.bias g_layer.weight g_layer.bias"},
		{Concat{}, ""},
		{Early{}, ""},
	}
	for _, c := range cases {
		if got := names(c.m); got != c.want {
			t.Errorf("%T: params %q, want %q", c.m, got, c.want)
		}
	}
}

func TestShapeMismatchPanics(t *testing.T) {
	rng := newRNG(11)
	film := NewFiLM(rng, 3, 4, Options{})
	cases := map[string]func(){
		"channels":      func() { film.Forward(nil, autograd.Const(tensor.New(2, 5, 2, 2)), autograd.Const(tensor.New(2, 4))) },
		"meta width":    func() { film.Forward(nil, autograd.Const(tensor.New(2, 3, 2, 2)), autograd.Const(tensor.New(2, 5))) },
		"batch":         func() { film.Forward(nil, autograd.Const(tensor.New(2, 3, 2, 2)), autograd.Const(tensor.New(3, 4))) },
		"nil meta":      func() { film.Forward(nil, autograd.Const(tensor.New(2, 3, 2, 2)), nil) },
		"early rank":    func() { Early{}.Forward(nil, autograd.Const(tensor.New(2, 3)), autograd.Const(tensor.New(2, 4))) },
		"cbn raw":       func() { NewCondBatchNorm(rng, 3, 4, Options{Raw: true}) },
		"gate hidden":   func() { NewGate(rng, 3, 4, Options{Hidden: 2}) },
		"zero channels": func() { NewFiLM(rng, 0, 4, Options{}) },
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil {
					t.Fatal("no panic")
				}
				if s := fmt.Sprint(r); !strings.HasPrefix(s, "fusion.") {
					t.Errorf("panic %q does not name the block", s)
				}
			}()
			f()
		})
	}
}

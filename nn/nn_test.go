package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/tensor"
)

func newRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 1)) }

// mustPanic fails t unless f panics with a message containing want.
func mustPanic(t *testing.T, want string, f func()) {
	t.Helper()
	r := recovered(f)
	if r == nil {
		t.Fatalf("no panic, want one containing %q", want)
	}
	if msg := fmt.Sprint(r); !strings.Contains(msg, want) {
		t.Fatalf("panic %q does not contain %q", msg, want)
	}
}

// recovered runs f and returns what it panicked with, or nil.
func recovered(f func()) (r any) {
	defer func() { r = recover() }()
	f()
	return nil
}

// wantFloats fails t when got and want differ by more than tol anywhere.
func wantFloats(t *testing.T, name string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	for i, w := range want {
		if g := float64(got[i]); !(math.Abs(g-w) <= tol) {
			t.Fatalf("%s[%d] = %.8g, want %.8g (all: %v)", name, i, g, w, got)
		}
	}
}

func paramNames(ps []Param) []string {
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
	}
	return names
}

// convNet is the Sequential of the naming test: conv, ReLU, pool, conv.
func convNet(rng *rand.Rand) *Sequential {
	return NewSequential(
		NewConv2D(rng, Conv2DConfig{In: 3, Out: 4, Kernel: [2]int{3, 3}, Padding: [2]int{1, 1}}),
		NewActivation(ReLU),
		NewMaxPool2D(2),
		NewConv2D(rng, Conv2DConfig{In: 4, Out: 6, Kernel: [2]int{3, 3}}),
	)
}

// bnNet holds every kind of parameter: conv weights, batch-norm affine
// parameters and buffers, and a linear layer. Input [N, 2, 4, 4].
func bnNet(rng *rand.Rand) *Sequential {
	return NewSequential(
		NewConv2D(rng, Conv2DConfig{In: 2, Out: 4, Kernel: [2]int{3, 3}, Padding: [2]int{1, 1}}),
		NewBatchNorm2D(4),
		NewActivation(ReLU),
		NewAvgPool2D(2),
		Flatten{},
		NewLinear(rng, 16, 3, true),
	)
}

// TestParamNamesMatchPyTorch checks names against the state_dict keys
// PyTorch 1.13 gives the same modules, e.g.
// python3 -c "import torch.nn as nn; print(list(nn.Sequential(nn.Conv2d(3,4,3,padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4,6,3)).state_dict()))"
// prints ['0.weight', '0.bias', '3.weight', '3.bias'].
func TestParamNamesMatchPyTorch(t *testing.T) {
	ps := convNet(newRNG(1)).Params()
	if got, want := paramNames(ps), []string{"0.weight", "0.bias", "3.weight", "3.bias"}; !slices.Equal(got, want) {
		t.Errorf("Sequential names %v, want %v", got, want)
	}
	wantShapes := [][]int{{4, 3, 3, 3}, {4}, {6, 4, 3, 3}, {6}}
	for i, p := range ps {
		if !tensor.EqualShapes(p.Var.Shape(), wantShapes[i]) {
			t.Errorf("%s shape %v, want %v", p.Name, p.Var.Shape(), wantShapes[i])
		}
		if p.Buffer || p.Integer {
			t.Errorf("%s marked buffer=%v integer=%v", p.Name, p.Buffer, p.Integer)
		}
	}

	// nn.Sequential(nn.Sequential(nn.Linear(2,3)), nn.BatchNorm2d(3),
	// nn.Linear(3,1,bias=False)).state_dict() keys, PyTorch 1.13.
	nested := NewSequential(
		NewSequential(NewLinear(newRNG(1), 2, 3, true)),
		NewBatchNorm2D(3),
		NewLinear(newRNG(2), 3, 1, false),
	)
	want := []string{
		"0.0.weight", "0.0.bias",
		"1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked",
		"2.weight",
	}
	if got := paramNames(nested.Params()); !slices.Equal(got, want) {
		t.Errorf("nested names %v, want %v", got, want)
	}
}

// TestBatchNormParams checks nn.BatchNorm2d(3).state_dict() of PyTorch 1.13:
// weight ones, bias zeros, running_mean zeros, running_var ones and
// num_batches_tracked a 0-dim int64 zero.
func TestBatchNormParams(t *testing.T) {
	bn := NewBatchNorm2D(3)
	want := []struct {
		name            string
		shape           []int
		value           float32
		buffer, integer bool
	}{
		{"weight", []int{3}, 1, false, false},
		{"bias", []int{3}, 0, false, false},
		{"running_mean", []int{3}, 0, true, false},
		{"running_var", []int{3}, 1, true, false},
		{"num_batches_tracked", []int{}, 0, true, true},
	}
	ps := bn.Params()
	if len(ps) != len(want) {
		t.Fatalf("BatchNorm2D params %v, want %d", paramNames(ps), len(want))
	}
	for i, w := range want {
		p := ps[i]
		if p.Name != w.name || !tensor.EqualShapes(p.Var.Shape(), w.shape) || p.Buffer != w.buffer || p.Integer != w.integer {
			t.Errorf("param %d = {%s %v buffer=%v integer=%v}, want {%s %v buffer=%v integer=%v}",
				i, p.Name, p.Var.Shape(), p.Buffer, p.Integer, w.name, w.shape, w.buffer, w.integer)
		}
		for _, v := range p.Var.Data() {
			if v != w.value {
				t.Errorf("%s initialised to %v, want all %g", p.Name, p.Var.Data(), w.value)
				break
			}
		}
		if p.Var.RequiresGrad() == w.buffer {
			t.Errorf("%s requiresGrad=%v, want %v", p.Name, p.Var.RequiresGrad(), !w.buffer)
		}
	}
	if bn.Eps != 1e-5 || bn.Momentum != 0.1 {
		t.Errorf("eps %g momentum %g, want PyTorch's 1e-5 and 0.1", bn.Eps, bn.Momentum)
	}
}

func TestPrefixed(t *testing.T) {
	v := autograd.Param(tensor.New(1))
	in := []Param{{Name: "weight", Var: v}, {Name: "num_batches_tracked", Var: v, Buffer: true, Integer: true}}
	out := Prefixed("block.2", in)
	if got, want := paramNames(out), []string{"block.2.weight", "block.2.num_batches_tracked"}; !slices.Equal(got, want) {
		t.Errorf("Prefixed names %v, want %v", got, want)
	}
	if !out[1].Buffer || !out[1].Integer || out[0].Var != v {
		t.Errorf("Prefixed lost flags or variables: %+v", out)
	}
	if in[0].Name != "weight" {
		t.Errorf("Prefixed modified its input: %q", in[0].Name)
	}
	if got := Prefixed("x", nil); len(got) != 0 {
		t.Errorf("Prefixed of nil = %v", got)
	}
}

func TestNoBiasParams(t *testing.T) {
	l := NewLinear(newRNG(1), 3, 2, false)
	c := NewConv2D(newRNG(1), Conv2DConfig{In: 2, Out: 2, Kernel: [2]int{1, 1}, NoBias: true})
	for _, m := range []Module{l, c} {
		if got := paramNames(m.Params()); !slices.Equal(got, []string{"weight"}) {
			t.Errorf("%T without bias: params %v, want [weight]", m, got)
		}
	}
}

// checkUniform checks that data lies in [-bound, bound], reaches past
// 0.9·bound, and fills each quarter of the interval with about a quarter of
// the values (when there are enough of them for that to be meaningful).
func checkUniform(t *testing.T, name string, data []float32, bound float64) {
	t.Helper()
	var maxAbs float64
	var bins [4]int
	for _, v := range data {
		a := math.Abs(float64(v))
		if a > bound {
			t.Fatalf("%s: |%g| exceeds the bound %g", name, v, bound)
		}
		maxAbs = math.Max(maxAbs, a)
		b := int((float64(v) + bound) / (2 * bound) * 4)
		bins[min(b, 3)]++
	}
	if maxAbs <= 0.9*bound {
		t.Errorf("%s: max |w| = %g, want > 0.9·%g for %d uniform draws", name, maxAbs, bound, len(data))
	}
	if n := len(data); n >= 4000 {
		// Each bin count is Binomial(n, 1/4): sd = √(3n/16), so 0.03·n is
		// more than 5 sd for n >= 4000.
		for i, c := range bins {
			if f := float64(c) / float64(n); math.Abs(f-0.25) > 0.03 {
				t.Errorf("%s: quarter %d of [-bound, bound] holds %.3f of the values, want 0.25 (bins %v)", name, i, f, bins)
			}
		}
	}
}

// TestDefaultInit checks PyTorch's default initialisation: Linear and Conv
// weights and biases U(-1/√fan_in, 1/√fan_in) (kaiming_uniform_(a=√5) and
// reset_parameters in torch/nn/modules/linear.py and conv.py), with fan_in =
// in/groups·kh·kw for convolutions.
func TestDefaultInit(t *testing.T) {
	rng := newRNG(3)
	lin := NewLinear(rng, 400, 300, true)
	b := 1 / math.Sqrt(400)
	checkUniform(t, "Linear(400, 300).weight", lin.Weight.Data(), b)
	checkUniform(t, "Linear(400, 300).bias", lin.Bias.Data(), b)

	convs := []struct {
		cfg   Conv2DConfig
		fanIn int
	}{
		{Conv2DConfig{In: 16, Out: 32, Kernel: [2]int{3, 3}}, 144},
		{Conv2DConfig{In: 8, Out: 64, Kernel: [2]int{3, 3}, Groups: 4}, 18},
		{Conv2DConfig{In: 4, Out: 80, Kernel: [2]int{3, 5}}, 60},
	}
	for _, c := range convs {
		conv := NewConv2D(rng, c.cfg)
		b := 1 / math.Sqrt(float64(c.fanIn))
		name := fmt.Sprintf("Conv2D(in=%d out=%d k=%v groups=%d)", c.cfg.In, c.cfg.Out, c.cfg.Kernel, c.cfg.Groups)
		want := []int{c.cfg.Out, c.cfg.In / max(c.cfg.Groups, 1), c.cfg.Kernel[0], c.cfg.Kernel[1]}
		if !tensor.EqualShapes(conv.Weight.Shape(), want) {
			t.Errorf("%s weight shape %v, want %v", name, conv.Weight.Shape(), want)
		}
		checkUniform(t, name+".weight", conv.Weight.Data(), b)
		checkUniform(t, name+".bias", conv.Bias.Data(), b)
	}
}

// TestEmbeddingInit checks torch.nn.Embedding's N(0, 1) initialisation on a
// 2000×50 table: with n = 1e5 the sample mean has sd 1/√n ≈ 0.0032 and the
// sample sd has sd ≈ 1/√(2n) ≈ 0.0022, so 0.02 is over 6 sd for both; the
// fraction within one sd is 0.6827 (normal CDF) with sd 0.0015.
func TestEmbeddingInit(t *testing.T) {
	e := NewEmbedding(newRNG(4), 2000, 50)
	if !tensor.EqualShapes(e.Weight.Shape(), []int{2000, 50}) {
		t.Fatalf("weight shape %v", e.Weight.Shape())
	}
	var sum, sq float64
	within := 0
	d := e.Weight.Data()
	for _, v := range d {
		sum += float64(v)
		if math.Abs(float64(v)) < 1 {
			within++
		}
	}
	mean := sum / float64(len(d))
	for _, v := range d {
		sq += (float64(v) - mean) * (float64(v) - mean)
	}
	sd := math.Sqrt(sq / float64(len(d)))
	if math.Abs(mean) > 0.02 || math.Abs(sd-1) > 0.02 {
		t.Errorf("embedding mean %.4f sd %.4f, want N(0, 1)", mean, sd)
	}
	if f := float64(within) / float64(len(d)); math.Abs(f-0.6827) > 0.01 {
		t.Errorf("%.4f of values within ±1, want 0.6827", f)
	}
}

func TestSeedReproducible(t *testing.T) {
	build := func(seed uint64) *Sequential {
		rng := newRNG(seed)
		return NewSequential(bnNet(rng), NewLinear(rng, 3, 2, true))
	}
	a, b, c := build(7), build(7), build(8)
	pa, pb, pc := a.Params(), b.Params(), c.Params()
	for i := range pa {
		if !slices.Equal(pa[i].Var.Data(), pb[i].Var.Data()) {
			t.Errorf("seed 7 twice: %s differs", pa[i].Name)
		}
		if pa[i].Var.Value == pb[i].Var.Value {
			t.Errorf("two models share the tensor of %s", pa[i].Name)
		}
		// Learnable tensors are random; buffers and batch-norm affine
		// parameters are constants and equal whatever the seed.
		random := !pa[i].Buffer && !strings.HasPrefix(pa[i].Name, "0.1.")
		if random && slices.Equal(pa[i].Var.Data(), pc[i].Var.Data()) {
			t.Errorf("seeds 7 and 8 give the same %s", pa[i].Name)
		}
	}
	e1, e2 := NewEmbedding(newRNG(5), 10, 4), NewEmbedding(newRNG(5), 10, 4)
	if !slices.Equal(e1.Weight.Data(), e2.Weight.Data()) {
		t.Errorf("embedding not reproducible with the same seed")
	}
}

// snapshot copies every parameter value of m by name.
func snapshot(m Module) map[string][]float32 {
	s := make(map[string][]float32)
	for _, p := range m.Params() {
		s[p.Name] = slices.Clone(p.Var.Data())
	}
	return s
}

func sameAs(t *testing.T, what string, m Module, snap map[string][]float32) {
	t.Helper()
	for _, p := range m.Params() {
		if !slices.Equal(p.Var.Data(), snap[p.Name]) {
			t.Errorf("%s: %s = %v, want %v", what, p.Name, p.Var.Data(), snap[p.Name])
		}
	}
}

func TestStateDictRoundTrip(t *testing.T) {
	a := bnNet(newRNG(1))
	// One training step moves the running statistics and the batch count
	// off their defaults, so the buffers are exercised too.
	a.Forward(nil, autograd.RandVar(newRNG(9), false, -1, 1, 3, 2, 4, 4))
	sd := StateDict(a)

	var keys []string
	for k := range sd {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want := []string{"0.bias", "0.weight", "1.bias", "1.num_batches_tracked", "1.running_mean", "1.running_var", "1.weight", "5.bias", "5.weight"}
	if !slices.Equal(keys, want) {
		t.Fatalf("StateDict keys %v, want %v", keys, want)
	}
	if sd["0.weight"] != a.Layers[0].(*Conv2D).Weight.Value {
		t.Errorf("StateDict copied a tensor; it should share the module's")
	}
	if got := sd["1.num_batches_tracked"].Item(); got != 1 {
		t.Errorf("num_batches_tracked = %g after one training forward, want 1", got)
	}

	b := bnNet(newRNG(2))
	if err := LoadStateDict(b, sd); err != nil {
		t.Fatalf("LoadStateDict: %v", err)
	}
	want2 := snapshot(a)
	sameAs(t, "after load", b, want2)
	// The load copies: changing a afterwards leaves b alone.
	a.Layers[0].(*Conv2D).Weight.Data()[0] += 1
	sameAs(t, "after changing the source", b, want2)
}

func TestLoadStateDictErrors(t *testing.T) {
	src := StateDict(bnNet(newRNG(1)))
	b := bnNet(newRNG(2))
	before := snapshot(b)

	sd := make(map[string]*tensor.Tensor)
	for k, v := range src {
		sd[k] = v
	}
	delete(sd, "0.bias")
	delete(sd, "1.running_var")
	sd["1.running_mean"] = tensor.New(5)
	sd["1.num_batches_tracked"] = tensor.New(1) // PyTorch's is 0-dim
	sd["5.weight"] = nil
	sd["9.weight"] = tensor.New(2)
	sd["0.extra"] = tensor.New(1)
	err := LoadStateDict(b, sd)
	if err == nil {
		t.Fatal("LoadStateDict accepted a mismatched state dict")
	}
	for _, want := range []string{
		`missing "0.bias" (shape [4])`,
		`missing "1.running_var" (shape [4])`,
		`"1.running_mean" has shape [5], model expects [4]`,
		`"1.num_batches_tracked" has shape [1], model expects []`,
		`"5.weight" is nil, model expects shape [3 16]`,
		`unexpected "0.extra"; unexpected "9.weight"`, // sorted
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	sameAs(t, "after a failed load", b, before)

	// Past ten problems the list is cut short with a count.
	many := make(map[string]*tensor.Tensor)
	for k, v := range src {
		many[k] = v
	}
	for i := range 12 {
		many[fmt.Sprintf("extra.%02d", i)] = tensor.New(1)
	}
	err = LoadStateDict(b, many)
	if err == nil || !strings.HasSuffix(err.Error(), `unexpected "extra.09"; and 2 more`) {
		t.Errorf("twelve extra names: error %v, want it to end after ten with \"and 2 more\"", err)
	}
	sameAs(t, "after a failed load", b, before)
}

func TestTrainable(t *testing.T) {
	m := bnNet(newRNG(1))
	conv, bn, lin := m.Layers[0].(*Conv2D), m.Layers[1].(*BatchNorm2D), m.Layers[5].(*Linear)
	all := []*autograd.Var{conv.Weight, conv.Bias, bn.Weight, bn.Bias, lin.Weight, lin.Bias}
	if got := Trainable(m); !slices.Equal(got, all) {
		t.Errorf("Trainable = %d vars, want conv, bn and linear weight and bias in order", len(got))
	}
	conv.Weight.SetRequiresGrad(false)
	bn.Bias.SetRequiresGrad(false)
	// A buffer is never trainable, even if something turned its gradient on.
	bn.RunningMean.SetRequiresGrad(true)
	want := []*autograd.Var{conv.Bias, bn.Weight, lin.Weight, lin.Bias}
	if got := Trainable(m); !slices.Equal(got, want) {
		t.Errorf("Trainable after freezing = %d vars, want conv bias, bn weight, linear weight and bias", len(got))
	}
	if n := len(m.Params()); n != 9 {
		t.Errorf("freezing changed Params: %d entries, want 9", n)
	}
}

func TestZeroGrad(t *testing.T) {
	m := bnNet(newRNG(1))
	tp := autograd.NewTape()
	y := m.Forward(tp, autograd.RandVar(newRNG(2), false, -1, 1, 2, 2, 4, 4))
	tp.Backward(tp.Sum(y, false))
	if m.Layers[0].(*Conv2D).Weight.Grad == nil {
		t.Fatal("backward left no gradient on the first conv weight")
	}
	ZeroGrad(m)
	for _, p := range m.Params() {
		if p.Var.Grad != nil {
			t.Errorf("%s still has a gradient after ZeroGrad", p.Name)
		}
	}
}

// TestBatchNormTraining feeds a per-channel constant batch: the batch
// variance is 0, so the output is the bias, and by hand with momentum 0.1
// running_mean = 0.9·0 + 0.1·x_c and running_var = 0.9·1 + 0.1·0.
func TestBatchNormTraining(t *testing.T) {
	bn := NewBatchNorm2D(2)
	copy(bn.Bias.Data(), []float32{0.25, -0.75})
	x := tensor.New(3, 2, 2, 2)
	for n := range 3 {
		for i := range 4 {
			x.Data()[(n*2+0)*4+i] = 3
			x.Data()[(n*2+1)*4+i] = -2
		}
	}
	y := bn.Forward(nil, autograd.Const(x))
	for i, v := range y.Data() {
		if want := bn.Bias.Data()[(i/4)%2]; math.Abs(float64(v-want)) > 1e-6 {
			t.Fatalf("output[%d] = %g, want the bias %g", i, v, want)
		}
	}
	wantFloats(t, "running_mean", bn.RunningMean.Data(), []float64{0.3, -0.2}, 1e-6)
	wantFloats(t, "running_var", bn.RunningVar.Data(), []float64{0.9, 0.9}, 1e-6)
	bn.Forward(nil, autograd.Const(x))
	if got := bn.NumBatchesTracked.Value.Item(); got != 2 {
		t.Errorf("num_batches_tracked = %g after two training forwards, want 2", got)
	}

	// Evaluation neither counts nor moves the statistics.
	bn.SetTraining(false)
	rm, rv := slices.Clone(bn.RunningMean.Data()), slices.Clone(bn.RunningVar.Data())
	bn.Forward(nil, autograd.Const(x))
	if got := bn.NumBatchesTracked.Value.Item(); got != 2 {
		t.Errorf("num_batches_tracked = %g after an eval forward, want 2", got)
	}
	if !slices.Equal(rm, bn.RunningMean.Data()) || !slices.Equal(rv, bn.RunningVar.Data()) {
		t.Errorf("eval forward changed the running statistics")
	}

	// A forward that panics on a bad input counts nothing.
	bn.SetTraining(true)
	mustPanic(t, "does not match input", func() { bn.Forward(nil, autograd.Const(tensor.New(2, 3, 2, 2))) })
	if got := bn.NumBatchesTracked.Value.Item(); got != 2 {
		t.Errorf("num_batches_tracked = %g after a failed forward, want 2", got)
	}
}

// TestBatchNormEval checks eval mode against the definition
// y = (x - running_mean)/√(running_var + eps)·weight + bias, computed by hand
// in float64 for a per-channel constant input.
func TestBatchNormEval(t *testing.T) {
	bn := NewBatchNorm2D(3)
	rm := []float32{0.5, -1, 2}
	rv := []float32{4, 0.25, 1e-4}
	w := []float32{2, -1, 0.5}
	b := []float32{0.1, 0.3, -2}
	xc := []float32{2.5, 1, 2.01}
	copy(bn.RunningMean.Data(), rm)
	copy(bn.RunningVar.Data(), rv)
	copy(bn.Weight.Data(), w)
	copy(bn.Bias.Data(), b)
	// Switching through a Sequential reaches the child.
	NewSequential(bn).SetTraining(false)

	x := tensor.New(2, 3, 2, 3)
	for i := range x.Data() {
		x.Data()[i] = xc[(i/6)%3]
	}
	y := bn.Forward(nil, autograd.Const(x))
	want := make([]float64, x.Len())
	for i := range want {
		c := (i / 6) % 3
		want[i] = (float64(xc[c])-float64(rm[c]))/math.Sqrt(float64(rv[c])+1e-5)*float64(w[c]) + float64(b[c])
	}
	wantFloats(t, "eval output", y.Data(), want, 1e-5)
	if got := bn.NumBatchesTracked.Value.Item(); got != 0 {
		t.Errorf("num_batches_tracked = %g after eval only, want 0", got)
	}
}

func TestDropout(t *testing.T) {
	const n = 100000
	x := autograd.Const(tensor.Full(1, n))
	d := NewDropout(newRNG(1), 0.3)

	d.SetTraining(false)
	if y := d.Forward(nil, x); !slices.Equal(y.Data(), x.Data()) {
		t.Errorf("eval dropout changed its input")
	}

	d.SetTraining(true)
	y := d.Forward(nil, x)
	zeros := 0
	scale := float32(1 / (1 - 0.3))
	for i, v := range y.Data() {
		switch v {
		case 0:
			zeros++
		case scale:
		default:
			t.Fatalf("element %d = %g, want 0 or 1/(1-p) = %g", i, v, scale)
		}
	}
	// Binomial(n, 0.3): sd = √(0.21/n) ≈ 0.0014 of n; 0.01 is 7 sd.
	if f := float64(zeros) / n; math.Abs(f-0.3) > 0.01 {
		t.Errorf("%.4f of elements dropped, want 0.3", f)
	}

	mask := func(seed uint64) []float32 {
		return NewDropout(newRNG(seed), 0.5).Forward(nil, autograd.Const(tensor.Full(1, 1000))).Data()
	}
	if !slices.Equal(mask(5), mask(5)) {
		t.Errorf("same seed gave different dropout masks")
	}
	if slices.Equal(mask(5), mask(6)) {
		t.Errorf("seeds 5 and 6 gave the same dropout mask")
	}
	// Successive calls draw fresh masks from the layer's stream.
	d2 := NewDropout(newRNG(5), 0.5)
	in := autograd.Const(tensor.Full(1, 1000))
	if slices.Equal(d2.Forward(nil, in).Data(), d2.Forward(nil, in).Data()) {
		t.Errorf("two training forwards drew the same mask")
	}

	mustPanic(t, "probability 1.5 outside [0, 1]", func() { NewDropout(newRNG(1), 1.5) })
	mustPanic(t, "probability -0.1 outside [0, 1]", func() { NewDropout(newRNG(1), -0.1) })
}

func TestActivationNames(t *testing.T) {
	// The names of torch.nn.functional's functions; leaky_relu as in configs.
	want := map[ActivationKind]string{
		ReLU: "relu", LeakyReLU: "leaky_relu", GELU: "gelu", SiLU: "silu", Sigmoid: "sigmoid", Tanh: "tanh",
	}
	for k, name := range want {
		if k.String() != name {
			t.Errorf("%d.String() = %q, want %q", int(k), k.String(), name)
		}
		got, err := ParseActivation(name)
		if err != nil || got != k {
			t.Errorf("ParseActivation(%q) = %v, %v; want %v", name, got, err, k)
		}
	}
	for _, bad := range []string{"swish", "", "ReLU"} {
		_, err := ParseActivation(bad)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("unknown activation %q", bad)) || !strings.Contains(err.Error(), "leaky_relu") {
			t.Errorf("ParseActivation(%q) error %v, want it to name the input and list the choices", bad, err)
		}
	}
	for _, k := range []ActivationKind{6, 100, -1} {
		if got, want := k.String(), fmt.Sprintf("ActivationKind(%d)", int(k)); got != want {
			t.Errorf("String of an unknown kind = %q, want %q", got, want)
		}
	}
	mustPanic(t, "nn.Activation: unknown kind ActivationKind(9)", func() {
		(&Activation{Kind: 9}).Forward(nil, autograd.Const(tensor.New(1)))
	})
}

// TestActivationForward compares with the definitions in the torch.nn docs
// (GELU is the exact x·Φ(x); LeakyReLU's default slope is 0.01).
func TestActivationForward(t *testing.T) {
	in := []float64{-2, -0.5, 0, 0.5, 2}
	defs := map[ActivationKind]func(float64) float64{
		ReLU: func(x float64) float64 { return math.Max(x, 0) },
		LeakyReLU: func(x float64) float64 {
			if x > 0 {
				return x
			}
			return 0.01 * x
		},
		GELU:    func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) },
		SiLU:    func(x float64) float64 { return x / (1 + math.Exp(-x)) },
		Sigmoid: func(x float64) float64 { return 1 / (1 + math.Exp(-x)) },
		Tanh:    math.Tanh,
	}
	for k, f := range defs {
		x := tensor.FromFloat64(in, len(in))
		y := NewActivation(k).Forward(nil, autograd.Const(x))
		want := make([]float64, len(in))
		for i, v := range in {
			want[i] = f(v)
		}
		wantFloats(t, k.String(), y.Data(), want, 1e-6)
	}
}

// TestLinearForward uses fixed weights; the expected values are by hand:
// y = x·Wᵀ + b with W = [[1 2] [3 4] [5 6]] and b = [0.5 -1 0].
func TestLinearForward(t *testing.T) {
	l := NewLinear(newRNG(1), 2, 3, true)
	copy(l.Weight.Data(), []float32{1, 2, 3, 4, 5, 6})
	copy(l.Bias.Data(), []float32{0.5, -1, 0})
	y := l.Forward(nil, autograd.Const(tensor.FromSlice([]float32{1, -1, 2, 0.5}, 2, 2)))
	if !tensor.EqualShapes(y.Shape(), []int{2, 3}) {
		t.Fatalf("output shape %v, want [2 3]", y.Shape())
	}
	// Row 0: 1-2+0.5, 3-4-1, 5-6; row 1: 2+1+0.5, 6+2-1, 10+3.
	wantFloats(t, "Linear", y.Data(), []float64{-0.5, -2, -1, 3.5, 7, 13}, 1e-6)

	l.ZeroInit()
	y = l.Forward(nil, autograd.Const(tensor.FromSlice([]float32{1, -1, 2, 0.5}, 2, 2)))
	wantFloats(t, "Linear after ZeroInit", y.Data(), []float64{0, 0, 0, 0, 0, 0}, 0)
}

// TestConv2DForward uses an all-ones 3×3 kernel over the image 1..9 with
// padding 1, so each output is the sum of its 3×3 neighbourhood (by hand:
// corners 12, 16, 24, 28; edges 21, 27, 33, 39; centre 45) plus the bias.
func TestConv2DForward(t *testing.T) {
	img := tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6, 7, 8, 9}, 1, 1, 3, 3)
	for _, c := range []struct {
		stride int
		shape  []int
		want   []float64
	}{
		{1, []int{1, 1, 3, 3}, []float64{12, 21, 16, 27, 45, 33, 24, 39, 28}},
		{2, []int{1, 1, 2, 2}, []float64{12, 16, 24, 28}},
	} {
		conv := NewConv2D(newRNG(1), Conv2DConfig{In: 1, Out: 1, Kernel: [2]int{3, 3}, Padding: [2]int{1, 1}, Stride: [2]int{c.stride, c.stride}})
		conv.Weight.Value.Fill(1)
		conv.Bias.Value.Fill(0.5)
		y := conv.Forward(nil, autograd.Const(img))
		if !tensor.EqualShapes(y.Shape(), c.shape) {
			t.Fatalf("stride %d: shape %v, want %v", c.stride, y.Shape(), c.shape)
		}
		want := make([]float64, len(c.want))
		for i, v := range c.want {
			want[i] = v + 0.5
		}
		wantFloats(t, fmt.Sprint("conv stride ", c.stride), y.Data(), want, 1e-5)
	}
}

func TestConv2DDefaults(t *testing.T) {
	c := NewConv2D(newRNG(1), Conv2DConfig{In: 4, Out: 2, Kernel: [2]int{1, 1}})
	want := autograd.Conv2DOptions{Stride: [2]int{1, 1}, Dilation: [2]int{1, 1}, Groups: 1}
	if c.Opt != want {
		t.Errorf("zero config gives options %+v, want %+v", c.Opt, want)
	}
}

// TestPoolsAndFlatten checks the parameter-free layers on the 4×4 image
// 0..15, by hand: 2×2 max pool [5 7 13 15], 2×2 average pool
// [2.5 4.5 10.5 12.5], global average 7.5.
func TestPoolsAndFlatten(t *testing.T) {
	x := autograd.Const(tensor.New(1, 1, 4, 4))
	for i := range x.Data() {
		x.Data()[i] = float32(i)
	}
	wantFloats(t, "MaxPool2D", NewMaxPool2D(2).Forward(nil, x).Data(), []float64{5, 7, 13, 15}, 0)
	wantFloats(t, "AvgPool2D", NewAvgPool2D(2).Forward(nil, x).Data(), []float64{2.5, 4.5, 10.5, 12.5}, 1e-6)
	ad := (&AdaptiveAvgPool2D{OutH: 1, OutW: 1}).Forward(nil, x)
	if !tensor.EqualShapes(ad.Shape(), []int{1, 1, 1, 1}) {
		t.Errorf("AdaptiveAvgPool2D shape %v, want [1 1 1 1]", ad.Shape())
	}
	wantFloats(t, "AdaptiveAvgPool2D", ad.Data(), []float64{7.5}, 1e-6)
	if f := (Flatten{}).Forward(nil, autograd.Const(tensor.New(2, 3, 2, 2))); !tensor.EqualShapes(f.Shape(), []int{2, 12}) {
		t.Errorf("Flatten shape %v, want [2 12]", f.Shape())
	}
	for _, m := range []Module{NewMaxPool2D(2), NewAvgPool2D(2), &AdaptiveAvgPool2D{}, Flatten{}, NewActivation(ReLU), NewDropout(newRNG(1), 0.5)} {
		if ps := m.Params(); len(ps) != 0 {
			t.Errorf("%T has params %v", m, paramNames(ps))
		}
	}
}

func TestEmbeddingForward(t *testing.T) {
	e := NewEmbedding(newRNG(1), 3, 2)
	copy(e.Weight.Data(), []float32{0, 1, 10, 11, 20, 21})
	y := e.Forward(nil, []int{2, 0, 2})
	if !tensor.EqualShapes(y.Shape(), []int{3, 2}) {
		t.Fatalf("shape %v, want [3 2]", y.Shape())
	}
	wantFloats(t, "Embedding", y.Data(), []float64{20, 21, 0, 1, 20, 21}, 0)
	if got := paramNames(e.Params()); !slices.Equal(got, []string{"weight"}) {
		t.Errorf("Embedding params %v", got)
	}
}

// TestLayerNormForward checks shape, parameters and that with the default
// weight 1 and bias 0 every normalised slice has mean 0 and biased variance
// var/(var+eps) ≈ 1.
func TestLayerNormForward(t *testing.T) {
	for _, shape := range [][]int{{4}, {3, 4}} {
		ln := NewLayerNorm(shape...)
		if got := paramNames(ln.Params()); !slices.Equal(got, []string{"weight", "bias"}) {
			t.Errorf("LayerNorm params %v", got)
		}
		if !tensor.EqualShapes(ln.Weight.Shape(), shape) || !tensor.EqualShapes(ln.Bias.Shape(), shape) {
			t.Errorf("LayerNorm%v: weight %v bias %v", shape, ln.Weight.Shape(), ln.Bias.Shape())
		}
		x := autograd.RandVar(newRNG(2), false, -3, 3, 2, 3, 4)
		y := ln.Forward(nil, x)
		if !tensor.EqualShapes(y.Shape(), x.Shape()) {
			t.Fatalf("LayerNorm%v: output %v, want %v", shape, y.Shape(), x.Shape())
		}
		m := tensor.NumElements(shape)
		for r := 0; r < y.Value.Len()/m; r++ {
			row := y.Data()[r*m : (r+1)*m]
			var s, sq float64
			for _, v := range row {
				s += float64(v)
			}
			mean := s / float64(m)
			for _, v := range row {
				sq += (float64(v) - mean) * (float64(v) - mean)
			}
			if v := sq / float64(m); math.Abs(mean) > 1e-5 || math.Abs(v-1) > 1e-3 {
				t.Errorf("LayerNorm%v slice %d: mean %g variance %g, want 0 and 1", shape, r, mean, v)
			}
		}
	}
	ln := NewLayerNorm(4)
	if ln.Eps != 1e-5 {
		t.Errorf("eps %g, want PyTorch's 1e-5", ln.Eps)
	}
}

func TestConstructorPanics(t *testing.T) {
	rng := newRNG(1)
	mustPanic(t, "nn.NewLinear: sizes must be positive, got in=0 out=3", func() { NewLinear(rng, 0, 3, true) })
	mustPanic(t, "nn.NewEmbedding: sizes must be positive, got num=5 dim=-1", func() { NewEmbedding(rng, 5, -1) })
	mustPanic(t, "nn.NewBatchNorm2D: channels must be positive, got 0", func() { NewBatchNorm2D(0) })
	mustPanic(t, "kernel=[0 3]", func() { NewConv2D(rng, Conv2DConfig{In: 1, Out: 1, Kernel: [2]int{0, 3}}) })
	mustPanic(t, "in=6 and out=4 must be divisible by groups=4", func() {
		NewConv2D(rng, Conv2DConfig{In: 6, Out: 4, Kernel: [2]int{1, 1}, Groups: 4})
	})
}

// gradNet is the gradient-check model: conv, batch norm, an activation,
// max pool, flatten and linear. Input [2, 2, 4, 4]; output [2, 3]. The
// batch-norm affine parameters are moved off 1 and 0 so their gradients are
// not special cases. Before a ReLU the batch-norm biases are +4 and -4, so
// channel 0 is (almost surely) alive everywhere and channel 1 dead: the
// test then sees the ReLU pass and block gradients without sitting on its
// kink, which a batch-normalised input would otherwise straddle.
func gradNet(rng *rand.Rand, act ActivationKind) *Sequential {
	conv := NewConv2D(rng, Conv2DConfig{In: 2, Out: 2, Kernel: [2]int{3, 3}, Padding: [2]int{1, 1}})
	bn := NewBatchNorm2D(2)
	for i := range 2 {
		bn.Weight.Data()[i] = float32(0.5 + rng.Float64())
		bn.Bias.Data()[i] = float32(rng.Float64() - 0.5)
	}
	if act == ReLU {
		copy(bn.Bias.Data(), []float32{4, -4})
	}
	return NewSequential(conv, bn, NewActivation(act), NewMaxPool2D(2), Flatten{}, NewLinear(rng, 8, 3, true))
}

// awayFromKinks reports the smallest distance, over the pre-activation
// values h (for ReLU) and over the 2×2 max-pool windows (gap between the
// largest and second largest activation), from a point where the model is
// not differentiable.
func awayFromKinks(m *Sequential, x *autograd.Var, relu bool) float64 {
	h := m.Layers[1].Forward(nil, m.Layers[0].Forward(nil, x))
	a := m.Layers[2].Forward(nil, h)
	margin := math.Inf(1)
	if relu {
		for _, v := range h.Data() {
			margin = math.Min(margin, math.Abs(float64(v)))
		}
	}
	s := a.Shape()
	ad := a.Data()
	for p := range s[0] * s[1] {
		plane := ad[p*s[2]*s[3] : (p+1)*s[2]*s[3]]
		for y := 0; y < s[2]; y += 2 {
			for x := 0; x < s[3]; x += 2 {
				w := []float64{
					float64(plane[y*s[3]+x]), float64(plane[y*s[3]+x+1]),
					float64(plane[(y+1)*s[3]+x]), float64(plane[(y+1)*s[3]+x+1]),
				}
				slices.Sort(w)
				if relu && w[3] == 0 {
					continue // a window of dead units stays dead and has no gradient
				}
				margin = math.Min(margin, w[3]-w[2])
			}
		}
	}
	return margin
}

// TestGradSequential checks the gradients Backward gives for the input and
// every parameter of a conv+BN+activation+pool+flatten+linear model against
// central finite differences (autograd.CheckGrad, step 1e-2).
//
// ReLU and max pool have kinks; the test takes the first seed whose input
// keeps every pre-ReLU value and every pool window's top-two gap at least
// 0.15 from one. A 1e-2 step moves those values by less: a conv weight step
// changes a conv output by 1e-2·|x| <= 1e-2 (inputs in [-1, 1]), which batch
// norm scales by weight/sd (typically 1/0.33), and a batch-norm weight or
// bias step moves them by 1e-2·|x̂| or 1e-2.
func TestGradSequential(t *testing.T) {
	const margin = 0.15
	for _, act := range []ActivationKind{ReLU, Tanh, GELU} {
		t.Run(act.String(), func(t *testing.T) {
			var m *Sequential
			var x *autograd.Var
			seed := uint64(1)
			for ; seed <= 2000; seed++ {
				rng := newRNG(seed)
				m = gradNet(rng, act)
				x = autograd.RandVar(rng, true, -1, 1, 2, 2, 4, 4)
				if awayFromKinks(m, x, act == ReLU) >= margin {
					break
				}
			}
			if seed > 2000 {
				t.Fatalf("no seed up to 2000 keeps the input %g away from the kinks", margin)
			}
			t.Logf("seed %d", seed)
			inputs := append([]*autograd.Var{x}, Trainable(m)...)
			if len(inputs) != 7 {
				t.Fatalf("%d inputs, want x and six parameters", len(inputs))
			}
			err := autograd.CheckGrad(func(tp *autograd.Tape) *autograd.Var { return m.Forward(tp, x) }, inputs, autograd.CheckOptions{Seed: seed})
			if err != nil {
				t.Errorf("seed %d: %v", seed, err)
			}
			for i, in := range inputs {
				if in.Grad == nil {
					t.Errorf("input %d received no gradient", i)
				}
			}
		})
	}
}

package model

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/fusion"
	"github.com/metacnn/metacnn/nn"
	"github.com/metacnn/metacnn/optim"
	"github.com/metacnn/metacnn/safetensors"
	"github.com/metacnn/metacnn/tensor"
)

// torchvisionStateDict encodes the backbone of net as torchvision would
// save it (safetensors.torch.save_file(resnet.state_dict(), path)): its
// own parameters and buffers under torchvision's names (the cbn
// generators are not torchvision's), num_batches_tracked as I64, and a
// classifier fc.weight/fc.bias that loading must skip. drop leaves names
// out; the result is the encoded file.
func torchvisionStateDict(t testing.TB, net *Net, drop ...string) []byte {
	t.Helper()
	var es []safetensors.Entry
	for _, p := range net.bb.parts() {
		if p.gen || slices.Contains(drop, p.Name) {
			continue
		}
		if p.Integer {
			es = append(es, safetensors.I64(p.Name, []int64{int64(p.Var.Value.Data()[0])}))
			continue
		}
		es = append(es, safetensors.F32(p.Name, p.Var.Value))
	}
	last := net.bb.shapes()[len(net.bb.shapes())-1][0]
	es = append(es, safetensors.F32("fc.weight", tensor.Full(0.5, 1000, last)), safetensors.F32("fc.bias", tensor.New(1000)))
	var buf bytes.Buffer
	if err := safetensors.Encode(&buf, es, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func decodeST(t testing.TB, b []byte) *safetensors.File {
	t.Helper()
	f, err := safetensors.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func buildNet(t testing.TB, spec Spec, input [3]int, seed uint64) *Net {
	t.Helper()
	nw, err := Build(spec, input, testMetaWidth, testIDSlots, 3, testRNG(seed))
	if err != nil {
		t.Fatal(err)
	}
	return nw.(*Net)
}

// snapshot copies every parameter and buffer of m by name.
func snapshot(m nn.Module) map[string][]float32 {
	out := map[string][]float32{}
	for _, p := range m.Params() {
		out[p.Name] = slices.Clone(p.Var.Value.Data())
	}
	return out
}

var resnet8Tiny = BackboneSpec{Kind: BackboneResNet, Depth: 8, WidthMultiplier: 1.0 / 8, Stem: StemSmall}

// TestParamPartsMatchParams checks that ParamParts lists Params in the same
// order and puts each name where Net's doc says: the stem at backbone stage
// 0, a conditional batch norm's own weight in the backbone but its
// generator in its fusion entry, blocks after stages in theirs.
func TestParamPartsMatchParams(t *testing.T) {
	spec := Spec{Backbone: resnet8Tiny, ModalityDropout: 0.1, Fusion: []FusionSpec{
		{Kind: fusion.KindConcat},
		{Kind: fusion.KindCBN, Stages: []int{2}, Options: FusionOptions{Hidden: new(4)}},
		film(1, 3),
	}}
	net := buildNet(t, spec, [3]int{3, 8, 8}, 1)
	ps, parts := net.Params(), net.ParamParts()
	if len(ps) != len(parts) {
		t.Fatalf("%d params, %d parts", len(ps), len(parts))
	}
	for i, p := range ps {
		if parts[i].Name != p.Name || parts[i].Var != p.Var || parts[i].Buffer != p.Buffer {
			t.Fatalf("entry %d: part %q, param %q", i, parts[i].Name, p.Name)
		}
	}
	byName := map[string]Part{}
	for _, p := range parts {
		byName[p.Name] = p.Part
	}
	for name, want := range map[string]Part{
		"conv1.weight":                     {PartBackbone, 0, -1},
		"bn1.running_mean":                 {PartBackbone, 0, -1},
		"layer1.0.conv2.weight":            {PartBackbone, 1, -1},
		"layer2.0.bn1.weight":              {PartBackbone, 2, -1},
		"layer2.0.bn1.running_var":         {PartBackbone, 2, -1},
		"layer2.0.bn2.num_batches_tracked": {PartBackbone, 2, -1},
		"layer2.0.bn1.hidden_layer.weight": {PartFusion, 2, 1},
		"layer2.0.bn2.gamma_layer.bias":    {PartFusion, 2, 1},
		"layer2.0.bn2.beta_layer.weight":   {PartFusion, 2, 1},
		"layer2.0.downsample.1.weight":     {PartBackbone, 2, -1},
		"layer3.0.downsample.0.weight":     {PartBackbone, 3, -1},
		"film.1.gamma_layer.weight":        {PartFusion, 1, 2},
		"film.3.beta_layer.bias":           {PartFusion, 3, 2},
		"meta_tower.embeddings.0.weight":   {PartTower, 0, -1},
		"meta_tower.mlp.0.weight":          {PartTower, 0, -1},
		"head.0.weight":                    {PartHead, 0, -1},
	} {
		got, ok := byName[name]
		if !ok {
			t.Errorf("no parameter %q", name)
		} else if got != want {
			t.Errorf("%s: part %+v, want %+v", name, got, want)
		}
	}
	for _, p := range parts {
		if k := p.Part.Kind; k < PartBackbone || k > PartHead {
			t.Errorf("%s: part kind %v", p.Name, k)
		}
	}
}

// TestLoadBackboneWeights loads a torchvision-named state_dict written from
// one freshly built resnet8 into another built from a different seed, with
// a conditional batch norm at stage 2: every backbone tensor (running
// statistics and num_batches_tracked included) becomes the source's, the
// cbn generators, tower and head keep theirs, and in evaluation mode the
// backbone computes the source's features exactly (the cbn generator starts
// at zero, so it is the batch norm it replaces).
func TestLoadBackboneWeights(t *testing.T) {
	input := [3]int{3, 8, 8}
	src := buildNet(t, Spec{Backbone: resnet8Tiny, Fusion: []FusionSpec{film()}}, input, 1)
	// Make the source's statistics differ from a fresh net's.
	src.Forward(nil, testInputs(testRNG(9), input, 4))
	dst := buildNet(t, Spec{Backbone: resnet8Tiny, Fusion: []FusionSpec{{Kind: fusion.KindCBN, Stages: []int{2}}, film()}}, input, 2)
	before := snapshot(dst)

	path := filepath.Join(t.TempDir(), "resnet8.safetensors")
	if err := os.WriteFile(path, torchvisionStateDict(t, src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := LoadBackboneFile(dst, path); err != nil {
		t.Fatal(err)
	}
	srcSD := snapshot(src)
	loaded := 0
	for _, p := range dst.ParamParts() {
		got := p.Var.Value.Data()
		if p.Part.Kind == PartBackbone {
			if !slices.Equal(got, srcSD[p.Name]) {
				t.Errorf("%s was not loaded", p.Name)
			}
			loaded++
		} else if !slices.Equal(got, before[p.Name]) {
			t.Errorf("%s (%v) changed; only the backbone loads", p.Name, p.Part.Kind)
		}
	}
	if want := len(src.bb.params()); loaded != want {
		t.Errorf("%d backbone tensors loaded, want %d", loaded, want)
	}

	src.SetTraining(false)
	dst.SetTraining(false)
	x := autograd.RandVar(testRNG(4), false, 0, 1, 2, 3, 8, 8)
	m := autograd.RandVar(testRNG(5), false, -1, 1, 2, dst.metaDim)
	fs, fd := src.bb.stem(nil, x), dst.bb.stem(nil, x)
	for s := 1; s <= 3; s++ {
		fs, fd = src.bb.stage(nil, s, fs, nil), dst.bb.stage(nil, s, fd, m)
	}
	if !slices.Equal(fs.Value.Data(), fd.Value.Data()) {
		t.Error("the loaded backbone's features differ from the source's")
	}
}

// TestLoadBackboneWeightsMismatch checks that a state_dict that does not
// fit is refused with every problem named, and the network left unchanged.
func TestLoadBackboneWeightsMismatch(t *testing.T) {
	input := [3]int{3, 8, 8}
	src := buildNet(t, Spec{Backbone: resnet8Tiny, Fusion: []FusionSpec{film()}}, input, 1)
	wide := resnet8Tiny
	wide.WidthMultiplier = 1.0 / 4
	deep := resnet8Tiny
	deep.Depth = 18
	for _, c := range []struct {
		name string
		bb   BackboneSpec
		sd   []byte
		want []string
	}{
		{"missing tensors", resnet8Tiny, torchvisionStateDict(t, src, "layer2.0.bn1.running_var", "conv1.weight"),
			[]string{`2 problems`, `missing "conv1.weight" (shape [8 3 3 3])`, `missing "layer2.0.bn1.running_var" (shape [16])`}},
		{"other width", wide, torchvisionStateDict(t, src),
			[]string{`"conv1.weight" has shape [8 3 3 3], the model expects [16 3 3 3]`, "width multiplier 0.25"}},
		{"other depth", deep, torchvisionStateDict(t, src),
			[]string{`(66 problems)`, `missing "layer1.1.conv1.weight"`, "and 46 more", "resnet depth 18"}},
		{"not floats", resnet8Tiny, func() []byte {
			var buf bytes.Buffer
			safetensors.Encode(&buf, []safetensors.Entry{safetensors.I64("conv1.weight", make([]int64, 8*27), 8, 3, 3, 3)}, nil)
			return buf.Bytes()
		}(), []string{`"conv1.weight" has dtype I64, want a floating-point type`, `missing "bn1.weight"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dst := buildNet(t, Spec{Backbone: c.bb, Fusion: []FusionSpec{film()}}, input, 2)
			before := snapshot(dst)
			err := LoadBackboneWeights(dst, decodeST(t, c.sd))
			if err == nil {
				t.Fatal("loaded a state_dict that does not fit")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			for name, v := range snapshot(dst) {
				if !slices.Equal(v, before[name]) {
					t.Fatalf("%s changed although loading failed", name)
				}
			}
		})
	}

	seed := buildNet(t, Spec{Fusion: []FusionSpec{film()}}, [3]int{3, 16, 16}, 2)
	if err := LoadBackboneWeights(seed, decodeST(t, torchvisionStateDict(t, src))); err == nil || !strings.Contains(err.Error(), "resnet backbone, not seed") {
		t.Errorf("seed backbone: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "nope.safetensors")
	if err := LoadBackboneFile(src, missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: %v", err)
	}
}

// TestFreeze checks BackboneSpec.Freeze on both backbones: the stem and the
// first stages stop requiring gradients (a cbn generator in them excepted),
// their batch norms keep their statistics through training-mode forwards,
// and AdamW steps over nn.Trainable leave them bit for bit as they were
// while every other parameter moves.
func TestFreeze(t *testing.T) {
	for _, c := range []struct {
		name   string
		spec   Spec
		input  [3]int
		frozen func(name string) bool
	}{
		{"resnet8 freeze 2 with cbn", Spec{Backbone: func() BackboneSpec { b := resnet8Tiny; b.Freeze = 2; return b }(),
			Fusion: []FusionSpec{{Kind: fusion.KindCBN, Stages: []int{2}}, film(1)}, ModalityDropout: 0.2}, [3]int{3, 8, 8},
			func(name string) bool {
				gen := strings.Contains(name, "gamma_layer") || strings.Contains(name, "beta_layer")
				return !gen && (strings.HasPrefix(name, "conv1.") || strings.HasPrefix(name, "bn1.") ||
					strings.HasPrefix(name, "layer1.") || strings.HasPrefix(name, "layer2."))
			}},
		{"seed freeze 1", Spec{Backbone: BackboneSpec{Widths: []int{4, 6}, BatchNorm: true, Freeze: 1}, Fusion: []FusionSpec{film()}}, [3]int{3, 8, 8},
			func(name string) bool {
				return strings.HasPrefix(name, "cnn_layers.0.") || strings.HasPrefix(name, "cnn_layers.1.")
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			net := buildNet(t, c.spec, c.input, 3)
			nFrozen := 0
			for _, p := range net.Params() {
				if p.Buffer {
					continue
				}
				if want := !c.frozen(p.Name); p.Var.RequiresGrad() != want {
					t.Errorf("%s: requires grad %v, want %v", p.Name, p.Var.RequiresGrad(), want)
				}
				if c.frozen(p.Name) {
					nFrozen++
				}
			}
			if nFrozen == 0 {
				t.Fatal("nothing frozen")
			}
			before := snapshot(net)
			params := nn.Trainable(net)
			opt, err := optim.NewAdamW(optim.OneGroup(params), optim.AdamConfig{LR: 0.01})
			if err != nil {
				t.Fatal(err)
			}
			rng := testRNG(8)
			net.SetTraining(false)
			net.SetTraining(true) // frozen batch norms must stay in evaluation mode
			for range 3 {
				tp := autograd.NewTape()
				in := testInputs(rng, c.input, 4)
				loss := tp.CrossEntropy(net.Forward(tp, in), []int{0, 1, 2, 1}, autograd.CrossEntropyOptions{})
				opt.ZeroGrad()
				tp.Backward(loss)
				opt.Step()
			}
			for _, p := range net.Params() {
				same := slices.Equal(p.Var.Value.Data(), before[p.Name])
				switch {
				case c.frozen(p.Name) && !same:
					t.Errorf("frozen %s changed", p.Name)
				case !c.frozen(p.Name) && same && !p.Integer && !strings.Contains(p.Name, "gamma_layer") && !strings.Contains(p.Name, "beta_layer"):
					// Zero-initialised generator layers may stay put only
					// if no gradient reached them; everything else moves.
					t.Errorf("trainable %s did not change", p.Name)
				}
			}
		})
	}
}

// TestModalityDropoutDrawsFromBuildRNG checks that modality dropout draws
// from the generator Build was given (so a checkpoint of its source
// restores it): rewinding the source replays the same dropped rows, and
// the draws advance the source.
func TestModalityDropoutDrawsFromBuildRNG(t *testing.T) {
	spec := Spec{Backbone: BackboneSpec{Widths: []int{3}}, Head: HeadSpec{Hidden: []int{}},
		Fusion: []FusionSpec{{Kind: fusion.KindFiLM, Options: FusionOptions{Raw: true}}}, ModalityDropout: 0.5}
	src := rand.NewPCG(5, 6)
	nw, err := Build(spec, [3]int{1, 4, 4}, testMetaWidth, testIDSlots, 2, rand.New(src))
	if err != nil {
		t.Fatal(err)
	}
	in := testInputs(testRNG(6), [3]int{1, 4, 4}, 32)
	state, err := src.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	a := nw.Forward(nil, in).Data()
	after, _ := src.MarshalBinary()
	if bytes.Equal(state, after) {
		t.Fatal("a training forward with modality dropout did not draw from Build's generator")
	}
	b := nw.Forward(nil, in).Data()
	if slices.Equal(a, b) {
		t.Fatal("two forwards dropped the same rows; the draws do not advance")
	}
	if err := src.UnmarshalBinary(state); err != nil {
		t.Fatal(err)
	}
	if c := nw.Forward(nil, in).Data(); !slices.Equal(a, c) {
		t.Error("rewinding Build's generator does not replay modality dropout")
	}
}

// TestInputsMetaMissing checks that Inputs.MetaMissing marks rows exactly
// as ForwardMissing's argument does, and that Forward and ForwardMissing
// combine both.
func TestInputsMetaMissing(t *testing.T) {
	spec := Spec{Backbone: BackboneSpec{Widths: []int{3}}, ModalityDropout: 0.3,
		Fusion: []FusionSpec{{Kind: fusion.KindFiLM, Options: FusionOptions{Raw: true}}}}
	net := buildNet(t, spec, [3]int{1, 4, 4}, 7)
	net.SetTraining(false)
	in := testInputs(testRNG(8), [3]int{1, 4, 4}, 4)
	a, b := []bool{true, false, false, true}, []bool{false, false, true, true}
	both := []bool{true, false, true, true}
	want := net.ForwardMissing(nil, in, both).Data()
	in2 := in
	in2.MetaMissing = both
	if got := net.Forward(nil, in2).Data(); !slices.Equal(got, want) {
		t.Error("Forward with MetaMissing differs from ForwardMissing")
	}
	in2.MetaMissing = a
	if got := net.ForwardMissing(nil, in2, b).Data(); !slices.Equal(got, want) {
		t.Error("ForwardMissing does not combine its marks with MetaMissing")
	}
	if slices.Equal(net.Forward(nil, in).Data(), want) {
		t.Error("marking rows missing changed nothing; the test cannot tell")
	}
	in2.MetaMissing = []bool{true}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "1 marks for 4 rows") {
			t.Errorf("wrong MetaMissing length: panic %v", r)
		}
	}()
	net.Forward(nil, in2)
}

// TestSpecValidatePretrained lists the errors of the pretrained-backbone
// and optimizer keys.
func TestSpecValidatePretrained(t *testing.T) {
	wd := func(v float64) *float64 { return &v }
	for _, c := range []struct {
		name string
		spec Spec
		want string
	}{
		{"weights on seed", Spec{Backbone: BackboneSpec{Weights: "r.safetensors"}}, "model.backbone.weights: pretrained weights (a torchvision state_dict) load into the resnet backbone, not seed"},
		{"freeze negative", Spec{Backbone: BackboneSpec{Freeze: -1}}, "model.backbone.freeze: -1, want 0 (nothing frozen) to 2"},
		{"freeze too many", Spec{Backbone: BackboneSpec{Kind: BackboneResNet, Depth: 8, Freeze: 4}}, "model.backbone.freeze: 4, want 0 (nothing frozen) to 3"},
		{"weight decay on concat", Spec{Fusion: []FusionSpec{{Kind: fusion.KindConcat, Options: FusionOptions{WeightDecay: wd(0)}}}}, "model.fusion[0].options.weight_decay: applies to scalebias, film, cbn and gate"},
		{"negative weight decay", Spec{Fusion: []FusionSpec{{Kind: fusion.KindFiLM, Options: FusionOptions{WeightDecay: wd(-1)}}}}, "model.fusion[0].options.weight_decay: -1, want a finite value >= 0"},
		{"NaN weight decay", Spec{Fusion: []FusionSpec{{Kind: fusion.KindCBN, Options: FusionOptions{WeightDecay: wd(math.NaN())}}}}, "model.fusion[0].options.weight_decay: NaN"},
		{"preset", Spec{Arch: SeedFiLM, Backbone: BackboneSpec{Freeze: 1}}, "fixes the whole model"},
	} {
		err := c.spec.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	ok := Spec{Backbone: BackboneSpec{Kind: BackboneResNet, Weights: "/x/resnet18.safetensors", Freeze: 4},
		Fusion: []FusionSpec{{Kind: fusion.KindFiLM, Options: FusionOptions{WeightDecay: wd(0)}}, {Kind: fusion.KindCBN, Stages: []int{2}, Options: FusionOptions{WeightDecay: wd(1e-4)}}}}
	if err := ok.Validate(); err != nil {
		t.Errorf("valid spec: %v", err)
	}
}

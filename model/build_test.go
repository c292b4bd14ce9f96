package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/fusion"
	"github.com/metacnn/metacnn/meta"
	"github.com/metacnn/metacnn/nn"
	"github.com/metacnn/metacnn/tensor"
)

// Small metadata layout for the tests: 3 dense values and two id columns,
// one with a spec dim and one taking the default.
var (
	testMetaWidth = 3
	testIDSlots   = []meta.IDSlot{{Column: "camera", Size: 4, Dim: 3}, {Column: "operator", Size: 6}}
)

// testBackbones are small versions of every backbone, with the input each
// is tested on.
var testBackbones = []struct {
	name  string
	spec  BackboneSpec
	input [3]int
}{
	{"seed", BackboneSpec{Widths: []int{4, 6}}, [3]int{3, 16, 16}},
	{"seed-bn", BackboneSpec{Widths: []int{4, 6, 8}, BatchNorm: true}, [3]int{3, 16, 16}},
	{"resnet8-small", BackboneSpec{Kind: BackboneResNet, Depth: 8, WidthMultiplier: 1.0 / 16, Stem: StemSmall}, [3]int{3, 12, 12}},
	{"resnet18", BackboneSpec{Kind: BackboneResNet, Depth: 18, WidthMultiplier: 1.0 / 16}, [3]int{3, 32, 32}},
}

func testRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 77)) }

// testInputs draws a batch of n rows for a net built with the test layout.
func testInputs(rng *rand.Rand, input [3]int, n int) Inputs {
	in := Inputs{
		Images: autograd.RandVar(rng, false, 0, 1, n, input[0], input[1], input[2]),
		Meta:   autograd.RandVar(rng, false, -2, 2, n, testMetaWidth),
	}
	for _, s := range testIDSlots {
		ids := make([]int, n)
		for i := range ids {
			ids[i] = rng.IntN(s.Size)
		}
		in.IDs = append(in.IDs, ids)
	}
	return in
}

func allStages(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i + 1
	}
	return s
}

// TestBuildEveryCombination builds each backbone with each fusion kind (the
// stage kinds at every stage at once), runs a training forward and backward
// on a batch of 2 and an evaluation forward, and checks the logits' shape,
// that every trainable parameter received a finite gradient, and that
// parameter names are unique.
func TestBuildEveryCombination(t *testing.T) {
	const n, classes = 2, 3
	for _, bb := range testBackbones {
		for _, kind := range fusion.Kinds() {
			t.Run(bb.name+"/"+kind.String(), func(t *testing.T) {
				rng := testRNG(1)
				spec := Spec{Backbone: bb.spec, Fusion: []FusionSpec{{Kind: kind}}, MetaTower: TowerSpec{Hidden: []int{5}}, Head: HeadSpec{Hidden: []int{7}, Dropout: 0.1}}
				if kind.AtStage() {
					spec.Fusion[0].Stages = allStages(bb.spec.NumStages())
				}
				if kind != fusion.KindNone {
					spec.ModalityDropout = 0.5
				}
				net, err := Build(spec, bb.input, testMetaWidth, testIDSlots, classes, rng)
				if err != nil {
					t.Fatal(err)
				}
				in := testInputs(rng, bb.input, n)
				tp := autograd.NewTape()
				logits := net.Forward(tp, in)
				if !slices.Equal(logits.Shape(), []int{n, classes}) {
					t.Fatalf("logits %v, want [%d %d]", logits.Shape(), n, classes)
				}
				tp.Backward(tp.CrossEntropy(logits, []int{0, 2}, autograd.CrossEntropyOptions{}))
				seen := map[string]bool{}
				for _, p := range net.Params() {
					if seen[p.Name] {
						t.Errorf("duplicate parameter name %q", p.Name)
					}
					seen[p.Name] = true
					if p.Buffer {
						continue
					}
					if p.Var.Grad == nil {
						t.Errorf("%s: no gradient", p.Name)
					} else if p.Var.Grad.HasNaN() {
						t.Errorf("%s: gradient not finite", p.Name)
					}
				}
				net.SetTraining(false)
				if out := net.Forward(nil, in); out.Value.HasNaN() || !slices.Equal(out.Shape(), []int{n, classes}) {
					t.Errorf("evaluation logits %v", out.Value)
				}
			})
		}
	}
}

// copyShared copies every parameter and buffer of src into the parameter
// of dst with the same name; dst must have them all, with the same shapes.
func copyShared(t *testing.T, dst, src nn.Module) {
	t.Helper()
	byName := map[string]nn.Param{}
	for _, p := range dst.Params() {
		byName[p.Name] = p
	}
	for _, p := range src.Params() {
		q, ok := byName[p.Name]
		if !ok {
			t.Fatalf("fused model has no %q", p.Name)
		}
		q.Var.Value.CopyFrom(p.Var.Value)
	}
}

// TestFreshFusedEqualsImageOnly: a freshly built model with scalebias,
// film, gate or cbn (identity start) at every stage computes the same
// logits as the image-only model with the same backbone and head weights,
// in training mode (batch statistics) and in evaluation. For cbn on the
// plain seed backbone the image-only model is the one with batch norm,
// which cbn's batch norm replaces. Tolerance: exact for the blocks after
// stages; 1e-5 relative for cbn, whose normalisation and affine are two
// float32 ops instead of batch norm's one.
func TestFreshFusedEqualsImageOnly(t *testing.T) {
	for _, bb := range testBackbones {
		for _, kind := range []fusion.Kind{fusion.KindScaleBias, fusion.KindFiLM, fusion.KindGate, fusion.KindCBN} {
			t.Run(bb.name+"/"+kind.String(), func(t *testing.T) {
				base := Spec{Backbone: bb.spec, Head: HeadSpec{Hidden: []int{7}}}
				if kind == fusion.KindCBN && bb.spec.Kind != BackboneResNet {
					base.Backbone.BatchNorm = true
				}
				fused := Spec{Backbone: bb.spec, Head: base.Head,
					Fusion: []FusionSpec{{Kind: kind, Stages: allStages(bb.spec.NumStages())}}}
				if kind == fusion.KindFiLM || kind == fusion.KindCBN {
					fused.Fusion[0].Options.Hidden = new(4)
				}
				imageOnly, err := Build(base, bb.input, testMetaWidth, testIDSlots, 2, testRNG(2))
				if err != nil {
					t.Fatal(err)
				}
				net, err := Build(fused, bb.input, testMetaWidth, testIDSlots, 2, testRNG(3))
				if err != nil {
					t.Fatal(err)
				}
				copyShared(t, net, imageOnly)
				in := testInputs(testRNG(4), bb.input, 4)
				tol := 0.0
				if kind == fusion.KindCBN {
					tol = 1e-5
				}
				for _, training := range []bool{true, false} {
					imageOnly.SetTraining(training)
					net.SetTraining(training)
					want := imageOnly.Forward(nil, in).Data()
					got := net.Forward(nil, in).Data()
					for i := range want {
						if d := math.Abs(float64(got[i] - want[i])); d > tol*math.Max(1, math.Abs(float64(want[i]))) {
							t.Fatalf("training=%v: logit %d = %.8g, image-only %.8g", training, i, got[i], want[i])
						}
					}
				}
			})
		}
	}
}

// TestModalityDropout checks that missing metadata is one fixed input: a
// row marked missing gives the same logits whatever its metadata, that in
// training a fraction of rows near ModalityDropout is replaced exactly so,
// and that in evaluation no row is.
func TestModalityDropout(t *testing.T) {
	const n = 64
	spec := Spec{Backbone: BackboneSpec{Widths: []int{3}}, Head: HeadSpec{Hidden: []int{}},
		Fusion: []FusionSpec{{Kind: fusion.KindFiLM, Options: FusionOptions{Raw: true}}}, ModalityDropout: 0.25}
	nw, err := Build(spec, [3]int{1, 4, 4}, testMetaWidth, testIDSlots, 2, testRNG(5))
	if err != nil {
		t.Fatal(err)
	}
	net := nw.(*Net)
	rng := testRNG(6)
	in := testInputs(rng, [3]int{1, 4, 4}, n)
	other := testInputs(rng, [3]int{1, 4, 4}, n)
	other.Images = in.Images
	all := make([]bool, n)
	for i := range all {
		all[i] = true
	}
	net.SetTraining(false)
	present := net.Forward(nil, in).Data()
	absent := net.ForwardMissing(nil, in, all).Data()
	if !slices.Equal(absent, net.ForwardMissing(nil, other, all).Data()) {
		t.Error("rows marked missing depend on their metadata")
	}
	if slices.Equal(present, net.Forward(nil, other).Data()) {
		t.Error("the metadata has no effect; the test cannot tell missing rows")
	}
	net.SetTraining(true)
	got := net.Forward(nil, in).Data()
	dropped := 0
	for i := range n {
		row := got[2*i : 2*i+2]
		switch {
		case slices.Equal(row, absent[2*i:2*i+2]):
			dropped++
		case !slices.Equal(row, present[2*i:2*i+2]):
			t.Fatalf("row %d is neither the row with metadata nor the missing row", i)
		}
	}
	// Binomial(64, 0.25): mean 16, sd 3.5; [6, 28] is beyond 3 sd.
	if dropped < 6 || dropped > 28 {
		t.Errorf("%d of %d rows dropped, want about %d", dropped, n, n/4)
	}
	t.Logf("%d of %d rows dropped in training", dropped, n)
}

// TestResNet18Torchvision checks the resnet backbone at full width against
// torchvision's resnet18: its state_dict without fc has 120 entries (60
// parameters, 60 batch-norm buffers) and 11,689,512 - 513,000 (fc) =
// 11,176,512 parameter values (torchvision's documented count), under the
// same names.
func TestResNet18Torchvision(t *testing.T) {
	nw, err := Build(Spec{Backbone: BackboneSpec{Kind: BackboneResNet}, Head: HeadSpec{Hidden: []int{}}}, [3]int{3, 224, 224}, 0, nil, 1000, testRNG(7))
	if err != nil {
		t.Fatal(err)
	}
	net := nw.(*Net)
	entries, values := 0, 0
	var names []string
	for _, p := range net.bb.params() {
		entries++
		if !p.Buffer {
			values += p.Var.Value.Len()
		}
		names = append(names, p.Name)
	}
	if entries != 120 || values != 11176512 {
		t.Errorf("%d entries holding %d parameter values, want 120 and 11176512", entries, values)
	}
	for _, want := range []string{"conv1.weight", "bn1.running_var", "layer1.0.conv1.weight", "layer1.1.bn2.num_batches_tracked",
		"layer2.0.downsample.0.weight", "layer2.0.downsample.1.bias", "layer4.1.conv2.weight", "layer4.1.bn2.weight"} {
		if !slices.Contains(names, want) {
			t.Errorf("no %q", want)
		}
	}
	if slices.Contains(names, "layer1.0.downsample.0.weight") {
		t.Error("layer1.0 has a downsample; torchvision's has none")
	}
	if got := net.FeatureShapes(); got[4] != [3]int{512, 7, 7} || got[0] != [3]int{64, 56, 56} {
		t.Errorf("feature shapes %v, want 64x56x56 after the stem and 512x7x7 after layer4", got)
	}
	// The head is a linear classifier, as torchvision's fc.
	if hp := net.head.Params(); len(hp) != 2 || !slices.Equal(hp[0].Var.Shape(), []int{1000, 512}) {
		t.Errorf("head %v", hp)
	}
}

// TestParamNames spells out the names of a small fused model.
func TestParamNames(t *testing.T) {
	spec := Spec{Backbone: BackboneSpec{Widths: []int{4, 6}},
		Fusion: []FusionSpec{{Kind: fusion.KindFiLM, Stages: []int{2}}, {Kind: fusion.KindCBN, Stages: []int{1}}, {Kind: fusion.KindConcat}},
		Head:   HeadSpec{Hidden: []int{8}}}
	net, err := Build(spec, [3]int{3, 8, 8}, testMetaWidth, testIDSlots, 2, testRNG(8))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range net.Params() {
		names = append(names, p.Name)
	}
	want := "cnn_layers.0.weight cnn_layers.0.bias " +
		"cnn_layers.1.weight cnn_layers.1.bias cnn_layers.1.running_mean cnn_layers.1.running_var cnn_layers.1.num_batches_tracked " +
		"cnn_layers.1.gamma_layer.weight cnn_layers.1.gamma_layer.bias cnn_layers.1.beta_layer.weight cnn_layers.1.beta_layer.bias " +
		"cnn_layers.4.weight cnn_layers.4.bias " +
		"meta_tower.embeddings.0.weight meta_tower.embeddings.1.weight meta_tower.mlp.0.weight meta_tower.mlp.0.bias " +
		"film.2.hidden_layer.weight film.2.hidden_layer.bias " +
		"film.2.gamma_layer.weight film.2.gamma_layer.bias film.2.beta_layer.weight film.2.beta_layer.bias " +
		"head.0.weight head.0.bias head.3.weight head.3.bias"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("names\n%s\nwant\n%s", got, want)
	}
	// operator has 6 ids and no dim: fastai's rule gives round(1.6·6^0.56) = 4.
	if got := net.(*Net).tower.embeddings[1].Dim; got != 4 {
		t.Errorf("default embedding dim %d, want 4", got)
	}
	// Head input: 6·2·2 features + 64 (default tower) for concat.
	if got := net.(*Net).head.Layers[0].(*nn.Linear).In; got != 24+64 {
		t.Errorf("head input %d, want %d", got, 24+64)
	}
}

func TestBuildErrors(t *testing.T) {
	film := Spec{Fusion: []FusionSpec{{Kind: fusion.KindFiLM}}}
	cases := []struct {
		name    string
		spec    Spec
		input   [3]int
		width   int
		slots   []meta.IDSlot
		classes int
		want    string
	}{
		{"invalid spec", Spec{Head: HeadSpec{Dropout: 3}}, [3]int{3, 8, 8}, 0, nil, 2, "model.head.dropout"},
		{"no metadata", film, [3]int{3, 8, 8}, 0, nil, 2, "needs metadata, but the metadata encoder produces none"},
		{"one class", Spec{}, [3]int{3, 8, 8}, 0, nil, 1, "1 classes, want at least 2"},
		{"bad input", Spec{}, [3]int{0, 8, 8}, 0, nil, 2, "input shape [0 8 8]"},
		{"too small", Spec{Backbone: BackboneSpec{Widths: []int{4, 4, 4}}}, [3]int{3, 4, 4}, 0, nil, 2, "too small for 3 seed stages"},
		{"empty id column", film, [3]int{3, 8, 8}, 0, []meta.IDSlot{{Column: "op", Size: 0}}, 2, `("op") has 0 ids`},
		{"preset shape", Spec{Arch: SeedFiLM}, [3]int{3, 32, 32}, 2, nil, 2, "preset seed-film takes 3x56x56 images"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Build(c.spec, c.input, c.width, c.slots, c.classes, testRNG(9))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
	if net, err := Build(Spec{Arch: SeedConcat}, [3]int{3, 56, 56}, 0, nil, 2, testRNG(10)); err != nil || net.Params()[0].Name != "cnn_layers.0.weight" {
		t.Errorf("preset: %v", err)
	}
}

func ExampleBuild() {
	spec := Spec{
		Backbone: BackboneSpec{Kind: BackboneResNet, Depth: 8, WidthMultiplier: 0.25, Stem: StemSmall},
		Fusion:   []FusionSpec{{Kind: fusion.KindFiLM, Stages: []int{2, 3}}, {Kind: fusion.KindConcat}},
	}
	// 5 dense metadata values and one embedded column of 10 ids, 3 classes.
	slots := []meta.IDSlot{{Column: "operator", Size: 10, Dim: 4}}
	net, err := Build(spec, [3]int{3, 32, 32}, 5, slots, 3, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		fmt.Println(err)
		return
	}
	in := Inputs{
		Images: autograd.Const(tensor.New(2, 3, 32, 32)),
		Meta:   autograd.Const(tensor.New(2, 5)),
		IDs:    [][]int{{3, 7}},
	}
	net.SetTraining(false)
	fmt.Println("logits:", net.Forward(nil, in).Shape())
	fmt.Println("features:", net.(*Net).FeatureShapes())
	fmt.Println("metadata vector:", net.(*Net).MetaDim())
	// Output:
	// logits: [2 3]
	// features: [[16 32 32] [16 32 32] [32 16 16] [64 8 8]]
	// metadata vector: 64
}

// TestMetadataPathGradients checks, by central finite differences
// (autograd.CheckGrad's default tolerances), the gradients of a whole
// network with respect to the dense metadata, the embeddings, the tower and
// the fusion block, for each kind whose metadata path has no kink: the block
// sits after the last stage, the tower uses GELU and the head is linear, so
// no ReLU or max-pool lies between the metadata and the logits. Generators
// are randomised so the identity start does not hide terms. film is built
// without its default hidden ReLU layer (hidden 0) to keep the path smooth;
// the fusion package checks the hidden generator's gradients on its own.
func TestMetadataPathGradients(t *testing.T) {
	for _, kind := range []fusion.Kind{fusion.KindConcat, fusion.KindScaleBias, fusion.KindFiLM, fusion.KindGate} {
		t.Run(kind.String(), func(t *testing.T) {
			spec := Spec{Backbone: BackboneSpec{Widths: []int{3}},
				Fusion:    []FusionSpec{{Kind: kind, Options: FusionOptions{Hidden: hiddenNone(kind)}}},
				MetaTower: TowerSpec{Hidden: []int{4}, Activation: nn.GELU},
				Head:      HeadSpec{Hidden: []int{}}}
			nw, err := Build(spec, [3]int{2, 4, 4}, testMetaWidth, testIDSlots, 2, testRNG(11))
			if err != nil {
				t.Fatal(err)
			}
			net := nw.(*Net)
			rng := testRNG(12)
			for _, b := range net.after[1] {
				for _, p := range b.block.Params() {
					for i := range p.Var.Data() {
						p.Var.Data()[i] = float32(rng.Float64() - 0.5)
					}
				}
			}
			in := testInputs(rng, [3]int{2, 4, 4}, 3)
			in.Meta.SetRequiresGrad(true)
			vars := []*autograd.Var{in.Meta}
			for _, p := range net.Params() {
				if strings.HasPrefix(p.Name, "meta_tower.") || strings.HasPrefix(p.Name, kind.String()+".") {
					vars = append(vars, p.Var)
				}
			}
			f := func(tp *autograd.Tape) *autograd.Var { return net.Forward(tp, in) }
			if err := autograd.CheckGrad(f, vars, autograd.CheckOptions{Seed: 13}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// hiddenNone returns an explicit hidden width of 0 for film (whose default
// is DefaultFiLMHidden) and nil for the kinds that take no hidden option.
func hiddenNone(k fusion.Kind) *int {
	if k == fusion.KindFiLM {
		return new(0)
	}
	return nil
}

// TestMinTrainBatch checks MinTrainBatch against what training does: where
// it says 2, a one-row training batch fails in a batch norm and a two-row
// one does not; where it says 1, a one-row batch trains.
func TestMinTrainBatch(t *testing.T) {
	res := func(freeze int) Spec {
		return Spec{Backbone: BackboneSpec{Kind: BackboneResNet, Depth: 8, WidthMultiplier: 1.0 / 16, Stem: StemSmall, Freeze: freeze}}
	}
	seed := func(bn bool, widths ...int) Spec {
		return Spec{Backbone: BackboneSpec{Kind: BackboneSeed, Widths: widths, BatchNorm: bn}}
	}
	for _, c := range []struct {
		name string
		spec Spec
		size int // input height and width
		want int
	}{
		{"resnet8 4x4: stage 3 is 1x1", res(0), 4, 2},
		{"resnet8 8x8: stage 3 is 2x2", res(0), 8, 1},
		{"resnet8 4x4 frozen to stage 2", res(2), 4, 2},
		{"resnet8 4x4 frozen to stage 3", res(3), 4, 1},
		{"seed+bn 2x2: the smallest input a stage takes", seed(true, 3), 2, 1},
		{"seed+bn 4x4, 2 stages", seed(true, 3, 3), 4, 1},
	} {
		in := [3]int{3, c.size, c.size}
		net, err := Build(c.spec, in, 0, nil, 2, rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := MinTrainBatch(net); got != c.want {
			t.Errorf("%s: MinTrainBatch = %d, want %d", c.name, got, c.want)
		}
		net.SetTraining(true)
		for rows := 1; rows <= 2; rows++ {
			x := tensor.New(rows, in[0], in[1], in[2])
			for i := range x.Data() {
				x.Data()[i] = float32(i%7) - 3
			}
			failed := func() (failed bool) {
				defer func() { failed = recover() != nil }()
				net.Forward(nil, Inputs{Images: autograd.Const(x)})
				return false
			}()
			if failed != (rows < c.want) {
				t.Errorf("%s: a %d-row training batch failed = %v, MinTrainBatch %d", c.name, rows, failed, c.want)
			}
		}
	}
}

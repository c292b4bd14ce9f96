package torch

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/fusion"
	"github.com/metacnn/metacnn/meta"
	"github.com/metacnn/metacnn/model"
	"github.com/metacnn/metacnn/safetensors"
)

func testSchema(t *testing.T) *meta.Schema {
	t.Helper()
	s, err := meta.NewSchema([]meta.ColumnSpec{
		{Name: "camera", Type: meta.Categorical},
		{Name: "operator", Type: meta.Categorical, Encoding: meta.Embedding, Dim: 3},
		{Name: "temperature", Type: meta.Numeric},
	})
	if err != nil {
		t.Fatal(err)
	}
	rows := []map[string]string{
		{"camera": "a", "operator": "x", "temperature": "1"},
		{"camera": "b", "operator": "y", "temperature": "3"},
	}
	if err := s.Fit(rows); err != nil {
		t.Fatal(err)
	}
	return s
}

func specBundle(t *testing.T, spec model.Spec) *model.Bundle {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	input := [3]int{3, 8, 8}
	var schema *meta.Schema
	width, slots := 0, []meta.IDSlot(nil)
	if spec.UsesMetadata() {
		schema = testSchema(t)
		width, slots = schema.Width(), schema.IDSlots()
	}
	net, err := model.Build(spec, input, width, slots, 2, rng)
	if err != nil {
		t.Fatal(err)
	}
	b, err := model.NewBundle(net, schema, data.ImageOptions{Width: 8, Height: 8}, []string{"ok", "bad"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Backbones and fusion entries the tests combine.
var (
	seedBN     = model.BackboneSpec{Kind: model.BackboneSeed, Widths: []int{4, 5}, BatchNorm: true}
	seedPlain  = model.BackboneSpec{Kind: model.BackboneSeed, Widths: []int{4, 5}}
	resnet8    = model.BackboneSpec{Kind: model.BackboneResNet, Depth: 8, WidthMultiplier: 1.0 / 16, Stem: model.StemSmall}
	resnet18   = model.BackboneSpec{Kind: model.BackboneResNet, Depth: 18, WidthMultiplier: 1.0 / 16, Freeze: 2}
	cbnHidden  = model.FusionSpec{Kind: fusion.KindCBN, Stages: []int{2}, Options: model.FusionOptions{Hidden: new(3)}}
	gateRaw    = model.FusionSpec{Kind: fusion.KindGate, Stages: []int{3}, Options: model.FusionOptions{Raw: true}}
	filmHidden = model.FusionSpec{Kind: fusion.KindFiLM, Stages: []int{4}, Options: model.FusionOptions{Hidden: new(4)}}
)

// testBundles returns the seed presets and spec networks covering every
// backbone and fusion kind.
func testBundles(t *testing.T) map[string]*model.Bundle {
	bs := map[string]*model.Bundle{}
	for _, a := range model.SeedArchs {
		net, err := model.NewSeed(a, rand.New(rand.NewPCG(3, 4)))
		if err != nil {
			t.Fatal(err)
		}
		b, err := model.NewBundle(net, nil, data.ImageOptions{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		bs[a] = b
	}
	bs["spec-none"] = specBundle(t, model.Spec{Backbone: seedBN})
	bs["spec-film-concat-md"] = specBundle(t, model.Spec{Backbone: seedBN,
		Fusion:          []model.FusionSpec{{Kind: fusion.KindFiLM, Stages: []int{1, 2}}, {Kind: fusion.KindScaleBias}, {Kind: fusion.KindConcat}},
		ModalityDropout: 0.2})
	bs["seed-cbn-gate"] = specBundle(t, model.Spec{Backbone: seedPlain,
		Fusion: []model.FusionSpec{{Kind: fusion.KindCBN, Stages: []int{1}}, {Kind: fusion.KindGate}}})
	bs["resnet8-early-cbn"] = specBundle(t, model.Spec{Backbone: resnet8,
		Fusion: []model.FusionSpec{{Kind: fusion.KindEarly}, {Kind: fusion.KindCBN, Stages: []int{1, 3}}}})
	bs["resnet18-cbn-gate-film"] = specBundle(t, model.Spec{Backbone: resnet18,
		Fusion: []model.FusionSpec{cbnHidden, gateRaw, filmHidden, {Kind: fusion.KindGate, Stages: []int{4}}}, ModalityDropout: 0.1})
	return bs
}

// TestModelPyNamesEveryParameter checks that model.py lists every parameter
// and buffer with its shape in PARAMETERS (which model.py checks its
// state_dict against), and that encoding.json records them too.
func TestModelPyNamesEveryParameter(t *testing.T) {
	for name, b := range testBundles(t) {
		pkg, err := Export(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		py := string(pkg.ModelPy)
		for _, p := range b.Net.Params() {
			sh, _ := json.Marshal(p.Var.Shape())
			if line := pyString(p.Name) + ": " + string(sh) + ","; !strings.Contains(py, line) {
				t.Errorf("%s: model.py lacks %s", name, line)
			}
			if _, ok := pkg.Encoding.Parameters[p.Name]; !ok {
				t.Errorf("%s: encoding.json lacks parameter %s", name, p.Name)
			}
		}
		if !strings.Contains(py, "def load_model(") || strings.Contains(py, "@CONFIG@") || strings.Contains(py, "@PARAMETERS@") {
			t.Errorf("%s: model.py template not filled in", name)
		}
	}
}

// TestSaveRoundTrip writes a package and reads weights.safetensors back:
// every parameter, bit for bit, with its shape and dtype.
func TestSaveRoundTrip(t *testing.T) {
	for name, b := range testBundles(t) {
		dir := filepath.Join(t.TempDir(), "pkg")
		if _, err := Save(dir, b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sf, err := safetensors.ReadFile(filepath.Join(dir, WeightsFile))
		if err != nil {
			t.Fatal(err)
		}
		ps := b.Net.Params()
		if got := len(sf.Names()); got != len(ps) {
			t.Errorf("%s: %d tensors, want %d", name, got, len(ps))
		}
		for _, p := range ps {
			if p.Integer {
				vals, shape, err := sf.Int64(p.Name)
				if err != nil {
					t.Errorf("%s: %s: %v", name, p.Name, err)
					continue
				}
				if len(shape) != p.Var.Value.Rank() || int64(p.Var.Value.Data()[0]) != vals[0] {
					t.Errorf("%s: %s = %v %v", name, p.Name, shape, vals)
				}
				continue
			}
			got, err := sf.Float32(p.Name)
			if err != nil {
				t.Errorf("%s: %s: %v", name, p.Name, err)
				continue
			}
			want := p.Var.Value
			if !slicesEqual(got.Shape(), want.Shape()) {
				t.Errorf("%s: %s has shape %v, want %v", name, p.Name, got.Shape(), want.Shape())
				continue
			}
			for i, v := range want.Data() {
				if got.Data()[i] != v {
					t.Errorf("%s: %s[%d] = %v, want %v", name, p.Name, i, got.Data()[i], v)
					break
				}
			}
		}
		var enc Encoding
		raw, err := os.ReadFile(filepath.Join(dir, EncodingFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &enc); err != nil {
			t.Fatal(err)
		}
		if enc.Format != EncodingFormat || len(enc.Classes) != len(b.Classes) || len(enc.Inputs) == 0 {
			t.Errorf("%s: encoding.json = %+v", name, enc)
		}
		if b.Spec.UsesMetadata() && enc.Metadata == nil {
			t.Errorf("%s: encoding.json has no metadata section", name)
		}
		if _, err := os.Stat(filepath.Join(dir, ModelFile)); err != nil {
			t.Error(err)
		}
	}
}

func slicesEqual(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// modelConfig reads CONFIG back from model.py: the line
// CONFIG = json.loads("...") holds a JSON string literal of the config.
func modelConfig(t *testing.T, py []byte) *config {
	t.Helper()
	for line := range strings.Lines(string(py)) {
		lit, ok := strings.CutPrefix(strings.TrimSpace(line), "CONFIG = json.loads(")
		if !ok {
			continue
		}
		var js string
		if err := json.Unmarshal([]byte(strings.TrimSuffix(lit, ")")), &js); err != nil {
			t.Fatalf("CONFIG literal: %v", err)
		}
		var cfg config
		dec := json.NewDecoder(strings.NewReader(js))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cfg); err != nil {
			t.Fatalf("CONFIG: %v", err)
		}
		return &cfg
	}
	t.Fatal("model.py has no CONFIG line")
	return nil
}

func exportConfig(t *testing.T, b *model.Bundle) *config {
	t.Helper()
	pkg, err := Export(b)
	if err != nil {
		t.Fatal(err)
	}
	return modelConfig(t, pkg.ModelPy)
}

// TestConfigResNet checks CONFIG of a resnet18 (imagenet stem, freeze 2)
// with cbn at stage 2, a raw gate at 3, film with a hidden layer and a gate
// at 4, and modality dropout: the stem's geometry, two basic blocks per
// stage with the stride and downsample of torchvision's resnet18, cbn
// generator sizes only in stage 2, the blocks after stages in the
// network's order.
func TestConfigResNet(t *testing.T) {
	b := specBundle(t, model.Spec{Backbone: resnet18,
		Fusion: []model.FusionSpec{cbnHidden, gateRaw, filmHidden, {Kind: fusion.KindGate, Stages: []int{4}}}, ModalityDropout: 0.1})
	cfg := exportConfig(t, b)
	r := cfg.ResNet
	if r == nil || cfg.Seed != nil {
		t.Fatalf("CONFIG has resnet %v and seed %v, want resnet only", r, cfg.Seed)
	}
	// width 64/16 = 4; imagenet stem: conv 7x7 stride 2 pad 3, then max-pool.
	if want := (resnet{In: 3, Width: 4, Kernel: 7, Stride: 2, Padding: 3, MaxPool: true}); r.In != want.In || r.Width != want.Width ||
		r.Kernel != want.Kernel || r.Stride != want.Stride || r.Padding != want.Padding || r.MaxPool != want.MaxPool {
		t.Errorf("stem %+v, want %+v", *r, want)
	}
	if len(r.Stages) != 4 {
		t.Fatalf("%d stages, want 4", len(r.Stages))
	}
	widths := []int{4, 8, 16, 32} // 64, 128, 256, 512 times 1/16
	in := 4
	for s, blocks := range r.Stages {
		if len(blocks) != 2 {
			t.Fatalf("stage %d has %d blocks, want 2", s+1, len(blocks))
		}
		for i, bl := range blocks {
			stride := 1
			if s > 0 && i == 0 {
				stride = 2
			}
			want := basicBlock{In: in, Out: widths[s], Stride: stride, Downsample: s > 0 && i == 0}
			if bl.In != want.In || bl.Out != want.Out || bl.Stride != want.Stride || bl.Downsample != want.Downsample {
				t.Errorf("layer%d.%d = %+v, want %+v", s+1, i, bl, want)
			}
			// The tower's output is its hidden layer, 64 wide by default.
			if s+1 == 2 && (bl.Cond == nil || *bl.Cond != cond{D: 64, Hidden: 3}) {
				t.Errorf("layer2.%d cond = %v, want {64 3}", i, bl.Cond)
			}
			if s+1 != 2 && bl.Cond != nil {
				t.Errorf("layer%d.%d has cond %v, want none", s+1, i, bl.Cond)
			}
			in = widths[s]
		}
	}
	want := []block{
		{Kind: "gate", Stage: 3, C: 16, D: 64, Raw: true},
		{Kind: "film", Stage: 4, C: 32, D: 64, Hidden: 4},
		{Kind: "gate", Stage: 4, C: 32, D: 64},
	}
	if !slices.Equal(cfg.Blocks, want) {
		t.Errorf("blocks %+v, want %+v", cfg.Blocks, want)
	}
	if cfg.Freeze != 2 || cfg.ModalityDropout != 0.1 || cfg.Tower == nil || !cfg.Tower.Indicator || cfg.Pooling != "avg" || cfg.Early || cfg.Concat {
		t.Errorf("CONFIG = %+v", cfg)
	}
}

// TestConfigSeedCBNEarly checks a seed backbone without batch norm whose
// stage 1 gets a conditional one from cbn (cnn_layers 0 conv, 1 cbn, 2
// ReLU, 3 max-pool, 4 conv), and that early fusion widens the first conv's
// input by the metadata vector's width (3 + 64 channels).
func TestConfigSeedCBNEarly(t *testing.T) {
	cfg := exportConfig(t, specBundle(t, model.Spec{Backbone: seedPlain,
		Fusion: []model.FusionSpec{{Kind: fusion.KindEarly}, {Kind: fusion.KindCBN, Stages: []int{1}}}}))
	want := []seedStage{
		{First: 0, In: 3 + 64, Out: 4, Norm: true, Cond: &cond{D: 64}},
		{First: 4, In: 4, Out: 5},
	}
	if len(cfg.Seed) != len(want) {
		t.Fatalf("seed stages %+v, want %+v", cfg.Seed, want)
	}
	for i, st := range cfg.Seed {
		w := want[i]
		if st.First != w.First || st.In != w.In || st.Out != w.Out || st.Norm != w.Norm || (st.Cond == nil) != (w.Cond == nil) || (st.Cond != nil && *st.Cond != *w.Cond) {
			t.Errorf("stage %d = %+v (cond %v), want %+v (cond %v)", i+1, st, st.Cond, w, w.Cond)
		}
	}
	if !cfg.Early || cfg.ResNet != nil || len(cfg.Blocks) != 0 || cfg.Pooling != "flatten" || cfg.ModalityDropout != 0 {
		t.Errorf("CONFIG = %+v", cfg)
	}
}

// TestExportErrors checks that a bundle export cannot describe is refused
// with an error that says why.
func TestExportErrors(t *testing.T) {
	if _, err := Export(nil); err == nil {
		t.Error("Export(nil) succeeded")
	}
	// A spec that names a cbn the network was not built with.
	b := specBundle(t, model.Spec{Backbone: resnet8, Fusion: []model.FusionSpec{{Kind: fusion.KindFiLM}}})
	b.Spec.Fusion = append(b.Spec.Fusion, model.FusionSpec{Kind: fusion.KindCBN, Stages: []int{1}})
	if _, err := Export(b); err == nil || !strings.Contains(err.Error(), `no parameter "layer1.0.bn1.gamma_layer.weight"`) {
		t.Errorf("Export with a cbn the network lacks: error %v", err)
	}
	b = specBundle(t, model.Spec{Backbone: seedPlain, Fusion: []model.FusionSpec{{Kind: fusion.KindConcat}}})
	b.Spec = model.Spec{Arch: "seed-unknown"}
	if _, err := Export(b); err == nil || !strings.Contains(err.Error(), "seed-unknown") {
		t.Errorf("Export of an unknown preset: error %v", err)
	}
}

// TestConfigTowerWithoutIDs checks that a tower without embedding or index
// columns (the default of metacnn init) lists no embeddings as an empty
// list, which model.py iterates, not as null.
func TestConfigTowerWithoutIDs(t *testing.T) {
	s, err := meta.NewSchema([]meta.ColumnSpec{{Name: "temperature", Type: meta.Numeric}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Fit([]map[string]string{{"temperature": "1"}, {"temperature": "2"}}); err != nil {
		t.Fatal(err)
	}
	spec := model.Spec{Backbone: model.BackboneSpec{Kind: model.BackboneSeed, Widths: []int{4}}, Fusion: []model.FusionSpec{{Kind: fusion.KindFiLM}}}
	net, err := model.Build(spec, [3]int{3, 8, 8}, s.Width(), nil, 2, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := model.NewBundle(net, s, data.ImageOptions{Width: 8, Height: 8}, []string{"ok", "bad"})
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := Export(b)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(pkg.ModelPy), `\"embeddings\":[]`) {
		t.Errorf("model.py's CONFIG lacks an empty embeddings list")
	}
	if cfg := modelConfig(t, pkg.ModelPy); cfg.Tower == nil || cfg.Tower.Dense != 2 || len(cfg.Tower.Embeddings) != 0 {
		t.Errorf("tower %+v", cfg.Tower)
	}
}

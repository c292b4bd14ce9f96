package torch

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
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
	bb := model.BackboneSpec{Kind: model.BackboneSeed, Widths: []int{4, 5}, BatchNorm: true}
	bs["spec-none"] = specBundle(t, model.Spec{Backbone: bb})
	bs["spec-film-concat-md"] = specBundle(t, model.Spec{Backbone: bb,
		Fusion:          []model.FusionSpec{{Kind: fusion.KindFiLM, Stages: []int{1, 2}}, {Kind: fusion.KindScaleBias}, {Kind: fusion.KindConcat}},
		ModalityDropout: 0.2})
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

// TestUnsupported checks that kinds this increment does not cover are
// refused with an error naming them.
func TestUnsupported(t *testing.T) {
	for _, c := range []struct {
		spec model.Spec
		want string
	}{
		{model.Spec{Backbone: model.BackboneSpec{Kind: model.BackboneResNet, Depth: 8, WidthMultiplier: 1.0 / 16, Stem: model.StemSmall}}, "backbone resnet"},
		{model.Spec{Backbone: model.BackboneSpec{Widths: []int{4}}, Fusion: []model.FusionSpec{{Kind: fusion.KindGate}}}, "fusion gate"},
		{model.Spec{Backbone: model.BackboneSpec{Widths: []int{4}}, Fusion: []model.FusionSpec{{Kind: fusion.KindCBN}}}, "fusion cbn"},
	} {
		_, err := Export(specBundle(t, c.spec))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Export(%v) error %v, want %q", c.spec.Backbone.Kind, err, c.want)
		}
	}
	if _, err := Export(nil); err == nil {
		t.Error("Export(nil) succeeded")
	}
}

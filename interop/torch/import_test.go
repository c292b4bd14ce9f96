package torch

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/metacnn/metacnn/model"
	"github.com/metacnn/metacnn/safetensors"
	"github.com/metacnn/metacnn/tensor"
)

// tunedWeights writes the state_dict of b with every float value changed
// (x -> 1.5x + 0.01, as fine-tuning would change it) and integer buffers
// moved on, and returns the values written by name.
func tunedWeights(t *testing.T, path string, b *model.Bundle) map[string][]float32 {
	t.Helper()
	want := map[string][]float32{}
	var es []safetensors.Entry
	for _, p := range b.Net.Params() {
		v := p.Var.Value.Clone()
		if p.Integer {
			ints := make([]int64, v.Len())
			for i, x := range v.Data() {
				ints[i] = int64(x) + 7
				v.Data()[i] = float32(ints[i])
			}
			es = append(es, safetensors.I64(p.Name, ints, v.Shape()...))
		} else {
			for i, x := range v.Data() {
				v.Data()[i] = 1.5*x + 0.01
			}
			es = append(es, safetensors.F32(p.Name, v))
		}
		want[p.Name] = v.Data()
	}
	if err := safetensors.WriteFile(path, es, nil); err != nil {
		t.Fatal(err)
	}
	return want
}

// TestImportRoundTrip exports each test model, imports the package with
// changed weights and checks that the bundle is the original architecture,
// preprocessing, metadata encoder and classes with exactly the new weights.
func TestImportRoundTrip(t *testing.T) {
	for name, b := range testBundles(t) {
		dir := filepath.Join(t.TempDir(), "pkg")
		if _, err := Save(dir, b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// The exported weights themselves give the same model back.
		same, err := ImportDir(dir, "")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i, p := range same.Net.Params() {
			if !reflect.DeepEqual(p.Var.Value.Data(), b.Net.Params()[i].Var.Value.Data()) {
				t.Errorf("%s: %s differs after export and import", name, p.Name)
			}
		}

		tuned := filepath.Join(dir, "tuned.safetensors")
		want := tunedWeights(t, tuned, b)
		got, err := ImportDir(dir, tuned)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, p := range got.Net.Params() {
			if !reflect.DeepEqual(p.Var.Value.Data(), want[p.Name]) {
				t.Errorf("%s: %s is not the imported value", name, p.Name)
			}
		}
		if !reflect.DeepEqual(got.Spec, b.Spec.WithDefaults()) && !reflect.DeepEqual(got.Spec, b.Spec) {
			t.Errorf("%s: spec %+v, want %+v", name, got.Spec, b.Spec)
		}
		if got.Input != b.Input || !reflect.DeepEqual(got.Classes, b.Classes) || !reflect.DeepEqual(got.Image, b.Image) {
			t.Errorf("%s: input %v classes %v image %+v, want %v %v %+v", name, got.Input, got.Classes, got.Image, b.Input, b.Classes, b.Image)
		}
		if b.Schema != nil {
			gs, _ := got.Schema.MarshalJSON()
			ws, _ := b.Schema.MarshalJSON()
			if string(gs) != string(ws) {
				t.Errorf("%s: metadata encoder\n%s\nwant\n%s", name, gs, ws)
			}
		}
	}
}

// TestImportErrors checks that a package or state_dict that does not fit
// is refused with an error naming the file and the tensor or field.
func TestImportErrors(t *testing.T) {
	b := testBundles(t)["spec-film-concat-md"]
	dir := filepath.Join(t.TempDir(), "pkg")
	if _, err := Save(dir, b); err != nil {
		t.Fatal(err)
	}
	encPath := filepath.Join(dir, EncodingFile)
	orig, err := os.ReadFile(encPath)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(m map[string]any)) {
		var m map[string]any
		if err := json.Unmarshal(orig, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		js, _ := json.Marshal(m)
		if err := os.WriteFile(encPath, js, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A state_dict with a tensor missing, one mis-shaped and one extra.
	var es []safetensors.Entry
	for _, p := range b.Net.Params() {
		switch {
		case p.Name == "head.0.bias":
		case p.Name == "head.0.weight":
			es = append(es, safetensors.F32(p.Name, tensor.New(3, 3)))
		case p.Integer:
			es = append(es, safetensors.I64(p.Name, []int64{0}))
		default:
			es = append(es, safetensors.F32(p.Name, p.Var.Value))
		}
	}
	es = append(es, safetensors.F32("module.extra", tensor.New(1)))
	bad := filepath.Join(dir, "bad.safetensors")
	if err := safetensors.WriteFile(bad, es, nil); err != nil {
		t.Fatal(err)
	}

	var prefixed []safetensors.Entry
	for _, p := range b.Net.Params() {
		if p.Integer {
			prefixed = append(prefixed, safetensors.I64("module."+p.Name, []int64{0}))
		} else {
			prefixed = append(prefixed, safetensors.F32("module."+p.Name, p.Var.Value))
		}
	}
	ddp := filepath.Join(dir, "ddp.safetensors")
	if err := safetensors.WriteFile(ddp, prefixed, nil); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name    string
		edit    func(m map[string]any)
		weights string
		want    []string
	}{
		{"bad weights", nil, bad, []string{"bad.safetensors", `missing "head.0.bias"`, `"head.0.weight" has shape [3 3]`, `unexpected "module.extra"`}},
		{"ddp prefix", nil, ddp, []string{"ddp.safetensors", `every name starts with "module."`, "model.module.state_dict()", `missing "cnn_layers.0.weight"`}},
		{"absent weights", nil, filepath.Join(dir, "absent.safetensors"), []string{"absent.safetensors"}},
		{"format", func(m map[string]any) { m["format"] = "metacnn-onnx" }, "", []string{EncodingFile, `format "metacnn-onnx"`}},
		{"version", func(m map[string]any) { m["format_version"] = 99 }, "", []string{"format version 99"}},
		{"unknown field", func(m map[string]any) { m["extra"] = 1 }, "", []string{EncodingFile, `unknown field "extra"`}},
		{"no spec", func(m map[string]any) { delete(m, "spec") }, "", []string{"neither arch nor spec"}},
		{"spec", func(m map[string]any) {
			m["spec"].(map[string]any)["head"].(map[string]any)["hidden"] = []int{5}
		}, "", []string{`"head.0.weight" has shape`}},
		{"classes", func(m map[string]any) { m["classes"] = []string{"only"} }, "", []string{"1 classes"}},
		{"encoder", func(m map[string]any) { m["metadata"].(map[string]any)["encoder"] = map[string]any{"version": 9} }, "", []string{"metadata.encoder", "state version 9"}},
		{"dense width", func(m map[string]any) { m["metadata"].(map[string]any)["dense_width"] = 99 }, "", []string{"metadata says 99"}},
		{"scale", func(m map[string]any) { m["image"].(map[string]any)["scale"] = "value" }, "", []string{`image scale "value"`}},
	} {
		if c.edit != nil {
			edit(c.edit)
		} else if err := os.WriteFile(encPath, orig, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ImportDir(dir, c.weights)
		if err == nil {
			t.Errorf("%s: import succeeded", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", c.name, err, w)
			}
		}
	}
	if _, err := ImportDir(filepath.Join(dir, "absent"), ""); err == nil || !strings.Contains(err.Error(), EncodingFile) {
		t.Errorf("absent package: %v", err)
	}
}

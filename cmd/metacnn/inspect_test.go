package main

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
)

func TestInspectSeed(t *testing.T) {
	dir := t.TempDir()
	net, err := model.NewSeed(model.SeedFiLM, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := model.NewBundle(net, nil, data.ImageOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.Training = map[string]any{"epochs": 4, "source": "test"}
	path := filepath.Join(dir, "film.mcnn")
	if err := model.Save(path, b); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := run(t, "inspect", path)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	// Hand count for the document's FiLM model (per image):
	// conv1 32·3·9·56·56 = 2,709,504; conv2 64·32·9·28·28 = 14,450,688;
	// fc 12544·128 = 1,605,632; classifier 256; metadata_embedding 16;
	// gamma and beta 2·512: 18,767,120 multiply-adds.
	for _, want := range []string{"seed-film", "format version 1", "1,626,586 learnable", "18,767,120 multiply-adds", "37.53 M FLOPs",
		"classes       2: 0, 1", "m1  numeric, raw, missing: error", "epochs  4", "56x56 RGB", "no normalisation"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = run(t, "inspect", path, "--json")
	if code != 0 {
		t.Fatalf("--json: exit %d", code)
	}
	var js struct {
		FormatVersion int                        `json:"format_version"`
		Parameters    int64                      `json:"parameters"`
		MACs          int64                      `json:"macs_per_image"`
		FLOPs         int64                      `json:"flops_per_image"`
		Model         map[string]json.RawMessage `json:"model"`
	}
	if err := json.Unmarshal([]byte(out), &js); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out)
	}
	if js.FormatVersion != 1 || js.Parameters != 1626586 || js.MACs != 18767120 || js.FLOPs != 2*18767120 || string(js.Model["arch"]) != `"seed-film"` {
		t.Errorf("--json: %+v", js)
	}

	// Usage and load errors.
	for _, args := range [][]string{{"inspect"}, {"inspect", path, path}, {"inspect", path, "--bogus"}} {
		if code, _, _ := run(t, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
	broken := filepath.Join(dir, "broken.mcnn")
	raw, _ := os.ReadFile(path)
	os.WriteFile(broken, raw[:len(raw)/3], 0o644)
	if code, _, stderr := run(t, "inspect", broken); code != 1 || !strings.Contains(stderr, broken) {
		t.Errorf("truncated file: exit %d\n%s", code, stderr)
	}
}

func TestInspectSpec(t *testing.T) {
	schema, err := meta.NewSchema([]meta.ColumnSpec{
		{Name: "camera", Type: meta.Categorical},
		{Name: "temperature", Type: meta.Numeric},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Fit([]map[string]string{{"camera": "a", "temperature": "20"}, {"camera": "b", "temperature": "30"}}); err != nil {
		t.Fatal(err)
	}
	spec := model.Spec{
		Backbone: model.BackboneSpec{Kind: model.BackboneResNet, Depth: 8, WidthMultiplier: 0.25, Stem: model.StemSmall},
		Fusion:   []model.FusionSpec{{Kind: fusion.KindFiLM}},
	}
	net, err := model.Build(spec, [3]int{3, 32, 32}, schema.Width(), schema.IDSlots(), 3, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := model.NewBundle(net, schema, data.ImageOptions{Width: 32, Height: 32}, []string{"ok", "scratch", "spot"})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "spec.mcnn")
	if err := model.Save(path, b); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := run(t, "inspect", path)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"architecture  spec", "kind: resnet", "kind: film", "stages:", "camera", "one-hot, 2 categories",
		"temperature", "standardised (mean 25", "classes       3: ok, scratch, spot", "buffer values", "training: no summary"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

package main

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/model"
	"github.com/metacnn/metacnn/nn"
	"github.com/metacnn/metacnn/safetensors"
	"github.com/metacnn/metacnn/tensor"
)

const importDir = "../../testdata/torch/import"

// importCases is testdata/torch/import/cases.json, written by
// testdata/torch/gen.py (import_golden) with PyTorch 1.13.
type importCases struct {
	Images  []string `json:"images"`
	Presets map[string]struct {
		Weights string              `json:"weights"`
		Rows    []map[string]string `json:"rows"`
		Logits  [][]float64         `json:"logits"`
	} `json:"presets"`
}

// TestImportTorchParity imports each preset's PyTorch state_dict with
// `metacnn import torch`, loads the model file, decodes the PNGs with the
// data package (56x56, 3 channels: pixels/255, no normalisation), encodes
// the metadata rows through the bundle's schema and compares the logits
// with PyTorch's, both through Bundle.Predict and through `metacnn predict`
// on a JSON Lines manifest of the PNGs: |got - want| <= 1e-4·|want| + 1e-5·max|want| (the seed
// parity bound of model/golden_test.go).
func TestImportTorchParity(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(importDir, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases importCases
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	opts := data.ImageOptions{Width: 56, Height: 56, Channels: 3}
	images := tensor.New(len(cases.Images), 3, 56, 56)
	for i, name := range cases.Images {
		if err := data.LoadImage(filepath.Join(importDir, name), opts, images.Data()[i*opts.Len():(i+1)*opts.Len()]); err != nil {
			t.Fatal(err)
		}
	}
	if len(cases.Presets) != len(model.SeedArchs) {
		t.Fatalf("cases.json has %d presets, want %d", len(cases.Presets), len(model.SeedArchs))
	}
	for _, arch := range model.SeedArchs {
		t.Run(arch, func(t *testing.T) {
			c, ok := cases.Presets[arch]
			if !ok {
				t.Fatalf("no case for %s", arch)
			}
			out := filepath.Join(t.TempDir(), "m.mcnn")
			code, stdout, stderr := run(t, "import", "torch", "--arch", arch, "--weights", filepath.Join(importDir, c.Weights), "--out", out)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
			}
			if !strings.Contains(stdout, "imported "+arch) {
				t.Errorf("stdout: %s", stdout)
			}
			b, err := model.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			// The bundle's own preprocessing is the one the test used.
			if b.Image.Width != 56 || b.Image.Height != 56 || b.Image.Channels != 3 || b.Image.Mean != nil {
				t.Errorf("bundle image options %+v", b.Image)
			}
			logits, warns, err := b.Predict(images, c.Rows)
			if err != nil {
				t.Fatal(err)
			}
			if warns != nil {
				t.Errorf("warnings: %v", warns)
			}
			checkImportLogits(t, "Bundle.Predict", c.Logits, func(i, j int) float64 { return float64(logits.At(i, j)) })

			// The same through `metacnn predict` on a manifest of the PNGs.
			manifest := filepath.Join(t.TempDir(), "rows.jsonl")
			var lines []string
			for i, name := range cases.Images {
				abs, err := filepath.Abs(filepath.Join(importDir, name))
				if err != nil {
					t.Fatal(err)
				}
				row := map[string]string{"path": abs}
				for k, v := range c.Rows[i] {
					row[k] = v
				}
				line, err := json.Marshal(row)
				if err != nil {
					t.Fatal(err)
				}
				lines = append(lines, string(line))
			}
			if err := os.WriteFile(manifest, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr = run(t, "predict", "--model", out, "--data", manifest)
			if code != 0 {
				t.Fatalf("predict: exit %d\n%s\n%s", code, stdout, stderr)
			}
			var preds [][]float64
			for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
				var p struct {
					Logits []float64 `json:"logits"`
				}
				if err := json.Unmarshal([]byte(l), &p); err != nil {
					t.Fatalf("predict output %q: %v", l, err)
				}
				preds = append(preds, p.Logits)
			}
			if len(preds) != len(c.Logits) {
				t.Fatalf("predict wrote %d rows, want %d", len(preds), len(c.Logits))
			}
			checkImportLogits(t, "metacnn predict", c.Logits, func(i, j int) float64 { return preds[i][j] })
		})
	}
}

// checkImportLogits compares logits got(i, j) with PyTorch's want[i][j]:
// |got - want| <= 1e-4·|want| + 1e-5·max|want|.
func checkImportLogits(t *testing.T, via string, want [][]float64, got func(i, j int) float64) {
	t.Helper()
	scale := 0.0
	for _, r := range want {
		for _, v := range r {
			scale = math.Max(scale, math.Abs(v))
		}
	}
	worst := 0.0
	for i, r := range want {
		for j, w := range r {
			g := got(i, j)
			d := math.Abs(g - w)
			worst = math.Max(worst, d/scale)
			if !(d <= 1e-4*math.Abs(w)+1e-5*scale) {
				t.Errorf("%s: image %d class %d: logit %.8g, PyTorch %.8g", via, i, j, g, w)
			}
		}
	}
	t.Logf("%s: max |error| / max|logit| = %.2g", via, worst)
}

// writeStateDict saves net's parameters as a PyTorch-style state_dict,
// with edit applied to the entries first.
func writeStateDict(t *testing.T, path string, net nn.Module, edit func([]safetensors.Entry) []safetensors.Entry) {
	t.Helper()
	var es []safetensors.Entry
	for _, p := range net.Params() {
		es = append(es, safetensors.F32(p.Name, p.Var.Value))
	}
	if edit != nil {
		es = edit(es)
	}
	if err := safetensors.WriteFile(path, es, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
}

func TestImportTorchErrors(t *testing.T) {
	dir := t.TempDir()
	net, err := model.NewSeed(model.SeedConcat, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.safetensors")
	writeStateDict(t, good, net, nil)
	bad := filepath.Join(dir, "bad.safetensors")
	writeStateDict(t, bad, net, func(es []safetensors.Entry) []safetensors.Entry {
		var out []safetensors.Entry
		for _, e := range es {
			switch e.Name {
			case "fc.bias": // dropped
			case "classifier.weight":
				out = append(out, safetensors.F32(e.Name, tensor.New(3, 128)))
			default:
				out = append(out, e)
			}
		}
		return append(out, safetensors.F32("operator_embedding.weight", tensor.New(10, 16)))
	})
	out := filepath.Join(dir, "m.mcnn")

	// A concat state_dict is not a FiLM model: every difference is listed.
	code, _, stderr := run(t, "import", "torch", "--arch", "seed-film", "--weights", good, "--out", out)
	if code != 1 || !strings.Contains(stderr, `missing "metadata_embedding.weight"`) || !strings.Contains(stderr, `unexpected "embedding.weight"`) ||
		!strings.Contains(stderr, `"fc.weight" has shape [128 12560], the model expects [128 12544]`) {
		t.Errorf("wrong arch: exit %d\n%s", code, stderr)
	}
	code, _, stderr = run(t, "import", "torch", "--arch", "seed-concat", "--weights", bad, "--out", out)
	for _, want := range []string{bad, `missing "fc.bias"`, `"classifier.weight" has shape [3 128], the model expects [2 128]`, `unexpected "operator_embedding.weight"`} {
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("bad state_dict: exit %d, stderr lacks %q:\n%s", code, want, stderr)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("a failed import wrote the model file")
	}
	code, _, stderr = run(t, "import", "torch", "--arch", "seed-concat", "--weights", filepath.Join(dir, "absent.safetensors"), "--out", out)
	if code != 1 || !strings.Contains(stderr, "absent.safetensors") {
		t.Errorf("absent weights: exit %d\n%s", code, stderr)
	}
	os.WriteFile(filepath.Join(dir, "junk.safetensors"), []byte("not safetensors"), 0o644)
	code, _, stderr = run(t, "import", "torch", "--arch", "seed-concat", "--weights", filepath.Join(dir, "junk.safetensors"), "--out", out)
	if code != 1 || !strings.Contains(stderr, "junk.safetensors") {
		t.Errorf("junk weights: exit %d\n%s", code, stderr)
	}

	// The good one imports, and its weights are the state_dict's.
	code, stdout, stderr := run(t, "import", "torch", "--arch", "seed-concat", "--weights", good, "--out", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	b, err := model.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	want := nn.StateDict(net)
	for name, v := range nn.StateDict(b.Net) {
		if !tensorsEqual(v, want[name]) {
			t.Errorf("%s differs from the state_dict", name)
		}
	}
	if b.Training["source"] != "metacnn import torch" || b.Training["weights_file"] != "good.safetensors" {
		t.Errorf("training summary %v", b.Training)
	}

	for _, args := range [][]string{
		{"import"},
		{"import", "onnx"},
		{"import", "torch", "--weights", good, "--out", out},
		{"import", "torch", "--arch", "resnet50", "--weights", good, "--out", out},
		{"import", "torch", "--arch", "seed-film", "--out", out},
		{"import", "torch", "--arch", "seed-film", "--weights", good},
		{"import", "torch", "--arch", "seed-film", "--weights", good, "--out", out, "extra"},
	} {
		if code, _, stderr := run(t, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2\n%s", args, code, stderr)
		}
	}
}

func tensorsEqual(a, b *tensor.Tensor) bool {
	if a == nil || b == nil || !tensor.SameShape(a, b) {
		return false
	}
	for i, v := range a.Data() {
		if b.Data()[i] != v {
			return false
		}
	}
	return true
}

// TestImportTorchSpec exports a spec model with `metacnn export torch` and
// brings it back with `import torch --spec`: the model file holds the
// package's weights and gives the original model's predictions.
func TestImportTorchSpec(t *testing.T) {
	dir := t.TempDir()
	spec := model.Spec{Backbone: model.BackboneSpec{Kind: model.BackboneSeed, Widths: []int{4, 6}, BatchNorm: true}}
	net, err := model.Build(spec, [3]int{3, 12, 12}, 0, nil, 3, rand.New(rand.NewPCG(7, 8)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := model.NewBundle(net, nil, data.ImageOptions{Width: 12, Height: 12}, []string{"a", "b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	mpath, pkg, out := filepath.Join(dir, "m.mcnn"), filepath.Join(dir, "pkg"), filepath.Join(dir, "back.mcnn")
	if err := model.Save(mpath, b); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, "export", "torch", "--model", mpath, "--out", pkg); code != 0 {
		t.Fatalf("export: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr := run(t, "import", "torch", "--spec", pkg, "--out", out)
	if code != 0 {
		t.Fatalf("import: exit %d\n%s", code, stderr)
	}
	for _, w := range []string{"imported the package " + pkg, "weights.safetensors", "wrote " + out, "classes: a, b, c"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, stdout)
		}
	}
	got, err := model.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	want := nn.StateDict(net)
	for name, v := range nn.StateDict(got.Net) {
		if !tensorsEqual(v, want[name]) {
			t.Errorf("%s differs from the exported weights", name)
		}
	}
	if got.Training["package"] != pkg || got.Input != b.Input {
		t.Errorf("training summary %v, input %v", got.Training, got.Input)
	}

	// A state_dict of another model is refused, naming the file and tensors.
	other := filepath.Join(dir, "other.safetensors")
	sd, _ := model.NewSeed(model.SeedFiLM, rand.New(rand.NewPCG(1, 1)))
	writeStateDict(t, other, sd, nil)
	code, _, stderr = run(t, "import", "torch", "--spec", pkg, "--weights", other, "--out", out)
	if code != 1 || !strings.Contains(stderr, "other.safetensors") || !strings.Contains(stderr, `unexpected "classifier.weight"`) {
		t.Errorf("other weights: exit %d\n%s", code, stderr)
	}
	code, _, stderr = run(t, "import", "torch", "--spec", filepath.Join(dir, "absent"), "--out", out)
	if code != 1 || !strings.Contains(stderr, "encoding.json") {
		t.Errorf("absent package: exit %d\n%s", code, stderr)
	}
	for _, args := range [][]string{
		{"import", "torch", "--arch", "seed-film", "--spec", pkg, "--out", out},
		{"import", "torch", "--spec", pkg},
	} {
		if code, _, stderr := run(t, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2\n%s", args, code, stderr)
		}
	}
}

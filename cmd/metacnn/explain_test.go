package main

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/tensor"
)

func TestExplainWritesFiles(t *testing.T) {
	f := newFixture(t, 1)
	out := filepath.Join(f.dir, "why")
	code, stdout, stderr := run(t, "explain", "--model", f.model, "--image", filepath.Join(f.dir, f.path(0)),
		"--meta", "m1=0.25", "--meta", "m2=1.5", "--sweep", "m2=0,1,2", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	for _, w := range []string{"probability", "predicted", "Grad-CAM of class", "film_layer (film), 64 channels",
		"sweep m1 over 5 values", "sweep m2 over 3 values", "wrote " + filepath.Join(out, "gradcam_overlay.png")} {
		if !strings.Contains(stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, stdout)
		}
	}
	for _, name := range []string{"gradcam.png", "gradcam_overlay.png", "input.png", "sweep_film_layer_m1.png", "sweep_film_layer_m2.png"} {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Error(err)
			continue
		}
		if _, err := png.Decode(bytes.NewReader(b)); err != nil {
			t.Errorf("%s is not a valid PNG: %v", name, err)
		}
	}
	var js struct {
		Classes     []string  `json:"classes"`
		Probs       []float64 `json:"probs"`
		Modulations []struct {
			Block string    `json:"block"`
			Gamma []float32 `json:"gamma"`
		} `json:"modulations"`
		Sweeps []struct {
			Column string   `json:"column"`
			Values []string `json:"values"`
		} `json:"sweeps"`
	}
	b, err := os.ReadFile(filepath.Join(out, "explain.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &js); err != nil {
		t.Fatal(err)
	}
	if len(js.Classes) != 2 || len(js.Probs) != 2 || len(js.Modulations) != 1 || len(js.Modulations[0].Gamma) != 64 ||
		len(js.Sweeps) != 2 || strings.Join(js.Sweeps[1].Values, ",") != "0,1,2" {
		t.Errorf("explain.json: %+v", js)
	}
	// The probabilities printed are the model's prediction for the row.
	x := tensor.New(append([]int{1}, f.b.Image.Shape()...)...)
	if err := data.LoadImage(filepath.Join(f.dir, f.path(0)), f.b.Image, x.Data()); err != nil {
		t.Fatal(err)
	}
	logits, _, err := f.b.Predict(x, []map[string]string{{"m1": "0.25", "m2": "1.5"}})
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := softmax(logits.Data())
	if err != nil {
		t.Fatal(err)
	}
	for i := range p {
		if d := p[i] - js.Probs[i]; d > 1e-6 || d < -1e-6 {
			t.Errorf("probs %v, want %v", js.Probs, p)
		}
	}
}

func TestExplainErrors(t *testing.T) {
	f := newFixture(t, 1)
	img := filepath.Join(f.dir, f.path(0))
	file := filepath.Join(f.dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"explain"},                     // --model missing
		{"explain", "--model", f.model}, // --image missing
		{"explain", "--model", f.model, "--image", img, "--meta", "m1"},                     // not k=v
		{"explain", "--model", f.model, "--image", img, "--meta", "m1=1", "--meta", "m1=2"}, // twice
		{"explain", "--model", f.model, "--image", img, "--sweep", "m1=1,,2"},               // empty value
		{"explain", "--model", f.model, "--image", img, "--sweep", "m1=1", "--no-sweep"},    // contradiction
		{"explain", "--model", f.model, "--image", img, "--out", file},                      // --out a file
		{"explain", "--model", f.model, "--image", img, "extra"},                            // positional
		{"explain", "--model", f.model, "--image", img, "--bogus"},                          // unknown flag
	} {
		code, out, errOut := run(t, args...)
		if code != 2 {
			t.Errorf("%q: exit %d, want 2\nstdout: %s\nstderr: %s", args, code, out, errOut)
		}
	}
	out := filepath.Join(f.dir, "o")
	for _, args := range [][]string{
		{"explain", "--model", filepath.Join(f.dir, "none.mcnn"), "--image", img, "--out", out},
		{"explain", "--model", f.model, "--image", filepath.Join(f.dir, "none.png"), "--meta", "m1=0", "--meta", "m2=0", "--out", out},
		{"explain", "--model", f.model, "--image", img, "--meta", "m1=0", "--out", out}, // m2 missing: raw column
		{"explain", "--model", f.model, "--image", img, "--meta", "m1=0", "--meta", "m2=0", "--meta", "camera=C1", "--out", out},
		{"explain", "--model", f.model, "--image", img, "--meta", "m1=0", "--meta", "m2=0", "--class", "dog", "--out", out},
	} {
		code, stdout, errOut := run(t, args...)
		if code != 1 {
			t.Errorf("%q: exit %d, want 1\nstdout: %s\nstderr: %s", args, code, stdout, errOut)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed explain created its output directory")
	}
	code, stdout, _ := run(t, "explain", "--help")
	if code != 0 || !strings.Contains(stdout, "Grad-CAM") || !strings.Contains(stdout, "--sweep") {
		t.Errorf("explain --help: exit %d\n%s", code, stdout)
	}
}

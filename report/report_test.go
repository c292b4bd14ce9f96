package report

import (
	"bytes"
	"encoding/json"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/plot"

	"github.com/metacnn/metacnn/eval"
)

// predictions makes n seeded rows of a k-class problem with slice keys
// camera (3 values) and shift (2 values); camera c2 is harder.
func predictions(t *testing.T, n, k int, seed uint64) *eval.Predictions {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	classes := []string{"ok", "defect", "scratch", "dent"}[:k]
	labels := make([]int, n)
	probs := make([][]float64, n)
	keys := make([]map[string]string, n)
	for i := range n {
		y := rng.IntN(k)
		cam := rng.IntN(3)
		signal := 2.0
		if cam == 2 {
			signal = 0.3
		}
		row := make([]float64, k)
		sum := 0.0
		for c := range row {
			z := rng.NormFloat64()
			if c == y {
				z += signal
			}
			row[c] = math.Exp(z)
			sum += row[c]
		}
		for c := range row {
			row[c] /= sum
		}
		labels[i], probs[i] = y, row
		keys[i] = map[string]string{"camera": []string{"c0", "c1", "c2"}[cam], "shift": []string{"day", "night"}[i%2]}
	}
	p, err := eval.NewPredictions(classes, labels, probs, keys)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var imgSrc = regexp.MustCompile(`<img src="([^"]+)"`)

func TestWriteEvalContainsItsPlots(t *testing.T) {
	for _, k := range []int{2, 3} {
		p := predictions(t, 300, k, uint64(k))
		r, err := eval.Evaluate(p, eval.Options{Model: "film", SliceBy: []string{"camera", "shift"}, Bootstrap: eval.Bootstrap{Resamples: 200, Seed: 1}})
		if err != nil {
			t.Fatal(err)
		}
		history := []Epoch{
			{Epoch: 1, TrainLoss: 0.9, TrainAccuracy: 0.6, ValLoss: 0.8, ValAccuracy: 0.65, ValBalancedAccuracy: 0.64},
			{Epoch: 2, TrainLoss: 0.6, TrainAccuracy: 0.75, ValLoss: 0.62, ValAccuracy: 0.74, ValBalancedAccuracy: 0.73},
			{Epoch: 3, TrainLoss: 0.4, TrainAccuracy: 0.85, ValLoss: 0.55, ValAccuracy: 0.8, ValBalancedAccuracy: 0.79},
		}
		dir := filepath.Join(t.TempDir(), "report")
		index, err := WriteEval(dir, r, CurvesOf(p), history)
		if err != nil {
			t.Fatal(err)
		}
		html, err := os.ReadFile(index)
		if err != nil {
			t.Fatal(err)
		}
		var srcs []string
		for _, m := range imgSrc.FindAllStringSubmatch(string(html), -1) {
			srcs = append(srcs, m[1])
		}
		want := []string{ConfusionFile, ROCFile, PRFile, ReliabilityFile, "slice-1-camera.png", "slice-2-shift.png", LearningFile}
		for _, w := range want {
			if !slices.Contains(srcs, w) {
				t.Errorf("k=%d: index.html does not show %s (it shows %v)", k, w, srcs)
			}
		}
		for _, src := range srcs {
			checkPNG(t, filepath.Join(dir, src))
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.Contains(e.Name(), ".tmp") {
				t.Errorf("temporary file left behind: %s", e.Name())
			}
		}
		// The JSON next to the page is the report.
		js, err := os.ReadFile(filepath.Join(dir, EvalJSONFile))
		if err != nil {
			t.Fatal(err)
		}
		var back eval.Report
		if err := json.Unmarshal(js, &back); err != nil {
			t.Fatal(err)
		}
		if back.N != r.N || len(back.Slices) != len(r.Slices) || !strings.Contains(string(html), `href="eval.json"`) {
			t.Errorf("k=%d: eval.json does not hold the report or is not linked", k)
		}
		for _, s := range []string{"balanced accuracy", "by camera", "c2", "Per class", "Learning curves"} {
			if !strings.Contains(string(html), s) {
				t.Errorf("k=%d: index.html lacks %q", k, s)
			}
		}
	}
}

// checkPNG fails unless path is a PNG of a plausible plot: decodable, at
// least 300x200 pixels, more than 5 kB (a blank canvas compresses to far
// less) and not a single colour.
func checkPNG(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Error(err)
		return
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	bounds := img.Bounds()
	if bounds.Dx() < 300 || bounds.Dy() < 200 || len(b) < 5000 {
		t.Errorf("%s: %dx%d, %d bytes: too small for a plot", path, bounds.Dx(), bounds.Dy(), len(b))
	}
	colours := map[[4]uint32]bool{}
	for y := bounds.Min.Y; y < bounds.Max.Y; y += 7 {
		for x := bounds.Min.X; x < bounds.Max.X; x += 7 {
			r, g, bl, a := img.At(x, y).RGBA()
			colours[[4]uint32{r, g, bl, a}] = true
		}
	}
	if len(colours) < 3 {
		t.Errorf("%s: %d colours: blank", path, len(colours))
	}
}

func TestHistoryFromTraining(t *testing.T) {
	// The shape `metacnn train` stores (train.Summary through JSON):
	// validation fields are absent without validation data.
	var training map[string]any
	js := `{"epochs": 2, "history": [
		{"epoch": 1, "step": 10, "lr": 0.001, "train_loss": 0.7, "train_accuracy": 0.5, "val_loss": 0.69, "val_accuracy": 0.52, "val_balanced_accuracy": 0.5, "seconds": 1, "images_per_sec": 100},
		{"epoch": 2, "step": 20, "lr": 0.001, "train_loss": 0.5, "train_accuracy": 0.8, "seconds": 1, "images_per_sec": 100}]}`
	if err := json.Unmarshal([]byte(js), &training); err != nil {
		t.Fatal(err)
	}
	h, err := HistoryFromTraining(training)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0].ValLoss != 0.69 || h[1].TrainAccuracy != 0.8 || !math.IsNaN(h[1].ValLoss) {
		t.Errorf("history = %+v", h)
	}
	if h, err := HistoryFromTraining(map[string]any{"source": "import torch"}); h != nil || err != nil {
		t.Errorf("no history: %v, %v; want nil, nil", h, err)
	}
	if _, err := HistoryFromTraining(map[string]any{"history": "yes"}); err == nil {
		t.Error("a history that is not a list was accepted")
	}
	// Validation-free history still plots.
	loss, metric, err := PlotLearningCurves(h[1:])
	if err != nil || loss == nil || metric == nil {
		t.Fatalf("one-epoch history: %v", err)
	}
	if _, err := (Figure{Name: "lc.png", Plots: []*plot.Plot{loss, metric}}).PNG(); err != nil {
		t.Fatal(err)
	}
}

func TestPageRejectsBadNames(t *testing.T) {
	p := predictions(t, 50, 2, 9)
	r, err := eval.Evaluate(p, eval.Options{Bootstrap: eval.Bootstrap{Resamples: -1}})
	if err != nil {
		t.Fatal(err)
	}
	conf, err := PlotConfusion("c", r.Classes, r.Overall.Confusion)
	if err != nil {
		t.Fatal(err)
	}
	page := NewPage("t")
	for _, name := range []string{"../x.png", "a b.png", ".hidden.png", "x.svg", ""} {
		if err := page.Figures(Figure{Name: name, Plots: one(conf)}); err == nil {
			t.Errorf("figure name %q accepted", name)
		}
	}
	if err := page.Figures(Figure{Name: "c.png", Plots: one(conf)}); err != nil {
		t.Fatal(err)
	}
	if err := page.Figures(Figure{Name: "c.png", Plots: one(conf)}); err == nil {
		t.Error("a figure name used twice was accepted")
	}
	// Text is escaped.
	page.Text(`<script>alert(1)</script>`)
	html, err := page.HTML()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(html), "<script>") {
		t.Error("page text is not escaped")
	}
	if got := FileName("camera model/β"); got != "camera_model__" {
		t.Errorf("FileName = %q", got)
	}
}

func TestCurvesOf(t *testing.T) {
	p := predictions(t, 5000, 3, 4)
	cs := CurvesOf(p)
	if len(cs.ROC) != 3 || len(cs.PR) != 3 || len(cs.Notes) != 0 {
		t.Fatalf("%d ROC, %d PR curves, notes %v; want 3, 3, none", len(cs.ROC), len(cs.PR), cs.Notes)
	}
	for _, c := range append(cs.ROC, cs.PR...) {
		if len(c.X) > MaxCurvePoints || len(c.X) != len(c.Y) {
			t.Errorf("%s: %d/%d points, want at most %d", c.Label, len(c.X), len(c.Y), MaxCurvePoints)
		}
		if !slices.IsSorted(c.X) {
			t.Errorf("%s: x not increasing", c.Label)
		}
	}
	// The curve's area is eval's metric for that class.
	r, _ := eval.Evaluate(p, eval.Options{Bootstrap: eval.Bootstrap{Resamples: -1}})
	for c := range 3 {
		if got, want := cs.ROC[c].Area, float64(r.Overall.PerClass[c].ROCAUC); math.Abs(got-want) > 1e-12 {
			t.Errorf("class %d: curve AUC %v, eval %v", c, got, want)
		}
	}
	// A class with no rows has no curve, and says why.
	p2, err := eval.NewPredictions([]string{"a", "b", "c"}, []int{0, 1, 0, 1}, [][]float64{{.5, .3, .2}, {.2, .7, .1}, {.6, .2, .2}, {.3, .4, .3}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cs = CurvesOf(p2)
	if len(cs.ROC) != 2 || len(cs.Notes) != 2 {
		t.Errorf("class without rows: %d ROC curves, notes %v", len(cs.ROC), cs.Notes)
	}
}

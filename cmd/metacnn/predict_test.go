package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/eval"
	"github.com/metacnn/metacnn/model"
	"github.com/metacnn/metacnn/tensor"
)

// fixture is a freshly initialised seed-film model saved to a file, and
// n 56x56 PNGs with seeded pixels and metadata.
type fixture struct {
	dir, model string
	b          *model.Bundle
	n          int
	m1, m2     []string
	labels     []string
	cameras    []string
}

func newFixture(t *testing.T, n int) *fixture {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(11, 12))
	net, err := model.NewSeed(model.SeedFiLM, rng)
	if err != nil {
		t.Fatal(err)
	}
	b, err := model.NewBundle(net, nil, data.ImageOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The shape `metacnn train` stores: train.Summary through JSON.
	b.Training = map[string]any{"source": "test", "epochs": 3, "history": []any{
		map[string]any{"epoch": 1, "train_loss": 0.69, "train_accuracy": 0.52, "val_loss": 0.68, "val_accuracy": 0.55, "val_balanced_accuracy": 0.54},
		map[string]any{"epoch": 2, "train_loss": 0.61, "train_accuracy": 0.66, "val_loss": 0.63, "val_accuracy": 0.62, "val_balanced_accuracy": 0.61},
		map[string]any{"epoch": 3, "train_loss": 0.52, "train_accuracy": 0.74, "val_loss": 0.6, "val_accuracy": 0.66, "val_balanced_accuracy": 0.65},
	}}
	f := &fixture{dir: dir, model: filepath.Join(dir, "model.mcnn"), n: n}
	if err := model.Save(f.model, b); err != nil {
		t.Fatal(err)
	}
	// Predictions are compared with the bundle as loaded from the file.
	if f.b, err = model.Load(f.model); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "img"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		img := image.NewRGBA(image.Rect(0, 0, 56, 56))
		base := rng.IntN(200)
		for y := range 56 {
			for x := range 56 {
				img.Set(x, y, color.RGBA{uint8(base + rng.IntN(56)), uint8(rng.IntN(256)), uint8(base), 255})
			}
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f.path(i)), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		f.m1 = append(f.m1, fmt.Sprintf("%.3f", rng.NormFloat64()))
		f.m2 = append(f.m2, fmt.Sprintf("%.3f", 2*rng.Float64()-1))
		f.labels = append(f.labels, fmt.Sprint(rng.IntN(2)))
		f.cameras = append(f.cameras, fmt.Sprintf("cam%d", i%3))
	}
	return f
}

func (f *fixture) path(i int) string { return fmt.Sprintf("img/%02d.png", i) }

// writeCSV writes a manifest of the fixture's rows with the given columns
// (path, m1, m2, label, camera); edit may change row i's cells.
func (f *fixture) writeCSV(t *testing.T, name string, cols []string, edit func(i int, cell map[string]string)) string {
	t.Helper()
	var sb strings.Builder
	sb.WriteString(strings.Join(cols, ",") + "\n")
	for i := range f.n {
		cell := map[string]string{"path": f.path(i), "m1": f.m1[i], "m2": f.m2[i], "label": f.labels[i], "camera": f.cameras[i]}
		if edit != nil {
			edit(i, cell)
		}
		var vals []string
		for _, c := range cols {
			vals = append(vals, cell[c])
		}
		sb.WriteString(strings.Join(vals, ",") + "\n")
	}
	path := filepath.Join(f.dir, name)
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// logits computes the expected logits of rows [lo, hi) with Bundle.Predict,
// on images decoded by data.LoadImage with the model's preprocessing.
func (f *fixture) logits(t *testing.T, lo, hi int) []float32 {
	t.Helper()
	L := f.b.Image.Len()
	buf := make([]float32, (hi-lo)*L)
	var rows []map[string]string
	for i := lo; i < hi; i++ {
		if err := data.LoadImage(filepath.Join(f.dir, f.path(i)), f.b.Image, buf[(i-lo)*L:(i-lo+1)*L]); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, map[string]string{"m1": f.m1[i], "m2": f.m2[i]})
	}
	out, _, err := f.b.Predict(tensor.FromSlice(buf, append([]int{hi - lo}, f.b.Image.Shape()...)...), rows)
	if err != nil {
		t.Fatal(err)
	}
	return out.Data()
}

// predictionLine is a decoded output line, with its key orders.
type predictionLine struct {
	Keys     []string
	Row      int
	Path     string
	Label    string
	ProbKeys []string
	Probs    map[string]float64
	Logits   []float32
	Warnings []string
}

func parsePredictions(t *testing.T, out string) []predictionLine {
	t.Helper()
	var lines []predictionLine
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var p predictionLine
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			t.Fatalf("output line is not a JSON object: %v\n%s", err, sc.Text())
		}
		p.Keys = jsonKeys(t, sc.Bytes())
		p.ProbKeys = jsonKeys(t, raw["probs"])
		for k, dst := range map[string]any{"row": &p.Row, "path": &p.Path, "label": &p.Label, "probs": &p.Probs, "logits": &p.Logits, "warnings": &p.Warnings} {
			if v, ok := raw[k]; ok {
				if err := json.Unmarshal(v, dst); err != nil {
					t.Fatalf("%s: %v", k, err)
				}
			}
		}
		lines = append(lines, p)
	}
	return lines
}

// jsonKeys returns an object's top-level keys in document order.
func jsonKeys(t *testing.T, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestPredictMatchesBundle(t *testing.T) {
	f := newFixture(t, 20)
	// No label column: predict reads unlabelled manifests.
	csvPath := f.writeCSV(t, "rows.csv", []string{"path", "m1", "m2"}, nil)
	code, out, errOut := run(t, "predict", "--model", f.model, "--data", csvPath, "--batch", "8")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	lines := parsePredictions(t, out)
	if len(lines) != f.n {
		t.Fatalf("%d output lines for %d rows", len(lines), f.n)
	}
	// The same batches as the command (8, 8, 4), so the same arithmetic.
	var want []float32
	for lo := 0; lo < f.n; lo += 8 {
		want = append(want, f.logits(t, lo, min(f.n, lo+8))...)
	}
	for i, p := range lines {
		if !slices.Equal(p.Keys, []string{"row", "path", "label", "probs", "logits"}) {
			t.Errorf("line %d keys %v", i, p.Keys)
		}
		if p.Row != i+2 || p.Path != f.path(i) {
			t.Errorf("line %d: row %d path %s, want row %d (CSV line) path %s", i, p.Row, p.Path, i+2, f.path(i))
		}
		if !slices.Equal(p.ProbKeys, model.SeedClasses) {
			t.Errorf("line %d: probs keys %v, want the model's class order %v", i, p.ProbKeys, model.SeedClasses)
		}
		lg := want[2*i : 2*i+2]
		if !slices.Equal(p.Logits, lg) {
			t.Errorf("line %d: logits %v, Bundle.Predict gives %v", i, p.Logits, lg)
		}
		sum := p.Probs["0"] + p.Probs["1"]
		if math.Abs(sum-1) > 1e-12 {
			t.Errorf("line %d: probabilities sum to %v", i, sum)
		}
		// p1/p0 = exp(l1 - l0).
		if r := math.Log(p.Probs["1"] / p.Probs["0"]); math.Abs(r-float64(lg[1]-lg[0])) > 1e-6 {
			t.Errorf("line %d: log odds %v, logits differ by %v", i, r, lg[1]-lg[0])
		}
		best := "0"
		if lg[1] > lg[0] {
			best = "1"
		}
		if p.Label != best {
			t.Errorf("line %d: label %s, arg-max of the logits is %s", i, p.Label, best)
		}
	}
	if !strings.Contains(errOut, fmt.Sprintf("%d rows, %d predicted, 0 bad", f.n, f.n)) {
		t.Errorf("stderr lacks the summary line:\n%s", errOut)
	}

	// JSON Lines in, --out file out, a label column present and ignored, a
	// blank line counted: the same predictions, rows numbered by line.
	var sb strings.Builder
	for i := range f.n {
		if i == 1 {
			sb.WriteString("\n")
		}
		fmt.Fprintf(&sb, `{"path": %q, "m1": %s, "m2": %q, "label": "whatever"}`+"\n", f.path(i), f.m1[i], f.m2[i])
	}
	jl := filepath.Join(f.dir, "rows.jsonl")
	if err := os.WriteFile(jl, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	outPath := filepath.Join(f.dir, "preds.jsonl")
	code, out, errOut = run(t, "predict", "--model", f.model, "--data", jl, "--out", outPath, "--batch", "8", "--workers", "1")
	if code != 0 || out != "" {
		t.Fatalf("exit %d, stdout %q\n%s", code, out, errOut)
	}
	js, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatal(err)
	}
	lines2 := parsePredictions(t, string(js))
	if len(lines2) != f.n {
		t.Fatalf("--out: %d lines", len(lines2))
	}
	for i, p := range lines2 {
		wantRow := i + 1
		if i >= 1 {
			wantRow++ // the blank line
		}
		if p.Row != wantRow || !slices.Equal(p.Logits, lines[i].Logits) {
			t.Errorf("jsonl line %d: row %d (want %d), logits %v (csv gave %v)", i, p.Row, wantRow, p.Logits, lines[i].Logits)
		}
	}
}

func TestPredictBadRows(t *testing.T) {
	f := newFixture(t, 12)
	if err := os.WriteFile(filepath.Join(f.dir, "img", "broken.png"), []byte("\x89PNG\r\n\x1a\nnot really"), 0o644); err != nil {
		t.Fatal(err)
	}
	csvPath := f.writeCSV(t, "rows.csv", []string{"path", "m1", "m2"}, func(i int, c map[string]string) {
		switch i {
		case 1: // CSV line 3
			c["path"] = "img/nope.png"
		case 3: // line 5
			c["m2"] = "abc"
		case 4: // line 6
			c["path"] = "img/broken.png"
		}
	})
	wantBad := []string{`rows.csv: row 3: image `, "nope.png: image file not found", `rows.csv: row 5: column "m2"`, `"abc"`, "rows.csv: row 6", "broken.png"}

	code, out, errOut := run(t, "predict", "--model", f.model, "--data", csvPath, "--on-bad-row", "skip", "--batch", "5")
	if code != 0 {
		t.Fatalf("skip: exit %d\n%s", code, errOut)
	}
	lines := parsePredictions(t, out)
	if len(lines) != f.n-3 {
		t.Errorf("skip: %d predictions, want %d", len(lines), f.n-3)
	}
	for _, p := range lines {
		if p.Row == 3 || p.Row == 5 || p.Row == 6 {
			t.Errorf("bad row %d was predicted", p.Row)
		}
	}
	for _, w := range append(wantBad, "missing-image", "invalid-value", "corrupt-image",
		fmt.Sprintf("%d rows, %d predicted, 3 bad (corrupt-image 1, invalid-value 1, missing-image 1)", f.n, f.n-3)) {
		if !strings.Contains(errOut, w) {
			t.Errorf("skip: stderr lacks %q:\n%s", w, errOut)
		}
	}

	outPath := filepath.Join(f.dir, "preds.jsonl")
	code, _, errOut = run(t, "predict", "--model", f.model, "--data", csvPath, "--out", outPath)
	if code != 1 {
		t.Fatalf("error policy: exit %d, want 1\n%s", code, errOut)
	}
	for _, w := range append(wantBad, "3 bad rows", "--on-bad-row=skip", "stopped at the first bad rows") {
		if !strings.Contains(errOut, w) {
			t.Errorf("error policy: stderr lacks %q:\n%s", w, errOut)
		}
	}
	if _, err := os.Stat(outPath); err == nil {
		t.Error("error policy: --out was written although the command failed")
	}
	if ents, _ := os.ReadDir(f.dir); slices.ContainsFunc(ents, func(e os.DirEntry) bool { return strings.Contains(e.Name(), ".tmp") }) {
		t.Error("error policy: temporary output left behind")
	}

	// A header without a column the model reads is an error, whatever the policy.
	noM2 := f.writeCSV(t, "nom2.csv", []string{"path", "m1"}, nil)
	code, _, errOut = run(t, "predict", "--model", f.model, "--data", noM2, "--on-bad-row", "skip")
	if code != 1 || !strings.Contains(errOut, `missing required column "m2"`) {
		t.Errorf("missing column: exit %d\n%s", code, errOut)
	}
}

// evalFixture is the expected report: the model run the library way on the
// fixture's rows, evaluated with eval.Evaluate.
func (f *fixture) expectedReport(t *testing.T, by []string, bs eval.Bootstrap) *eval.Report {
	t.Helper()
	lg := f.logits(t, 0, f.n)
	var labels []int
	var probs [][]float64
	var keys []map[string]string
	for i := range f.n {
		// Softmax in float64, the reference formula.
		a, b := float64(lg[2*i]), float64(lg[2*i+1])
		m := math.Max(a, b)
		ea, eb := math.Exp(a-m), math.Exp(b-m)
		probs = append(probs, []float64{ea / (ea + eb), eb / (ea + eb)})
		labels = append(labels, slices.Index(model.SeedClasses, f.labels[i]))
		keys = append(keys, map[string]string{"camera": f.cameras[i]})
	}
	p, err := eval.NewPredictions(model.SeedClasses, labels, probs, keys)
	if err != nil {
		t.Fatal(err)
	}
	r, err := eval.Evaluate(p, eval.Options{Model: "model.mcnn", SliceBy: by, Bootstrap: bs})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// sameJSON compares two JSON documents, numbers within tol.
func sameJSON(t *testing.T, path string, got, want any, tol float64) {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) {
			t.Errorf("%s: got %v, want %v", path, got, want)
			return
		}
		for k := range w {
			sameJSON(t, path+"."+k, g[k], w[k], tol)
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			t.Errorf("%s: got %v, want %v", path, got, want)
			return
		}
		for i := range w {
			sameJSON(t, fmt.Sprintf("%s[%d]", path, i), g[i], w[i], tol)
		}
	case float64:
		g, ok := got.(float64)
		if !ok || math.Abs(g-w) > tol {
			t.Errorf("%s: got %v, want %v", path, got, want)
		}
	default:
		if got != want {
			t.Errorf("%s: got %v, want %v", path, got, want)
		}
	}
}

var imgSrc = regexp.MustCompile(`<img src="([^"]+)"`)

func TestEvalJSONAndReport(t *testing.T) {
	f := newFixture(t, 24)
	csvPath := f.writeCSV(t, "test.csv", []string{"path", "m1", "m2", "label", "camera"}, nil)
	jsonPath := filepath.Join(f.dir, "eval.json")
	repDir := filepath.Join(f.dir, "rep")
	code, out, errOut := run(t, "eval", "--model", f.model, "--data", csvPath, "--by", "camera", "--json", jsonPath,
		"--report", repDir, "--bootstrap", "100", "--seed", "3", "--batch", "24")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	for _, w := range []string{"model model.mcnn: rows 24, classes 0, 1", "balanced accuracy", "by camera", "cam2", "confusion matrix", "json: " + jsonPath, "report: " + filepath.Join(repDir, "index.html")} {
		if !strings.Contains(out, w) {
			t.Errorf("stdout lacks %q:\n%s", w, out)
		}
	}
	if !strings.Contains(errOut, "24 rows, 24 kept, 0 skipped") {
		t.Errorf("stderr lacks the row account:\n%s", errOut)
	}

	// The JSON is eval.Evaluate's on the same predictions.
	want := f.expectedReport(t, []string{"camera"}, eval.Bootstrap{Resamples: 100, Seed: 3})
	wantJS, _ := json.Marshal(want)
	gotJS, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	if err := json.Unmarshal(gotJS, &g); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(wantJS, &w)
	sameJSON(t, "report", g, w, 1e-9)

	// The report holds its plots: each referenced, present, a real PNG.
	html, err := os.ReadFile(filepath.Join(repDir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	var srcs []string
	for _, m := range imgSrc.FindAllStringSubmatch(string(html), -1) {
		srcs = append(srcs, m[1])
	}
	for _, name := range []string{"confusion.png", "roc.png", "pr.png", "reliability.png", "slice-1-camera.png", "learning-curves.png"} {
		if !slices.Contains(srcs, name) {
			t.Errorf("index.html does not show %s (shows %v)", name, srcs)
		}
	}
	for _, src := range srcs {
		b, err := os.ReadFile(filepath.Join(repDir, src))
		if err != nil {
			t.Error(err)
			continue
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		if img.Bounds().Dx() < 300 || img.Bounds().Dy() < 200 || len(b) < 5000 {
			t.Errorf("%s: %v, %d bytes: too small for a plot", src, img.Bounds(), len(b))
		}
	}
}

func TestEvalBadInput(t *testing.T) {
	f := newFixture(t, 9)
	csvPath := f.writeCSV(t, "test.csv", []string{"path", "m1", "m2", "label", "camera"}, func(i int, c map[string]string) {
		switch i {
		case 2:
			c["label"] = "7" // not a class of the model
		case 5:
			c["path"] = "img/gone.png"
		}
	})
	// Unknown --by column: named, with the columns there are.
	code, _, errOut := run(t, "eval", "--model", f.model, "--data", csvPath, "--by", "camra", "--on-bad-row", "skip")
	if code != 2 || !strings.Contains(errOut, `--by "camra"`) || !strings.Contains(errOut, "camera") {
		t.Errorf("unknown --by: exit %d\n%s", code, errOut)
	}
	// Under skip, the bad rows are reported and the rest evaluated.
	code, out, errOut := run(t, "eval", "--model", f.model, "--data", csvPath, "--on-bad-row", "skip", "--bootstrap", "0")
	if code != 0 {
		t.Fatalf("skip: exit %d\n%s", code, errOut)
	}
	for _, w := range []string{"row 4: column \"label\"", "unknown-label", "row 7", "gone.png", "missing-image", "9 rows, 7 kept, 2 skipped"} {
		if !strings.Contains(errOut, w) {
			t.Errorf("skip: stderr lacks %q:\n%s", w, errOut)
		}
	}
	if !strings.Contains(out, "rows 7,") {
		t.Errorf("skip: the report is not over the 7 good rows:\n%s", out)
	}
	// Under error, they stop it.
	code, _, errOut = run(t, "eval", "--model", f.model, "--data", csvPath)
	if code != 1 || !strings.Contains(errOut, "2 bad rows") {
		t.Errorf("error policy: exit %d\n%s", code, errOut)
	}
}

func TestPredictEvalUsageErrors(t *testing.T) {
	dir := t.TempDir()
	m, d := filepath.Join(dir, "m.mcnn"), filepath.Join(dir, "d.csv")
	for _, args := range [][]string{
		{"predict", "--data", d},
		{"predict", "--model", m},
		{"predict", "--model", m, "--data", filepath.Join(dir, "d.txt")},
		{"predict", "--model", m, "--data", d, "--batch", "0"},
		{"predict", "--model", m, "--data", d, "--on-bad-row", "ignore"},
		{"predict", "--model", m, "--data", d, "--out", dir},
		{"predict", "--model", m, "--data", d, "--out", d},
		{"predict", "--model", m, "--data", d, "extra"},
		{"predict", "--model", m, "--data", d, "--bogus"},
		{"eval", "--data", d},
		{"eval", "--model", m},
		{"eval", "--model", m, "--data", d, "--bootstrap", "-5"},
		{"eval", "--model", m, "--data", d, "--by", "camera", "--by", "camera"},
		{"eval", "--model", m, "--data", d, "--by", "label"},
		{"eval", "--model", m, "--data", d, "--workers", "-1"},
		{"eval", "--model", m, "--data", d, "--seed", "x"},
	} {
		code, out, errOut := run(t, args...)
		if code != 2 || !strings.Contains(errOut, "--help' for usage") {
			t.Errorf("%q: exit %d, want 2\nstdout: %s\nstderr: %s", args, code, out, errOut)
		}
	}
	// A missing model file is a failure, not a usage error.
	if code, _, _ := run(t, "predict", "--model", m, "--data", d); code != 1 {
		t.Errorf("missing model: exit %d, want 1", code)
	}
}

package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/fusion"
	"github.com/metacnn/metacnn/meta"
)

func TestLoadFull(t *testing.T) {
	c, err := Load("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := filepath.Abs("testdata")
	if c.Dir != dir {
		t.Errorf("Dir = %q, want %q", c.Dir, dir)
	}
	if want := filepath.Join(dir, "manifests", "train.csv"); c.Data.Train != want {
		t.Errorf("train = %q, want %q (resolved against the config's directory)", c.Data.Train, want)
	}
	if c.Data.Test != "/abs/test.csv" {
		t.Errorf("absolute test path changed: %q", c.Data.Test)
	}
	if got := c.Train.ClassWeights; got.Mode != ClassWeightsExplicit || !reflect.DeepEqual(got.Weights, []float64{1, 2, 2, 3}) {
		t.Errorf("class_weights = %+v", got)
	}
	if c.Metadata.Columns[1].Type != meta.Cyclical || c.Metadata.Columns[1].Period != 24 {
		t.Errorf("metadata column hour = %+v", c.Metadata.Columns[1])
	}
	if c.Model.Fusion[0].Kind != fusion.KindFiLM {
		t.Errorf("fusion = %+v", c.Model.Fusion)
	}
	if c.Train.Augment.FlipH != 0.5 || !c.Train.Augment.Rot90 {
		t.Errorf("augment = %+v", c.Train.Augment)
	}
	if c.Data.Policy() != data.Skip {
		t.Errorf("on_bad_row policy = %v", c.Data.Policy())
	}
	io, err := c.ImageOptions()
	if err != nil {
		t.Fatal(err)
	}
	if io.Width != 64 || io.Height != 64 || io.Resize != data.FitPad || io.Filter != data.Bilinear || io.Background != [3]uint8{255, 255, 255} || io.Mean != nil {
		t.Errorf("image options = %+v", io)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse([]byte("data: {manifest: all.csv}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	d := c.WithDefaults()
	// The documented defaults (see the field comments).
	if d.Data.SplitColumn != "split" || d.Data.ImageColumn != "path" || d.Data.LabelColumn != "label" {
		t.Errorf("columns: %+v", d.Data)
	}
	if d.Data.Image.Width != 64 || d.Data.Image.Channels != 3 || d.Data.Image.Normalize != NormalizeNone {
		t.Errorf("image: %+v", d.Data.Image)
	}
	tr := d.Train
	if tr.Epochs != 10 || tr.BatchSize != 32 || tr.Optimizer.Kind != "adamw" || tr.Optimizer.LR != 1e-3 ||
		*tr.Optimizer.WeightDecay != 0.01 || tr.Schedule.Kind != "none" || tr.ClassWeights.Mode != "none" ||
		tr.EarlyStopping.Metric != "val_loss" || tr.EarlyStopping.Mode != "min" || tr.CheckpointEvery != 1 || tr.Keep != "best" {
		t.Errorf("train defaults: %+v", tr)
	}
	// The seed presets fix 56x56.
	c.Model.Arch = "seed-film"
	if w := c.WithDefaults().Data.Image.Width; w != 56 {
		t.Errorf("preset image size %d, want 56", w)
	}
	// The receiver is not changed.
	if c.Train.Epochs != 0 || c.Data.SplitColumn != "" {
		t.Error("WithDefaults changed its receiver")
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"unknown top", "data: {train: a.csv}\ntrian: {}\n", []string{"line 2", `unknown key "trian"`, "top level"}},
		{"unknown train key", "data: {train: a.csv}\ntrain:\n  epoch: 3\n", []string{"line 3", `unknown key "epoch"`, "in train"}},
		{"unknown optimizer key", "data: {train: a.csv}\ntrain:\n  optimizer: {kind: sgd, learning_rate: 1}\n", []string{"line 3", `"learning_rate"`, "train.optimizer"}},
		{"unknown metadata key", "data: {train: a.csv}\nmetadata:\n  columns:\n    - {name: a, type: numeric, perod: 3}\n", []string{"line 4", `"perod"`, "metadata column"}},
		{"unknown model key", "data: {train: a.csv}\nmodel:\n  backbone: {kind: seed, widht: [3]}\n", []string{"line 3", `"widht"`, "model.backbone"}},
		{"unknown augment key", "data: {train: a.csv}\ntrain: {augment: {flip: 1}}\n", []string{"line 2", `"flip"`, "train.augment"}},
		{"wrong type", "data: {train: a.csv}\ntrain: {epochs: many}\n", []string{"line 2", "many"}},
		{"two documents", "data: {train: a.csv}\n---\ndata: {train: b.csv}\n", []string{"more than one YAML document"}},
		{"empty", "", []string{"empty"}},
		{"class weights map", "data: {train: a.csv}\ntrain: {class_weights: {a: 1}}\n", []string{"class_weights"}},
	} {
		_, err := Parse([]byte(tc.yaml))
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tc.name, err, w)
			}
		}
	}
}

func TestValidateErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"no data", "train: {epochs: 2}\n", []string{"data: give manifest"}},
		{"both", "data: {manifest: a.csv, train: b.csv}\n", []string{"data.manifest: give either"}},
		{"optimizer kind", "data: {train: a.csv}\ntrain: {optimizer: {kind: rmsprop}}\n", []string{"train.optimizer.kind", "rmsprop"}},
		{"lr", "data: {train: a.csv}\ntrain: {optimizer: {lr: -1}}\n", []string{"train.optimizer.lr"}},
		{"momentum with adam", "data: {train: a.csv}\ntrain: {optimizer: {kind: adam, momentum: 0.9}}\n", []string{"momentum and nesterov apply to sgd"}},
		{"schedule key", "data: {train: a.csv}\ntrain: {schedule: {kind: step, min_lr: 0.1}}\n", []string{"train.schedule.min_lr: does not apply"}},
		{"plateau without val", "data: {train: a.csv}\ntrain: {schedule: {kind: plateau}}\n", []string{"train.schedule.kind", "validation"}},
		{"early stopping without val", "data: {train: a.csv}\ntrain: {early_stopping: {patience: 2}, keep: last}\n", []string{"train.early_stopping: needs validation"}},
		{"metric", "data: {train: a.csv, val: b.csv}\ntrain: {early_stopping: {metric: f1}}\n", []string{"train.early_stopping.metric", "val_balanced_accuracy"}},
		{"class weights", "data: {train: a.csv, classes: [a, b]}\ntrain: {class_weights: [1, 2, 3]}\n", []string{"train.class_weights: 3 weights for 2 classes"}},
		{"class weights mode", "data: {train: a.csv}\ntrain: {class_weights: inverse}\n", []string{"train.class_weights", "inverse-frequency"}},
		{"image size", "data: {train: a.csv, image: {size: 0, width: -3}}\n", []string{"data.image"}},
		{"normalize", "data: {train: a.csv, image: {normalize: zscore}}\n", []string{"data.image.normalize"}},
		{"custom stats", "data: {train: a.csv, image: {mean: [0.5], std: [0.5]}}\n", []string{"one value per channel"}},
		{"metadata label", "data: {train: a.csv}\nmetadata: {columns: [{name: label, type: categorical}]}\n", []string{"metadata.columns[0]", "data.label_column"}},
		{"metadata spec", "data: {train: a.csv}\nmetadata: {columns: [{name: h, type: cyclical}]}\n", []string{"metadata:", "period"}},
		{"fusion without metadata", "data: {train: a.csv}\nmodel: {fusion: [{kind: film}]}\n", []string{"model.fusion: uses metadata"}},
		{"model spec", "data: {train: a.csv}\nmodel: {backbone: {kind: seed, depth: 18}}\n", []string{"model.backbone.depth"}},
		{"preset size", "data: {train: a.csv, image: {size: 64}}\nmodel: {arch: seed-film}\nmetadata: {columns: [{name: m1, type: numeric}]}\n", []string{"takes 3x56x56"}},
		{"split rule", "data: {manifest: a.csv, split: {method: grouped, val: 0.6, test: 0.6}}\n", []string{"leave no training rows", "group_column"}},
		{"split column with rule", "data: {manifest: a.csv, split_column: s, split: {method: random}}\n", []string{"data.split_column: conflicts"}},
		{"split column without manifest", "data: {train: a.csv, split_column: s}\n", []string{"data.split_column: applies"}},
		{"bad row", "data: {train: a.csv, on_bad_row: ignore}\n", []string{"data.on_bad_row"}},
		{"augment", "data: {train: a.csv}\ntrain: {augment: {flip_h: 2}}\n", []string{"train.augment", "flip_h"}},
		{"grad clip", "data: {train: a.csv}\ntrain: {grad_clip: -1}\n", []string{"train.grad_clip"}},
		{"steps and epochs", "data: {train: a.csv}\ntrain: {epochs: 3, steps: 100}\n", []string{"train.steps: conflicts with train.epochs", "not both"}},
		{"negative steps", "data: {train: a.csv}\ntrain: {steps: -5}\n", []string{"train.steps: -5 is negative"}},
	} {
		c, err := Parse([]byte(tc.yaml))
		if err != nil {
			t.Errorf("%s: parse: %v", tc.name, err)
			continue
		}
		err = c.Validate()
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tc.name, err, w)
			}
		}
	}
}

func TestLoadErrorsNameTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("data: {train: a.csv}\ntrain: {epochz: 1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("error %v: want the path and the line", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("missing file: no error")
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	c, err := Load("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	back.Dir = c.Dir
	want := *c
	want.Model = want.Model.WithDefaults()
	if !reflect.DeepEqual(*back, want) {
		t.Errorf("round trip differs:\n got %+v\nwant %+v\n%s", *back, want, b)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/full.yaml"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("data: {manifest: a.csv}\ntrain: {class_weights: inverse-frequency}\n"))
	f.Add([]byte("data: {train: a.csv}\ntrain: {class_weights: [1, 2]}\nmodel: {arch: seed-film}\n"))
	f.Add([]byte("data:\n  image: {size: 8, normalize: custom, mean: [0, 0, 0], std: [1, 1, 1]}\n"))
	f.Add([]byte("{{{"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err != nil {
			return
		}
		// Whatever parses must validate (or not) without panicking, and a
		// valid config must give valid image options.
		if err := c.Validate(); err != nil {
			return
		}
		if _, err := c.ImageOptions(); err != nil {
			t.Errorf("valid config, invalid image options: %v", err)
		}
	})
}

// TestDocExample checks that the example in the package documentation is
// a valid config.
func TestDocExample(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, line := range strings.Split(string(src), "\n") {
		if rest, ok := strings.CutPrefix(line, "//\t"); ok {
			sb.WriteString(rest + "\n")
		}
	}
	c, err := Parse([]byte(sb.String()))
	if err != nil {
		t.Fatalf("%v\n%s", err, sb.String())
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Train.ClassWeights.Mode != ClassWeightsInverse || c.Model.Fusion[0].Kind != fusion.KindFiLM {
		t.Errorf("parsed %+v", c.Train)
	}
}

// TestStepsReplaceEpochs: with train.steps the epochs default does not
// apply, and a cosine warm-up is not checked against an epoch count.
func TestStepsReplaceEpochs(t *testing.T) {
	c, err := Parse([]byte("data: {train: a.csv}\ntrain: {steps: 100, schedule: {kind: cosine, warmup_epochs: 20}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if tr := c.WithDefaults().Train; tr.Steps != 100 || tr.Epochs != 0 {
		t.Errorf("steps %d, epochs %d; want 100 and 0", tr.Steps, tr.Epochs)
	}
	c, _ = Parse([]byte("data: {train: a.csv}\n"))
	if tr := c.WithDefaults().Train; tr.Steps != 0 || tr.Epochs != DefaultEpochs {
		t.Errorf("steps %d, epochs %d; want 0 and %d", tr.Steps, tr.Epochs, DefaultEpochs)
	}
	b, err := Marshal(&Config{Data: Data{Train: "a.csv"}, Train: Train{Steps: 7}})
	if err != nil || !strings.Contains(string(b), "steps: 7") || strings.Contains(string(b), "epochs") {
		t.Errorf("marshalled:\n%s (%v)", b, err)
	}
}

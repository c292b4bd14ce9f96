package train

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metacnn/metacnn/config"
	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/model"
	"github.com/metacnn/metacnn/nn"
	"github.com/metacnn/metacnn/tensor"
)

// writeDataset writes n 8x8 RGB PNGs and the manifests train.csv, val.csv
// and all.csv (with a split column) under dir. The label is 1 when the
// image is bright XOR the metadata flag m is above 0.5, so both pixels and
// metadata matter; cam is a categorical column with no effect.
func writeDataset(t testing.TB, dir string, n int, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	if err := os.MkdirAll(filepath.Join(dir, "img"), 0o755); err != nil {
		t.Fatal(err)
	}
	var train, val, all strings.Builder
	header := "path,label,m,cam\n"
	train.WriteString(header)
	val.WriteString(header)
	all.WriteString("path,label,m,cam,split\n")
	for i := range n {
		bright := rng.IntN(2) == 1
		m := rng.Float64()
		label := 0
		if bright != (m > 0.5) {
			label = 1
		}
		base := 50
		if bright {
			base = 190
		}
		img := image.NewRGBA(image.Rect(0, 0, 8, 8))
		for y := range 8 {
			for x := range 8 {
				v := uint8(base + rng.IntN(40) - 20)
				img.Set(x, y, color.RGBA{v, v / 2, 255 - v, 255})
			}
		}
		name := fmt.Sprintf("img/%03d.png", i)
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		f.Close()
		row := fmt.Sprintf("%s,%d,%.3f,c%d", name, label, m, rng.IntN(3))
		split := "train"
		if i%5 == 4 {
			split = "val"
			fmt.Fprintln(&val, row)
		} else {
			fmt.Fprintln(&train, row)
		}
		fmt.Fprintf(&all, "%s,%s\n", row, split)
	}
	for name, s := range map[string]string{"train.csv": train.String(), "val.csv": val.String(), "all.csv": all.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// tinyConfig is a small, fast model exercising every stateful part of a
// run: batch norm buffers, dropout (the model's random stream),
// augmentation, AdamW moments, a per-step cosine schedule with warmup,
// class weights and gradient clipping.
const tinyConfig = `
data:
  train: train.csv
  val: val.csv
  image: {size: 8}
metadata:
  columns:
    - {name: m, type: numeric}
    - {name: cam, type: categorical}
model:
  backbone: {kind: seed, widths: [4, 8], batch_norm: true}
  fusion: [{kind: film}]
  meta_tower: {hidden: [8]}
  head: {hidden: [16], dropout: 0.2}
train:
  epochs: 3
  batch_size: 8
  optimizer: {kind: adamw, lr: 0.01}
  schedule: {kind: cosine, warmup_epochs: 0.5}
  class_weights: inverse-frequency
  grad_clip: 5
  seed: 11
  workers: 2
  log_every: 2
  keep: last
  augment: {flip_h: 0.5, noise: 0.01}
`

func loadConfig(t testing.TB, dir, text string) *config.Config {
	t.Helper()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sameWeights fails unless a and b hold bit-identical parameters.
func sameWeights(t *testing.T, what string, a, b nn.Module) {
	t.Helper()
	sa, sb := nn.StateDict(a), nn.StateDict(b)
	if len(sa) != len(sb) {
		t.Fatalf("%s: %d vs %d tensors", what, len(sa), len(sb))
	}
	for name, ta := range sa {
		tb := sb[name]
		for i, v := range ta.Data() {
			if math.Float32bits(v) != math.Float32bits(tb.Data()[i]) {
				t.Fatalf("%s: %s[%d] = %v vs %v: weights differ", what, name, i, v, tb.Data()[i])
			}
		}
	}
}

func TestResumeAfterInterruptionIsBitExact(t *testing.T) {
	dir := t.TempDir()
	writeDataset(t, dir, 50, 1)
	cfg := loadConfig(t, dir, tinyConfig)
	ctx := context.Background()

	// The uninterrupted run: 3 epochs.
	var logA bytes.Buffer
	a, err := Run(ctx, Options{Config: cfg, Checkpoint: filepath.Join(dir, "a.ckpt"), Log: &logA})
	if err != nil {
		t.Fatal(err)
	}
	if a.Summary.Epochs != 3 || a.Summary.Steps != 15 {
		t.Fatalf("summary %+v, want 3 epochs of 5 steps", a.Summary)
	}

	for _, stopAt := range []int64{5, 7} { // at the end of epoch 1; inside epoch 2
		t.Run(fmt.Sprintf("stop after step %d", stopAt), func(t *testing.T) {
			ckpt := filepath.Join(t.TempDir(), "b.ckpt")
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			_, err := Run(cctx, Options{Config: cfg, Checkpoint: ckpt, Progress: func(p Progress) {
				if p.Step == stopAt && (p.EpochDone != nil || stopAt != 5) {
					cancel()
				}
			}})
			var ie *InterruptedError
			if !errors.As(err, &ie) || !errors.Is(err, ErrInterrupted) || !errors.Is(err, context.Canceled) {
				t.Fatalf("error %v (%T), want an *InterruptedError matching ErrInterrupted and context.Canceled", err, err)
			}
			if ie.Checkpoint != ckpt || ie.Position.Step != stopAt {
				t.Fatalf("interrupted at %+v into %q, want step %d into %q", ie.Position, ie.Checkpoint, stopAt, ckpt)
			}
			var logB bytes.Buffer
			b, err := Resume(ctx, ckpt, Options{Config: cfg, Log: &logB, Workers: 1})
			if err != nil {
				t.Fatal(err)
			}
			sameWeights(t, "resumed vs uninterrupted", a.Network, b.Network)
			ha, hb := a.Summary.History, b.Summary.History
			if len(ha) != len(hb) {
				t.Fatalf("history lengths %d vs %d", len(ha), len(hb))
			}
			for i := range ha {
				if *ha[i].ValLoss != *hb[i].ValLoss || *ha[i].ValAccuracy != *hb[i].ValAccuracy || ha[i].LR != hb[i].LR {
					t.Errorf("epoch %d: val loss %v vs %v, accuracy %v vs %v, lr %v vs %v", i+1,
						*ha[i].ValLoss, *hb[i].ValLoss, *ha[i].ValAccuracy, *hb[i].ValAccuracy, ha[i].LR, hb[i].LR)
				}
			}
			if !strings.Contains(logB.String(), `"event":"resume"`) {
				t.Errorf("resumed log lacks the resume event:\n%s", logB.String())
			}
		})
	}

	// The JSON-lines log: one object per line, epochs and steps.
	events := map[string]int{}
	sc := bufio.NewScanner(&logA)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		events[m["event"].(string)]++
		if m["event"] == "epoch" {
			for _, k := range []string{"epoch", "train_loss", "val_loss", "val_accuracy", "val_balanced_accuracy", "lr", "images_per_sec"} {
				if _, ok := m[k]; !ok {
					t.Errorf("epoch line lacks %q: %s", k, sc.Text())
				}
			}
		}
	}
	if events["start"] != 1 || events["epoch"] != 3 || events["step"] != 7 || events["end"] != 1 {
		t.Errorf("log events %v, want start 1, epoch 3, step 7 (every 2 of 15), end 1", events)
	}
}

func TestTrainOneEpochThenResumeForTwo(t *testing.T) {
	dir := t.TempDir()
	writeDataset(t, dir, 40, 2)
	text := strings.Replace(tinyConfig, "schedule: {kind: cosine, warmup_epochs: 0.5}", "schedule: {kind: step, step_size: 1, gamma: 0.5}", 1)
	text = strings.Replace(text, "keep: last", "keep: best", 1)
	cfg := loadConfig(t, dir, text)
	ctx := context.Background()
	a, err := Run(ctx, Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(dir, "one.ckpt")
	one, err := Run(ctx, Options{Config: cfg, Epochs: 1, Checkpoint: ckpt})
	if err != nil {
		t.Fatal(err)
	}
	if one.Summary.Epochs != 1 {
		t.Fatalf("ran %d epochs, want 1", one.Summary.Epochs)
	}
	b, err := Resume(ctx, ckpt, Options{Epochs: 3})
	if err != nil {
		t.Fatal(err)
	}
	if b.Summary.Epochs != 3 || !b.Summary.Resumed || b.Summary.Kept != "best" {
		t.Fatalf("resumed summary %+v", b.Summary)
	}
	sameWeights(t, "1 + 2 epochs vs 3", a.Network, b.Network)
	if *a.Summary.Best != *b.Summary.Best || a.Summary.BestEpoch != b.Summary.BestEpoch {
		t.Errorf("best %v at %d vs %v at %d", *a.Summary.Best, a.Summary.BestEpoch, *b.Summary.Best, b.Summary.BestEpoch)
	}
}

func TestLearnsAndReportsMetrics(t *testing.T) {
	dir := t.TempDir()
	writeDataset(t, dir, 100, 3)
	text := strings.NewReplacer("epochs: 3", "epochs: 12", "lr: 0.01", "lr: 0.02", "dropout: 0.2", "dropout: 0",
		"schedule: {kind: cosine, warmup_epochs: 0.5}", "schedule: {kind: cosine}",
		"data:\n  train: train.csv\n  val: val.csv", "data:\n  manifest: all.csv").Replace(tinyConfig)
	cfg := loadConfig(t, dir, text)
	var last Progress
	res, err := Run(context.Background(), Options{Config: cfg, Progress: func(p Progress) { last = p }})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Summary
	if s.TrainRows != 80 || s.ValRows != 20 || len(res.Classes) != 2 || res.Classes[0] != "0" {
		t.Fatalf("rows %d/%d, classes %v", s.TrainRows, s.ValRows, res.Classes)
	}
	final := s.History[len(s.History)-1]
	// The task is easy (brightness XOR m > 0.5); an untrained model is at chance.
	if *final.ValAccuracy < 0.85 || final.TrainAccuracy < 0.85 {
		t.Errorf("after %d epochs: train accuracy %.2f, val accuracy %.2f; want both >= 0.85", s.Epochs, final.TrainAccuracy, *final.ValAccuracy)
	}
	if last.EpochDone == nil || last.Epoch != 12 || !last.HasValue || last.ImagesPerSec <= 0 {
		t.Errorf("last progress %+v", last)
	}
	if res.Schema == nil || res.Schema.Width() == 0 || res.Input != [3]int{3, 8, 8} {
		t.Errorf("schema %v, input %v", res.Schema, res.Input)
	}
}

func TestEarlyStopping(t *testing.T) {
	r := &run{cfg: config.Config{Train: config.Train{Keep: "last", EarlyStopping: config.EarlyStopping{Metric: "val_accuracy", Mode: "max", Patience: 2, MinDelta: 0.01}}}}
	for i, tc := range []struct {
		metric   float64
		improved bool
		bad      int
		stopped  bool
	}{
		{0.5, true, 0, false},
		{0.505, false, 1, false}, // within min_delta
		{0.6, true, 0, false},
		{math.NaN(), false, 1, false}, // NaN never improves
		{0.55, false, 2, true},
	} {
		if got := r.improve(tc.metric, i+1); got != tc.improved || r.early.Bad != tc.bad || r.early.Stopped != tc.stopped {
			t.Errorf("epoch %d metric %v: improved %v bad %d stopped %v, want %v %d %v", i+1, tc.metric, got, r.early.Bad, r.early.Stopped, tc.improved, tc.bad, tc.stopped)
		}
	}
	if *r.early.Best != 0.6 || r.early.BestEpoch != 3 {
		t.Errorf("best %v at %d, want 0.6 at 3", *r.early.Best, r.early.BestEpoch)
	}
}

func TestClassWeights(t *testing.T) {
	rows := []data.Row{{Class: 0}, {Class: 0}, {Class: 0}, {Class: 1}}
	// inverse-frequency: n / (classes * count): 4/(3*3), 4/(3*1), and 1 for
	// the class without rows (hand computation).
	w, err := ClassWeights(config.ClassWeights{Mode: "inverse-frequency"}, rows, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{4.0 / 9, 4.0 / 3, 1}
	for i := range want {
		if math.Abs(float64(w[i]-want[i])) > 1e-7 {
			t.Errorf("weights %v, want %v", w, want)
		}
	}
	if w, _ := ClassWeights(config.ClassWeights{Mode: "none"}, rows, 3); w != nil {
		t.Errorf("none: %v", w)
	}
	if _, err := ClassWeights(config.ClassWeights{Mode: "explicit", Weights: []float64{1}}, rows, 3); err == nil {
		t.Error("explicit list of the wrong length: no error")
	}
}

func TestMetrics(t *testing.T) {
	c := newCounter(3)
	// Predictions (arg-max) 0, 1, 1, 2 for labels 0, 1, 0, 0: accuracy 2/4;
	// recalls: class 0 1/3, class 1 1/1, class 2 absent: balanced (1/3 + 1)/2.
	logits := []float32{2, 0, 0, 0, 2, 0, 0, 2, 0, 0, 0, 2}
	c.add(tensorOf(logits, 4, 3), []int{0, 1, 0, 0})
	m := c.metrics()
	if m.N != 4 || m.Accuracy != 0.5 || math.Abs(m.BalancedAccuracy-2.0/3) > 1e-12 {
		t.Errorf("metrics %+v", m)
	}
	// Loss: the two right rows have -log(e^2/(e^2+2)), the two wrong ones -log(1/(e^2+2)).
	e2 := math.Exp(2)
	want := (2*-math.Log(e2/(e2+2)) + 2*-math.Log(1/(e2+2))) / 4
	if math.Abs(m.Loss-want) > 1e-9 {
		t.Errorf("loss %v, want %v", m.Loss, want)
	}
}

func TestResumeChecks(t *testing.T) {
	dir := t.TempDir()
	writeDataset(t, dir, 20, 4)
	text := strings.Replace(tinyConfig, "epochs: 3", "epochs: 1", 1)
	cfg := loadConfig(t, dir, text)
	ckpt := filepath.Join(dir, "c.ckpt")
	if _, err := Run(context.Background(), Options{Config: cfg, Checkpoint: ckpt}); err != nil {
		t.Fatal(err)
	}
	other := *cfg
	other.Train.Seed = 99
	if _, err := Resume(context.Background(), ckpt, Options{Config: &other}); err == nil || !strings.Contains(err.Error(), "section train") {
		t.Errorf("resume with another seed: %v, want a config mismatch naming train", err)
	}
	bad := filepath.Join(dir, "bad.ckpt")
	if err := os.WriteFile(bad, []byte("not a zip"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Resume(context.Background(), bad, Options{}); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("corrupt checkpoint: %v", err)
	}
	// A finished checkpoint resumes to the same result without training.
	res, err := Resume(context.Background(), ckpt, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Summary.Epochs != 1 || res.Summary.Steps != 2 {
		t.Errorf("summary %+v", res.Summary)
	}
}

func TestUnknownValidationLabelIsABadRow(t *testing.T) {
	dir := t.TempDir()
	writeDataset(t, dir, 20, 5)
	all, err := os.ReadFile(filepath.Join(dir, "all.csv"))
	if err != nil {
		t.Fatal(err)
	}
	all = append(all, []byte("img/000.png,7,0.5,c1,val\n")...)
	if err := os.WriteFile(filepath.Join(dir, "all.csv"), all, 0o644); err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(tinyConfig, "data:\n  train: train.csv\n  val: val.csv", "data:\n  manifest: all.csv", 1)
	cfg := loadConfig(t, dir, text)
	_, err = Run(context.Background(), Options{Config: cfg})
	if err == nil || !strings.Contains(err.Error(), "row 22") || !strings.Contains(err.Error(), `label "7"`) {
		t.Fatalf("error %v, want row 22 and label 7", err)
	}
	cfg.Data.OnBadRow = "skip"
	cfg.Train.Epochs = 1
	res, err := Run(context.Background(), Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if res.Summary.SkippedRows != 1 || len(res.Skipped) != 1 || res.Skipped[0].Kind != data.KindBadLabel {
		t.Errorf("skipped %v", res.Skipped)
	}
}

func tensorOf(v []float32, shape ...int) *tensor.Tensor { return tensor.FromSlice(v, shape...) }

func TestSeedPresetTrainsAndBundles(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(9, 9))
	var sb strings.Builder
	sb.WriteString("path,label,m1,m2\n")
	for i := range 16 {
		img := image.NewRGBA(image.Rect(0, 0, 56, 56))
		v := uint8(rng.IntN(256))
		for y := range 56 {
			for x := range 56 {
				img.Set(x, y, color.RGBA{v, uint8(x * 4), uint8(y * 4), 255})
			}
		}
		name := fmt.Sprintf("%02d.png", i)
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		png.Encode(f, img)
		f.Close()
		fmt.Fprintf(&sb, "%s,%d,%.2f,%.2f\n", name, i%2, rng.Float64(), rng.Float64())
	}
	os.WriteFile(filepath.Join(dir, "train.csv"), []byte(sb.String()), 0o644)
	cfg := loadConfig(t, dir, "data: {train: train.csv}\nmodel: {arch: seed-film}\ntrain: {epochs: 1, batch_size: 8}\n")
	res, err := Run(context.Background(), Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if res.Input != [3]int{3, 56, 56} || res.Schema.Width() != 2 || strings.Join(res.Classes, ",") != "0,1" {
		t.Fatalf("input %v, schema width %d, classes %v", res.Input, res.Schema.Width(), res.Classes)
	}
	if _, err := model.NewBundle(res.Network, res.Schema, res.Image, res.Classes); err != nil {
		t.Errorf("the preset's result does not bundle: %v", err)
	}
	// The metadata a preset reads is fixed.
	bad := "data: {train: train.csv}\nmodel: {arch: seed-film}\nmetadata: {columns: [{name: m1, type: numeric}]}\n"
	os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(bad), 0o644)
	if _, err := config.Load(filepath.Join(dir, "bad.yaml")); err == nil || !strings.Contains(err.Error(), "m1, m2") {
		t.Errorf("preset with other metadata: %v", err)
	}
}

// TestWarmupLongerThanRun: an --epochs override shorter than the cosine
// warm-up is refused with an error naming the config key.
func TestWarmupLongerThanRun(t *testing.T) {
	dir := t.TempDir()
	writeDataset(t, dir, 40, 2)
	text := strings.Replace(tinyConfig, "warmup_epochs: 0.5", "warmup_epochs: 1.5", 1)
	cfg := loadConfig(t, dir, text)
	_, err := Run(context.Background(), Options{Config: cfg, Epochs: 1})
	if err == nil || !strings.Contains(err.Error(), "train.schedule.warmup_epochs: 1.5 warm-up epochs do not fit in a run of 1 epochs") {
		t.Fatalf("err = %v", err)
	}
}

// TestOneRowBatchesOfOneByOneNorms trains a ResNet whose last stage is 1x1,
// where a one-row batch has no batch statistics (model.MinTrainBatch 2):
// with 33 training rows in batches of 8 every epoch's last batch has one
// row, which the run leaves out and reports instead of failing; and a batch
// that a corrupt image shrinks to one row is left out and counted.
func TestOneRowBatchesOfOneByOneNorms(t *testing.T) {
	dir := t.TempDir()
	writeDataset(t, dir, 41, 3) // 33 training rows
	text := `
data:
  train: train.csv
  val: val.csv
  image: {size: 4}
  on_bad_row: skip
model:
  backbone: {kind: resnet, depth: 8, width_multiplier: 0.0625, stem: small}
train:
  epochs: 2
  batch_size: 8
  seed: 1
`
	res, err := Run(context.Background(), Options{Config: loadConfig(t, dir, text)})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Summary
	if !s.DropsLastRow || s.Steps != 2*4 || s.SmallBatches != 0 || s.TrainRows != 33 {
		t.Errorf("summary: drops last row %v, %d steps (want 8), %d small batches, %d train rows", s.DropsLastRow, s.Steps, s.SmallBatches, s.TrainRows)
	}

	// Batches of 2 over 32 rows, one image truncated after its PNG header:
	// its batch keeps one row.
	lines := strings.Split(strings.TrimSpace(readFile(t, filepath.Join(dir, "train.csv"))), "\n")
	if err := os.WriteFile(filepath.Join(dir, "train.csv"), []byte(strings.Join(lines[:33], "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := strings.SplitN(lines[5], ",", 2)[0]
	png := []byte(readFile(t, filepath.Join(dir, bad)))
	if err := os.WriteFile(filepath.Join(dir, bad), png[:60], 0o644); err != nil {
		t.Fatal(err)
	}
	text = strings.Replace(text, "batch_size: 8", "batch_size: 2", 1)
	res, err = Run(context.Background(), Options{Config: loadConfig(t, dir, text)})
	if err != nil {
		t.Fatal(err)
	}
	s = res.Summary
	if s.DropsLastRow || s.SmallBatches != 2 || s.Steps != 2*16-2 || s.SkippedRows != 1 {
		t.Errorf("summary: drops last row %v, %d small batches (want 2: one per epoch), %d steps (want 30), %d skipped rows",
			s.DropsLastRow, s.SmallBatches, s.Steps, s.SkippedRows)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

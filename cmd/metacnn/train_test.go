package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/metacnn/metacnn/config"
	"github.com/metacnn/metacnn/meta"
	"github.com/metacnn/metacnn/model"
	"github.com/metacnn/metacnn/nn"
)

// writeTinyDataset writes n 8x8 PNGs and all.csv with the columns path,
// label, camera, hour, temp, when, flag, grade, id, note, split. The label
// is "good" for bright images unless flag is yes.
func writeTinyDataset(t *testing.T, dir string, n int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 7))
	if err := os.MkdirAll(filepath.Join(dir, "img"), 0o755); err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	sb.WriteString("path,label,camera,hour,temp,when,flag,grade,id,note,split\n")
	for i := range n {
		bright := rng.IntN(2) == 1
		flag := []string{"yes", "no"}[rng.IntN(2)]
		label := "bad"
		if bright != (flag == "yes") {
			label = "good"
		}
		base := 60
		if bright {
			base = 180
		}
		img := image.NewRGBA(image.Rect(0, 0, 8, 8))
		for y := range 8 {
			for x := range 8 {
				v := uint8(base + rng.IntN(30))
				img.Set(x, y, color.RGBA{v, v, v, 255})
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
		split := []string{"train", "train", "train", "val", "test"}[i%5]
		temp := fmt.Sprintf("%.2f", 20+10*rng.Float64())
		if i == 3 {
			temp = "" // one missing value
		}
		fmt.Fprintf(&sb, "%s,%s,cam%d,%d,%s,2024-03-%02dT%02d:15:00Z,%s,%d,id%04d,,%s\n",
			name, label, rng.IntN(3), rng.IntN(24), temp, 1+rng.IntN(28), rng.IntN(24), flag, 1+rng.IntN(3), i, split)
	}
	if err := os.WriteFile(filepath.Join(dir, "all.csv"), []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestInitInfersColumns(t *testing.T) {
	dir := t.TempDir()
	writeTinyDataset(t, dir, 40)
	out := filepath.Join(dir, "conf", "config.yaml")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, "init", "--data", filepath.Join(dir, "all.csv"), "--out", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	c, err := config.Load(out)
	if err != nil {
		t.Fatalf("the written config does not load: %v", err)
	}
	if c.Data.Manifest != filepath.Join(dir, "all.csv") || c.Data.SplitColumn != "split" || c.Data.ImageColumn != "path" {
		t.Errorf("data section %+v", c.Data)
	}
	if strings.Join(c.Data.Classes, ",") != "bad,good" || c.Data.Image.Size != 8 {
		t.Errorf("classes %v, image size %d", c.Data.Classes, c.Data.Image.Size)
	}
	want := map[string]meta.ColumnSpec{
		"camera": {Name: "camera", Type: meta.Categorical},
		"hour":   {Name: "hour", Type: meta.Cyclical, Period: 24},
		"temp":   {Name: "temp", Type: meta.Numeric},
		"when":   {Name: "when", Type: meta.Timestamp},
		"flag":   {Name: "flag", Type: meta.Boolean},
		"grade":  {Name: "grade", Type: meta.Categorical},
	}
	got := map[string]meta.ColumnSpec{}
	for _, s := range c.Metadata.Columns {
		got[s.Name] = s
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok || g.Type != w.Type || g.Period != w.Period || g.Encoding != w.Encoding {
			t.Errorf("column %s: got %+v, want %+v", name, g, w)
		}
	}
	for _, name := range []string{"id", "note", "split", "path", "label"} {
		if _, ok := got[name]; ok {
			t.Errorf("column %s should not be metadata", name)
		}
	}
	text, _ := os.ReadFile(out)
	for _, why := range []string{
		"# hour: named hour with integers", "# when: every value is an RFC 3339 time", "# flag: every value is true/false or yes/no",
		"# grade: integers with only 3 distinct values", "# temp: every value is a number", "1 of 40 values are empty",
		"# left out: id: every one of the 40 values is different", "# left out: note: every value is empty",
		`manifest: "../all.csv"`,
	} {
		if !strings.Contains(string(text), why) {
			t.Errorf("config lacks %q:\n%s", why, text)
		}
	}
	// Never overwrite without --force.
	code, _, stderr = run(t, "init", "--data", filepath.Join(dir, "all.csv"), "--out", out)
	if code != 1 || !strings.Contains(stderr, "--force") {
		t.Errorf("existing --out: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := run(t, "init", "--data", filepath.Join(dir, "all.csv"), "--out", out, "--force"); code != 0 {
		t.Errorf("--force: exit %d: %s", code, stderr)
	}
	// A label column that is not there, and a renamed image column.
	if code, _, stderr := run(t, "init", "--data", filepath.Join(dir, "all.csv"), "--out", out, "--force", "--label", "class"); code != 1 || !strings.Contains(stderr, `no label column "class"`) {
		t.Errorf("--label class: exit %d, %s", code, stderr)
	}
	csv, _ := os.ReadFile(filepath.Join(dir, "all.csv"))
	renamed := filepath.Join(dir, "renamed.csv")
	os.WriteFile(renamed, []byte(strings.Replace(string(csv), "path,", "file,", 1)), 0o644)
	if code, _, stderr := run(t, "init", "--data", renamed, "--out", out, "--force"); code != 0 {
		t.Fatalf("renamed image column: exit %d: %s", code, stderr)
	}
	if c, err := config.Load(out); err != nil || c.Data.ImageColumn != "file" {
		t.Errorf("image column detected as %q (%v), want file", c.Data.ImageColumn, err)
	}
}

func TestInitUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"init"},
		{"init", "--data", "rows.txt"},
		{"init", "--data", "a.csv", "--out", ""},
		{"train", "--config", "c.yaml"},
		{"train", "--out", "m.mcnn"},
		{"train", "--config", "c.yaml", "--out", "m.mcnn", "--on-bad-row", "ignore"},
		{"train", "--config", "c.yaml", "--out", "m.mcnn", "--epochs", "-1"},
		{"train", "--config", "c.yaml", "--out", "m.mcnn", "--steps", "-1"},
		{"train", "--config", "c.yaml", "--out", "m.mcnn", "--epochs", "2", "--steps", "30"},
		{"train", "--out", "m.mcnn", "--resume", "x.ckpt", "--epochs", "0", "--steps", "30"},
		{"train", "--out", "m.mcnn", "--resume", "x.ckpt", "--seed", "3"},
	} {
		if code, _, stderr := run(t, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2\n%s", args, code, stderr)
		}
	}
}

// cancelOn cancels when a line containing marker is written (the train
// command's progress line for an epoch), standing in for Ctrl-C.
type cancelOn struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker string
	cancel context.CancelFunc
}

func (c *cancelOn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Write(p)
	if strings.Contains(c.buf.String(), c.marker) {
		c.cancel()
	}
	return len(p), nil
}

// initTinyConfig writes a 50-row dataset into a new directory, runs
// `metacnn init` on it and shrinks the config to a 3-epoch run of a tiny
// network; it returns the directory and the config's path.
func initTinyConfig(t *testing.T) (dir, cfgPath string) {
	t.Helper()
	dir = t.TempDir()
	writeTinyDataset(t, dir, 50)
	cfgPath = filepath.Join(dir, "config.yaml")
	if code, _, stderr := run(t, "init", "--data", filepath.Join(dir, "all.csv"), "--out", cfgPath); code != 0 {
		t.Fatalf("init: %s", stderr)
	}
	text, _ := os.ReadFile(cfgPath)
	small := strings.NewReplacer("widths: [32, 64]", "widths: [4, 8]", "epochs: 20", "epochs: 3", "batch_size: 32", "batch_size: 8",
		"patience: 5", "patience: 0").Replace(string(text))
	os.WriteFile(cfgPath, []byte(small), 0o644)
	return dir, cfgPath
}

func TestInitTrainInterruptResume(t *testing.T) {
	dir, cfgPath := initTinyConfig(t)

	// Uninterrupted.
	full := filepath.Join(dir, "full.mcnn")
	code, stdout, stderr := run(t, "train", "--config", cfgPath, "--out", full)
	if code != 0 {
		t.Fatalf("train: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, w := range []string{"trained 3 epochs", "rows: train 30, val 10, test 10", "test  ", "model: " + full} {
		if !strings.Contains(stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, stdout)
		}
	}
	if !strings.Contains(stderr, "epoch 3/3: train loss") {
		t.Errorf("stderr lacks the epoch lines:\n%s", stderr)
	}
	for _, f := range []string{"full.ckpt", "full.train.jsonl"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}

	// Interrupted after epoch 1, then resumed.
	part := filepath.Join(dir, "part.mcnn")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errw := &cancelOn{marker: "epoch 1/3:", cancel: cancel}
	var out bytes.Buffer
	code = execute(ctx, []string{"train", "--config", cfgPath, "--out", part}, &out, errw)
	if code != 1 || !strings.Contains(errw.buf.String(), "interrupted") || !strings.Contains(errw.buf.String(), "resume with: metacnn train") {
		t.Fatalf("interrupted train: exit %d\n%s", code, errw.buf.String())
	}
	if _, err := os.Stat(part); err == nil {
		t.Error("an interrupted run wrote the model file")
	}
	ckpt := filepath.Join(dir, "part.ckpt")
	code, stdout, stderr = run(t, "train", "--config", cfgPath, "--out", part, "--resume", ckpt)
	if code != 0 {
		t.Fatalf("resume: exit %d\n%s\n%s", code, stdout, stderr)
	}
	a, err := model.Load(full)
	if err != nil {
		t.Fatal(err)
	}
	b, err := model.Load(part)
	if err != nil {
		t.Fatal(err)
	}
	sa, sb := nn.StateDict(a.Net), nn.StateDict(b.Net)
	for name, ta := range sa {
		for i, v := range ta.Data() {
			if math.Float32bits(v) != math.Float32bits(sb[name].Data()[i]) {
				t.Fatalf("%s[%d]: %v vs %v: the resumed model differs from the uninterrupted one", name, i, v, sb[name].Data()[i])
			}
		}
	}
	if a.Schema == nil || strings.Join(a.Classes, ",") != "bad,good" || a.Input != [3]int{3, 8, 8} {
		t.Errorf("model file: classes %v, input %v, schema %v", a.Classes, a.Input, a.Schema)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "part.train.jsonl"))
	for _, ev := range []string{`"event":"interrupted"`, `"event":"resume"`, `"event":"end"`} {
		if !strings.Contains(string(log), ev) {
			t.Errorf("log lacks %s", ev)
		}
	}
}

// FuzzInferColumn checks that whatever values a column holds, init picks a
// spec that makes a valid config.
func FuzzInferColumn(f *testing.F) {
	f.Add("hour", "0\n5\n23")
	f.Add("camera", "cam1\ncam2\n\ncam1")
	f.Add("t", "2024-01-02T03:04:05Z\n2024-01-02T03:04:05.5+02:00")
	f.Add("x", "1e308\n-1e308\nNaN")
	f.Add("flag", "Yes\nno")
	f.Add("weird \"name\": #", "a\n\x00\n\u00e9")
	f.Fuzz(func(t *testing.T, name, values string) {
		if strings.TrimSpace(name) == "" || !utf8Valid(name) {
			return
		}
		ic := inferColumn(name, strings.Split(values, "\n"))
		if ic.lines == nil {
			return
		}
		var sb strings.Builder
		sb.WriteString("data: {train: a.csv}\nmetadata:\n  columns:\n" + ic.yaml())
		c, err := config.Parse([]byte(sb.String()))
		if err != nil {
			t.Fatalf("%v\n%s", err, sb.String())
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("%v\n%s", err, sb.String())
		}
		if got := strings.TrimSpace(c.Metadata.Columns[0].Name); got != strings.TrimSpace(name) {
			t.Fatalf("name %q read back as %q", name, got)
		}
	})
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// TestTrainSteps: --steps replaces the config's train.epochs; the run
// trains exactly that many steps, the last epoch cut short.
func TestTrainSteps(t *testing.T) {
	dir := t.TempDir()
	writeTinyDataset(t, dir, 50)
	cfgPath := filepath.Join(dir, "config.yaml")
	if code, _, stderr := run(t, "init", "--data", filepath.Join(dir, "all.csv"), "--out", cfgPath); code != 0 {
		t.Fatalf("init: %s", stderr)
	}
	text, _ := os.ReadFile(cfgPath)
	small := strings.NewReplacer("widths: [32, 64]", "widths: [4, 8]", "epochs: 20", "epochs: 3", "batch_size: 32", "batch_size: 8",
		"patience: 5", "patience: 0").Replace(string(text))
	os.WriteFile(cfgPath, []byte(small), 0o644)
	out := filepath.Join(dir, "s.mcnn")
	// 30 training rows in batches of 8: 4 steps per epoch, so 6 steps is 2 epochs.
	code, stdout, stderr := run(t, "train", "--config", cfgPath, "--out", out, "--steps", "6")
	if code != 0 {
		t.Fatalf("train: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "trained 2 epochs, 6 steps") || !strings.Contains(stderr, "epoch 2/2: train loss") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	code, _, stderr = run(t, "train", "--config", cfgPath, "--out", out, "--steps", "6", "--epochs", "1")
	if code != 2 || !strings.Contains(stderr, "--epochs and --steps") {
		t.Errorf("--epochs with --steps: exit %d, want 2\n%s", code, stderr)
	}
}

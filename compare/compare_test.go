package compare

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metacnn/metacnn/config"
	"github.com/metacnn/metacnn/fusion"
)

// task writes a tiny dataset to dir: 8x8 grey images, bright or dark, with
// a categorical column flag (a or b) and a numeric column noise (uniform,
// unrelated to anything), and returns its config. label(bright, flagB)
// decides each row's class.
func task(t *testing.T, dir string, label func(bright, flagB bool) bool) *config.Config {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 11))
	if err := os.MkdirAll(filepath.Join(dir, "img"), 0o755); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{"train": 240, "val": 60, "test": 120}
	i := 0
	for _, split := range []string{"train", "val", "test"} {
		var sb strings.Builder
		sb.WriteString("path,label,flag,noise\n")
		for range counts[split] {
			bright, flagB := rng.IntN(2) == 1, rng.IntN(2) == 1
			img := image.NewGray(image.Rect(0, 0, 8, 8))
			for p := range img.Pix {
				v := 60 + rng.IntN(40)
				if bright {
					v += 120
				}
				img.Pix[p] = uint8(v)
			}
			name := fmt.Sprintf("img/%04d.png", i)
			i++
			f, err := os.Create(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if err := png.Encode(f, img); err != nil {
				t.Fatal(err)
			}
			f.Close()
			lab, flag := "neg", "a"
			if label(bright, flagB) {
				lab = "pos"
			}
			if flagB {
				flag = "b"
			}
			fmt.Fprintf(&sb, "%s,%s,%s,%.3f\n", name, lab, flag, rng.Float64()*10)
		}
		if err := os.WriteFile(filepath.Join(dir, split+".csv"), []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := `data:
  train: train.csv
  val: val.csv
  test: test.csv
  image: {size: 8}
metadata:
  columns:
    - {name: flag, type: categorical}
    - {name: noise, type: numeric}
model:
  backbone: {widths: [4], batch_norm: true}
  meta_tower: {hidden: [8]}
  head: {hidden: [16]}
train:
  epochs: 12
  batch_size: 16
  optimizer: {kind: adam, lr: 0.01}
  keep: last
`
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func runTask(t *testing.T, cfg *config.Config) *Result {
	t.Helper()
	events := 0
	r, err := Run(context.Background(), Options{
		Config: cfg, Fusions: []fusion.Kind{fusion.KindConcat, fusion.KindFiLM}, Seeds: 2,
		Resamples: 999, Workers: 2, Progress: func(Event) { events++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	if events == 0 {
		t.Error("no progress events")
	}
	var sb strings.Builder
	if err := r.WriteText(&sb); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", sb.String())
	return r
}

// The label is the image's brightness XOR the flag: without the flag the
// image says nothing (chance), with it the task is easy.
func TestMetadataMatters(t *testing.T) {
	dir := t.TempDir()
	r := runTask(t, task(t, dir, func(bright, flagB bool) bool { return bright != flagB }))
	if !r.Verdict.Significant {
		t.Fatalf("verdict %q: want a significant gain", r.Verdict.Line)
	}
	if !strings.Contains(r.Verdict.Line, "balanced-accuracy points over image-only (p ") || r.Verdict.Gain < 20 {
		t.Errorf("verdict %q: want a large gain named", r.Verdict.Line)
	}
	none, best := r.Fusion("none"), r.Fusion(r.Best)
	if got := float64(none.Metrics.BalancedAccuracy.Mean); got > 0.7 {
		t.Errorf("image only scores %.3f balanced accuracy on a task it cannot see; want near 0.5", got)
	}
	// The shuffled control falls from the intact score to about image
	// only's (chance here).
	c := best.ShuffledControl
	if c.DropFromIntact < 0.2 || math.Abs(float64(c.BalancedAccuracy.Mean)-0.5) > 0.15 {
		t.Errorf("shuffled control of %s: %.3f (drop %.3f from intact); want near 0.5", best.Fusion, float64(c.BalancedAccuracy.Mean), c.DropFromIntact)
	}
	// Permutation importance: the flag matters, the noise column does not.
	imp := map[string]float64{}
	for _, im := range best.Importance {
		imp[im.Column] = float64(im.Drop.Mean)
	}
	if len(imp) != 2 || imp["flag"] < 0.2 || math.Abs(imp["noise"]) > 0.1 {
		t.Errorf("importance of %s: %v; want flag ≥ 0.2 and noise near 0", best.Fusion, imp)
	}

	// compare.json: per fusion, mean and std of every metric.
	path := filepath.Join(dir, "compare.json")
	if err := r.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version int    `json:"version"`
		Best    string `json:"best"`
		Verdict struct {
			Line string `json:"line"`
		} `json:"verdict"`
		Fusions []struct {
			Fusion          string                                `json:"fusion"`
			Metrics         map[string]map[string]json.RawMessage `json:"metrics"`
			Runs            []json.RawMessage                     `json:"runs"`
			VsImageOnly     map[string]json.RawMessage            `json:"vs_image_only"`
			ShuffledControl map[string]json.RawMessage            `json:"shuffled_control"`
			Importance      []struct {
				Column string                     `json:"column"`
				Drop   map[string]json.RawMessage `json:"drop"`
			} `json:"importance"`
			Slices []map[string]json.RawMessage `json:"slices"`
		} `json:"fusions"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != Version || doc.Verdict.Line != r.Verdict.Line || doc.Best == "" {
		t.Errorf("compare.json header: version %d, best %q, verdict %q", doc.Version, doc.Best, doc.Verdict.Line)
	}
	var names []string
	for _, f := range doc.Fusions {
		names = append(names, f.Fusion)
		for _, m := range []string{"accuracy", "balanced_accuracy", "macro_f1", "roc_auc", "log_loss"} {
			for _, k := range []string{"mean", "std", "values"} {
				if _, ok := f.Metrics[m][k]; !ok {
					t.Errorf("compare.json: %s.metrics.%s lacks %q", f.Fusion, m, k)
				}
			}
		}
		if len(f.Runs) != 2 {
			t.Errorf("compare.json: %s has %d runs, want 2", f.Fusion, len(f.Runs))
		}
		// flag: a, b; noise: 4 quantile bins.
		if len(f.Slices) != 6 {
			t.Errorf("compare.json: %s has %d slices, want 6", f.Fusion, len(f.Slices))
		}
		if f.Fusion == "none" {
			if f.VsImageOnly != nil || f.ShuffledControl != nil || f.Importance != nil {
				t.Errorf("compare.json: none has a comparison, control or importance")
			}
			continue
		}
		for _, k := range []string{"p_value", "p_value_holm", "significant", "paired", "balanced_accuracy_diff"} {
			if _, ok := f.VsImageOnly[k]; !ok {
				t.Errorf("compare.json: %s.vs_image_only lacks %q", f.Fusion, k)
			}
		}
		if _, ok := f.ShuffledControl["balanced_accuracy"]; !ok {
			t.Errorf("compare.json: %s lacks the shuffled control", f.Fusion)
		}
		if len(f.Importance) != 2 || f.Importance[0].Column != "flag" || f.Importance[1].Column != "noise" || f.Importance[0].Drop["mean"] == nil {
			t.Errorf("compare.json: %s importance %+v, want flag and noise", f.Fusion, f.Importance)
		}
	}
	if strings.Join(names, ",") != "none,concat,film" {
		t.Errorf("compare.json fusions %v, want none, concat, film", names)
	}
	rep := filepath.Join(dir, "report")
	page, err := r.WriteReport(rep)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := os.ReadFile(page)
	if !strings.Contains(html.UnescapeString(string(h)), r.Verdict.Line) {
		t.Error("the report lacks the verdict")
	}
	for _, f := range []string{ReportFile, JSONFile, MetricsFigure, ImportanceFile, "slices-1-flag.png", "slices-2-noise.png"} {
		if st, err := os.Stat(filepath.Join(rep, f)); err != nil || st.Size() == 0 {
			t.Errorf("report file %s: %v", f, err)
		} else if f != ReportFile && f != JSONFile && !strings.Contains(string(h), `src="`+f+`"`) && !strings.Contains(string(h), `href="`+f+`"`) {
			t.Errorf("index.html does not show %s", f)
		}
	}
}

// The label is the brightness alone; the metadata is noise.
func TestMetadataDoesNotMatter(t *testing.T) {
	r := runTask(t, task(t, t.TempDir(), func(bright, _ bool) bool { return bright }))
	if r.Verdict.Significant || !strings.HasPrefix(r.Verdict.Line, "no significant gain from metadata") {
		t.Fatalf("verdict %q: want no significant gain", r.Verdict.Line)
	}
}

func TestOptions(t *testing.T) {
	cfg := &config.Config{}
	cfg.Metadata.Columns = nil
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{}, "no config"},
		{Options{Config: cfg}, "no metadata columns"},
	} {
		_, err := Run(context.Background(), tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Run(%+v) = %v, want an error containing %q", tc.opts, err, tc.want)
		}
	}
	withMeta := task(t, t.TempDir(), func(b, _ bool) bool { return b })
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{Config: withMeta, Fusions: []fusion.Kind{fusion.KindNone}}, "no metadata fusion"},
		{Options{Config: withMeta, Fusions: []fusion.Kind{fusion.KindFiLM, fusion.KindFiLM}}, "twice"},
		{Options{Config: withMeta, Seeds: -1}, "seeds"},
	} {
		_, err := Run(context.Background(), tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Run(%+v) = %v, want an error containing %q", tc.opts, err, tc.want)
		}
	}
}

func TestHolm(t *testing.T) {
	// Hand computation: sorted 0.01, 0.02, 0.04 times 3, 2, 1 = 0.03, 0.04,
	// 0.04 (running maximum).
	got := holm([]float64{0.04, 0.01, 0.02})
	want := []float64{0.04, 0.03, 0.04}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Fatalf("holm = %v, want %v", got, want)
		}
	}
}

func TestStat(t *testing.T) {
	s := stat([]float64{1, 2, 3, 4})
	// mean 2.5; sample std sqrt(((1.5²+0.5²)·2)/3) = sqrt(5/3).
	if float64(s.Mean) != 2.5 || math.Abs(float64(s.Std)-math.Sqrt(5.0/3)) > 1e-12 {
		t.Errorf("stat = %+v", s)
	}
	if one := stat([]float64{0.7}); float64(one.Std) != 0 {
		t.Errorf("std of one seed = %v, want 0", one.Std)
	}
}

func TestSliceKeysBinNumbers(t *testing.T) {
	var metas []map[string]string
	for h := range 24 {
		metas = append(metas, map[string]string{"hour": fmt.Sprint(h), "cam": fmt.Sprint("c", h%3)})
	}
	metas = append(metas, map[string]string{"cam": "c0"}) // hour missing
	keys := sliceKeys(metas, []string{"hour", "cam"})
	if keys[0]["hour"] != "0..5" || keys[23]["hour"] != "18..23" || keys[4]["cam"] != "c1" {
		t.Errorf("keys %v %v %v", keys[0], keys[23], keys[4])
	}
	if _, ok := keys[24]["hour"]; ok {
		t.Error("a missing value got a bin")
	}
	vals := []string{"18..23", missingValue, "0..5", "6..11", "12..17"}
	valueOrder(vals)
	if strings.Join(vals, " ") != "0..5 6..11 12..17 18..23 "+missingValue {
		t.Errorf("order %v", vals)
	}
}

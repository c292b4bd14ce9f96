package explain

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/fusion"
	"github.com/metacnn/metacnn/meta"
	"github.com/metacnn/metacnn/model"
)

// writePNG writes a w x h RGB image with a bright square in the top-left.
func writePNG(t *testing.T, path string, w, h int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{uint8(20 + x%7), uint8(30 + y%5), 40, 255}
			if x < w/3 && y < h/3 {
				c = color.RGBA{230, 200, 90, 255}
			}
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

func TestRunWriteSeedFiLM(t *testing.T) {
	dir := t.TempDir()
	b := seedBundle(t, model.SeedFiLM, 9)
	imgPath := filepath.Join(dir, "x.png")
	writePNG(t, imgPath, 80, 64) // stretched to 56x56 as the preset says
	r, err := Run(b, imgPath, map[string]string{"m1": "0.5", "m2": "2"}, Options{Class: "0"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Explained != 0 || len(r.Probs) != 2 || math.Abs(r.Probs[0]+r.Probs[1]-1) > 1e-9 {
		t.Errorf("explained %d, probs %v", r.Explained, r.Probs)
	}
	if s := r.Heat.Shape(); s[0] != 56 || s[1] != 56 {
		t.Errorf("heat map %v, want [56 56]", s)
	}
	if r.CAM.Features != [3]int{64, 14, 14} {
		t.Errorf("feature map %v, want [64 14 14]", r.CAM.Features)
	}
	if len(r.Modulations) != 1 || len(r.Modulations[0].Gamma) != 64 {
		t.Fatalf("modulations %+v", r.Modulations)
	}
	if len(r.Sweeps) != 2 || r.Sweeps[0].Column != "m1" || r.Sweeps[1].Column != "m2" {
		t.Fatalf("sweeps %+v", r.Sweeps)
	}
	out := filepath.Join(dir, "out")
	files, err := r.Write(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{FileInput, FileCAM, FileOverlay, FileModulation, FileSweep, FileSweepProbs,
		SweepPlotName("film_layer", "m1"), SweepPlotName("film_layer", "m2"), FileJSON}
	if len(files) != len(want) {
		t.Errorf("wrote %v, want %v", files, want)
	}
	for _, name := range want {
		p := filepath.Join(out, name)
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
			continue
		}
		if strings.HasSuffix(name, ".png") {
			decodePNG(t, p)
		}
	}
	if g := decodePNG(t, filepath.Join(out, FileCAM)); g.Bounds().Dx() != 56 || g.Bounds().Dy() != 56 {
		t.Errorf("%s is %v, want 56x56 (one pixel per input pixel)", FileCAM, g.Bounds())
	}
	if o := decodePNG(t, filepath.Join(out, FileOverlay)); o.Bounds().Dx() != 224 {
		t.Errorf("%s is %v, want 224 wide (56 enlarged 4x)", FileOverlay, o.Bounds())
	}
	var js map[string]any
	raw, _ := os.ReadFile(filepath.Join(out, FileJSON))
	if err := json.Unmarshal(raw, &js); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"image", "classes", "probs", "logits", "gradcam", "modulations", "sweeps", "metadata"} {
		if _, ok := js[k]; !ok {
			t.Errorf("%s lacks %q", FileJSON, k)
		}
	}
	csv, _ := os.ReadFile(filepath.Join(out, FileSweep))
	// header + 2 columns x 5 values x 64 channels
	if n := strings.Count(string(csv), "\n"); n != 1+2*5*64 {
		t.Errorf("%s has %d lines, want %d", FileSweep, n, 1+2*5*64)
	}
	var sum bytes.Buffer
	if err := r.Summary(&sum); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"probability", "predicted", "Grad-CAM of class 0", "film_layer (film), 64 channels", "sweep m1 over 5 values"} {
		if !strings.Contains(sum.String(), w) {
			t.Errorf("summary lacks %q:\n%s", w, sum.String())
		}
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	b := seedBundle(t, model.SeedFiLM, 9)
	imgPath := filepath.Join(dir, "x.png")
	writePNG(t, imgPath, 56, 56)
	for _, tc := range []struct {
		name string
		path string
		row  map[string]string
		opts Options
		want string
	}{
		{"unknown column", imgPath, map[string]string{"m1": "0", "m2": "0", "camera": "C1"}, Options{}, `no metadata column "camera"`},
		{"missing raw value", imgPath, map[string]string{"m1": "0"}, Options{}, "m2"},
		{"bad value", imgPath, map[string]string{"m1": "x", "m2": "0"}, Options{}, "m1"},
		{"unknown class", imgPath, map[string]string{"m1": "0", "m2": "0"}, Options{Class: "2"}, `class "2"`},
		{"unknown sweep column", imgPath, map[string]string{"m1": "0", "m2": "0"}, Options{Sweep: map[string][]string{"t": {"1"}}}, `sweep "t"`},
		{"missing image", filepath.Join(dir, "none.png"), map[string]string{"m1": "0", "m2": "0"}, Options{}, "none.png"},
	} {
		_, err := Run(b, tc.path, tc.row, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
	// An image-only network with metadata given.
	concat := seedBundle(t, model.SeedConcat, 1)
	r, err := Run(concat, imgPath, map[string]string{"operator_id": "3"}, Options{NoSweep: true})
	if err != nil || len(r.Modulations) != 0 || len(r.Sweeps) != 0 {
		t.Errorf("seed-concat: %+v, %v", r, err)
	}
}

// A spec network with a categorical and a numeric column, FiLM after the
// last stage and scale+bias after the first: every column is swept, each
// block reports [channels] values per swept value.
func TestRunSpecNetwork(t *testing.T) {
	dir := t.TempDir()
	schema, err := meta.NewSchema([]meta.ColumnSpec{
		{Name: "camera", Type: meta.Categorical},
		{Name: "temp", Type: meta.Numeric},
	})
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]string
	for i, c := range []string{"C1", "C2", "C3", "C2"} {
		rows = append(rows, map[string]string{"camera": c, "temp": strconv.Itoa(20 + i)})
	}
	if err := schema.Fit(rows); err != nil {
		t.Fatal(err)
	}
	spec := model.Spec{
		Backbone: model.BackboneSpec{Widths: []int{4, 6}},
		Fusion: []model.FusionSpec{
			{Kind: fusion.KindFiLM, Options: model.FusionOptions{Raw: true}},
			{Kind: fusion.KindScaleBias, Stages: []int{1}, Options: model.FusionOptions{Raw: true}},
		},
	}
	net, err := model.Build(spec, [3]int{3, 16, 16}, schema.Width(), schema.IDSlots(), 3, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := model.NewBundle(net, schema, data.ImageOptions{Width: 16, Height: 16}, []string{"ok", "scratch", "dent"})
	if err != nil {
		t.Fatal(err)
	}
	imgPath := filepath.Join(dir, "x.png")
	writePNG(t, imgPath, 16, 16)
	r, err := Run(b, imgPath, map[string]string{"camera": "C2"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "temp") {
		t.Errorf("warnings %v, want temp's missing value filled", r.Warnings)
	}
	if len(r.Modulations) != 2 || r.Modulations[0].Block != "scalebias.1" || len(r.Modulations[0].Gamma) != 4 ||
		r.Modulations[1].Block != "film.2" || len(r.Modulations[1].Gamma) != 6 {
		t.Fatalf("modulations %+v", r.Modulations)
	}
	if len(r.Sweeps) != 2 {
		t.Fatalf("%d sweeps, want 2", len(r.Sweeps))
	}
	cam, temp := r.Sweeps[0], r.Sweeps[1]
	if !slices.Equal(cam.Values, []string{"C1", "C2", "C3"}) || cam.Given != 1 {
		t.Errorf("camera sweep %v given %d", cam.Values, cam.Given)
	}
	if len(temp.Values) != 5 || temp.Given != -1 {
		t.Errorf("temp sweep %v given %d, want 5 values around the mean, none given", temp.Values, temp.Given)
	}
	for _, s := range r.Sweeps {
		if len(s.Blocks) != 2 || len(s.Blocks[1].Gamma) != len(s.Values) || len(s.Blocks[1].Gamma[0]) != 6 || len(s.Probs[0]) != 3 {
			t.Errorf("%s: blocks %d", s.Column, len(s.Blocks))
		}
	}
	// The given value's entry equals the row's own modulation.
	if !slices.Equal(cam.Blocks[1].Gamma[1], r.Modulations[1].Gamma) {
		t.Error("the camera sweep at C2 differs from the row's γ")
	}
	if _, err := r.Write(filepath.Join(dir, "out")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{SweepPlotName("film.2", "camera"), SweepPlotName("scalebias.1", "temp")} {
		decodePNG(t, filepath.Join(dir, "out", name))
	}
}

package data

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/metacnn/metacnn/meta"
)

// makeRows writes n distinct w x h RGB PNGs to dir and returns rows for
// them with labels, a camera and a temperature.
func makeRows(t testing.TB, dir string, n, w, h int) []Row {
	rng := rand.New(rand.NewPCG(1, 2))
	rows := make([]Row, n)
	for i := range rows {
		m := image.NewRGBA(image.Rect(0, 0, w, h))
		for p := range m.Pix {
			m.Pix[p] = uint8(rng.IntN(256))
		}
		for p := 3; p < len(m.Pix); p += 4 {
			m.Pix[p] = 255
		}
		file := filepath.Join(dir, fmt.Sprintf("img%04d.png", i))
		writeFile(t, file, encodePNG(t, m))
		rows[i] = Row{Line: i + 2, Path: filepath.Base(file), File: file, Label: fmt.Sprint(i % 3), Class: i % 3,
			Meta: map[string]string{"camera": string(rune('A' + i%4)), "temperature": fmt.Sprint(15 + i%10), "operator": fmt.Sprint(i % 5)}}
	}
	return rows
}

func fittedSchema(t testing.TB, rows []Row) *meta.Schema {
	s, err := meta.NewSchema([]meta.ColumnSpec{
		{Name: "camera", Type: meta.Categorical},
		{Name: "temperature", Type: meta.Numeric},
		{Name: "operator", Type: meta.Categorical, Encoding: meta.Embedding, Dim: 4},
	})
	if err != nil {
		t.Fatal(err)
	}
	ms := make([]map[string]string, len(rows))
	for i, r := range rows {
		ms[i] = r.Meta
	}
	if err := s.Fit(ms); err != nil {
		t.Fatal(err)
	}
	return s
}

func collect(t *testing.T, l *Loader, epoch int) []*Batch {
	t.Helper()
	e := l.Epoch(context.Background(), epoch)
	defer e.Close()
	var out []*Batch
	for {
		b, err := e.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
}

// TestLoaderWorkerIndependence: for a seed, the batches (order, pixels
// after every augmentation, metadata, ids, labels) are the same whatever
// the worker count and prefetch depth.
func TestLoaderWorkerIndependence(t *testing.T) {
	rows := makeRows(t, t.TempDir(), 37, 8, 8)
	schema := fittedSchema(t, rows)
	base := LoaderOptions{
		BatchSize: 5, Shuffle: true, Seed: 42, Schema: schema,
		Image:   ImageOptions{Width: 8, Height: 8, Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{0.25, 0.25, 0.25}},
		Augment: fullAugment(),
	}
	var ref []*Batch
	for _, cfg := range []struct{ workers, prefetch int }{{1, 1}, {2, 2}, {4, 1}, {7, 5}} {
		o := base
		o.Workers, o.Prefetch = cfg.workers, cfg.prefetch
		l, err := NewLoader(rows, o)
		if err != nil {
			t.Fatal(err)
		}
		got := collect(t, l, 3)
		if ref == nil {
			ref = got
			continue
		}
		if len(got) != len(ref) {
			t.Fatalf("workers %d: %d batches, want %d", cfg.workers, len(got), len(ref))
		}
		for i := range got {
			a, b := got[i], ref[i]
			if !reflect.DeepEqual(a.Rows, b.Rows) || !reflect.DeepEqual(a.Labels, b.Labels) || !reflect.DeepEqual(a.IDs, b.IDs) ||
				!slices.Equal(a.Images.Data(), b.Images.Data()) || !slices.Equal(a.Meta.Data(), b.Meta.Data()) {
				t.Fatalf("workers %d prefetch %d: batch %d differs", cfg.workers, cfg.prefetch, i)
			}
		}
	}
	// Shapes, coverage, and the ids and labels matching each sample's row.
	seen := map[int]bool{}
	for i, b := range ref {
		n := b.Len()
		if want := min(5, 37-5*i); n != want || !reflect.DeepEqual(b.Images.Shape(), []int{n, 3, 8, 8}) || !reflect.DeepEqual(b.Meta.Shape(), []int{n, schema.Width()}) {
			t.Fatalf("batch %d: n %d images %v meta %v", i, n, b.Images.Shape(), b.Meta.Shape())
		}
		for k, r := range b.Rows {
			seen[r] = true
			e, _, _ := schema.Encode(rows[r].Meta)
			if b.Labels[k] != rows[r].Class || b.IDs[0][k] != e.IDs[0] || !slices.Equal(b.Meta.Data()[k*schema.Width():(k+1)*schema.Width()], e.Dense) {
				t.Fatalf("batch %d sample %d does not match row %d", i, k, r)
			}
		}
	}
	if len(seen) != 37 {
		t.Errorf("epoch covered %d of 37 rows", len(seen))
	}
}

func TestLoaderOrder(t *testing.T) {
	rows := make([]Row, 10)
	l, err := NewLoader(rows, LoaderOptions{BatchSize: 3, Image: ImageOptions{Width: 1, Height: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(l.Order(5), []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) || l.NumBatches() != 4 {
		t.Error("unshuffled order")
	}
	l, _ = NewLoader(rows, LoaderOptions{BatchSize: 3, Shuffle: true, Seed: 1, DropLast: true, Image: ImageOptions{Width: 1, Height: 1}})
	a, b, c := l.Order(0), l.Order(0), l.Order(1)
	if !reflect.DeepEqual(a, b) || reflect.DeepEqual(a, c) || l.NumBatches() != 3 {
		t.Errorf("orders %v %v %v", a, b, c)
	}
}

func TestLoaderBadSamples(t *testing.T) {
	dir := t.TempDir()
	rows := makeRows(t, dir, 6, 4, 4)
	// Rows 1 and 4 break after loading: a deleted file and a corrupt one.
	os.Remove(rows[1].File)
	writeFile(t, rows[4].File, []byte("garbage"))
	o := LoaderOptions{BatchSize: 4, Image: ImageOptions{Width: 4, Height: 4}, Source: "m.csv"}
	l, _ := NewLoader(rows, o)
	e := l.Epoch(context.Background(), 0)
	_, err := e.Next()
	e.Close()
	var be *BadRowsError
	if !errors.As(err, &be) || be.Problems[0].Row != rows[1].Line || be.Problems[0].Kind != KindMissingImage || be.Problems[0].Source != "m.csv" {
		t.Fatalf("Next under Stop: %v", err)
	}
	o.OnBadRow = Skip
	l, _ = NewLoader(rows, o)
	e = l.Epoch(context.Background(), 0)
	defer e.Close()
	var got []int
	for {
		b, err := e.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if b.Images.Dim(0) != b.Len() {
			t.Fatalf("images %v for %d rows", b.Images.Shape(), b.Len())
		}
		got = append(got, b.Rows...)
	}
	if !reflect.DeepEqual(got, []int{0, 2, 3, 5}) || len(e.Skipped()) != 2 || e.Skipped()[1].Kind != KindBadImage {
		t.Errorf("rows %v skipped %+v", got, e.Skipped())
	}
}

func TestLoaderCancel(t *testing.T) {
	rows := makeRows(t, t.TempDir(), 20, 4, 4)
	l, _ := NewLoader(rows, LoaderOptions{BatchSize: 2, Workers: 2, Prefetch: 1, Image: ImageOptions{Width: 4, Height: 4}})
	ctx, cancel := context.WithCancel(context.Background())
	e := l.Epoch(ctx, 0)
	if _, err := e.Next(); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := e.Next(); !errors.Is(err, context.Canceled) {
		// One batch may already be complete; the one after cannot be.
		if _, err := e.Next(); !errors.Is(err, context.Canceled) {
			t.Errorf("Next after cancel: %v", err)
		}
	}
	e.Close()
	e.Close()
}

func TestAugment(t *testing.T) {
	// 2x2 single channel [a b; c d].
	img := []float32{1, 2, 3, 4}
	scratch := make([]float32, 4)
	Augment{FlipH: 1}.Apply(img, scratch, 1, 2, 2, rand.New(rand.NewPCG(0, 0)))
	if !slices.Equal(img, []float32{2, 1, 4, 3}) {
		t.Errorf("flip h: %v", img)
	}
	Augment{FlipV: 1}.Apply(img, scratch, 1, 2, 2, rand.New(rand.NewPCG(0, 0)))
	if !slices.Equal(img, []float32{4, 3, 2, 1}) {
		t.Errorf("flip v: %v", img)
	}
	// Rotations by quarter turns preserve the multiset of pixels.
	for seed := uint64(0); seed < 8; seed++ {
		x := []float32{1, 2, 3, 4}
		Augment{Rot90: true}.Apply(x, scratch, 1, 2, 2, rand.New(rand.NewPCG(seed, 0)))
		s := slices.Clone(x)
		slices.Sort(s)
		if !slices.Equal(s, []float32{1, 2, 3, 4}) {
			t.Errorf("rot90: %v", x)
		}
	}
	// Jitter stays in [0, 1] and is reproducible from the same generator.
	a := Augment{Brightness: 0.5, Contrast: 0.5, Noise: 0.3}
	x, y := []float32{0, 0.5, 1, 0.2}, []float32{0, 0.5, 1, 0.2}
	a.Apply(x, scratch, 1, 2, 2, sampleRNG(1, 2, 3))
	a.Apply(y, scratch, 1, 2, 2, sampleRNG(1, 2, 3))
	if !slices.Equal(x, y) {
		t.Error("same seed, different result")
	}
	for _, v := range x {
		if v < 0 || v > 1 {
			t.Errorf("value %v outside [0, 1]", v)
		}
	}
	if err := (Augment{Rot90: true}).Validate(ImageOptions{Width: 4, Height: 3}); err == nil {
		t.Error("rot90 accepted on a non-square size")
	}
}

func TestChannelStats(t *testing.T) {
	dir := t.TempDir()
	var rows []Row
	// Two images: all 0 and all 255 in R, constant 51 in G, B mixed.
	for i, c := range []color.RGBA{{0, 51, 0, 255}, {255, 51, 255, 255}} {
		f := filepath.Join(dir, fmt.Sprint(i, ".png"))
		writeFile(t, f, solid(t, 3, 3, c))
		rows = append(rows, Row{File: f})
	}
	mean, std, err := ChannelStats(context.Background(), rows, ImageOptions{Width: 3, Height: 3}, 2)
	if err != nil {
		t.Fatal(err)
	}
	// R: half 0, half 1 -> mean 0.5, std 0.5; G: constant 0.2 -> std 0 -> 1.
	if mean[0] != 0.5 || std[0] != 0.5 || mean[1] != 0.2 || std[1] != 1 {
		t.Errorf("mean %v std %v", mean, std)
	}
}

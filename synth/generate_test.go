package synth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metacnn/metacnn/data"
)

func generate(t *testing.T, opts Options) Summary {
	t.Helper()
	if opts.Out == "" {
		opts.Out = t.TempDir()
	}
	s, err := Generate(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// readAll returns every file under dir, relative name -> bytes.
func readAll(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		files[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestGenerateIsDeterministic(t *testing.T) {
	const n = 60
	a := readAll(t, generate(t, Options{N: n, Seed: 42, Workers: 1}).Dir)
	b := readAll(t, generate(t, Options{N: n, Seed: 42, Workers: 4}).Dir)
	c := readAll(t, generate(t, Options{N: n, Seed: 43}).Dir)
	if len(a) != n+5 {
		t.Fatalf("%d files, want %d images and 5 manifests", len(a), n)
	}
	differ := 0
	for name, data := range a {
		if !bytes.Equal(data, b[name]) {
			t.Errorf("%s differs between two runs with seed 42 (1 vs 4 workers)", name)
		}
		if !bytes.Equal(data, c[name]) {
			differ++
		}
	}
	// Every image and manifest depends on the seed.
	if differ != len(a) {
		t.Errorf("seeds 42 and 43: %d of %d files differ, want all", differ, len(a))
	}
}

func TestSampleDoesNotDependOnN(t *testing.T) {
	small := readAll(t, generate(t, Options{N: 20, Seed: 9}).Dir)
	large := readAll(t, generate(t, Options{N: 40, Seed: 9}).Dir)
	for i := range 20 {
		if name := filepath.FromSlash(ImagePath(i)); !bytes.Equal(small[name], large[name]) {
			t.Errorf("%s differs between N=20 and N=40", name)
		}
	}
	if !bytes.HasPrefix(large["all.csv"], small["all.csv"]) {
		t.Error("all.csv for N=20 is not a prefix of all.csv for N=40")
	}
}

func TestManifestsLoadWithDataPackage(t *testing.T) {
	sum := generate(t, Options{N: 80, Seed: 1})
	img := data.ImageOptions{Width: Size, Height: Size, Channels: 3}
	load := func(path, split string) *data.Dataset {
		t.Helper()
		ds, err := data.Load(context.Background(), path, data.Options{
			ManifestOptions: data.ManifestOptions{SplitColumn: split, Required: MetaColumns},
			Classes:         Labels,
			Image:           img,
			Check:           data.CheckDecode,
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(ds.Report.Skipped) != 0 {
			t.Fatalf("%s: %s", path, ds.Report.Summary())
		}
		return ds
	}
	total := 0
	for _, sp := range []struct{ split, path string }{
		{"train", sum.Manifests.Train}, {"val", sum.Manifests.Val}, {"test", sum.Manifests.Test},
	} {
		ds := load(sp.path, "")
		if len(ds.Rows) != sum.Count(sp.split, "") {
			t.Errorf("%s: %d rows, summary says %d", sp.path, len(ds.Rows), sum.Count(sp.split, ""))
		}
		total += len(ds.Rows)
	}
	all := load(sum.Manifests.All, "split")
	if len(all.Rows) != sum.N || total != sum.N {
		t.Fatalf("all.csv has %d rows, the splits %d, want %d", len(all.Rows), total, sum.N)
	}
	d := Dataset{Seed: 1}
	for i, r := range all.Rows {
		s := d.Spec(i)
		if r.Path != ImagePath(i) || r.Label != s.Label || r.Split != s.Split {
			t.Fatalf("row %d: %s %s %s, want %s %s %s", r.Line, r.Path, r.Label, r.Split, ImagePath(i), s.Label, s.Split)
		}
		want := s.Meta.Row()
		for _, col := range MetaColumns {
			if r.Meta[col] != want[col] {
				t.Errorf("row %d: %s = %q, want %q", r.Line, col, r.Meta[col], want[col])
			}
		}
	}
	// The PNG holds exactly the rendered pixels.
	px := make([]float32, img.Len())
	if err := data.LoadImage(all.Rows[5].File, img, px); err != nil {
		t.Fatal(err)
	}
	want := d.Sample(5).Image
	for c := range 3 {
		for p := range npix {
			if got := px[c*npix+p]; got != float32(want.Pix[4*p+c])/255 {
				t.Fatalf("image 5 channel %d pixel %d: %v, want %v", c, p, got, float32(want.Pix[4*p+c])/255)
			}
		}
	}
	truth, err := os.ReadFile(sum.Manifests.Truth)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(string(truth), "\n"); lines != sum.N+1 {
		t.Errorf("truth.csv has %d lines, want %d", lines, sum.N+1)
	}
}

func TestGenerateProgressAndSummary(t *testing.T) {
	var calls []int
	sum := generate(t, Options{N: 40, Seed: 2, Workers: 2, Progress: func(done, total int) {
		if total != 40 {
			t.Errorf("progress total %d, want 40", total)
		}
		calls = append(calls, done)
	}})
	if len(calls) != 40 || calls[39] != 40 {
		t.Fatalf("progress calls %v, want 1..40", calls)
	}
	for i, c := range calls {
		if c != i+1 {
			t.Fatalf("progress calls %v, want 1..40", calls)
		}
	}
	if sum.Count("", "") != 40 || sum.Count("train", "") != 28 || sum.Count("val", "") != 6 {
		t.Errorf("counts %v: want 40 images, 28 train, 6 val", sum.Counts)
	}
	mis := 0
	for i := range 40 {
		if (Dataset{Seed: 2}).Spec(i).Truth.Mislabelled {
			mis++
		}
	}
	if sum.Mislabelled != mis {
		t.Errorf("summary counts %d mislabelled, specs %d", sum.Mislabelled, mis)
	}
}

func TestGenerateValidates(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{N: 100}, "output directory"},
		{Options{N: MinN - 1, Out: "x"}, "out of range"},
		{Options{N: MaxN + 1, Out: "x"}, "out of range"},
		{Options{N: 100, Out: "x", Workers: -1}, "negative"},
	} {
		_, err := Generate(context.Background(), tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one mentioning %q", tc.opts, err, tc.want)
		}
	}
	if err := (Options{Out: "x"}).Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

func TestGenerateCancelled(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	_, err := Generate(ctx, Options{N: 2000, Out: dir, Progress: func(done, total int) {
		if done == 10 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "all.csv")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a cancelled run wrote all.csv (stat: %v)", err)
	}
}

func TestGenerateReportsWriteErrors(t *testing.T) {
	dir := t.TempDir()
	// A file where the images directory should be.
	if err := os.WriteFile(filepath.Join(dir, "images"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(context.Background(), Options{N: 20, Out: dir}); err == nil {
		t.Fatal("no error with images/ not a directory")
	}
}

func ExampleDataset_Spec() {
	s := Dataset{Seed: 1}.Spec(0)
	fmt.Println(s.Split, s.Label, s.Meta.Camera, s.Meta.Hour, s.Meta.Temperature, s.Meta.Product, s.Meta.Operator)
	// Output: val crack cam2 14 39.6 A op5
}

func BenchmarkSample(b *testing.B) {
	d := Dataset{Seed: 1}
	i := 0
	for b.Loop() {
		d.Sample(i)
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "img/s")
}

func BenchmarkGenerate(b *testing.B) {
	for _, n := range []int{500, 2000} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			for b.Loop() {
				if _, err := Generate(context.Background(), Options{N: n, Out: dir}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "img/s")
		})
	}
}

package synth

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Limits and defaults for Options.
const (
	DefaultN = 4000
	// MinN is the smallest dataset: one block of the split schedule, so
	// that train, val and test are all non-empty.
	MinN = splitBlock
	MaxN = 1_000_000
)

// Manifest column names, in the order they are written.
var (
	// ManifestColumns are the columns of train.csv, val.csv and test.csv.
	ManifestColumns = []string{"path", "label", "camera", "hour", "temperature", "product", "operator"}
	// MetaColumns are the metadata columns among them.
	MetaColumns = []string{"camera", "hour", "temperature", "product", "operator"}
	// TruthColumns are the columns of truth.csv.
	TruthColumns = []string{"path", "label", "true_label", "strength", "faint", "spots", "design_marks",
		"glare_streaks", "glare_strength", "illumination", "mislabelled"}
)

// Options configures Generate. Zero values are defaults.
type Options struct {
	// N is the number of images, MinN..MaxN. Default DefaultN.
	N int
	// Seed selects the dataset; the same seed gives the same bytes.
	Seed uint64
	// Out is the output directory, created if missing. Required. Existing
	// files of the same names are overwritten.
	Out string
	// Workers is the number of goroutines rendering images. Default (0) and
	// upper bound: runtime.GOMAXPROCS(0).
	Workers int
	// Progress, if set, is called after each image is written, from the
	// goroutine that called Generate (never concurrently).
	Progress func(done, total int)
}

func (o Options) n() int {
	if o.N == 0 {
		return DefaultN
	}
	return o.N
}

func (o Options) workers() int {
	p := runtime.GOMAXPROCS(0)
	if o.Workers == 0 || o.Workers > p {
		return p
	}
	return o.Workers
}

// Validate reports the first invalid option.
func (o Options) Validate() error {
	if o.Out == "" {
		return errors.New("synth: output directory not set")
	}
	if n := o.n(); n < MinN || n > MaxN {
		return fmt.Errorf("synth: N = %d images is out of range (want %d..%d)", n, MinN, MaxN)
	}
	if o.Workers < 0 {
		return fmt.Errorf("synth: Workers = %d is negative (0 means one per CPU)", o.Workers)
	}
	return nil
}

// Manifests are the paths of the written manifests.
type Manifests struct {
	// Train, Val and Test hold one split each (no split column).
	Train, Val, Test string
	// All holds every image with a split column.
	All string
	// Truth holds the ground truth per image (true defect, contrast, glare
	// streaks, illumination). It is for analysis, not training: its columns
	// give the answer away.
	Truth string
}

// Summary describes a generated dataset.
type Summary struct {
	N    int
	Seed uint64
	// Dir is the output directory; images are under Dir/images.
	Dir       string
	Manifests Manifests
	// Counts is split -> recorded label -> images.
	Counts map[string]map[string]int
	// Mislabelled counts images whose recorded label is not the true
	// defect (BiasedOperator's faint scratches).
	Mislabelled int
	Elapsed     time.Duration
}

// Count returns the number of images of a split ("" for all) with a
// recorded label ("" for all).
func (s Summary) Count(split, label string) int {
	n := 0
	for sp, m := range s.Counts {
		if split != "" && sp != split {
			continue
		}
		for l, c := range m {
			if label == "" || l == label {
				n += c
			}
		}
	}
	return n
}

// ImagePath returns the path of image i relative to the output directory,
// as written in the manifests.
func ImagePath(i int) string { return fmt.Sprintf("images/%06d.png", i) }

// Generate writes opts.N images to opts.Out/images and the manifests
// train.csv, val.csv, test.csv, all.csv (with a split column) and truth.csv.
// Images are rendered in parallel; the output does not depend on Workers.
// Manifests are written last, atomically, so a cancelled or failed run
// leaves no manifest naming a missing image (it may leave images).
func Generate(ctx context.Context, opts Options) (Summary, error) {
	start := time.Now()
	if err := opts.Validate(); err != nil {
		return Summary{}, err
	}
	n := opts.n()
	if err := os.MkdirAll(filepath.Join(opts.Out, "images"), 0o755); err != nil {
		return Summary{}, fmt.Errorf("synth: %w", err)
	}
	ds := Dataset{Seed: opts.Seed}
	specs := make([]Spec, n)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	results := make(chan error, 64)
	var wg sync.WaitGroup
	enc := png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: &encPool{}}
	for range opts.workers() {
		wg.Go(func() {
			var buf bytes.Buffer
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				s := ds.Sample(i)
				specs[i] = s.Spec
				buf.Reset()
				err := enc.Encode(&buf, s.Image)
				if err == nil {
					err = os.WriteFile(filepath.Join(opts.Out, ImagePath(i)), buf.Bytes(), 0o644)
				}
				if err != nil {
					err = fmt.Errorf("synth: image %d: %w", i, err)
				}
				results <- err
			}
		})
	}
	go func() {
		wg.Wait()
		close(results)
	}()
	done := 0
	var first error
	for err := range results {
		if err != nil {
			if first == nil {
				first = err
				cancel()
			}
			continue
		}
		done++
		if opts.Progress != nil && first == nil {
			opts.Progress(done, n)
		}
	}
	if first != nil {
		return Summary{}, first
	}
	if done < n {
		return Summary{}, fmt.Errorf("synth: stopped after %d of %d images: %w", done, n, context.Cause(ctx))
	}

	sum := Summary{N: n, Seed: opts.Seed, Dir: opts.Out, Counts: map[string]map[string]int{}}
	for _, sp := range Splits {
		sum.Counts[sp] = map[string]int{}
	}
	for _, s := range specs {
		sum.Counts[s.Split][s.Label]++
		if s.Truth.Mislabelled {
			sum.Mislabelled++
		}
	}
	m, err := writeManifests(opts.Out, specs)
	if err != nil {
		return Summary{}, err
	}
	sum.Manifests = m
	sum.Elapsed = time.Since(start)
	return sum, nil
}

type encPool struct{ p sync.Pool }

func (e *encPool) Get() *png.EncoderBuffer {
	b, _ := e.p.Get().(*png.EncoderBuffer)
	return b
}

func (e *encPool) Put(b *png.EncoderBuffer) { e.p.Put(b) }

func manifestRecord(s Spec) []string {
	m := s.Meta
	return []string{ImagePath(s.Index), s.Label, m.Camera, strconv.Itoa(m.Hour), formatTemp(m.Temperature), m.Product, m.Operator}
}

func truthRecord(s Spec) []string {
	t := s.Truth
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
	return []string{ImagePath(s.Index), s.Label, t.Defect, f(t.Strength), strconv.FormatBool(t.Faint()),
		strconv.Itoa(t.Spots), strconv.Itoa(t.DesignMarks), strconv.Itoa(t.Glare), f(t.GlareStrength),
		f(t.Illumination), strconv.FormatBool(t.Mislabelled)}
}

func writeManifests(dir string, specs []Spec) (Manifests, error) {
	files := map[string]*csv.Writer{}
	bufs := map[string]*bytes.Buffer{}
	open := func(name string, header []string) *csv.Writer {
		b := &bytes.Buffer{}
		w := csv.NewWriter(b)
		_ = w.Write(header) // writes to a bytes.Buffer cannot fail
		files[name], bufs[name] = w, b
		return w
	}
	for _, sp := range Splits {
		open(sp+".csv", ManifestColumns)
	}
	all := open("all.csv", append(append([]string{}, ManifestColumns...), "split"))
	truth := open("truth.csv", TruthColumns)
	for _, s := range specs {
		rec := manifestRecord(s)
		_ = files[s.Split+".csv"].Write(rec)
		_ = all.Write(append(rec, s.Split))
		_ = truth.Write(truthRecord(s))
	}
	for _, name := range []string{"train.csv", "val.csv", "test.csv", "all.csv", "truth.csv"} {
		files[name].Flush()
		if err := writeAtomic(filepath.Join(dir, name), bufs[name].Bytes()); err != nil {
			return Manifests{}, err
		}
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	return Manifests{Train: p("train.csv"), Val: p("val.csv"), Test: p("test.csv"), All: p("all.csv"), Truth: p("truth.csv")}, nil
}

// writeAtomic writes data to a temporary file beside path and renames it.
func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("synth: writing %s: %w", path, err)
	}
	return nil
}

package data

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/metacnn/metacnn/meta"
)

// ImageCheck is how thoroughly Load checks images. The zero value is unset
// and means CheckHeader.
type ImageCheck int

// Image checks.
const (
	ImageCheckUnset ImageCheck = iota
	CheckHeader                // the file exists, its format is known, its size is within the limits
	CheckDecode                // CheckHeader and the pixels decode: finds truncated files, reads every image once
	CheckNone                  // no image check; problems surface in the Loader
)

// Options says how Load reads and checks a dataset.
type Options struct {
	ManifestOptions
	// Classes is the class list; a label outside it is a bad row. Empty
	// means the distinct labels of the kept rows, sorted (numerically when
	// every label is an integer).
	Classes []string
	// Schema, when set, checks every row's metadata with CheckRow (no
	// fitting needed) and makes its columns required in a CSV header.
	Schema *meta.Schema
	// Image gives the limits images are checked against (its size fields
	// are only needed for CheckDecode).
	Image ImageOptions
	// Check defaults to CheckHeader.
	Check ImageCheck
	// Workers bounds parallel image checks; 0 means GOMAXPROCS.
	Workers int
}

// Dataset is a checked manifest.
type Dataset struct {
	Source  string
	Rows    []Row // kept rows, in manifest order, Class resolved
	Classes []string
	Report  Report
}

// Load reads the manifest at path and checks every row: label, metadata and
// image. See the package doc for the bad-row policies.
func Load(ctx context.Context, path string, opts Options) (*Dataset, error) {
	mo := opts.ManifestOptions
	if opts.Schema != nil {
		mo.Required = append(slices.Clone(mo.Required), opts.Schema.Columns()...)
	}
	m, err := ReadManifest(path, mo)
	if err != nil {
		return nil, err
	}
	return Check(ctx, m, opts)
}

// Check applies Load's row checks to a parsed manifest.
func Check(ctx context.Context, m *Manifest, opts Options) (*Dataset, error) {
	if opts.Check == CheckDecode {
		if err := opts.Image.Validate(); err != nil {
			return nil, err
		}
	}
	classIndex := map[string]int{}
	for i, c := range opts.Classes {
		if _, dup := classIndex[c]; dup {
			return nil, fmt.Errorf("data: class %q is listed twice", c)
		}
		classIndex[c] = i
	}
	problems := make([]*BadRow, len(m.Rows))
	labelCol, imgCol := opts.labelColumn(), opts.imageColumn()
	err := parallelFor(ctx, len(m.Rows), opts.Workers, func(i int, scratch *[]float32) {
		r := &m.Rows[i]
		fail := func(b BadRow) {
			b.Source, b.Row = m.Source, r.Line
			problems[i] = &b
		}
		if labelCol != "" && len(opts.Classes) > 0 {
			if _, ok := classIndex[r.Label]; !ok {
				fail(BadRow{Column: labelCol, Image: r.File, Kind: KindBadLabel,
					Reason: fmt.Sprintf("label %q is not one of the classes %s", truncate(r.Label), truncate(strings.Join(opts.Classes, ", ")))})
				return
			}
		}
		if opts.Schema != nil {
			if err := opts.Schema.CheckRow(r.Meta); err != nil {
				fail(metaBadRow(err, r.File))
				return
			}
		}
		var err error
		switch opts.Check {
		case CheckNone:
		case CheckDecode:
			if len(*scratch) != opts.Image.Len() {
				*scratch = make([]float32, opts.Image.Len())
			}
			err = LoadImage(r.File, opts.Image, *scratch)
		default:
			_, err = CheckImageFile(r.File, opts.Image)
		}
		if err != nil {
			fail(imageBadRow(err, imgCol, r.File))
		}
	})
	if err != nil {
		return nil, err
	}
	ds := &Dataset{Source: m.Source, Report: m.Report}
	ds.Report.Skipped = slices.Clone(m.Report.Skipped)
	var stop []BadRow
	for i, p := range problems {
		switch {
		case p == nil:
			ds.Rows = append(ds.Rows, m.Rows[i])
		case p.Kind == KindDropped || opts.OnBadRow.skip():
			ds.Report.Skipped = append(ds.Report.Skipped, *p)
		default:
			stop = append(stop, *p)
		}
	}
	if len(stop) > 0 {
		n := min(len(stop), opts.maxProblems())
		return nil, &BadRowsError{Problems: stop[:n], More: len(stop) > n}
	}
	sort.SliceStable(ds.Report.Skipped, func(a, b int) bool { return ds.Report.Skipped[a].Row < ds.Report.Skipped[b].Row })
	ds.Report.Kept = len(ds.Rows)
	if len(ds.Rows) == 0 {
		return nil, fmt.Errorf("data: %s: every one of the %d rows was skipped; first: %s", m.Source, ds.Report.Total, ds.Report.Skipped[0])
	}
	ds.Classes = slices.Clone(opts.Classes)
	if labelCol != "" && len(ds.Classes) == 0 {
		ds.Classes = DistinctLabels(ds.Rows)
		for i, c := range ds.Classes {
			classIndex[c] = i
		}
	}
	for i := range ds.Rows {
		ds.Rows[i].Class = -1
		if labelCol != "" {
			ds.Rows[i].Class = classIndex[ds.Rows[i].Label]
		}
	}
	return ds, nil
}

func metaBadRow(err error, file string) BadRow {
	var ve *meta.ValueError
	if !errors.As(err, &ve) {
		return BadRow{Image: file, Kind: KindBadValue, Reason: err.Error()}
	}
	b := BadRow{Column: ve.Column, Image: file, Kind: KindBadValue}
	switch {
	case errors.Is(err, meta.ErrDropRow):
		b.Kind, b.Reason = KindDropped, "missing value; the column's policy is drop-row"
	case errors.Is(err, meta.ErrMissing):
		b.Kind, b.Reason = KindMissingValue, "missing value; the column's policy is error"
	default:
		b.Reason = fmt.Sprintf("value %q: %v", truncate(ve.Value), ve.Err)
		if ve.Detail != "" {
			b.Reason += ": " + ve.Detail
		}
	}
	return b
}

func imageBadRow(err error, column, file string) BadRow {
	b := BadRow{Column: column, Image: file, Kind: KindBadImage, Reason: err.Error()}
	var ie *ImageError
	if errors.As(err, &ie) {
		b.Reason = ie.Err.Error()
		if ie.Detail != "" {
			b.Reason += ": " + ie.Detail
		}
	}
	switch {
	case errors.Is(err, ErrImageMissing):
		b.Kind = KindMissingImage
	case errors.Is(err, ErrImageTooLarge):
		b.Kind = KindLargeImage
	}
	return b
}

// DistinctLabels returns the sorted distinct labels of rows, numerically
// when every label is an integer (the class order Load uses by default).
func DistinctLabels(rows []Row) []string {
	set := map[string]bool{}
	for _, r := range rows {
		set[r.Label] = true
	}
	out := make([]string, 0, len(set))
	numeric := true
	for l := range set {
		out = append(out, l)
		if _, err := strconv.Atoi(l); err != nil {
			numeric = false
		}
	}
	sort.Slice(out, func(a, b int) bool {
		if numeric {
			x, _ := strconv.Atoi(out[a])
			y, _ := strconv.Atoi(out[b])
			if x != y {
				return x < y
			}
		}
		return out[a] < out[b]
	})
	return out
}

// parallelFor runs fn(i) for i in [0, n) on up to workers goroutines (0:
// GOMAXPROCS), each with its own scratch buffer. It stops early when ctx
// is cancelled and returns ctx's error.
func parallelFor(ctx context.Context, n, workers int, fn func(i int, scratch *[]float32)) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = max(1, min(workers, n))
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var scratch []float32
			for i := range next {
				fn(i, &scratch)
			}
		}()
	}
	var err error
loop:
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
			err = ctx.Err()
			break loop
		}
	}
	close(next)
	wg.Wait()
	return err
}

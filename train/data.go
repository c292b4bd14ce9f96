package train

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/metacnn/metacnn/config"
	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/meta"
)

// Splits is the data a run reads, every row checked.
type Splits struct {
	Train, Val, Test []data.Row
	// Sources name the manifest of each split, for bad-row reports.
	TrainSource, ValSource, TestSource string
	Classes                            []string
	// Reports account for every row of every manifest read.
	Reports []data.Report
}

// LoadSplits reads and checks the data of c (defaults applied) and divides
// it into train, validation and test rows. The class list is
// c.Data.Classes, or classes when given (a resumed run), or else the
// distinct labels of the training rows; a validation or test label outside
// it is a bad row. schema, when set, checks every row's metadata. When a
// label is outside the classes, image checks fail or metadata is invalid,
// the bad-row policy of c decides.
func LoadSplits(ctx context.Context, c *config.Config, schema *meta.Schema, img data.ImageOptions, classes []string) (*Splits, error) {
	cfg := c.WithDefaults()
	d := cfg.Data
	if len(classes) == 0 {
		classes = d.Classes
	}
	check, err := data.ParseImageCheck(d.ImageCheck)
	if err != nil {
		return nil, fmt.Errorf("data.image_check: %w", err)
	}
	opts := data.Options{
		ManifestOptions: data.ManifestOptions{
			ImageColumn: d.ImageColumn, LabelColumn: d.LabelColumn, SplitColumn: d.SplitColumn, OnBadRow: d.Policy(),
		},
		Classes: classes, Schema: schema, Image: img, Check: check, Workers: cfg.Train.Workers,
	}
	s := &Splits{}
	if d.Manifest == "" {
		tr, err := data.Load(ctx, d.Train, opts)
		if err != nil {
			return nil, err
		}
		s.Train, s.TrainSource, s.Classes = tr.Rows, tr.Source, tr.Classes
		s.Reports = append(s.Reports, tr.Report)
		opts.Classes = s.Classes
		for _, x := range []struct {
			path string
			rows *[]data.Row
			src  *string
		}{{d.Val, &s.Val, &s.ValSource}, {d.Test, &s.Test, &s.TestSource}} {
			if x.path == "" {
				continue
			}
			ds, err := data.Load(ctx, x.path, opts)
			if err != nil {
				return nil, err
			}
			*x.rows, *x.src = ds.Rows, ds.Source
			s.Reports = append(s.Reports, ds.Report)
		}
		return s, nil
	}

	// One manifest: load every row with any label, split, then fix the
	// classes from the training rows.
	all := opts
	all.Classes = nil
	ds, err := data.Load(ctx, d.Manifest, all)
	if err != nil {
		return nil, err
	}
	s.TrainSource, s.ValSource, s.TestSource = ds.Source, ds.Source, ds.Source
	so := data.SplitOptions{Seed: cfg.Train.Seed, GroupColumn: d.Split.GroupColumn}
	switch d.Split.Method {
	case "column":
		so.Method = data.FromColumn
	default:
		if so.Method, err = data.ParseSplitMethod(d.Split.Method); err != nil {
			return nil, fmt.Errorf("data.split.method: %w", err)
		}
		so.Val, so.Test = *d.Split.Val, *d.Split.Test
	}
	sp, err := data.SplitRows(ds.Rows, so)
	if err != nil {
		return nil, err
	}
	if len(sp.Train) == 0 {
		return nil, fmt.Errorf("%s: no training rows after the split", ds.Source)
	}
	s.Train = data.Subset(ds.Rows, sp.Train)
	s.Val = data.Subset(ds.Rows, sp.Val)
	s.Test = data.Subset(ds.Rows, sp.Test)
	s.Classes = slices.Clone(classes)
	if len(s.Classes) == 0 {
		s.Classes = data.DistinctLabels(s.Train)
	}
	report := ds.Report
	var problems []data.BadRow
	for _, rows := range []*[]data.Row{&s.Train, &s.Val, &s.Test} {
		kept, bad := assignClasses(*rows, s.Classes, ds.Source, d.LabelColumn)
		*rows = kept
		problems = append(problems, bad...)
	}
	if len(problems) > 0 {
		if d.Policy() != data.Skip {
			n := min(len(problems), data.DefaultMaxProblems)
			return nil, &data.BadRowsError{Problems: problems[:n], More: len(problems) > n}
		}
		report.Skipped = append(report.Skipped, problems...)
		sort.SliceStable(report.Skipped, func(a, b int) bool { return report.Skipped[a].Row < report.Skipped[b].Row })
		report.Kept -= len(problems)
	}
	if len(s.Train) == 0 {
		return nil, fmt.Errorf("%s: every training row was skipped", ds.Source)
	}
	s.Reports = append(s.Reports, report)
	return s, nil
}

// assignClasses sets each row's Class from its label and returns the rows
// whose label is a class and a bad row for each other one.
func assignClasses(rows []data.Row, classes []string, source, column string) (kept []data.Row, bad []data.BadRow) {
	idx := make(map[string]int, len(classes))
	for i, c := range classes {
		idx[c] = i
	}
	for _, r := range rows {
		k, ok := idx[r.Label]
		if !ok {
			bad = append(bad, data.BadRow{Source: source, Row: r.Line, Column: column, Image: r.File, Kind: data.KindBadLabel,
				Reason: fmt.Sprintf("label %q is not one of the training classes %s", r.Label, strings.Join(classes, ", "))})
			continue
		}
		r.Class = k
		kept = append(kept, r)
	}
	return kept, bad
}

// ClassWeights returns the loss weight of each class under cw: nil for
// none, the explicit list, or n / (C * count_c) over the training rows for
// inverse-frequency (1 for a class without training rows, which then
// never is a target).
func ClassWeights(cw config.ClassWeights, rows []data.Row, classes int) ([]float32, error) {
	switch cw.Mode {
	case "", config.ClassWeightsNone:
		return nil, nil
	case config.ClassWeightsExplicit:
		if len(cw.Weights) != classes {
			return nil, fmt.Errorf("train.class_weights: %d weights for %d classes", len(cw.Weights), classes)
		}
		w := make([]float32, classes)
		for i, x := range cw.Weights {
			w[i] = float32(x)
		}
		return w, nil
	case config.ClassWeightsInverse:
		counts := make([]int, classes)
		for _, r := range rows {
			counts[r.Class]++
		}
		w := make([]float32, classes)
		for i, n := range counts {
			w[i] = 1
			if n > 0 {
				w[i] = float32(float64(len(rows)) / float64(classes*n))
			}
		}
		return w, nil
	}
	return nil, fmt.Errorf("train.class_weights: unknown mode %q", cw.Mode)
}

// metaRows returns the metadata maps of rows, for Schema.Fit.
func metaRows(rows []data.Row) []map[string]string {
	out := make([]map[string]string, len(rows))
	for i, r := range rows {
		out[i] = r.Meta
	}
	return out
}

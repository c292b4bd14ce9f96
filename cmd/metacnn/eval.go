package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/eval"
	"github.com/metacnn/metacnn/model"
	"github.com/metacnn/metacnn/report"
)

type evalOptions struct {
	modelDataOptions
	by          []string
	json        string
	report      string
	bootstrap   int
	seed        uint64
	labelColumn string

	stdout, stderr io.Writer
}

func newEvalCmd() *cobra.Command {
	var opts evalOptions
	cmd := &cobra.Command{
		Use:   "eval --model model.mcnn --data test.csv [--by COLUMN ...] [--json out.json] [--report DIR] [--bootstrap N] [--seed S]",
		Short: "Evaluate a model on a labelled manifest, overall and per metadata slice",
		Long: `Run a model over a labelled manifest (an image path column, a label column
whose values are the model's classes, the metadata columns the model reads) and
report accuracy, balanced accuracy, per-class precision, recall and F1, macro
F1, ROC-AUC and PR-AUC (binary, or macro one-vs-rest), log loss, the confusion
matrix and calibration (ECE, reliability bins), with percentile bootstrap
confidence intervals for accuracy, balanced accuracy and macro F1.

--by COLUMN (repeatable) breaks every metric down by the values of a metadata
column of the manifest (any column but the image path and the label, whether
the model reads it or not), with each slice's count and intervals.

The tables go to stdout; --json writes the report as JSON (see the eval
package's Report for its fields); --report DIR writes an HTML page
(DIR/index.html) with PNG plots: confusion matrix, ROC and PR curves,
reliability diagram, per-slice balanced accuracy with intervals, and learning
curves from the model's training summary when it has one.

Bad rows (missing or corrupt image, unknown label, invalid metadata) stop the
command under --on-bad-row=error (the default), listing them; under skip they
are left out and each is reported on stderr. A line on stderr accounts for
every row.`,
		Example: "  metacnn eval --model model.mcnn --data test.csv\n" +
			"  metacnn eval --model model.mcnn --data test.csv --by camera --by operator --json eval.json --report eval-report",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.stdout, opts.stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			if err := opts.validate(); err != nil {
				return err
			}
			return runEval(cmd.Context(), opts)
		},
	}
	opts.bind(cmd, "labelled manifest (.csv, .jsonl, .ndjson or .parquet)")
	f := cmd.Flags()
	f.StringArrayVar(&opts.by, "by", nil, "metadata column to break the metrics down by (repeatable)")
	f.StringVar(&opts.json, "json", "", "write the report as JSON to this file")
	f.StringVar(&opts.report, "report", "", "write an HTML report with PNG plots into this directory")
	f.IntVar(&opts.bootstrap, "bootstrap", eval.DefaultResamples, "bootstrap resamples for the confidence intervals (0: no intervals)")
	f.Uint64Var(&opts.seed, "seed", 0, "seed of the bootstrap")
	f.StringVar(&opts.labelColumn, "label", data.DefaultLabelColumn, "column holding the true class")
	return cmd
}

func (o *evalOptions) validate() error {
	if err := o.modelDataOptions.validate(); err != nil {
		return err
	}
	if o.bootstrap < 0 {
		return usageErrorf("--bootstrap %d is negative (0 turns the intervals off)", o.bootstrap)
	}
	if strings.TrimSpace(o.imageColumn) == "" || strings.TrimSpace(o.labelColumn) == "" {
		return usageErrorf("--image-column and --label must not be empty")
	}
	seen := map[string]bool{}
	for _, c := range o.by {
		switch {
		case strings.TrimSpace(c) == "":
			return usageErrorf("--by with an empty column name")
		case seen[c]:
			return usageErrorf("--by %q given twice", c)
		case c == o.imageColumn || c == o.labelColumn:
			return usageErrorf("--by %q: that is the image or label column; slice by a metadata column", c)
		}
		seen[c] = true
	}
	for _, out := range []string{o.json, o.report} {
		if out != "" && o.overwritesInput(out) {
			return usageErrorf("output %s would overwrite an input", out)
		}
	}
	return nil
}

func runEval(ctx context.Context, opts evalOptions) error {
	b, required, err := opts.loadModel()
	if err != nil {
		return err
	}
	mo := data.ManifestOptions{ImageColumn: opts.imageColumn, LabelColumn: opts.labelColumn, OnBadRow: opts.policy, Required: required}
	m, err := data.ReadManifest(opts.data, mo)
	if err != nil {
		return err
	}
	for _, c := range opts.by {
		if !slices.Contains(m.Header, c) {
			var meta []string
			for _, h := range m.Header {
				if h != opts.imageColumn && h != opts.labelColumn {
					meta = append(meta, h)
				}
			}
			return usageErrorf("--by %q: %s has no such column (its metadata columns: %s)", c, opts.data, strings.Join(meta, ", "))
		}
	}
	ds, err := data.Check(ctx, m, data.Options{ManifestOptions: mo, Classes: b.Classes, Schema: b.Schema, Image: b.Image,
		Check: data.CheckHeader, Workers: opts.workers})
	if err != nil {
		return err
	}
	skipped := ds.Report.Skipped
	for _, bad := range skipped {
		fmt.Fprintf(opts.stderr, "skipped %s (%s)\n", bad, bad.Kind)
	}

	p, more, err := predictDataset(ctx, b, ds, opts)
	if err != nil {
		return err
	}
	for _, bad := range more {
		fmt.Fprintf(opts.stderr, "skipped %s (%s)\n", bad, bad.Kind)
	}
	rep := data.Report{Source: opts.data, Total: ds.Report.Total, Kept: p.Len(), Skipped: append(slices.Clone(skipped), more...)}
	fmt.Fprintln(opts.stderr, rep.Summary())

	resamples := opts.bootstrap
	if resamples == 0 {
		resamples = -1 // eval: negative disables
	}
	name := filepath.Base(opts.model)
	r, err := eval.Evaluate(p, eval.Options{Model: name, SliceBy: opts.by, Bootstrap: eval.Bootstrap{Resamples: resamples, Seed: opts.seed}})
	if err != nil {
		return err
	}
	if err := r.WriteText(opts.stdout); err != nil {
		return err
	}
	if opts.json != "" {
		js, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		if err := report.WriteFile(opts.json, append(js, '\n')); err != nil {
			return fmt.Errorf("--json: %w", err)
		}
		fmt.Fprintf(opts.stdout, "\njson: %s\n", opts.json)
	}
	if opts.report != "" {
		history, err := report.HistoryFromTraining(b.Training)
		if err != nil {
			// A model whose summary is not ours still gets a report.
			fmt.Fprintf(opts.stderr, "warning: no learning curves: %v\n", err)
			history = nil
		}
		index, err := report.WriteEval(opts.report, r, report.CurvesOf(p), history)
		if err != nil {
			return fmt.Errorf("--report: %w", err)
		}
		fmt.Fprintf(opts.stdout, "report: %s\n", index)
	}
	return nil
}

// predictDataset runs the model over every kept row of ds, in order, and
// returns the predictions with slice keys for opts.by, and the rows whose
// image failed to decode (under the skip policy; under error they stop it).
func predictDataset(ctx context.Context, b *model.Bundle, ds *data.Dataset, opts evalOptions) (*eval.Predictions, []data.BadRow, error) {
	l, err := data.NewLoader(ds.Rows, data.LoaderOptions{BatchSize: opts.batch, Workers: opts.workers, Image: b.Image,
		OnBadRow: opts.policy, Source: opts.data})
	if err != nil {
		return nil, nil, err
	}
	ep := l.Epoch(ctx, 0)
	defer ep.Close()
	k := len(b.Classes)
	var labels []int
	var probs [][]float64
	var keys []map[string]string
	for {
		batch, err := ep.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		metas := make([]map[string]string, batch.Len())
		for i, ri := range batch.Rows {
			metas[i] = ds.Rows[ri].Meta
		}
		logits, _, err := b.Predict(batch.Images, metas)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", opts.data, err)
		}
		x := logits.Data()
		for i, ri := range batch.Rows {
			row := ds.Rows[ri]
			pr, _, err := softmax(x[i*k : (i+1)*k])
			if err != nil {
				return nil, nil, fmt.Errorf("%s: row %d: the model gave a non-finite output: %v", opts.data, row.Line, err)
			}
			probs = append(probs, pr)
			labels = append(labels, row.Class)
			if len(opts.by) > 0 {
				key := make(map[string]string, len(opts.by))
				for _, c := range opts.by {
					// An empty cell is a missing value, as for the metadata.
					if v, ok := row.Meta[c]; ok && strings.TrimSpace(v) != "" {
						key[c] = v
					}
				}
				keys = append(keys, key)
			}
		}
	}
	skipped := ep.Skipped()
	if len(labels) == 0 {
		return nil, skipped, fmt.Errorf("%s: no row could be evaluated; first: %s", opts.data, skipped[0])
	}
	p, err := eval.NewPredictions(b.Classes, labels, probs, keys)
	if err != nil {
		return nil, nil, err
	}
	return p, skipped, nil
}

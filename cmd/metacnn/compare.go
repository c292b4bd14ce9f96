package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/metacnn/metacnn/compare"
	"github.com/metacnn/metacnn/config"
	"github.com/metacnn/metacnn/fusion"
)

type compareOptions struct {
	config    string
	fusions   []string
	seeds     int
	epochs    int
	out       string
	workers   int
	resamples int

	kinds          []fusion.Kind
	stdout, stderr io.Writer
}

func newCompareCmd() *cobra.Command {
	var opts compareOptions
	cmd := &cobra.Command{
		Use:   "compare --config config.yaml [--fusions none,concat,scalebias,film] [--seeds N] [--epochs N] --out DIR",
		Short: "Does the metadata help? Train image-only and metadata-fused models and compare them",
		Long: `Train the config's backbone on the same splits once per fusion kind and seed
(image only, "none", always among them as the baseline; the config's own fusion
list is replaced, keeping an entry of the same kind with its stages and
options), score every model on the test split (the validation split when there
is no test split), and compare:

  - mean ± std over seeds of balanced accuracy, accuracy, macro F1, ROC-AUC
    and log loss;
  - a paired test of each fusion against image only: a bootstrap over the
    test rows of the seed-mean difference in balanced accuracy,
    Holm-adjusted over the fusions (McNemar per seed is in the JSON);
  - a control with the metadata shuffled across rows at test time;
  - the permutation importance of each metadata column;
  - balanced accuracy per slice of every metadata column (numeric columns
    binned by quantile) and its difference from image only.

Writes OUT/compare.json and OUT/index.html, prints the tables and ends with one
verdict line naming the best fusion's gain, its p-value and the slice where it
gains most, or "no significant gain from metadata". Progress goes to stderr.`,
		Example: "  metacnn compare --config config.yaml --seeds 3 --out compare-out",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.stdout, opts.stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			if err := opts.validate(); err != nil {
				return err
			}
			return runCompare(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.config, "config", "", "config file (YAML; required)")
	f.StringSliceVar(&opts.fusions, "fusions", kindNames(compare.DefaultFusions), "fusion kinds to compare (none is always added)")
	f.IntVar(&opts.seeds, "seeds", compare.DefaultSeeds, fmt.Sprintf("seeds per fusion (1..%d)", compare.MaxSeeds))
	f.IntVar(&opts.epochs, "epochs", 0, "epochs per run, replacing train.epochs (0: the config's)")
	f.StringVar(&opts.out, "out", "", "output directory (created if missing; required)")
	f.IntVar(&opts.workers, "workers", 0, "image decoding workers (0: the config's train.workers)")
	f.IntVar(&opts.resamples, "resamples", compare.DefaultResamples, "bootstrap resamples of the paired test")
	return cmd
}

func kindNames(ks []fusion.Kind) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.String()
	}
	return out
}

func (o *compareOptions) validate() error {
	if o.config == "" {
		return usageErrorf("--config is required")
	}
	if o.out == "" {
		return usageErrorf("--out is required")
	}
	if o.seeds < 1 || o.seeds > compare.MaxSeeds {
		return usageErrorf("--seeds %d is out of range (want 1..%d)", o.seeds, compare.MaxSeeds)
	}
	if o.epochs < 0 {
		return usageErrorf("--epochs %d is negative", o.epochs)
	}
	if o.workers < 0 {
		return usageErrorf("--workers %d is negative", o.workers)
	}
	if o.resamples < 1 {
		return usageErrorf("--resamples %d: want at least 1", o.resamples)
	}
	o.kinds = nil
	seen := map[fusion.Kind]bool{}
	for _, s := range o.fusions {
		k, err := fusion.ParseKind(s)
		if err != nil {
			return usageErrorf("--fusions: %v", err)
		}
		if seen[k] {
			return usageErrorf("--fusions: %v is listed twice", k)
		}
		seen[k] = true
		o.kinds = append(o.kinds, k)
	}
	if len(o.kinds) == 0 || (len(o.kinds) == 1 && o.kinds[0] == fusion.KindNone) {
		return usageErrorf("--fusions: give at least one metadata fusion (concat, scalebias, film, ...) to compare with image only")
	}
	if st, err := os.Stat(o.out); err == nil && !st.IsDir() {
		return usageErrorf("--out %s is a file; want a directory", o.out)
	}
	return nil
}

func runCompare(ctx context.Context, opts compareOptions) error {
	cfg, err := config.Load(opts.config)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(opts.out, 0o755); err != nil {
		return err
	}
	res, err := runComparison(ctx, cfg, compare.Options{
		Fusions: opts.kinds, Seeds: opts.seeds, Epochs: opts.epochs, Workers: opts.workers, Resamples: opts.resamples,
	}, opts.stderr)
	if err != nil {
		return err
	}
	page, err := writeCompareOutputs(opts.out, res)
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.stdout, "report: %s\nresults: %s\n\n", page, filepath.Join(opts.out, "compare.json"))
	return res.WriteText(opts.stdout)
}

// runComparison runs compare.Run with progress on w: a line as each run
// starts and ends, and the train command's per-epoch lines (a bar on a
// terminal).
func runComparison(ctx context.Context, cfg *config.Config, co compare.Options, w io.Writer) (*compare.Result, error) {
	var bar *trainProgress
	co.Config = cfg
	co.Progress = func(e compare.Event) {
		switch e.Stage {
		case compare.StageStart:
			left := ""
			if e.Left > 0 {
				left = fmt.Sprintf(", about %s left", e.Left.Round(time.Second))
			}
			fmt.Fprintf(w, "[%d/%d] training %s, seed %d (elapsed %s%s)\n", e.Run, e.Runs, e.Fusion, e.Seed, e.Elapsed.Round(time.Second), left)
			bar = newTrainProgress(w)
		case compare.StageTrain:
			if bar != nil {
				bar.update(*e.Train)
			}
		case compare.StageEvaluate:
			if bar != nil {
				bar.stop()
				bar = nil
			}
			fmt.Fprintf(w, "[%d/%d] scoring %s, seed %d: intact, shuffled metadata, each column shuffled\n", e.Run, e.Runs, e.Fusion, e.Seed)
		case compare.StageDone:
			fmt.Fprintf(w, "[%d/%d] %s, seed %d: balanced accuracy %.3f\n", e.Run, e.Runs, e.Fusion, e.Seed, e.BalancedAccuracy)
		}
	}
	res, err := compare.Run(ctx, co)
	if bar != nil {
		bar.stop()
	}
	return res, err
}

// writeCompareOutputs writes the report (index.html, its plots and
// compare.json) into dir and returns the page's path.
func writeCompareOutputs(dir string, res *compare.Result) (string, error) {
	return res.WriteReport(dir)
}

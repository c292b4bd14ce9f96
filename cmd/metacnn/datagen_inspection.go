package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/metacnn/metacnn/synth"
	"github.com/spf13/cobra"
)

type datagenInspectionOptions struct {
	out     string
	n       int
	seed    uint64
	workers int

	stdout, stderr io.Writer
}

func newDatagenInspectionCmd() *cobra.Command {
	var opts datagenInspectionOptions
	cmd := &cobra.Command{
		Use:   "inspection --out DIR [--n N] [--seed S] [--workers W]",
		Short: "Generate the synthetic inspection-line dataset",
		Long: `Generate the synthetic inspection-line dataset: 64x64 RGB images of brushed
metal panels labelled ok, scratch, spot or crack, with capture metadata whose
effects are designed (see the synth package documentation):

  camera       cam1..cam4: colour response, blur, noise and vignetting differ
  hour         0..23: light level and colour follow the time of day; the night
               shift (22:00-06:00) is dim, so faint defects look like harmless
               blemishes unless the exposure is known
  temperature  18..42 °C: glare streaks, drawn like scratches, from 30 °C
  product      A, B: B carries a round design mark drawn like a spot defect,
               so one round mark is a spot on A and ok on B
  operator     op1..op5: op3 labels faint scratches as ok

Writes DIR/images/*.png, DIR/train.csv, DIR/val.csv, DIR/test.csv (columns
path, label, camera, hour, temperature, product, operator), DIR/all.csv (the
same plus split) and DIR/truth.csv (the true defects, for analysis only).
The same --seed gives the same bytes, whatever --workers.`,
		Example: "  metacnn datagen inspection --out inspection --n 4000 --seed 1",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.validate(); err != nil {
				return asUsage(err)
			}
			opts.stdout, opts.stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			return runDatagenInspection(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.out, "out", "", "output directory (created if missing; required)")
	f.IntVar(&opts.n, "n", synth.DefaultN, fmt.Sprintf("number of images (%d..%d)", synth.MinN, synth.MaxN))
	f.Uint64Var(&opts.seed, "seed", 1, "random seed: the same seed gives the same dataset")
	f.IntVar(&opts.workers, "workers", 0, "parallel workers (0: one per CPU, at most GOMAXPROCS)")
	return cmd
}

func (o datagenInspectionOptions) validate() error {
	if o.out == "" {
		return fmt.Errorf("--out is required")
	}
	if o.n < synth.MinN || o.n > synth.MaxN {
		return fmt.Errorf("--n %d is out of range (want %d..%d)", o.n, synth.MinN, synth.MaxN)
	}
	if o.workers < 0 {
		return fmt.Errorf("--workers %d is negative (0 means one per CPU)", o.workers)
	}
	return nil
}

func runDatagenInspection(ctx context.Context, opts datagenInspectionOptions) error {
	bar := newProgress(opts.stderr, "generating", opts.n)
	sum, err := synth.Generate(ctx, synth.Options{
		N: opts.n, Seed: opts.seed, Out: opts.out, Workers: opts.workers,
		Progress: bar.Update,
	})
	bar.Stop()
	if err != nil {
		return err
	}
	printDatagenSummary(opts.stdout, sum)
	return nil
}

func printDatagenSummary(w io.Writer, s synth.Summary) {
	fmt.Fprintf(w, "generated %d images (seed %d) in %.1fs, %.0f images/s\n\n",
		s.N, s.Seed, s.Elapsed.Seconds(), float64(s.N)/max(s.Elapsed.Seconds(), 1e-9))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "label\t")
	for _, sp := range synth.Splits {
		fmt.Fprintf(tw, "%s\t", sp)
	}
	fmt.Fprintln(tw, "total\t")
	for _, l := range append(synth.Labels, "") {
		name := l
		if l == "" {
			name = "total"
		}
		fmt.Fprintf(tw, "%s\t", name)
		for _, sp := range synth.Splits {
			fmt.Fprintf(tw, "%d\t", s.Count(sp, l))
		}
		fmt.Fprintf(tw, "%d\t\n", s.Count("", l))
	}
	tw.Flush()
	fmt.Fprintf(w, "\nLabels are as the operators recorded them: %d of %d differ from the true defect\n(%s labels faint scratches ok; truth.csv has the true defects).\n",
		s.Mislabelled, s.N, synth.BiasedOperator)
	fmt.Fprintf(w, "\nmanifests:\n")
	m := s.Manifests
	fmt.Fprintf(w, "  %s\n  %s\n  %s\n", m.Train, m.Val, m.Test)
	fmt.Fprintf(w, "  %s  (every image, with a split column)\n", m.All)
	fmt.Fprintf(w, "  %s  (ground truth, for analysis only: not for training)\n", m.Truth)
}

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/metacnn/metacnn/explain"
	"github.com/metacnn/metacnn/model"
)

type explainOptions struct {
	model   string
	image   string
	meta    []string
	sweep   []string
	class   string
	out     string
	noSweep bool

	row            map[string]string
	sweeps         map[string][]string
	stdout, stderr io.Writer
}

func newExplainCmd() *cobra.Command {
	var opts explainOptions
	cmd := &cobra.Command{
		Use:   "explain --model model.mcnn --image X [--meta k=v ...] [--class C] [--out DIR]",
		Short: "Show where a model looks in an image and what its metadata changes",
		Long: `Explain one prediction: the image at --image with the metadata row given by
--meta column=value (repeat the flag; raw values as in a manifest; columns left
out take the model's missing-value policy).

Printed: the class probabilities, and a one-line account of each finding.
Written to --out:

  gradcam_overlay.png  Grad-CAM heat map (blue low, red high) over the image
                       as the network sees it (resized), enlarged to >= 224 px
  gradcam.png          the Grad-CAM map alone in grey, one pixel per input pixel
  input.png            the resized input image, enlarged as the overlay
  explain.json         prediction, Grad-CAM channel weights and peak, the
                       per-channel gamma/beta of the row, the sweeps

Grad-CAM (Selvaraju et al. 2017) weights each channel of the last feature map
(the one the head reads, after any FiLM or scale+bias block) by the mean
gradient of the class logit (--class, default the predicted class), sums the
channels, keeps the positive part, upsamples it bilinearly to the input size
and scales it to [0, 1].

For models whose metadata scales and shifts feature channels (seed-film,
seed-scalebias, spec models with film or scalebias blocks) the command also
writes the per-channel gamma (scale) and beta (shift) the row produces
(modulation.csv), and how they change as one column at a time takes other
values (sweep.csv, and sweep_<block>_<column>.png: channel across, value up,
red amplifies or shifts up, blue damps or shifts down, white leaves a channel
alone). Categorical columns are swept over their known categories, numbers
over a few values around the training mean (or around the given value for raw
columns), cyclical ones around their period; --sweep column=v1,v2,... chooses
the values, --sweep column= skips a column, --no-sweep skips all. For every
metadata model, sweep_probs.csv shows how the class probabilities follow.`,
		Example: "  metacnn explain --model model.mcnn --image img/001.png --meta m1=0.4 --meta m2=1.2 --out why\n" +
			"  metacnn explain --model model.mcnn --image part.png --meta camera=C3 --class defect --sweep temperature=15,20,25,30",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.stdout, opts.stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			if err := opts.validate(); err != nil {
				return err
			}
			return runExplain(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.model, "model", "", "model file (.mcnn)")
	f.StringVar(&opts.image, "image", "", "image file to explain")
	f.StringArrayVar(&opts.meta, "meta", nil, "metadata value as column=value (repeatable)")
	f.StringVar(&opts.class, "class", "", "class to explain (default: the predicted class)")
	f.StringVar(&opts.out, "out", "explain", "directory to write the heat maps, tables and plots into")
	f.StringArrayVar(&opts.sweep, "sweep", nil, "values to sweep a metadata column over, column=v1,v2,... (repeatable; column= skips it)")
	f.BoolVar(&opts.noSweep, "no-sweep", false, "do not sweep the metadata columns")
	return cmd
}

func (o *explainOptions) validate() error {
	if o.model == "" {
		return usageErrorf("--model is required")
	}
	if o.image == "" {
		return usageErrorf("--image is required")
	}
	if strings.TrimSpace(o.out) == "" {
		return usageErrorf("--out is empty")
	}
	if st, err := os.Stat(o.out); err == nil && !st.IsDir() {
		return usageErrorf("--out %s is a file; want a directory", o.out)
	}
	row, err := explain.ParseMeta(o.meta)
	if err != nil {
		return usageErrorf("--meta: %v", err)
	}
	o.row = row
	sweeps, err := explain.ParseSweep(o.sweep)
	if err != nil {
		return usageErrorf("--sweep: %v", err)
	}
	if o.noSweep && len(sweeps) > 0 {
		return usageErrorf("--sweep and --no-sweep contradict each other")
	}
	o.sweeps = sweeps
	return nil
}

func runExplain(ctx context.Context, o explainOptions) error {
	b, err := model.Load(o.model)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r, err := explain.Run(b, o.image, o.row, explain.Options{Class: o.class, Sweep: o.sweeps, NoSweep: o.noSweep})
	if err != nil {
		return err
	}
	if err := r.Summary(o.stdout); err != nil {
		return err
	}
	files, err := r.Write(o.out)
	if err != nil {
		return err
	}
	for _, f := range files {
		fmt.Fprintf(o.stdout, "wrote %s\n", f)
	}
	return nil
}

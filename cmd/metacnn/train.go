package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/metacnn/metacnn/config"
	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/model"
	"github.com/metacnn/metacnn/train"
)

type trainOptions struct {
	config     string
	out        string
	resume     string
	epochs     int
	steps      int
	lengthSet  [2]bool // --epochs, --steps given
	seed       uint64
	seedSet    bool
	onBadRow   string
	checkpoint string
	log        string
	workers    int

	stdout, stderr io.Writer
}

func newTrainCmd() *cobra.Command {
	var opts trainOptions
	cmd := &cobra.Command{
		Use:   "train --config config.yaml --out model.mcnn [--resume CKPT] [--epochs N | --steps N] [--seed S] [--on-bad-row error|skip]",
		Short: "Train a model as a config file says",
		Long: `Train a model as a config file says (write one with 'metacnn init'): read and
check the data, fit the metadata encoders on the training split, train with
validation after each epoch, and write the model file.

A checkpoint is written atomically every train.checkpoint_every epochs (by
default to OUT with the extension .ckpt). Ctrl-C saves one and stops; --resume
continues from it with the same data order, random streams and schedule, so the
result is the one an uninterrupted run gives.

The run's length is train.epochs or train.steps, or --epochs or --steps (one
of them) in their place. With a step budget N the run trains exactly N
optimizer steps: ceil(N / batches per epoch) epochs, the last stopping at
step N and then validated, logged and checkpointed like any final epoch; a
cosine schedule ends at step N. With --resume, a larger --epochs or --steps
extends the run.

Progress goes to stderr (a bar on a terminal, a line per epoch otherwise), a
JSON-lines training log to --log, rows skipped under --on-bad-row=skip to
OUT.skipped.jsonl, and a summary to stdout.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.stdout, opts.stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			opts.seedSet = cmd.Flags().Changed("seed")
			opts.lengthSet = [2]bool{cmd.Flags().Changed("epochs"), cmd.Flags().Changed("steps")}
			if err := opts.validate(); err != nil {
				return err
			}
			return runTrain(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.config, "config", "", "config file (YAML); optional with --resume, which carries its own")
	f.StringVar(&opts.out, "out", "", "model file to write (.mcnn)")
	f.StringVar(&opts.resume, "resume", "", "checkpoint to continue from")
	f.IntVar(&opts.epochs, "epochs", 0, "number of epochs, replacing the config's train.epochs or train.steps (0: the config's)")
	f.IntVar(&opts.steps, "steps", 0, "number of optimizer steps, replacing the config's train.epochs or train.steps: trains ceil(N / batches per epoch) epochs, the last one stopping at step N (0: the config's); not with --epochs")
	f.Uint64Var(&opts.seed, "seed", 0, "random seed, replacing train.seed")
	f.StringVar(&opts.onBadRow, "on-bad-row", "", "error (stop at bad rows, listing them) or skip (leave them out, report each); default: the config's data.on_bad_row")
	f.StringVar(&opts.checkpoint, "checkpoint", "", "checkpoint file (default: OUT with the extension .ckpt)")
	f.StringVar(&opts.log, "log", "", "JSON-lines training log, appended to (default: OUT with the extension .train.jsonl)")
	f.IntVar(&opts.workers, "workers", 0, "image decoding workers (0: the config's train.workers); results do not depend on it")
	return cmd
}

func (o *trainOptions) validate() error {
	if o.out == "" {
		return usageErrorf("--out is required")
	}
	if o.config == "" && o.resume == "" {
		return usageErrorf("--config is required (or --resume with a checkpoint)")
	}
	if o.epochs < 0 {
		return usageErrorf("--epochs %d is negative", o.epochs)
	}
	if o.steps < 0 {
		return usageErrorf("--steps %d is negative", o.steps)
	}
	if o.lengthSet[0] && o.lengthSet[1] {
		return usageErrorf("--epochs and --steps both set the run's length; give one")
	}
	if o.workers < 0 {
		return usageErrorf("--workers %d is negative", o.workers)
	}
	if o.onBadRow != "" {
		if _, err := data.ParseBadRowPolicy(o.onBadRow); err != nil {
			return usageErrorf("--on-bad-row %q: want error or skip", o.onBadRow)
		}
	}
	if o.resume != "" && (o.seedSet || o.onBadRow != "") {
		return usageErrorf("--seed and --on-bad-row cannot change a resumed run (the checkpoint fixes them)")
	}
	if st, err := os.Stat(o.out); err == nil && st.IsDir() {
		return usageErrorf("--out %s is a directory; want a file such as model.mcnn", o.out)
	}
	base := strings.TrimSuffix(o.out, filepath.Ext(o.out))
	if o.checkpoint == "" {
		o.checkpoint = base + ".ckpt"
	}
	if o.log == "" {
		o.log = base + ".train.jsonl"
	}
	return nil
}

func runTrain(ctx context.Context, opts trainOptions) error {
	var cfg *config.Config
	if opts.config != "" {
		c, err := config.Load(opts.config)
		if err != nil {
			return err
		}
		if opts.seedSet {
			c.Train.Seed = opts.seed
		}
		if opts.onBadRow != "" {
			c.Data.OnBadRow = opts.onBadRow
		}
		cfg = c
	}
	logf, err := os.OpenFile(opts.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("training log: %w", err)
	}
	defer logf.Close()
	bar := newTrainProgress(opts.stderr)
	topts := train.Options{
		Config: cfg, Epochs: opts.epochs, Steps: opts.steps, Workers: opts.workers, Checkpoint: opts.checkpoint,
		Log: logf, Progress: bar.update,
	}
	var res *train.Result
	if opts.resume != "" {
		if cfg != nil && opts.epochs == 0 && opts.steps == 0 {
			// An edited train.epochs or train.steps extends (or shortens)
			// the resumed run.
			if t := cfg.WithDefaults().Train; t.Steps > 0 {
				topts.Steps = t.Steps
			} else {
				topts.Epochs = t.Epochs
			}
		}
		fmt.Fprintf(opts.stderr, "resuming from %s\n", opts.resume)
		res, err = train.Resume(ctx, opts.resume, topts)
	} else {
		res, err = train.Run(ctx, topts)
	}
	bar.stop()
	var ie *train.InterruptedError
	if errors.As(err, &ie) {
		if ie.Checkpoint != "" {
			cfgArg := ""
			if opts.config != "" {
				cfgArg = " --config " + opts.config
			}
			fmt.Fprintf(opts.stderr, "%v\nresume with: metacnn train%s --out %s --resume %s\n", ie, cfgArg, opts.out, ie.Checkpoint)
		}
		return err
	}
	var bre *data.BadRowsError
	if errors.As(err, &bre) {
		return err // already lists the rows and the --on-bad-row hint
	}
	if err != nil {
		return err
	}
	if err := saveModel(opts.out, res); err != nil {
		return err
	}
	skipped := ""
	if len(res.Skipped) > 0 {
		skipped = strings.TrimSuffix(opts.out, filepath.Ext(opts.out)) + ".skipped.jsonl"
		if err := writeSkipped(skipped, res.Skipped); err != nil {
			return err
		}
	}
	printTrainSummary(opts.stdout, res, opts, skipped)
	return nil
}

// saveModel writes the trained model file. It is the one place the train
// command hands its result to the model file format.
func saveModel(path string, res *train.Result) error {
	b, err := model.NewBundle(res.Network, res.Schema, res.Image, res.Classes)
	if err != nil {
		return fmt.Errorf("model file %s: %w", path, err)
	}
	js, err := json.Marshal(res.Summary)
	if err != nil {
		return err
	}
	var training map[string]any
	if err := json.Unmarshal(js, &training); err != nil {
		return err
	}
	training["source"] = "metacnn train"
	training["classes"] = res.Classes
	b.Training = training
	return model.Save(path, b)
}

func writeSkipped(path string, rows []data.BadRow) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("skipped-rows report: %w", err)
	}
	rep := data.Report{Skipped: rows}
	if err := rep.WriteJSONL(f); err != nil {
		f.Close()
		return fmt.Errorf("skipped-rows report %s: %w", path, err)
	}
	return f.Close()
}

func printTrainSummary(w io.Writer, res *train.Result, opts trainOptions, skipped string) {
	s := res.Summary
	how := ""
	if s.StoppedEarly {
		how = " (stopped early)"
	}
	fmt.Fprintf(w, "trained %d epoch%s, %d steps%s in %.1fs, %.0f img/s\n", s.Epochs, plural(s.Epochs), s.Steps, how, s.Seconds, s.ImagesPerSec)
	fmt.Fprintf(w, "rows: train %d, val %d, test %d, skipped %d\n", s.TrainRows, s.ValRows, s.TestRows, s.SkippedRows)
	if s.DropsLastRow {
		fmt.Fprintf(w, "note: the last batch of each epoch, one row, was left out: a batch norm of this model normalises a 1x1 feature map, which needs 2 or more rows (another train.batch_size avoids it)\n")
	}
	if s.SmallBatches > 0 {
		fmt.Fprintf(w, "note: training batches that skipped rows left with one row, left out: %d (a batch norm of this model normalises a 1x1 feature map)\n", s.SmallBatches)
	}
	if s.Best != nil {
		fmt.Fprintf(w, "best %s %.4f at epoch %d; the model keeps the %s weights\n", s.Metric, *s.Best, s.BestEpoch, s.Kept)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "split\tloss\taccuracy\tbalanced acc.\t")
	if n := len(s.History); n > 0 {
		h := s.History[n-1]
		fmt.Fprintf(tw, "train (last epoch)\t%.4f\t%.4f\t\t\n", h.TrainLoss, h.TrainAccuracy)
		if h.ValLoss != nil {
			fmt.Fprintf(tw, "val (last epoch)\t%.4f\t%.4f\t%.4f\t\n", *h.ValLoss, *h.ValAccuracy, *h.ValBalancedAccuracy)
		}
	}
	if t := s.Test; t != nil {
		fmt.Fprintf(tw, "test\t%.4f\t%.4f\t%.4f\t\n", t.Loss, t.Accuracy, t.BalancedAccuracy)
	}
	tw.Flush()
	fmt.Fprintf(w, "model: %s\ncheckpoint: %s\nlog: %s\n", opts.out, opts.checkpoint, opts.log)
	if skipped != "" {
		fmt.Fprintf(w, "skipped rows: %s\n", skipped)
	}
}

// trainProgress renders train.Progress: a bar per epoch on a terminal, one
// line per epoch otherwise (and one every 30 s within a long epoch).
type trainProgress struct {
	w     io.Writer
	tty   bool
	bar   *progressbar.ProgressBar
	epoch int
	last  time.Time
}

func newTrainProgress(w io.Writer) *trainProgress {
	p := &trainProgress{w: w, last: time.Now()}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
	}
	return p
}

func (p *trainProgress) update(pr train.Progress) {
	if pr.EpochDone != nil {
		if p.bar != nil {
			_ = p.bar.Finish()
			p.bar = nil
		}
		fmt.Fprintln(p.w, epochLine(pr))
		p.last = time.Now()
		return
	}
	if !p.tty {
		if time.Since(p.last) > 30*time.Second {
			fmt.Fprintf(p.w, "epoch %d/%d: batch %d/%d, loss %.4f, %.0f img/s, ETA %s\n",
				pr.Epoch, pr.Epochs, pr.Batch, pr.Batches, pr.Loss, pr.ImagesPerSec, pr.ETA.Round(time.Second))
			p.last = time.Now()
		}
		return
	}
	if p.bar == nil || p.epoch != pr.Epoch {
		p.epoch = pr.Epoch
		p.bar = progressbar.NewOptions(pr.Batches,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetWidth(25),
			progressbar.OptionShowCount(),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	desc := fmt.Sprintf("epoch %d/%d loss %.4f", pr.Epoch, pr.Epochs, pr.Loss)
	if pr.HasValue {
		desc += fmt.Sprintf(" %s %.4f", pr.Metric, pr.Value)
	}
	desc += fmt.Sprintf(" | %.0f img/s ETA %s", pr.ImagesPerSec, pr.ETA.Round(time.Second))
	p.bar.Describe(desc)
	_ = p.bar.Set(pr.Batch)
}

func (p *trainProgress) stop() {
	if p.bar != nil {
		_ = p.bar.Exit()
		fmt.Fprintln(p.w)
	}
}

func epochLine(pr train.Progress) string {
	e := pr.EpochDone
	s := fmt.Sprintf("epoch %d/%d: train loss %.4f acc %.4f", e.Epoch, pr.Epochs, e.TrainLoss, e.TrainAccuracy)
	if e.ValLoss != nil {
		s += fmt.Sprintf(" | val loss %.4f acc %.4f bal-acc %.4f", *e.ValLoss, *e.ValAccuracy, *e.ValBalancedAccuracy)
		if e.Improved {
			s += " *"
		}
	}
	return s + fmt.Sprintf(" | lr %.3g | %.0f img/s | ETA %s", e.LR, e.ImagesPerSec, pr.ETA.Round(time.Second))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

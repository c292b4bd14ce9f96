package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/config"
	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/meta"
	"github.com/metacnn/metacnn/model"
	"github.com/metacnn/metacnn/nn"
	"github.com/metacnn/metacnn/optim"
	"github.com/metacnn/metacnn/tensor"
)

// Streams of the run's seed: each consumer of randomness gets its own.
const (
	streamModel  = 0x6d6f64656c // initialisation, then dropout
	streamLoader = 0x6c6f6164   // shuffling and augmentation
)

// Options configures Run and Resume.
type Options struct {
	// Config is the run's config, validated, paths resolved (config.Load).
	// Resume takes the config from the checkpoint; a Config given there
	// must agree with it except for train.epochs, train.steps and
	// train.workers.
	Config *config.Config
	// Epochs, when > 0, replaces the run's length with train.epochs (so a
	// resumed run can be extended; a cosine schedule then stretches to the
	// new length); train.steps no longer counts.
	Epochs int
	// Steps, when > 0, replaces the run's length with train.steps, a budget
	// of optimizer steps (train.epochs no longer counts): the run trains
	// ceil(Steps / batches per epoch) epochs, the last cut short at the
	// budget, then validated, logged and checkpointed like a full final
	// epoch. A resumed run trains on to the new budget. At most one of
	// Epochs and Steps may be set.
	Steps int
	// Workers, when > 0, replaces train.workers. Results do not depend on it.
	Workers int
	// Checkpoint is the file a checkpoint is written to every
	// train.checkpoint_every epochs, after the last epoch and when the
	// context is cancelled. Empty: no checkpoints.
	Checkpoint string
	// Log, when set, receives the JSON-lines training log: one object per
	// event ("start", "resume", "step" every train.log_every steps,
	// "epoch", "interrupted", "end").
	Log io.Writer
	// Progress, when set, is called after every training step and at the
	// end of every epoch (with Progress.Epoch set), on the training goroutine.
	Progress func(Progress)
}

// Progress is what a progress display shows.
type Progress struct {
	// Epoch is 1-based; Batch counts the batches done in it.
	Epoch, Epochs  int
	Batch, Batches int
	Step           int64
	// Loss and Accuracy are the running training figures of this epoch.
	Loss, Accuracy float64
	LR             float64
	// Metric names the early-stopping metric; Value is its last
	// validation value, valid when HasValue.
	Metric   string
	Value    float64
	HasValue bool
	// ImagesPerSec is the training throughput of this process so far.
	ImagesPerSec float64
	// ETA is the estimated training time left (validation not counted).
	ETA time.Duration
	// EpochDone is set once per epoch, after validation.
	EpochDone *EpochStats
}

// EpochStats are one epoch's figures. Val* are nil without validation data.
type EpochStats struct {
	// Epoch is 1-based; Step counts the optimizer steps at its end.
	Epoch int   `json:"epoch"`
	Step  int64 `json:"step"`
	// LR is the learning rate of the epoch's last step (of optimizer group
	// 0, default; schedules move the other groups alongside it).
	LR                  float64  `json:"lr"`
	TrainLoss           float64  `json:"train_loss"`
	TrainAccuracy       float64  `json:"train_accuracy"`
	ValLoss             *float64 `json:"val_loss,omitempty"`
	ValAccuracy         *float64 `json:"val_accuracy,omitempty"`
	ValBalancedAccuracy *float64 `json:"val_balanced_accuracy,omitempty"`
	// Improved says the early-stopping metric improved on its best.
	Improved     bool    `json:"improved,omitempty"`
	Seconds      float64 `json:"seconds"`
	ImagesPerSec float64 `json:"images_per_sec"`
}

// Summary describes a finished run.
type Summary struct {
	// Epochs is the number of epochs completed, Steps the optimizer steps.
	Epochs       int   `json:"epochs"`
	Steps        int64 `json:"steps"`
	StoppedEarly bool  `json:"stopped_early,omitempty"`
	// Metric is the early-stopping metric; Best its best value, at BestEpoch.
	Metric    string   `json:"metric,omitempty"`
	Best      *float64 `json:"best,omitempty"`
	BestEpoch int      `json:"best_epoch,omitempty"`
	// Kept is which weights the result holds: best or last.
	Kept      string `json:"kept"`
	TrainRows int    `json:"train_rows"`
	ValRows   int    `json:"val_rows"`
	TestRows  int    `json:"test_rows"`
	// SkippedRows counts the rows left out (policy skip), at load time and
	// in the loader.
	SkippedRows int `json:"skipped_rows"`
	// SmallBatches counts the training batches left out because they had
	// fewer rows than the network's batch norms can normalise
	// (model.MinTrainBatch: one row, whose feature map is 1x1 at a batch
	// norm) after bad rows shrank them; DropsLastRow says that every
	// epoch's last batch had one row for that reason and was left out (the
	// loader's DropLast). Their rows train in the other epochs.
	SmallBatches int64  `json:"small_batches,omitempty"`
	DropsLastRow bool   `json:"drops_last_row,omitempty"`
	Seed         uint64 `json:"seed"`
	Resumed      bool   `json:"resumed,omitempty"`
	// Test holds the final model's metrics on the test rows, when any.
	Test    *Metrics     `json:"test,omitempty"`
	History []EpochStats `json:"history"`
	// Seconds and ImagesPerSec cover this process's training only.
	Seconds      float64 `json:"seconds"`
	ImagesPerSec float64 `json:"images_per_sec"`
}

// Result is a trained model with everything needed to save and use it.
type Result struct {
	Network model.Network
	// Spec is the model spec with its defaults filled in.
	Spec model.Spec
	// Input is the network's [C, H, W].
	Input [3]int
	// Schema is the fitted metadata schema; nil without metadata.
	Schema *meta.Schema
	// Image holds the image options, normalisation statistics included.
	Image   data.ImageOptions
	Classes []string
	// Config is the run's config, defaults applied.
	Config config.Config
	// Skipped lists every row left out, with its reason.
	Skipped []data.BadRow
	Reports []data.Report
	// TestRows are the test split's rows (for evaluation).
	TestRows []data.Row
	Summary  Summary
}

// ErrInterrupted is matched (errors.Is) by the error of a run stopped by
// its context.
var ErrInterrupted = errors.New("train: interrupted")

// InterruptedError is returned when the context is cancelled during
// training. It matches ErrInterrupted and unwraps to the context's error.
type InterruptedError struct {
	// Checkpoint is the file the state was saved to ("" when the run had
	// no checkpoint file).
	Checkpoint string
	Position   Position
	Cause      error
}

func (e *InterruptedError) Error() string {
	s := fmt.Sprintf("training interrupted in epoch %d after %d batches (step %d)", e.Position.Epoch+1, e.Position.Batch, e.Position.Step)
	if e.Checkpoint != "" {
		s += "; checkpoint saved to " + e.Checkpoint
	}
	return s
}

// Is makes errors.Is(err, ErrInterrupted) true.
func (e *InterruptedError) Is(target error) bool { return target == ErrInterrupted }

// Unwrap returns the context's error.
func (e *InterruptedError) Unwrap() error { return e.Cause }

// Run trains a model as opts.Config says.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if opts.Config == nil {
		return nil, errors.New("train: no config")
	}
	if err := opts.Config.Validate(); err != nil {
		return nil, err
	}
	r, err := newRun(ctx, *opts.Config, opts, nil)
	if err != nil {
		return nil, err
	}
	return r.loop(ctx)
}

// Resume continues the run saved in the checkpoint at path with the same
// data order, random streams, optimizer groups and schedule, so it ends as
// the uninterrupted run would have: the same weights, bit for bit. (The
// network draws dropout and modality dropout from the model stream, whose
// state the checkpoint holds; pretrained backbone weights are not read
// again, the checkpoint's weights replace them.)
func Resume(ctx context.Context, path string, opts Options) (*Result, error) {
	ck, err := ReadCheckpoint(path)
	if err != nil {
		return nil, err
	}
	if opts.Config != nil {
		if err := sameConfig(ck.Config, *opts.Config); err != nil {
			return nil, fmt.Errorf("train: resume %s: %w", path, err)
		}
	}
	r, err := newRun(ctx, ck.Config, opts, ck)
	if err != nil {
		return nil, fmt.Errorf("train: resume %s: %w", path, err)
	}
	return r.loop(ctx)
}

// sameConfig reports how b differs from the checkpoint's a, ignoring the
// keys a resumed run may change.
func sameConfig(a, b config.Config) error {
	norm := func(c config.Config) config.Config {
		c = c.WithDefaults()
		c.Train.Epochs, c.Train.Steps, c.Train.Workers, c.Dir = 0, 0, 0, ""
		return c
	}
	a, b = norm(a), norm(b)
	for _, s := range []struct {
		name string
		x, y any
	}{{"data", a.Data, b.Data}, {"metadata", a.Metadata, b.Metadata}, {"model", a.Model, b.Model}, {"train", a.Train, b.Train}} {
		jx, _ := json.Marshal(s.x)
		jy, _ := json.Marshal(s.y)
		if string(jx) != string(jy) {
			return fmt.Errorf("%w in section %s (only train.epochs, train.steps and train.workers may change on resume)", errCheckpointMismatch, s.name)
		}
	}
	return nil
}

// run is one training run's state.
type run struct {
	cfg      config.Config // defaults applied
	opts     Options
	splits   *Splits
	schema   *meta.Schema
	img      data.ImageOptions
	input    [3]int
	net      model.Network
	params   []*autograd.Var
	groups   []paramGroup
	src      *rand.PCG
	opt      optim.Optimizer
	sched    optim.Scheduler // step or cosine; nil otherwise
	perStep  bool            // sched steps per batch (cosine), else per epoch
	plateau  *optim.ReduceLROnPlateau
	weights  []float32
	minBatch int // model.MinTrainBatch of net
	trainL   *data.Loader
	valL     *data.Loader
	epochs   int   // the run's epoch count (with a step budget: the epoch the budget ends in)
	budget   int64 // train.steps; 0: the run is epochs long
	pos      Position
	part     partial
	early    earlyState
	best     map[string]*tensor.Tensor
	history  []EpochStats
	skipped  []data.BadRow
	seenSkip map[[2]any]bool
	resumed  bool

	start  time.Time
	images int // trained this process
	steps  int // trained this process
	lastM  *Metrics
}

func newRun(ctx context.Context, cfg config.Config, opts Options, ck *Checkpoint) (*run, error) {
	dir := cfg.Dir
	cfg = cfg.WithDefaults()
	cfg.Dir = dir
	if opts.Epochs > 0 && opts.Steps > 0 {
		return nil, errors.New("train: give the run's length in epochs or steps, not both")
	}
	if opts.Epochs > 0 {
		cfg.Train.Epochs, cfg.Train.Steps = opts.Epochs, 0
	}
	if opts.Steps > 0 {
		cfg.Train.Epochs, cfg.Train.Steps = 0, opts.Steps
	}
	if opts.Workers > 0 {
		cfg.Train.Workers = opts.Workers
	}
	r := &run{cfg: cfg, opts: opts, epochs: cfg.Train.Epochs, budget: int64(max(cfg.Train.Steps, 0)), seenSkip: map[[2]any]bool{}, resumed: ck != nil}
	t := cfg.Train

	var err error
	if ck != nil {
		r.img = ck.Image
	} else if r.img, err = cfg.ImageOptions(); err != nil {
		return nil, err
	}
	preset := cfg.Model.Arch != ""
	if len(cfg.Metadata.Columns) > 0 || preset {
		if ck != nil {
			if ck.Schema == nil {
				return nil, errors.New("checkpoint has metadata columns but no fitted schema")
			}
			r.schema, err = meta.FromState(*ck.Schema)
		} else if preset {
			// A preset reads fixed columns, raw: nothing to fit.
			r.schema, err = model.SeedSchema(cfg.Model.Arch)
		} else {
			r.schema, err = meta.NewSchema(cfg.Metadata.Columns)
		}
		if err != nil {
			return nil, fmt.Errorf("metadata: %w", err)
		}
	}
	var classes []string
	if ck != nil {
		classes = ck.Classes
	}
	r.splits, err = LoadSplits(ctx, &cfg, r.schema, r.img, classes)
	if err != nil {
		return nil, err
	}
	for _, rep := range r.splits.Reports {
		r.skipped = append(r.skipped, rep.Skipped...)
	}
	if ck != nil {
		r.skipped = slices.Clone(ck.Skipped)
	}
	classes = r.splits.Classes
	if len(classes) < 2 {
		return nil, fmt.Errorf("the training rows have %d class (%v); want at least 2", len(classes), classes)
	}
	if ck != nil && !slices.Equal(classes, ck.Classes) {
		return nil, fmt.Errorf("classes %v differ from the checkpoint's %v", classes, ck.Classes)
	}
	if ck == nil {
		if r.schema != nil && !preset {
			if err := r.schema.Fit(metaRows(r.splits.Train)); err != nil {
				return nil, fmt.Errorf("metadata: fitting on the training rows: %w", err)
			}
		}
		if cfg.Data.Image.Normalize == config.NormalizeDataset {
			r.img.Mean, r.img.Std, err = data.ChannelStats(ctx, r.splits.Train, r.img, t.Workers)
			if err != nil {
				return nil, fmt.Errorf("data.image.normalize dataset: %w", err)
			}
		}
	}
	if len(r.img.Shape()) != 3 {
		return nil, fmt.Errorf("image shape %v", r.img.Shape())
	}
	s := r.img.Shape()
	r.input = [3]int{s[0], s[1], s[2]}

	width, slots := 0, []meta.IDSlot(nil)
	if r.schema != nil {
		width, slots = r.schema.Width(), r.schema.IDSlots()
	}
	if err := checkPreset(cfg.Model, width, slots); err != nil {
		return nil, err
	}
	r.src = rand.NewPCG(t.Seed, streamModel)
	r.net, err = model.Build(cfg.Model, r.input, width, slots, len(classes), rand.New(r.src))
	if err != nil {
		return nil, err
	}
	if ck != nil {
		if err := nn.LoadStateDict(r.net, ck.weights); err != nil {
			return nil, fmt.Errorf("weights: %w", err)
		}
		if err := r.src.UnmarshalBinary(ck.RNG); err != nil {
			return nil, fmt.Errorf("random state: %w", err)
		}
	}
	if w := cfg.Model.Backbone.Weights; w != "" && ck == nil {
		n, ok := r.net.(*model.Net)
		if !ok {
			return nil, errors.New("model.backbone.weights: the network has no resnet backbone")
		}
		if err := model.LoadBackboneFile(n, w); err != nil {
			return nil, fmt.Errorf("model.backbone.weights: %w", err)
		}
	}
	r.minBatch = model.MinTrainBatch(r.net)
	r.params = nn.Trainable(r.net)
	r.groups = paramGroups(t.Optimizer, r.net)
	if r.opt, err = newOptimizer(t.Optimizer, optimGroups(r.groups)); err != nil {
		return nil, err
	}
	if ck != nil {
		if err := checkGroups(ck.Optimizer, r.groups); err != nil {
			return nil, err
		}
		st, err := joinOptimState(ck.Optimizer, ck.moments)
		if err != nil {
			return nil, err
		}
		if err := r.opt.LoadState(st); err != nil {
			return nil, err
		}
	}
	if r.weights, err = ClassWeights(t.ClassWeights, r.splits.Train, len(classes)); err != nil {
		return nil, err
	}

	lo := data.LoaderOptions{
		BatchSize: t.BatchSize, DropLast: t.DropLast, Shuffle: true, Seed: mix64(t.Seed ^ streamLoader),
		Workers: t.Workers, Image: r.img, Schema: r.schema, OnBadRow: cfg.Data.Policy(), Source: r.splits.TrainSource,
	}
	if t.Augment != (data.Augment{}) {
		a := t.Augment
		lo.Augment = &a
	}
	if r.dropsLastRow() {
		lo.DropLast = true
	}
	if r.trainL, err = data.NewLoader(r.splits.Train, lo); err != nil {
		return nil, err
	}
	if len(r.splits.Val) > 0 {
		vo := lo
		vo.Shuffle, vo.Augment, vo.DropLast, vo.Source = false, nil, false, r.splits.ValSource
		if r.valL, err = data.NewLoader(r.splits.Val, vo); err != nil {
			return nil, err
		}
	}
	if (t.EarlyStopping.Patience > 0 || t.Schedule.Kind == config.SchedulePlateau || t.Keep == config.KeepBest) && r.valL == nil {
		return nil, errors.New("the split has no validation rows, which early stopping, the plateau schedule and keep: best need")
	}
	if r.budget > 0 {
		var pos Position
		if ck != nil {
			pos = ck.Position
		}
		r.epochs = budgetEpochs(r.budget, pos, r.trainL.NumBatches())
	}
	if err := r.newSchedule(ck); err != nil {
		return nil, err
	}
	if ck != nil {
		r.pos, r.part, r.early, r.history = ck.Position, ck.Partial, ck.Early, ck.History
		r.best = ck.best
		if n := len(r.history); n > 0 && r.history[n-1].ValLoss != nil {
			last := r.history[n-1]
			r.lastM = &Metrics{Loss: *last.ValLoss, Accuracy: *last.ValAccuracy, BalancedAccuracy: *last.ValBalancedAccuracy}
		}
	}
	return r, nil
}

// budgetEpochs returns the epoch count of a run with a budget of steps,
// from pos on, with bpe batches per epoch: the epoch the budget is reached
// in is the last. An epoch in progress at pos (trained in part, or trained
// and not yet validated) is finished first, even when the budget is
// already spent.
func budgetEpochs(budget int64, pos Position, bpe int) int {
	bpe = max(bpe, 1)
	left, e := budget-pos.Step, int64(pos.Epoch)
	if pos.TrainDone || pos.Batch > 0 {
		e++
		if !pos.TrainDone {
			left -= int64(bpe - pos.Batch)
		}
	}
	if left > 0 {
		e += (left + int64(bpe) - 1) / int64(bpe)
	}
	return int(e)
}

// checkPreset checks that the metadata encodes what a seed preset reads.
func checkPreset(spec model.Spec, width int, slots []meta.IDSlot) error {
	want := map[string]struct {
		dense, ids int
		what       string
	}{
		model.SeedConcat:    {0, 1, "one categorical column with encoding index and cardinality 10 (operator_id)"},
		model.SeedScaleBias: {1, 0, "one numeric column with scale raw (temperature)"},
		model.SeedFiLM:      {2, 0, "two numeric columns with scale raw (m1, m2)"},
	}
	w, ok := want[spec.Arch]
	if !ok {
		return nil
	}
	if width != w.dense || len(slots) != w.ids || (w.ids == 1 && slots[0].Size > 10) {
		return fmt.Errorf("model.arch %s reads %s; the metadata section encodes %d dense values and %d id columns", spec.Arch, w.what, width, len(slots))
	}
	return nil
}

func newOptimizer(o config.Optimizer, groups []optim.Group) (optim.Optimizer, error) {
	switch o.Kind {
	case config.OptimizerSGD:
		return optim.NewSGD(groups, optim.SGDConfig{LR: o.LR, Momentum: *o.Momentum, Nesterov: o.Nesterov, WeightDecay: *o.WeightDecay})
	case config.OptimizerAdam, config.OptimizerAdamW:
		c := optim.AdamConfig{LR: o.LR, Betas: [2]float64{o.Betas[0], o.Betas[1]}, Eps: o.Eps, WeightDecay: o.WeightDecay}
		if o.Kind == config.OptimizerAdam {
			return optim.NewAdam(groups, c)
		}
		return optim.NewAdamW(groups, c)
	}
	return nil, fmt.Errorf("train.optimizer.kind: unknown %q", o.Kind)
}

func (r *run) newSchedule(ck *Checkpoint) error {
	s := r.cfg.Train.Schedule
	var err error
	switch s.Kind {
	case config.ScheduleStep:
		r.sched, err = optim.NewStepLR(r.opt, s.StepSize, s.Gamma)
	case config.ScheduleCosine:
		spe := r.trainL.NumBatches()
		warmup, total := int(math.Round(s.WarmupEpochs*float64(spe))), r.epochs*spe
		if r.budget > 0 {
			total = int(r.budget)
			if warmup > total {
				return fmt.Errorf("train.schedule.warmup_epochs: %g warm-up epochs (%d steps of %d per epoch) do not fit in a run of %d steps (train.steps or --steps)", s.WarmupEpochs, warmup, spe, total)
			}
		} else if s.WarmupEpochs > float64(r.epochs) {
			return fmt.Errorf("train.schedule.warmup_epochs: %g warm-up epochs do not fit in a run of %d epochs (train.epochs or --epochs)", s.WarmupEpochs, r.epochs)
		}
		r.sched, err = optim.NewCosineWarmup(r.opt, optim.CosineWarmupConfig{
			WarmupSteps: warmup, TotalSteps: max(1, total), MinLR: s.MinLR,
		})
		r.perStep = true
	case config.SchedulePlateau:
		mode := optim.PlateauMin
		if r.cfg.Train.EarlyStopping.Mode == "max" {
			mode = optim.PlateauMax
		}
		r.plateau, err = optim.NewReduceLROnPlateau(r.opt, optim.PlateauConfig{Mode: mode, Factor: s.Factor, Patience: s.Patience, MinLR: s.MinLR})
	}
	if err != nil {
		return fmt.Errorf("train.schedule: %w", err)
	}
	if ck != nil {
		if r.sched != nil {
			r.sched.Seek(ck.Schedule.Position)
		}
		if r.plateau != nil {
			if ck.Schedule.Plateau == nil {
				return errors.New("checkpoint lacks the plateau schedule's state")
			}
			if err := r.plateau.LoadState(*ck.Schedule.Plateau); err != nil {
				return err
			}
		}
	}
	return nil
}

// loop trains the remaining epochs.
func (r *run) loop(ctx context.Context) (*Result, error) {
	r.start = time.Now()
	ev := "start"
	if r.resumed {
		ev = "resume"
	}
	fields := map[string]any{"epoch": r.pos.Epoch, "batch": r.pos.Batch, "step": r.pos.Step, "epochs": r.epochs,
		"train_rows": len(r.splits.Train), "val_rows": len(r.splits.Val), "seed": r.cfg.Train.Seed, "optimizer_groups": r.groups}
	if r.budget > 0 {
		fields["steps"] = r.budget
	}
	r.logEvent(ev, fields)
	for r.pos.Epoch < r.epochs && !r.early.Stopped {
		if err := r.epoch(ctx); err != nil {
			if ctx.Err() == nil {
				return nil, err
			}
			return nil, r.interrupt(ctx)
		}
	}
	return r.finish(ctx)
}

func (r *run) interrupt(ctx context.Context) error {
	ie := &InterruptedError{Checkpoint: r.opts.Checkpoint, Position: r.pos, Cause: ctx.Err()}
	if r.opts.Checkpoint != "" {
		if err := r.save(); err != nil {
			return fmt.Errorf("%w; and saving the checkpoint failed: %v", ctx.Err(), err)
		}
	}
	r.logEvent("interrupted", map[string]any{"epoch": r.pos.Epoch, "batch": r.pos.Batch, "step": r.pos.Step, "checkpoint": r.opts.Checkpoint})
	return ie
}

// epoch runs (the rest of) epoch r.pos.Epoch: training, validation,
// schedule, early stopping, checkpoint.
func (r *run) epoch(ctx context.Context) error {
	e := r.pos.Epoch
	if !r.pos.TrainDone {
		if err := r.trainEpoch(ctx, e); err != nil {
			return err
		}
		r.pos.TrainDone = true
	}
	st := EpochStats{Epoch: e + 1, Step: r.pos.Step, LR: r.part.LR, Seconds: r.part.Seconds}
	if r.part.Seen > 0 {
		st.TrainLoss = r.part.LossSum / float64(r.part.Seen)
		st.TrainAccuracy = float64(r.part.Correct) / float64(r.part.Seen)
		st.ImagesPerSec = float64(r.part.Seen) / max(r.part.Seconds, 1e-9)
	}
	var metric float64
	if r.valL != nil {
		m, err := Evaluate(ctx, r.net, r.valL, len(r.splits.Classes))
		r.net.SetTraining(true)
		if err != nil {
			return err
		}
		r.lastM = &m
		st.ValLoss, st.ValAccuracy, st.ValBalancedAccuracy = new(m.Loss), new(m.Accuracy), new(m.BalancedAccuracy)
		metric = metricValue(m, r.cfg.Train.EarlyStopping.Metric)
		st.Improved = r.improve(metric, e+1)
	}
	if r.sched != nil && !r.perStep {
		r.sched.Step()
	}
	if r.plateau != nil {
		r.plateau.Step(metric)
	}
	r.history = append(r.history, st)
	r.pos = Position{Epoch: e + 1, Step: r.pos.Step, SmallBatches: r.pos.SmallBatches}
	r.part = partial{}
	last := r.pos.Epoch == r.epochs || r.early.Stopped
	if r.opts.Checkpoint != "" && (r.pos.Epoch%r.cfg.Train.CheckpointEvery == 0 || last) {
		if err := r.save(); err != nil {
			return err
		}
	}
	r.logEvent("epoch", st)
	if r.opts.Progress != nil {
		p := r.progress(r.trainL.NumBatches())
		p.Epoch = e + 1
		p.EpochDone = &st
		r.opts.Progress(p)
	}
	return nil
}

// improve records an epoch's metric and returns whether it improved.
func (r *run) improve(metric float64, epoch int) bool {
	es := r.cfg.Train.EarlyStopping
	better := false
	switch {
	case math.IsNaN(metric):
	case r.early.Best == nil:
		better = true
	case es.Mode == "max":
		better = metric > *r.early.Best+es.MinDelta
	default:
		better = metric < *r.early.Best-es.MinDelta
	}
	if better {
		r.early.Best, r.early.BestEpoch, r.early.Bad = new(metric), epoch, 0
		if r.cfg.Train.Keep == config.KeepBest {
			r.best = copyWeights(r.net)
		}
	} else {
		r.early.Bad++
		if es.Patience > 0 && r.early.Bad >= es.Patience {
			r.early.Stopped = true
		}
	}
	return better
}

func copyWeights(m nn.Module) map[string]*tensor.Tensor {
	out := map[string]*tensor.Tensor{}
	for name, t := range nn.StateDict(m) {
		out[name] = tensor.FromSlice(slices.Clone(t.Data()), t.Shape()...)
	}
	return out
}

// dropsLastRow reports whether every epoch would end in a batch of one row
// that the network's batch norms cannot train on (minBatch) without
// train.drop_last: the loader then leaves it out (its row, a different one
// each epoch, trains in the others).
func (r *run) dropsLastRow() bool {
	t := r.cfg.Train
	return r.minBatch > 1 && !t.DropLast && len(r.splits.Train)%t.BatchSize == 1
}

func (r *run) trainEpoch(ctx context.Context, e int) error {
	r.net.SetTraining(true)
	ep := r.trainL.Epoch(ctx, e)
	defer ep.Close()
	defer func() {
		for _, b := range ep.Skipped() {
			if k := [2]any{b.Source, b.Row}; !r.seenSkip[k] {
				r.seenSkip[k] = true
				r.skipped = append(r.skipped, b)
			}
		}
	}()
	tp := autograd.NewTape()
	defer tp.Release()
	t := r.cfg.Train
	ce := autograd.CrossEntropyOptions{Weight: r.weights, LabelSmoothing: t.LabelSmoothing}
	batches := r.trainL.NumBatches()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		b, err := ep.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if b.Index < r.pos.Batch {
			continue // done before the checkpoint this run resumed from
		}
		if r.budget > 0 && r.pos.Step >= r.budget {
			return nil // the step budget ends the run inside this epoch
		}
		if b.Len() < r.minBatch {
			// Batch statistics need two values per channel: this batch,
			// which bad rows shrank, cannot train. Its row is in the other
			// epochs' batches.
			r.pos.Batch = b.Index + 1
			r.pos.SmallBatches++
			r.logEvent("batch_left_out", map[string]any{"epoch": e + 1, "batch": b.Index + 1, "rows": b.Len(),
				"reason": fmt.Sprintf("fewer than %d rows: a batch norm normalises a 1x1 feature map", r.minBatch)})
			continue
		}
		t0 := time.Now()
		r.part.LR = r.opt.LR()
		logits := r.net.Forward(tp, inputs(b))
		loss := tp.CrossEntropy(logits, b.Labels, ce)
		lv := float64(loss.Value.Data()[0])
		if math.IsNaN(lv) || math.IsInf(lv, 0) {
			return fmt.Errorf("train: the loss is %v at epoch %d batch %d (step %d): training diverged; lower train.optimizer.lr or set train.grad_clip", lv, e+1, b.Index+1, r.pos.Step+1)
		}
		r.opt.ZeroGrad()
		tp.Backward(loss)
		if t.GradClip > 0 {
			optim.ClipGradNorm(r.params, t.GradClip)
		}
		r.opt.Step()
		if r.sched != nil && r.perStep {
			r.sched.Step()
		}
		c := newCounter(len(r.splits.Classes))
		c.add(logits.Value, b.Labels)
		tp.Release() // the loss and logits have been read
		r.part.LossSum += lv * float64(b.Len())
		r.part.Correct += c.correct
		r.part.Seen += b.Len()
		r.part.Seconds += time.Since(t0).Seconds()
		r.pos.Batch = b.Index + 1
		r.pos.Step++
		r.images += b.Len()
		r.steps++
		if n := t.LogEvery; n > 0 && r.pos.Step%int64(n) == 0 {
			r.logEvent("step", map[string]any{"epoch": e + 1, "batch": r.pos.Batch, "step": r.pos.Step,
				"loss": lv, "lr": r.part.LR})
		}
		if r.opts.Progress != nil {
			r.opts.Progress(r.progress(batches))
		}
		if r.budget > 0 && r.pos.Step >= r.budget {
			return nil
		}
	}
}

func (r *run) progress(batches int) Progress {
	p := Progress{
		Epoch: r.pos.Epoch + 1, Epochs: r.epochs, Batch: r.pos.Batch, Batches: batches, Step: r.pos.Step,
		LR: r.opt.LR(), Metric: r.cfg.Train.EarlyStopping.Metric,
	}
	if r.part.Seen > 0 {
		p.Loss = r.part.LossSum / float64(r.part.Seen)
		p.Accuracy = float64(r.part.Correct) / float64(r.part.Seen)
	}
	if r.lastM != nil {
		p.Value, p.HasValue = metricValue(*r.lastM, p.Metric), true
	}
	if r.budget > 0 && !r.pos.TrainDone && r.pos.Epoch < r.epochs {
		// The epoch the budget ends in is shorter.
		p.Batches = int(min(int64(batches), int64(r.pos.Batch)+max(r.budget-r.pos.Step, 0)))
	}
	if el := time.Since(r.start).Seconds(); el > 0 && r.steps > 0 {
		p.ImagesPerSec = float64(r.images) / el
		left := (r.epochs-r.pos.Epoch-1)*batches + (batches - r.pos.Batch)
		if r.pos.TrainDone {
			left = (r.epochs - r.pos.Epoch - 1) * batches
		}
		if r.budget > 0 {
			left = int(r.budget - r.pos.Step)
		}
		p.ETA = time.Duration(float64(max(left, 0)) * el / float64(r.steps) * float64(time.Second))
	}
	return p
}

// save writes the checkpoint.
func (r *run) save() error {
	ck := &Checkpoint{
		Created: time.Now().UTC().Truncate(time.Second), Config: r.cfg, ConfigDir: r.cfg.Dir,
		Classes: r.splits.Classes, Image: r.img, Position: r.pos, Early: r.early, Partial: r.part,
		History: r.history, Skipped: r.skipped, best: r.best,
	}
	ck.Config.Train.Workers = 0 // not part of the run's identity
	var err error
	if r.schema != nil {
		st, err := r.schema.State()
		if err != nil {
			return err
		}
		ck.Schema = &st
	}
	if ck.RNG, err = r.src.MarshalBinary(); err != nil {
		return err
	}
	ck.Optimizer, ck.moments = splitOptimState(r.opt.State(), groupNames(r.groups))
	if r.sched != nil {
		ck.Schedule.Position = r.sched.Steps()
	}
	if r.plateau != nil {
		ck.Schedule.Plateau = new(r.plateau.State())
	}
	ck.weights = copyWeights(r.net)
	return WriteCheckpoint(r.opts.Checkpoint, ck)
}

func (r *run) finish(ctx context.Context) (*Result, error) {
	kept := config.KeepLast
	if r.cfg.Train.Keep == config.KeepBest && r.best != nil {
		if err := nn.LoadStateDict(r.net, r.best); err != nil {
			return nil, fmt.Errorf("train: restoring the best weights: %w", err)
		}
		kept = config.KeepBest
	}
	r.net.SetTraining(false)
	el := time.Since(r.start).Seconds()
	sum := Summary{
		Epochs: r.pos.Epoch, Steps: r.pos.Step, StoppedEarly: r.early.Stopped, Kept: kept,
		TrainRows: len(r.splits.Train), ValRows: len(r.splits.Val), TestRows: len(r.splits.Test),
		SkippedRows: len(r.skipped), SmallBatches: r.pos.SmallBatches, DropsLastRow: r.dropsLastRow(), Seed: r.cfg.Train.Seed, Resumed: r.resumed, History: r.history,
		Seconds: el, ImagesPerSec: float64(r.images) / max(el, 1e-9),
	}
	if r.valL != nil {
		sum.Metric, sum.Best, sum.BestEpoch = r.cfg.Train.EarlyStopping.Metric, r.early.Best, r.early.BestEpoch
	}
	if len(r.splits.Test) > 0 {
		vo := data.LoaderOptions{BatchSize: r.cfg.Train.BatchSize, Workers: r.cfg.Train.Workers, Image: r.img,
			Schema: r.schema, OnBadRow: r.cfg.Data.Policy(), Source: r.splits.TestSource}
		l, err := data.NewLoader(r.splits.Test, vo)
		if err != nil {
			return nil, err
		}
		m, err := Evaluate(ctx, r.net, l, len(r.splits.Classes))
		if err != nil {
			return nil, fmt.Errorf("train: test split: %w", err)
		}
		sum.Test = &m
	}
	spec := r.cfg.Model.WithDefaults()
	if n, ok := r.net.(*model.Net); ok {
		spec = n.Spec()
	}
	r.logEvent("end", sum)
	res := &Result{
		Network: r.net, Spec: spec, Input: r.input, Schema: r.schema, Image: r.img, Classes: slices.Clone(r.splits.Classes),
		Config: r.cfg, Skipped: r.skipped, Reports: r.splits.Reports, TestRows: r.splits.Test, Summary: sum,
	}
	return res, nil
}

// logEvent writes one line of the training log: {"event", "time", fields...}.
func (r *run) logEvent(event string, fields any) {
	if r.opts.Log == nil {
		return
	}
	b, err := json.Marshal(fields)
	if err != nil || len(b) < 2 || b[0] != '{' {
		return
	}
	head := fmt.Sprintf(`{"event":%q,"time":%q`, event, time.Now().UTC().Format(time.RFC3339Nano))
	if len(b) > 2 {
		head += ","
	}
	_, _ = io.WriteString(r.opts.Log, head+string(b[1:])+"\n")
}

// mix64 is the splitmix64 finaliser: it gives each stream a distinct seed.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

package compare

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/metacnn/metacnn/config"
	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/eval"
	"github.com/metacnn/metacnn/fusion"
	"github.com/metacnn/metacnn/model"
	"github.com/metacnn/metacnn/train"
)

// Defaults and limits of Options.
const (
	// DefaultSeeds is the number of seeds per fusion.
	DefaultSeeds = 3
	MaxSeeds     = 100
	// DefaultResamples is the number of bootstrap resamples of the paired
	// test: p-values down to 2/(B+1) = 4e-4.
	DefaultResamples = 4999
	// DefaultRepeats is the number of permutations per column and seed in
	// permutation importance.
	DefaultRepeats = 1
	// Alpha is the significance level of the verdict.
	Alpha = 0.05
	// MaxSliceValues is the most distinct values a numeric column may have
	// before its slices are binned.
	MaxSliceValues = 8
	// SliceBins is the number of quantile bins of a binned numeric column.
	SliceBins = 4
	// MinSliceRows is the smallest slice the verdict's "largest gain" names.
	MinSliceRows = 20
)

// DefaultFusions are the kinds compared when Options.Fusions is empty.
var DefaultFusions = []fusion.Kind{fusion.KindNone, fusion.KindConcat, fusion.KindScaleBias, fusion.KindFiLM}

// Options configures Run. Config is required; zero values of the rest are
// the documented defaults.
type Options struct {
	// Config is the run's config, validated and resolved (config.Load). Its
	// model section is the backbone, tower and head every fusion shares; its
	// fusion list is replaced per kind (an entry of the same kind in it,
	// with its stages and options, is kept). It needs metadata columns and
	// must not name a preset (model.arch).
	Config *config.Config
	// Fusions lists the kinds to compare; default DefaultFusions. Image only
	// (none), the baseline, is added first when missing; repeats are an
	// error.
	Fusions []fusion.Kind
	// Seeds is the number of seeds per fusion (1..MaxSeeds); default
	// DefaultSeeds. Seed k trains with train.seed + k.
	Seeds int
	// Epochs, when > 0, replaces train.epochs.
	Epochs int
	// Workers, when > 0, replaces train.workers (image decoding).
	Workers int
	// Resamples is the bootstrap size of the paired test (default
	// DefaultResamples; negative is an error).
	Resamples int
	// Repeats is the number of permutations per column and seed in
	// permutation importance (default DefaultRepeats).
	Repeats int
	// Progress, when set, receives events from the calling goroutine.
	Progress func(Event)
}

// Stage is what an Event reports.
type Stage int

// Stages of a run.
const (
	StageStart    Stage = iota // a training run begins
	StageTrain                 // a training step or epoch ended (Event.Train)
	StageEvaluate              // training ended; scoring the evaluation rows
	StageDone                  // the run is scored (Event.BalancedAccuracy)
)

// Event is one progress report.
type Event struct {
	Stage Stage
	// Run is the 1-based index of the training run, of Runs.
	Run, Runs int
	Fusion    fusion.Kind
	// SeedIndex is k of Seeds; Seed the training seed.
	SeedIndex int
	Seed      uint64
	// Train is set for StageTrain.
	Train *train.Progress
	// BalancedAccuracy is the run's score on the evaluation rows (StageDone).
	BalancedAccuracy float64
	// Elapsed is the time since Run started; Left estimates the time to
	// the end from the runs done (0 before the first ends).
	Elapsed, Left time.Duration
}

func (o Options) withDefaults() (Options, error) {
	if o.Config == nil {
		return o, errors.New("compare: no config")
	}
	if o.Config.Model.Arch != "" {
		return o, fmt.Errorf("compare: model.arch %s is a fixed preset; compare needs a model spec whose fusion it can replace (leave arch unset)", o.Config.Model.Arch)
	}
	if len(o.Config.Metadata.Columns) == 0 {
		return o, errors.New("compare: the config has no metadata columns, so there is nothing to compare with image only")
	}
	if len(o.Fusions) == 0 {
		o.Fusions = DefaultFusions
	}
	seen := map[fusion.Kind]bool{}
	for _, k := range o.Fusions {
		if !k.Valid() {
			return o, fmt.Errorf("compare: invalid fusion kind %d", int(k))
		}
		if seen[k] {
			return o, fmt.Errorf("compare: fusion %v listed twice", k)
		}
		seen[k] = true
	}
	fs := []fusion.Kind{fusion.KindNone}
	for _, k := range o.Fusions {
		if k != fusion.KindNone {
			fs = append(fs, k)
		}
	}
	if len(fs) < 2 {
		return o, errors.New("compare: no metadata fusion to compare with image only (give at least one of concat, scalebias, film, ...)")
	}
	o.Fusions = fs
	switch {
	case o.Seeds == 0:
		o.Seeds = DefaultSeeds
	case o.Seeds < 0 || o.Seeds > MaxSeeds:
		return o, fmt.Errorf("compare: %d seeds, want 1 to %d", o.Seeds, MaxSeeds)
	}
	if o.Epochs < 0 || o.Workers < 0 {
		return o, errors.New("compare: negative epochs or workers")
	}
	switch {
	case o.Resamples == 0:
		o.Resamples = DefaultResamples
	case o.Resamples < 0:
		return o, fmt.Errorf("compare: %d resamples, want > 0", o.Resamples)
	}
	switch {
	case o.Repeats == 0:
		o.Repeats = DefaultRepeats
	case o.Repeats < 0:
		return o, fmt.Errorf("compare: %d repeats, want > 0", o.Repeats)
	}
	return o, nil
}

// configFor returns cfg with the fusion list of kind k and the seed.
func configFor(cfg config.Config, k fusion.Kind, seed uint64) config.Config {
	var fs []model.FusionSpec
	if k != fusion.KindNone {
		for _, f := range cfg.Model.Fusion {
			if f.Kind == k {
				fs = append(fs, f)
			}
		}
		if len(fs) == 0 {
			fs = []model.FusionSpec{{Kind: k}}
		}
	}
	cfg.Model.Fusion = fs
	if k == fusion.KindNone {
		cfg.Model.ModalityDropout = 0 // not allowed without metadata fusion
	}
	cfg.Train.Seed = seed
	return cfg
}

// runScores is what one trained model leaves behind: its predictions on
// the evaluation rows, intact, with the metadata shuffled, and with each
// column shuffled.
type runScores struct {
	seed       uint64
	summary    train.Summary
	intact     *eval.Predictions
	shuffled   *eval.Predictions    // nil for image only
	importance map[string][]float64 // column -> balanced accuracy per repeat
}

// Run trains and scores every fusion and seed and compares them.
func Run(ctx context.Context, opts Options) (*Result, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	base := *opts.Config
	columns := make([]string, len(base.Metadata.Columns))
	for i, c := range base.Metadata.Columns {
		columns[i] = c.Name
	}
	runs := len(opts.Fusions) * opts.Seeds
	scores := make([][]*runScores, len(opts.Fusions)) // [fusion][seed]
	var es *evalSet
	emit := func(e Event) {
		if opts.Progress == nil {
			return
		}
		e.Runs = runs
		e.Elapsed = time.Since(start)
		opts.Progress(e)
	}
	done := 0
	var trained time.Duration
	left := func() time.Duration {
		if done == 0 {
			return 0
		}
		return trained / time.Duration(done) * time.Duration(runs-done)
	}
	// Seeds outermost: after the first round every fusion has a result,
	// and the time left is estimated from all kinds.
	for s := range opts.Seeds {
		for fi, k := range opts.Fusions {
			seed := base.Train.Seed + uint64(s)
			ev := Event{Run: done + 1, Fusion: k, SeedIndex: s, Seed: seed}
			t0 := time.Now()
			ev.Stage, ev.Left = StageStart, left()
			emit(ev)
			cfg := configFor(base, k, seed)
			res, err := train.Run(ctx, train.Options{
				Config: &cfg, Epochs: opts.Epochs, Workers: opts.Workers,
				Progress: func(p train.Progress) {
					e := ev
					e.Stage, e.Train, e.Left = StageTrain, &p, left()
					emit(e)
				},
			})
			if err != nil {
				return nil, fmt.Errorf("compare: training %v (seed %d): %w", k, seed, err)
			}
			ev.Stage = StageEvaluate
			emit(ev)
			if es == nil {
				if es, err = newEvalSet(ctx, &cfg, res, opts.Workers, columns); err != nil {
					return nil, err
				}
			}
			rs, err := es.score(ctx, res, k, s, opts.Repeats)
			if err != nil {
				return nil, fmt.Errorf("compare: scoring %v (seed %d): %w", k, seed, err)
			}
			rs.seed, rs.summary = seed, res.Summary
			rs.summary.History = nil // the log of every epoch is not part of the comparison
			scores[fi] = append(scores[fi], rs)
			done++
			trained += time.Since(t0)
			ev.Stage, ev.Left = StageDone, left()
			ev.BalancedAccuracy = balancedAccuracy(rs.intact, nil)
			emit(ev)
		}
	}
	r, err := analyse(opts, es, scores, columns)
	if err != nil {
		return nil, err
	}
	r.Seconds = time.Since(start).Seconds()
	return r, nil
}

// permutation returns a seeded permutation of n rows for one purpose.
func permutation(n int, seed uint64, purpose string, repeat int) []int {
	h := uint64(14695981039346656037)
	for _, c := range []byte(purpose) {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return rand.New(rand.NewPCG(seed, h+uint64(repeat))).Perm(n)
}

// sameRows reports whether two row lists are the same rows in the same order.
func sameRows(a, b []data.Row) bool {
	return slices.EqualFunc(a, b, func(x, y data.Row) bool {
		return x.File == y.File && x.Line == y.Line && x.Class == y.Class
	})
}

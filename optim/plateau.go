package optim

import (
	"errors"
	"fmt"
	"math"
)

// PlateauMode says whether a lower or a higher metric is better.
type PlateauMode int

const (
	// PlateauMin: lower is better (losses). The zero value.
	PlateauMin PlateauMode = iota
	// PlateauMax: higher is better (accuracies).
	PlateauMax
)

func (m PlateauMode) String() string {
	switch m {
	case PlateauMin:
		return "min"
	case PlateauMax:
		return "max"
	}
	return fmt.Sprintf("PlateauMode(%d)", int(m))
}

// ParsePlateauMode parses "min" or "max".
func ParsePlateauMode(s string) (PlateauMode, error) {
	switch s {
	case "min":
		return PlateauMin, nil
	case "max":
		return PlateauMax, nil
	}
	return 0, fmt.Errorf("optim: plateau mode %q: want min or max", s)
}

// ThresholdMode says how ReduceLROnPlateau measures a significant
// improvement.
type ThresholdMode int

const (
	// ThresholdRel: better than best*(1 - threshold) in min mode, or
	// best*(1 + threshold) in max mode. The zero value.
	ThresholdRel ThresholdMode = iota
	// ThresholdAbs: better than best - threshold in min mode, or
	// best + threshold in max mode.
	ThresholdAbs
)

func (m ThresholdMode) String() string {
	switch m {
	case ThresholdRel:
		return "rel"
	case ThresholdAbs:
		return "abs"
	}
	return fmt.Sprintf("ThresholdMode(%d)", int(m))
}

// ParseThresholdMode parses "rel" or "abs".
func ParseThresholdMode(s string) (ThresholdMode, error) {
	switch s {
	case "rel":
		return ThresholdRel, nil
	case "abs":
		return ThresholdAbs, nil
	}
	return 0, fmt.Errorf("optim: threshold mode %q: want rel or abs", s)
}

// Defaults of torch.optim.lr_scheduler.ReduceLROnPlateau.
const (
	DefaultPlateauFactor    = 0.1
	DefaultPlateauPatience  = 10
	DefaultPlateauThreshold = 1e-4
	DefaultPlateauEps       = 1e-8
)

// PlateauConfig configures ReduceLROnPlateau. Zero fields select PyTorch's
// defaults; Patience and Threshold are pointers because zero is a useful
// value for them (new(0) reduces after the first epoch without improvement).
type PlateauConfig struct {
	Mode PlateauMode
	// Factor multiplies the learning rate on a plateau; zero means 0.1.
	// Must be in (0, 1).
	Factor float64
	// Patience is how many epochs without improvement are tolerated; the
	// learning rate drops on the next one. nil means 10.
	Patience *int
	// Threshold is the least improvement that counts; nil means 1e-4.
	Threshold     *float64
	ThresholdMode ThresholdMode
	// Cooldown is how many epochs to wait after a reduction before counting
	// epochs without improvement again.
	Cooldown int
	// MinLR is the floor of every group's learning rate.
	MinLR float64
	// Eps is the smallest change of learning rate that is applied; zero
	// means 1e-8.
	Eps float64
}

func (c PlateauConfig) withDefaults() PlateauConfig {
	if c.Factor == 0 {
		c.Factor = DefaultPlateauFactor
	}
	if c.Patience == nil {
		c.Patience = new(DefaultPlateauPatience)
	}
	if c.Threshold == nil {
		c.Threshold = new(DefaultPlateauThreshold)
	}
	if c.Eps == 0 {
		c.Eps = DefaultPlateauEps
	}
	return c
}

// Validate reports the first invalid field, with the rule it breaks.
func (c PlateauConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Mode != PlateauMin && c.Mode != PlateauMax:
		return fmt.Errorf("optim: ReduceLROnPlateau: unknown mode %v", c.Mode)
	case c.ThresholdMode != ThresholdRel && c.ThresholdMode != ThresholdAbs:
		return fmt.Errorf("optim: ReduceLROnPlateau: unknown threshold mode %v", c.ThresholdMode)
	case !(c.Factor > 0 && c.Factor < 1):
		return fmt.Errorf("optim: ReduceLROnPlateau: factor %g must be in (0, 1)", c.Factor)
	case *c.Patience < 0:
		return fmt.Errorf("optim: ReduceLROnPlateau: patience %d must be non-negative", *c.Patience)
	case !(*c.Threshold >= 0) || math.IsInf(*c.Threshold, 0):
		return fmt.Errorf("optim: ReduceLROnPlateau: threshold %g must be non-negative and finite", *c.Threshold)
	case c.Cooldown < 0:
		return fmt.Errorf("optim: ReduceLROnPlateau: cooldown %d must be non-negative", c.Cooldown)
	case !(c.MinLR >= 0) || math.IsInf(c.MinLR, 0):
		return fmt.Errorf("optim: ReduceLROnPlateau: min LR %g must be non-negative and finite", c.MinLR)
	case !(c.Eps >= 0) || math.IsInf(c.Eps, 0):
		return fmt.Errorf("optim: ReduceLROnPlateau: eps %g must be non-negative and finite", c.Eps)
	}
	return nil
}

// ReduceLROnPlateau multiplies every group's learning rate by Factor
// (never below MinLR) when a metric has not improved for more than Patience
// epochs, then waits Cooldown epochs before counting again. Its logic is
// that of torch.optim.lr_scheduler.ReduceLROnPlateau in PyTorch 1.13,
// including how NaN metrics count (never as an improvement). It is not a
// Scheduler: its Step needs the metric.
type ReduceLROnPlateau struct {
	opt Optimizer
	cfg PlateauConfig
	st  plateauState
}

type plateauState struct {
	best            float64
	numBadEpochs    int
	cooldownCounter int
	lastEpoch       int
}

// PlateauState is ReduceLROnPlateau's resumable state. The learning rates
// themselves live in the optimizer's State.
type PlateauState struct {
	// Best is the best metric so far; nil before any metric improved on
	// the initial worst value (±Inf, which JSON cannot hold).
	Best            *float64 `json:"best,omitempty"`
	NumBadEpochs    int      `json:"num_bad_epochs"`
	CooldownCounter int      `json:"cooldown_counter"`
	LastEpoch       int      `json:"last_epoch"`
}

// NewReduceLROnPlateau returns a ReduceLROnPlateau driving opt.
func NewReduceLROnPlateau(opt Optimizer, cfg PlateauConfig) (*ReduceLROnPlateau, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &ReduceLROnPlateau{opt: opt, cfg: cfg.withDefaults()}
	r.st.best = r.worst()
	return r, nil
}

func (r *ReduceLROnPlateau) worst() float64 {
	if r.cfg.Mode == PlateauMin {
		return math.Inf(1)
	}
	return math.Inf(-1)
}

// Step records one epoch's metric and reduces the learning rates when the
// metric has stopped improving.
func (r *ReduceLROnPlateau) Step(metric float64) {
	st := &r.st
	st.lastEpoch++
	if r.isBetter(metric, st.best) {
		st.best = metric
		st.numBadEpochs = 0
	} else {
		st.numBadEpochs++
	}
	if st.cooldownCounter > 0 {
		st.cooldownCounter--
		st.numBadEpochs = 0 // bad epochs in cooldown do not count
	}
	if st.numBadEpochs > *r.cfg.Patience {
		r.reduce()
		st.cooldownCounter = r.cfg.Cooldown
		st.numBadEpochs = 0
	}
}

func (r *ReduceLROnPlateau) reduce() {
	lrs := r.opt.GroupLRs()
	for i, old := range lrs {
		if lr := math.Max(old*r.cfg.Factor, r.cfg.MinLR); old-lr > r.cfg.Eps {
			lrs[i] = lr
		}
	}
	r.opt.SetGroupLRs(lrs)
}

func (r *ReduceLROnPlateau) isBetter(a, best float64) bool {
	th := *r.cfg.Threshold
	switch {
	case r.cfg.Mode == PlateauMin && r.cfg.ThresholdMode == ThresholdRel:
		return a < best*(1-th)
	case r.cfg.Mode == PlateauMin:
		return a < best-th
	case r.cfg.ThresholdMode == ThresholdRel:
		return a > best*(th+1)
	}
	return a > best+th
}

// LR returns the current learning rate of group 0.
func (r *ReduceLROnPlateau) LR() float64 { return r.opt.LR() }

// State returns the scheduler's counters for checkpointing.
func (r *ReduceLROnPlateau) State() PlateauState {
	s := PlateauState{NumBadEpochs: r.st.numBadEpochs, CooldownCounter: r.st.cooldownCounter, LastEpoch: r.st.lastEpoch}
	if r.st.best != r.worst() {
		s.Best = new(r.st.best)
	}
	return s
}

// LoadState restores counters saved by State.
func (r *ReduceLROnPlateau) LoadState(s PlateauState) error {
	if s.NumBadEpochs < 0 || s.CooldownCounter < 0 || s.LastEpoch < 0 {
		return errors.New("optim: ReduceLROnPlateau: load state: negative counter")
	}
	r.st = plateauState{best: r.worst(), numBadEpochs: s.NumBadEpochs, cooldownCounter: s.CooldownCounter, lastEpoch: s.LastEpoch}
	if s.Best != nil {
		r.st.best = *s.Best
	}
	return nil
}

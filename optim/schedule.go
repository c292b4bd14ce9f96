package optim

import (
	"fmt"
	"math"
)

// Scheduler sets an optimizer's learning rates from a position that
// advances by one with each Step. Every group's learning rate is derived
// from its own base LR (Optimizer.BaseLRs), as PyTorch's schedulers derive
// it from each group's initial_lr. A new scheduler applies position 0's
// learning rates at once.
type Scheduler interface {
	// Step advances the position by one and sets the optimizer's learning
	// rates for the new position.
	Step()
	// LR returns the learning rate of group 0 at the current position.
	LR() float64
	// Steps returns the current position: how many times Step has run
	// (counting positions skipped by Seek).
	Steps() int
	// Seek moves to position n (for resuming a run) and sets the
	// optimizer's learning rates for it; it panics when n is negative.
	Seek(n int)
}

// schedule is the machinery every closed-form Scheduler shares.
type schedule struct {
	opt  Optimizer
	base []float64
	n    int
	lrAt func(base float64, n int) float64
}

func newSchedule(opt Optimizer, lrAt func(base float64, n int) float64) schedule {
	s := schedule{opt: opt, base: opt.BaseLRs(), lrAt: lrAt}
	s.apply()
	return s
}

func (s *schedule) apply() {
	lrs := make([]float64, len(s.base))
	for i, b := range s.base {
		lrs[i] = s.lrAt(b, s.n)
	}
	s.opt.SetGroupLRs(lrs)
}

// Step advances one position and applies its learning rates.
func (s *schedule) Step() { s.n++; s.apply() }

// LR returns group 0's learning rate at the current position.
func (s *schedule) LR() float64 { return s.lrAt(s.base[0], s.n) }

// Steps returns the current position.
func (s *schedule) Steps() int { return s.n }

// Seek moves to position n and applies its learning rates.
func (s *schedule) Seek(n int) {
	if n < 0 {
		panic(fmt.Sprintf("optim: Seek(%d): position must be non-negative", n))
	}
	s.n = n
	s.apply()
}

// StepLR multiplies the learning rate by Gamma every StepSize positions,
// in PyTorch's closed form: lr = base * gamma^floor(n / stepSize). Step it
// once per epoch to count StepSize in epochs, or once per batch to count
// in batches.
type StepLR struct {
	schedule
	stepSize int
	gamma    float64
}

var _ Scheduler = (*StepLR)(nil)

// NewStepLR returns a StepLR schedule driving opt; stepSize must be
// positive and gamma positive and finite.
func NewStepLR(opt Optimizer, stepSize int, gamma float64) (*StepLR, error) {
	if stepSize <= 0 {
		return nil, fmt.Errorf("optim: StepLR: step size %d must be positive", stepSize)
	}
	if !(gamma > 0) || math.IsInf(gamma, 0) {
		return nil, fmt.Errorf("optim: StepLR: gamma %g must be positive and finite", gamma)
	}
	s := &StepLR{stepSize: stepSize, gamma: gamma}
	s.schedule = newSchedule(opt, func(base float64, n int) float64 {
		return base * math.Pow(gamma, float64(n/stepSize))
	})
	return s, nil
}

// CosineWarmupConfig configures a CosineWarmup schedule; positions count
// Step calls, normally one per optimizer step.
type CosineWarmupConfig struct {
	// WarmupSteps is the length of the linear warmup; zero means none.
	WarmupSteps int
	// TotalSteps is where the cosine reaches MinLR; it must be positive
	// and at least WarmupSteps.
	TotalSteps int
	// MinLR is the final learning rate, the same for every group (as
	// PyTorch's CosineAnnealingLR eta_min); non-negative.
	MinLR float64
	// StartFactor is the fraction of the base LR at position 0; zero
	// starts the warmup from 0. Must be in [0, 1].
	StartFactor float64
}

// Validate reports the first invalid field, with the rule it breaks.
func (c CosineWarmupConfig) Validate() error {
	switch {
	case c.WarmupSteps < 0:
		return fmt.Errorf("optim: CosineWarmup: warmup steps %d must be non-negative", c.WarmupSteps)
	case c.TotalSteps <= 0 || c.TotalSteps < c.WarmupSteps:
		return fmt.Errorf("optim: CosineWarmup: total steps %d must be positive and at least the %d warmup steps", c.TotalSteps, c.WarmupSteps)
	case !(c.MinLR >= 0) || math.IsInf(c.MinLR, 0):
		return fmt.Errorf("optim: CosineWarmup: min LR %g must be non-negative and finite", c.MinLR)
	case !(c.StartFactor >= 0 && c.StartFactor <= 1):
		return fmt.Errorf("optim: CosineWarmup: start factor %g must be in [0, 1]", c.StartFactor)
	}
	return nil
}

// CosineWarmup warms the learning rate up linearly, then anneals it along a
// half cosine to MinLR, and holds it there. At position n, with W warmup
// steps, T total steps, s the start factor, b a group's base LR and m the
// min LR:
//
//	n < W:       lr = b * (s + (1 - s) * n / W)
//	W <= n < T:  lr = m + (b - m) * (1 + cos(pi * (n - W) / (T - W))) / 2
//	n >= T:      lr = m
//
// This is the closed form of PyTorch's SequentialLR of LinearLR(start_factor=s,
// total_iters=W) and CosineAnnealingLR(T_max=T-W, eta_min=m) with milestone
// W, except that it holds m after T instead of rising again.
type CosineWarmup struct {
	schedule
	cfg CosineWarmupConfig
}

var _ Scheduler = (*CosineWarmup)(nil)

// NewCosineWarmup returns a CosineWarmup schedule driving opt.
func NewCosineWarmup(opt Optimizer, cfg CosineWarmupConfig) (*CosineWarmup, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &CosineWarmup{cfg: cfg}
	c.schedule = newSchedule(opt, c.lrAt)
	return c, nil
}

func (c *CosineWarmup) lrAt(base float64, n int) float64 {
	w, t, s, m := c.cfg.WarmupSteps, c.cfg.TotalSteps, c.cfg.StartFactor, c.cfg.MinLR
	switch {
	case n < w:
		return base * (s + (1-s)*float64(n)/float64(w))
	case n < t:
		return m + (base-m)*(1+math.Cos(math.Pi*float64(n-w)/float64(t-w)))/2
	}
	return m
}

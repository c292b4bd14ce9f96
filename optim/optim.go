package optim

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/tensor"
)

// Group is a set of parameters that share hyperparameters.
type Group struct {
	Params []*autograd.Var
	// LR is this group's learning rate; zero means the optimizer config's LR.
	LR float64
	// WeightDecay, when non-nil, replaces the optimizer config's weight
	// decay for this group; new(0.0) turns decay off (e.g. for biases and
	// normalisation parameters).
	WeightDecay *float64
}

// OneGroup puts all params in a single group using the config's settings.
func OneGroup(params []*autograd.Var) []Group {
	return []Group{{Params: params}}
}

// Optimizer updates parameters from their gradients.
type Optimizer interface {
	// Step applies one update to every parameter whose Grad is non-nil.
	Step()
	// ZeroGrad sets every parameter's Grad to nil.
	ZeroGrad()
	// LR returns the current learning rate of group 0.
	LR() float64
	// SetLR sets group 0's learning rate to lr and every other group's to
	// lr times its base LR divided by group 0's base LR, keeping the ratios
	// the groups were built with.
	SetLR(lr float64)
	// GroupLRs returns the current learning rate of each group.
	GroupLRs() []float64
	// SetGroupLRs sets each group's learning rate; it panics unless there is
	// one non-negative finite value per group.
	SetGroupLRs(lrs []float64)
	// BaseLRs returns each group's base learning rate: the one it was built
	// with (or that LoadState restored). Schedules scale these.
	BaseLRs() []float64
	// State returns a deep copy of everything needed to resume: learning
	// rates, per-parameter step counts and moment buffers.
	State() *State
	// LoadState replaces the optimizer's state with s after checking that
	// s was taken from an optimizer of the same kind over parameters of the
	// same sizes, grouped the same way. On error nothing is changed.
	LoadState(s *State) error
}

// Names of the moment buffers in ParamState.Buffers, as torch.optim names
// them in its state_dict.
const (
	BufMomentum    = "momentum_buffer" // SGD with momentum
	BufExpAvg      = "exp_avg"         // Adam, AdamW: first moment
	BufExpAvgSq    = "exp_avg_sq"      // Adam, AdamW: second moment
	BufMaxExpAvgSq = "max_exp_avg_sq"  // Adam, AdamW with AMSGrad
)

// State is an optimizer's resumable state, indexed by group and by parameter
// within the group. It marshals to JSON as is; moment buffers are flat
// float32 slices in the row-major order of their parameter.
type State struct {
	// Kind is "sgd", "adam" or "adamw".
	Kind   string       `json:"kind"`
	Groups []GroupState `json:"groups"`
}

// GroupState is one group's part of a State.
type GroupState struct {
	LR     float64      `json:"lr"`
	BaseLR float64      `json:"base_lr"`
	Params []ParamState `json:"params"`
}

// ParamState is one parameter's part of a State.
type ParamState struct {
	// Step counts the updates applied to this parameter.
	Step int64 `json:"step"`
	// Buffers holds the moment buffers by name (Buf* constants); a buffer
	// not yet created (before the first update) is absent.
	Buffers map[string][]float32 `json:"buffers,omitempty"`
}

// grain is the least number of elements a parallel update hands to one
// goroutine; smaller parameters are updated on the calling goroutine.
const grain = 1 << 15

// paramState is the live per-parameter state.
type paramState struct {
	step int64
	bufs map[string][]float32
}

type group struct {
	params []*autograd.Var
	lr     float64
	baseLR float64
	wd     float64
	state  []paramState
}

// base holds what every optimizer shares: groups, learning rates, state.
type base struct {
	kind    string
	groups  []group
	allowed []string // buffer names this optimizer may hold
}

func newBase(kind string, groups []Group, lr, wd float64) (base, error) {
	b := base{kind: kind}
	if len(groups) == 0 {
		return b, fmt.Errorf("optim: %s: no parameter groups", kind)
	}
	seen := map[*autograd.Var][2]int{}
	total := 0
	for gi, g := range groups {
		ng := group{params: slices.Clone(g.Params), lr: lr, wd: wd, state: make([]paramState, len(g.Params))}
		if g.LR != 0 {
			if !(g.LR > 0) || math.IsInf(g.LR, 0) {
				return b, fmt.Errorf("optim: %s: group %d: learning rate %g must be positive and finite", kind, gi, g.LR)
			}
			ng.lr = g.LR
		}
		if g.WeightDecay != nil {
			if !(*g.WeightDecay >= 0) || math.IsInf(*g.WeightDecay, 0) {
				return b, fmt.Errorf("optim: %s: group %d: weight decay %g must be non-negative and finite", kind, gi, *g.WeightDecay)
			}
			ng.wd = *g.WeightDecay
		}
		ng.baseLR = ng.lr
		for pi, p := range g.Params {
			if p == nil || p.Value == nil {
				return b, fmt.Errorf("optim: %s: group %d: parameter %d is nil", kind, gi, pi)
			}
			if at, dup := seen[p]; dup {
				return b, fmt.Errorf("optim: %s: group %d: parameter %d is also parameter %d of group %d", kind, gi, pi, at[1], at[0])
			}
			seen[p] = [2]int{gi, pi}
		}
		total += len(g.Params)
		b.groups = append(b.groups, ng)
	}
	if total == 0 {
		return b, fmt.Errorf("optim: %s: no parameters to optimize", kind)
	}
	return b, nil
}

// grad returns p's gradient data, or nil when p has no gradient; it panics
// when the gradient's shape differs from the parameter's.
func (b *base) grad(gi, pi int, p *autograd.Var) []float32 {
	if p.Grad == nil {
		return nil
	}
	if !tensor.SameShape(p.Value, p.Grad) {
		panic(fmt.Sprintf("optim: %s: group %d parameter %d: gradient shape %v differs from parameter shape %v", b.kind, gi, pi, p.Grad.Shape(), p.Value.Shape()))
	}
	return p.Grad.Data()
}

// buffer returns the named buffer of st, creating it zero-filled with n
// elements; fresh reports whether it was just created.
func (st *paramState) buffer(name string, n int) (buf []float32, fresh bool) {
	if b, ok := st.bufs[name]; ok {
		return b, false
	}
	if st.bufs == nil {
		st.bufs = map[string][]float32{}
	}
	b := make([]float32, n)
	st.bufs[name] = b
	return b, true
}

// ZeroGrad sets every parameter's Grad to nil.
func (b *base) ZeroGrad() {
	for _, g := range b.groups {
		for _, p := range g.params {
			p.ZeroGrad()
		}
	}
}

// LR returns the current learning rate of group 0.
func (b *base) LR() float64 { return b.groups[0].lr }

// SetLR sets group 0's learning rate to lr and scales the others with it,
// keeping each group's ratio of base LRs to group 0's.
func (b *base) SetLR(lr float64) {
	lrs := make([]float64, len(b.groups))
	for i, g := range b.groups {
		lrs[i] = lr * (g.baseLR / b.groups[0].baseLR)
	}
	lrs[0] = lr
	b.SetGroupLRs(lrs)
}

// GroupLRs returns the current learning rate of each group.
func (b *base) GroupLRs() []float64 {
	lrs := make([]float64, len(b.groups))
	for i, g := range b.groups {
		lrs[i] = g.lr
	}
	return lrs
}

// SetGroupLRs sets each group's learning rate; it panics unless there is
// one non-negative finite value per group.
func (b *base) SetGroupLRs(lrs []float64) {
	if len(lrs) != len(b.groups) {
		panic(fmt.Sprintf("optim: %s: SetGroupLRs got %d learning rates for %d groups", b.kind, len(lrs), len(b.groups)))
	}
	for i, lr := range lrs {
		if !(lr >= 0) || math.IsInf(lr, 0) {
			panic(fmt.Sprintf("optim: %s: learning rate %g for group %d is negative or not finite", b.kind, lr, i))
		}
	}
	for i, lr := range lrs {
		b.groups[i].lr = lr
	}
}

// BaseLRs returns each group's base learning rate.
func (b *base) BaseLRs() []float64 {
	lrs := make([]float64, len(b.groups))
	for i, g := range b.groups {
		lrs[i] = g.baseLR
	}
	return lrs
}

// State returns a deep copy of the optimizer's resumable state.
func (b *base) State() *State {
	s := &State{Kind: b.kind, Groups: make([]GroupState, len(b.groups))}
	for gi, g := range b.groups {
		gs := GroupState{LR: g.lr, BaseLR: g.baseLR, Params: make([]ParamState, len(g.params))}
		for pi, st := range g.state {
			ps := ParamState{Step: st.step}
			if len(st.bufs) > 0 {
				ps.Buffers = make(map[string][]float32, len(st.bufs))
				for name, buf := range st.bufs {
					ps.Buffers[name] = slices.Clone(buf)
				}
			}
			gs.Params[pi] = ps
		}
		s.Groups[gi] = gs
	}
	return s
}

// LoadState replaces the optimizer's state with a copy of s after
// validating it; on error nothing changes.
func (b *base) LoadState(s *State) error {
	if err := b.checkState(s); err != nil {
		return fmt.Errorf("optim: %s: load state: %w", b.kind, err)
	}
	for gi := range b.groups {
		g, gs := &b.groups[gi], s.Groups[gi]
		g.lr, g.baseLR = gs.LR, gs.BaseLR
		for pi, ps := range gs.Params {
			st := paramState{step: ps.Step}
			if len(ps.Buffers) > 0 {
				st.bufs = make(map[string][]float32, len(ps.Buffers))
				for name, buf := range ps.Buffers {
					st.bufs[name] = slices.Clone(buf)
				}
			}
			g.state[pi] = st
		}
	}
	return nil
}

func (b *base) checkState(s *State) error {
	if s == nil {
		return errors.New("state is nil")
	}
	if s.Kind != b.kind {
		return fmt.Errorf("state is for %q, not %q", s.Kind, b.kind)
	}
	if len(s.Groups) != len(b.groups) {
		return fmt.Errorf("state has %d groups, optimizer has %d", len(s.Groups), len(b.groups))
	}
	for gi, gs := range s.Groups {
		g := b.groups[gi]
		if !(gs.LR >= 0) || math.IsInf(gs.LR, 0) || !(gs.BaseLR > 0) || math.IsInf(gs.BaseLR, 0) {
			return fmt.Errorf("group %d: learning rate %g / base %g is not valid", gi, gs.LR, gs.BaseLR)
		}
		if len(gs.Params) != len(g.params) {
			return fmt.Errorf("group %d: state has %d parameters, optimizer has %d", gi, len(gs.Params), len(g.params))
		}
		for pi, ps := range gs.Params {
			n := g.params[pi].Value.Len()
			if ps.Step < 0 {
				return fmt.Errorf("group %d parameter %d: negative step %d", gi, pi, ps.Step)
			}
			for name, buf := range ps.Buffers {
				if !slices.Contains(b.allowed, name) {
					return fmt.Errorf("group %d parameter %d: unexpected buffer %q (this optimizer keeps %v)", gi, pi, name, b.allowed)
				}
				if len(buf) != n {
					return fmt.Errorf("group %d parameter %d: buffer %q has %d values, parameter has %d", gi, pi, name, len(buf), n)
				}
			}
			if ps.Step > 0 {
				for _, name := range b.allowed {
					if _, ok := ps.Buffers[name]; !ok {
						return fmt.Errorf("group %d parameter %d: buffer %q missing after %d steps", gi, pi, name, ps.Step)
					}
				}
			}
		}
	}
	return nil
}

// add32 returns a + alpha*b as PyTorch's add(b, alpha=alpha) computes it
// for float32 on x86 CPUs: one fused multiply-add (vec::fmadd), rounded once
// to float32. With it the torch reference runs in the tests match bit for
// bit; rounding the product separately leaves differences of up to ~1e-6.
// The float64 product of two float32 values is exact, so this is the fused
// result rounded twice, to float64 and then float32, which can differ from
// a float32 FMA only in rare halfway cases.
func add32(a, alpha, b float32) float32 {
	return float32(float64(a) + float64(alpha)*float64(b))
}

func checkFinite(what string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("%s %g is not finite", what, v)
	}
	return nil
}

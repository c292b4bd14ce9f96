package optim

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/tensor"
)

// closeRel reports whether got is within rel of want, relative to |want|,
// with a floor of 1e-9 for values at zero.
func closeRel(got, want, rel float64) bool {
	return math.Abs(got-want) <= rel*math.Abs(want)+1e-9
}

func param(vals ...float32) *autograd.Var {
	return autograd.Param(tensor.FromSlice(slices.Clone(vals), len(vals)))
}

func setGrad(p *autograd.Var, vals ...float32) {
	p.Grad = tensor.FromSlice(slices.Clone(vals), len(vals))
}

// torchCase builds the optimizer of one torch reference run over the
// parameters a, b (group 0) and c (group 1, own lr, no weight decay).
type torchCase struct {
	lr1   float64
	build func(groups []Group) (Optimizer, error)
}

var torchCases = map[string]torchCase{
	"sgd_plain": {0.05, func(g []Group) (Optimizer, error) { return NewSGD(g, SGDConfig{LR: 0.1}) }},
	"sgd_momentum": {0.05, func(g []Group) (Optimizer, error) {
		return NewSGD(g, SGDConfig{LR: 0.1, Momentum: 0.9, Dampening: 0.1, WeightDecay: 0.01})
	}},
	"sgd_nesterov": {0.05, func(g []Group) (Optimizer, error) {
		return NewSGD(g, SGDConfig{LR: 0.1, Momentum: 0.9, Nesterov: true, WeightDecay: 0.01})
	}},
	"adam": {0.02, func(g []Group) (Optimizer, error) { return NewAdam(g, AdamConfig{LR: 0.01}) }},
	"adam_amsgrad_wd": {0.02, func(g []Group) (Optimizer, error) {
		return NewAdam(g, AdamConfig{LR: 0.01, Betas: [2]float64{0.8, 0.99}, Eps: 1e-6, WeightDecay: new(0.1), AMSGrad: true})
	}},
	"adamw": {0.02, func(g []Group) (Optimizer, error) { return NewAdamW(g, AdamConfig{LR: 0.01}) }},
	"adamw_amsgrad": {0.02, func(g []Group) (Optimizer, error) {
		return NewAdamW(g, AdamConfig{LR: 0.01, WeightDecay: new(0.1), AMSGrad: true})
	}},
}

func torchParams() []*autograd.Var {
	return []*autograd.Var{
		autograd.Param(tensor.FromSlice(slices.Clone(torchInit[0]), 2, 2)),
		param(torchInit[1]...),
		param(torchInit[2]...),
	}
}

func (tc torchCase) new(t *testing.T, ps []*autograd.Var) Optimizer {
	t.Helper()
	opt, err := tc.build([]Group{{Params: ps[:2]}, {Params: ps[2:], LR: tc.lr1, WeightDecay: new(0.0)}})
	if err != nil {
		t.Fatal(err)
	}
	return opt
}

func feedTorchGrads(ps []*autograd.Var, step int) {
	for i, p := range ps {
		if g := torchGrads[step][i]; g != nil {
			p.Grad = tensor.FromSlice(slices.Clone(g), p.Shape()...)
		} else {
			p.Grad = nil
		}
	}
}

// TestTorchReference replays the runs of optim/testdata/gen.py (PyTorch
// 1.13 torch.optim, values in torch_ref_test.go) and compares every
// parameter after every step to 1e-6 relative.
func TestTorchReference(t *testing.T) {
	for name, want := range torchRuns {
		tc, ok := torchCases[name]
		if !ok {
			t.Fatalf("no Go configuration for torch run %q", name)
		}
		t.Run(name, func(t *testing.T) {
			ps := torchParams()
			opt := tc.new(t, ps)
			for step := range 5 {
				opt.ZeroGrad()
				feedTorchGrads(ps, step)
				opt.Step()
				for pi, p := range ps {
					for i, got := range p.Data() {
						w := want[step][pi][i]
						if !closeRel(float64(got), float64(w), 1e-6) {
							t.Errorf("step %d param %d [%d] = %.9g, torch %.9g", step+1, pi, i, got, w)
						}
					}
				}
			}
		})
	}
}

// TestHandComputed checks a few steps worked out by hand from the update
// rules.
func TestHandComputed(t *testing.T) {
	tests := []struct {
		name  string
		build func([]Group) (Optimizer, error)
		grads []float32 // one scalar gradient per step
		want  []float32 // the parameter after each step, starting from 1
		tol   float64
	}{
		{
			// d = 0.5; p = 1 - 0.1*0.5 = 0.95; then 0.95 - 0.05 = 0.9.
			"sgd", func(g []Group) (Optimizer, error) { return NewSGD(g, SGDConfig{LR: 0.1}) },
			[]float32{0.5, 0.5}, []float32{0.95, 0.9}, 1e-7,
		},
		{
			// Step 1: buf = g = 0.5 (no dampening on the first step),
			// p = 1 - 0.1*0.5 = 0.95.
			// Step 2: buf = 0.9*0.5 + (1-0.5)*0.5 = 0.7, p = 0.95 - 0.07 = 0.88.
			"sgd momentum dampening", func(g []Group) (Optimizer, error) {
				return NewSGD(g, SGDConfig{LR: 0.1, Momentum: 0.9, Dampening: 0.5})
			},
			[]float32{0.5, 0.5}, []float32{0.95, 0.88}, 1e-7,
		},
		{
			// Step 1: d = 0.5 + 0.1*1 = 0.6, buf = 0.6, d = 0.6 + 0.9*0.6 = 1.14,
			// p = 1 - 0.1*1.14 = 0.886.
			"sgd nesterov wd", func(g []Group) (Optimizer, error) {
				return NewSGD(g, SGDConfig{LR: 0.1, Momentum: 0.9, Nesterov: true, WeightDecay: 0.1})
			},
			[]float32{0.5}, []float32{0.886}, 1e-7,
		},
		{
			// Step 1: m = 0.1*0.5 = 0.05, v = 0.001*0.25 = 0.00025,
			// step size = 0.1/(1-0.9) = 1, denom = sqrt(0.00025)/sqrt(0.001) + 1e-8
			// = 0.5 + 1e-8, p = 1 - 0.05/0.5 = 0.9.
			// Step 2 (g = -0.5): m = 0.045 - 0.05 = -0.005,
			// v = 0.999*0.00025 + 0.001*0.25 = 0.00049975, step size = 0.1/0.19,
			// denom = sqrt(0.00049975/0.001999) = sqrt(0.25) = 0.5,
			// p = 0.9 + (0.1/0.19)*0.005/0.5 = 0.9 + 0.00526316 = 0.90526316.
			"adam", func(g []Group) (Optimizer, error) { return NewAdam(g, AdamConfig{LR: 0.1}) },
			[]float32{0.5, -0.5}, []float32{0.9, 0.90526316}, 1e-6,
		},
		{
			// Step 1: g = 0.5 + 0.5*1 = 1 (L2), so the first Adam step is
			// lr*sign: p = 1 - 0.1 = 0.9.
			"adam wd", func(g []Group) (Optimizer, error) { return NewAdam(g, AdamConfig{LR: 0.1, WeightDecay: new(0.5)}) },
			[]float32{0.5}, []float32{0.9}, 1e-6,
		},
		{
			// p = 1*(1 - 0.1*0.1) = 0.99, then the Adam step of 0.1: 0.89.
			"adamw", func(g []Group) (Optimizer, error) { return NewAdamW(g, AdamConfig{LR: 0.1, WeightDecay: new(0.1)}) },
			[]float32{0.5}, []float32{0.89}, 1e-6,
		},
		{
			// betas (0.5, 0.5), lr 1.
			// Step 1 (g=1): m = 0.5, v = vmax = 0.5, step size = 1/0.5 = 2,
			// denom = sqrt(0.5)/sqrt(0.5) = 1, p = 1 - 2*0.5 = 0.
			// Step 2 (g=0): m = 0.25, v = 0.25 but vmax = 0.5, step size = 1/0.75,
			// denom = sqrt(0.5)/sqrt(0.75) = 0.81649658,
			// p = 0 - (0.25/0.75)/0.81649658 = -0.40824829
			// (plain Adam would use sqrt(0.25)/sqrt(0.75) and give -0.57735027).
			"amsgrad", func(g []Group) (Optimizer, error) {
				return NewAdam(g, AdamConfig{LR: 1, Betas: [2]float64{0.5, 0.5}, AMSGrad: true})
			},
			[]float32{1, 0}, []float32{0, -0.40824829}, 1e-6,
		},
		{
			"adam without amsgrad", func(g []Group) (Optimizer, error) {
				return NewAdam(g, AdamConfig{LR: 1, Betas: [2]float64{0.5, 0.5}})
			},
			[]float32{1, 0}, []float32{0, -0.57735027}, 1e-6,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := param(1)
			opt, err := tc.build(OneGroup([]*autograd.Var{p}))
			if err != nil {
				t.Fatal(err)
			}
			for i, g := range tc.grads {
				setGrad(p, g)
				opt.Step()
				if got := p.Data()[0]; !closeRel(float64(got), float64(tc.want[i]), tc.tol) {
					t.Errorf("after step %d: p = %.9g, want %.9g", i+1, got, tc.want[i])
				}
			}
		})
	}
}

func TestNilGradSkipped(t *testing.T) {
	for name, tc := range torchCases {
		t.Run(name, func(t *testing.T) {
			a, b := param(1, 2), param(3)
			opt, err := tc.build(OneGroup([]*autograd.Var{a, b}))
			if err != nil {
				t.Fatal(err)
			}
			setGrad(a, 0.5, -0.5)
			opt.Step()
			if b.Data()[0] != 3 {
				t.Errorf("parameter without a gradient changed to %g", b.Data()[0])
			}
			st := opt.State().Groups[0].Params
			if st[0].Step != 1 || st[1].Step != 0 || st[1].Buffers != nil {
				t.Errorf("state after one step = %+v, want steps 1 and 0 and no buffers for the skipped one", st)
			}
			opt.ZeroGrad()
			if a.Grad != nil {
				t.Error("ZeroGrad left a gradient")
			}
			before := slices.Clone(a.Data())
			opt.Step()
			if !slices.Equal(a.Data(), before) {
				t.Error("Step after ZeroGrad changed a parameter")
			}
		})
	}
}

// TestStateRoundTrip interrupts each torch run after 2 steps, saves the
// state through JSON, loads it into a fresh optimizer over copies of the
// parameters, and checks that 3 more steps give bit-identical parameters.
func TestStateRoundTrip(t *testing.T) {
	for name, tc := range torchCases {
		t.Run(name, func(t *testing.T) {
			ps := torchParams()
			opt := tc.new(t, ps)
			var saved []byte
			var savedParams [][]float32
			for step := range 5 {
				if step == 2 {
					opt.SetLR(opt.LR() * 0.5) // learning rates are state too
					var err error
					if saved, err = json.Marshal(opt.State()); err != nil {
						t.Fatal(err)
					}
					for _, p := range ps {
						savedParams = append(savedParams, slices.Clone(p.Data()))
					}
				}
				feedTorchGrads(ps, step)
				opt.Step()
			}

			resumed := torchParams()
			for i, p := range resumed {
				copy(p.Data(), savedParams[i])
			}
			opt2 := tc.new(t, resumed)
			var st State
			if err := json.Unmarshal(saved, &st); err != nil {
				t.Fatal(err)
			}
			if err := opt2.LoadState(&st); err != nil {
				t.Fatal(err)
			}
			for step := 2; step < 5; step++ {
				feedTorchGrads(resumed, step)
				opt2.Step()
			}
			for i := range ps {
				if !slices.Equal(resumed[i].Data(), ps[i].Data()) {
					t.Errorf("param %d: resumed %v, uninterrupted %v", i, resumed[i].Data(), ps[i].Data())
				}
			}
			if !slices.Equal(opt2.GroupLRs(), opt.GroupLRs()) || !slices.Equal(opt2.BaseLRs(), opt.BaseLRs()) {
				t.Errorf("lrs %v / base %v, want %v / %v", opt2.GroupLRs(), opt2.BaseLRs(), opt.GroupLRs(), opt.BaseLRs())
			}
		})
	}
}

func TestStateIsACopy(t *testing.T) {
	p := param(1)
	opt, _ := NewAdam(OneGroup([]*autograd.Var{p}), AdamConfig{})
	setGrad(p, 1)
	opt.Step()
	s := opt.State()
	s.Groups[0].Params[0].Buffers[BufExpAvg][0] = 42
	if opt.State().Groups[0].Params[0].Buffers[BufExpAvg][0] == 42 {
		t.Error("State shares buffers with the optimizer")
	}
	if err := opt.LoadState(s); err != nil {
		t.Fatal(err)
	}
	s.Groups[0].Params[0].Buffers[BufExpAvg][0] = 7
	if opt.State().Groups[0].Params[0].Buffers[BufExpAvg][0] != 42 {
		t.Error("LoadState kept a reference to the loaded buffers")
	}
}

func TestLoadStateErrors(t *testing.T) {
	newAdam := func(amsgrad bool) *Adam {
		opt, err := NewAdam([]Group{{Params: []*autograd.Var{param(1, 2)}}, {Params: []*autograd.Var{param(3)}}}, AdamConfig{AMSGrad: amsgrad})
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range opt.groups {
			for _, p := range g.params {
				p.Grad = tensor.Full(1, p.Shape()...)
			}
		}
		opt.Step()
		return opt
	}
	good := newAdam(false).State()
	sgd, _ := NewSGD(OneGroup([]*autograd.Var{param(1)}), SGDConfig{LR: 1, Momentum: 0.5})
	tests := []struct {
		name  string
		edit  func(s *State)
		want  string
		onto  Optimizer
		state *State
	}{
		{name: "nil", want: "state is nil", state: nil},
		{name: "kind", want: `state is for "adam", not "sgd"`, onto: sgd},
		{name: "groups", edit: func(s *State) { s.Groups = s.Groups[:1] }, want: "state has 1 groups, optimizer has 2"},
		{name: "params", edit: func(s *State) { s.Groups[1].Params = nil }, want: "group 1: state has 0 parameters, optimizer has 1"},
		{name: "length", edit: func(s *State) { s.Groups[0].Params[0].Buffers[BufExpAvg] = []float32{1} }, want: `group 0 parameter 0: buffer "exp_avg" has 1 values, parameter has 2`},
		{name: "unexpected", edit: func(s *State) { s.Groups[1].Params[0].Buffers[BufMaxExpAvgSq] = []float32{1} }, want: `unexpected buffer "max_exp_avg_sq"`},
		{name: "missing", edit: func(s *State) { delete(s.Groups[1].Params[0].Buffers, BufExpAvgSq) }, want: `buffer "exp_avg_sq" missing after 1 steps`},
		{name: "amsgrad missing", want: `buffer "max_exp_avg_sq" missing`, onto: newAdam(true)},
		{name: "step", edit: func(s *State) { s.Groups[0].Params[0] = ParamState{Step: -1} }, want: "negative step"},
		{name: "lr", edit: func(s *State) { s.Groups[0].LR = math.NaN() }, want: "learning rate NaN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opt := tc.onto
			if opt == nil {
				opt = newAdam(false)
			}
			s := tc.state
			if tc.name != "nil" {
				data, _ := json.Marshal(good)
				s = new(State)
				json.Unmarshal(data, s)
				if tc.edit != nil {
					tc.edit(s)
				}
			}
			before, _ := json.Marshal(opt.State())
			err := opt.LoadState(s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("LoadState error %v, want one containing %q", err, tc.want)
			}
			if after, _ := json.Marshal(opt.State()); string(after) != string(before) {
				t.Error("a failed LoadState changed the optimizer")
			}
		})
	}
}

func TestConstructorErrors(t *testing.T) {
	p, q := param(1), param(2)
	one := OneGroup([]*autograd.Var{p})
	tests := []struct {
		name string
		err  func() error
		want string
	}{
		{"sgd lr", func() error { _, err := NewSGD(one, SGDConfig{}); return err }, "sgd: learning rate 0 must be positive"},
		{"sgd momentum", func() error { _, err := NewSGD(one, SGDConfig{LR: 1, Momentum: -1}); return err }, "momentum -1"},
		{"sgd wd", func() error { _, err := NewSGD(one, SGDConfig{LR: 1, WeightDecay: -1}); return err }, "weight decay -1"},
		{"sgd nesterov", func() error {
			_, err := NewSGD(one, SGDConfig{LR: 1, Momentum: 0.9, Dampening: 0.1, Nesterov: true})
			return err
		}, "Nesterov momentum needs"},
		{"sgd nan", func() error { _, err := NewSGD(one, SGDConfig{LR: 1, Dampening: math.NaN()}); return err }, "dampening NaN is not finite"},
		{"adam beta", func() error { _, err := NewAdam(one, AdamConfig{Betas: [2]float64{0.9, 1}}); return err }, "adam: beta2 1 must be in [0, 1)"},
		{"adamw eps", func() error { _, err := NewAdamW(one, AdamConfig{Eps: -1}); return err }, "adamw: eps -1"},
		{"adam wd", func() error { _, err := NewAdam(one, AdamConfig{WeightDecay: new(-0.1)}); return err }, "weight decay -0.1"},
		{"no groups", func() error { _, err := NewAdam(nil, AdamConfig{}); return err }, "no parameter groups"},
		{"no params", func() error { _, err := NewAdam([]Group{{}}, AdamConfig{}); return err }, "no parameters to optimize"},
		{"nil param", func() error { _, err := NewAdam(OneGroup([]*autograd.Var{p, nil}), AdamConfig{}); return err }, "group 0: parameter 1 is nil"},
		{"duplicate", func() error {
			_, err := NewAdam([]Group{{Params: []*autograd.Var{p, q}}, {Params: []*autograd.Var{q}}}, AdamConfig{})
			return err
		}, "group 1: parameter 0 is also parameter 1 of group 0"},
		{"group lr", func() error {
			_, err := NewSGD([]Group{{Params: []*autograd.Var{p}, LR: -1}}, SGDConfig{LR: 1})
			return err
		}, "group 0: learning rate -1"},
		{"group wd", func() error {
			_, err := NewSGD([]Group{{Params: []*autograd.Var{p}, WeightDecay: new(math.Inf(1))}}, SGDConfig{LR: 1})
			return err
		}, "group 0: weight decay +Inf"},
	}
	for _, tc := range tests {
		if err := tc.err(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	p := param(1)
	adam, err := NewAdam(OneGroup([]*autograd.Var{p}), AdamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if c := adam.cfg; c.LR != 1e-3 || c.Betas != [2]float64{0.9, 0.999} || c.Eps != 1e-8 || *c.WeightDecay != 0 {
		t.Errorf("Adam defaults = %+v", c)
	}
	adamw, _ := NewAdamW(OneGroup([]*autograd.Var{p}), AdamConfig{})
	if *adamw.cfg.WeightDecay != 0.01 {
		t.Errorf("AdamW default weight decay = %g, want 0.01", *adamw.cfg.WeightDecay)
	}
	adamw0, _ := NewAdamW(OneGroup([]*autograd.Var{p}), AdamConfig{WeightDecay: new(0.0)})
	if *adamw0.cfg.WeightDecay != 0 {
		t.Error("AdamW WeightDecay new(0.0) was not honoured")
	}
	// Group overrides: an unset LR inherits, a set weight decay wins.
	g, _ := NewSGD([]Group{{Params: []*autograd.Var{param(1)}}, {Params: []*autograd.Var{param(2)}, LR: 0.5, WeightDecay: new(0.0)}}, SGDConfig{LR: 0.1, WeightDecay: 0.3})
	if g.groups[0].lr != 0.1 || g.groups[0].wd != 0.3 || g.groups[1].lr != 0.5 || g.groups[1].wd != 0 {
		t.Errorf("groups = %+v", g.groups)
	}
}

func TestSetLR(t *testing.T) {
	opt, err := NewSGD([]Group{{Params: []*autograd.Var{param(1)}}, {Params: []*autograd.Var{param(2)}, LR: 0.05}}, SGDConfig{LR: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	opt.SetLR(0.01)
	if got := opt.GroupLRs(); got[0] != 0.01 || !closeRel(got[1], 0.005, 1e-15) {
		t.Errorf("SetLR(0.01): group lrs %v, want [0.01 0.005]", got)
	}
	if opt.LR() != 0.01 {
		t.Errorf("LR() = %g", opt.LR())
	}
	if got := opt.BaseLRs(); !slices.Equal(got, []float64{0.1, 0.05}) {
		t.Errorf("BaseLRs = %v", got)
	}
	opt.SetGroupLRs([]float64{0.2, 0})
	if got := opt.GroupLRs(); !slices.Equal(got, []float64{0.2, 0}) {
		t.Errorf("GroupLRs = %v", got)
	}
	for _, bad := range [][]float64{{1}, {1, -1}, {math.NaN(), 1}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("SetGroupLRs(%v) did not panic", bad)
				}
			}()
			opt.SetGroupLRs(bad)
		}()
	}
}

func TestGradShapeMismatchPanics(t *testing.T) {
	p := param(1, 2)
	opt, _ := NewSGD(OneGroup([]*autograd.Var{p}), SGDConfig{LR: 1})
	p.Grad = tensor.New(3)
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(string), "gradient shape [3] differs from parameter shape [2]") {
			t.Fatalf("panic %v", r)
		}
	}()
	opt.Step()
}

// TestClipGradNorm compares with torch.nn.utils.clip_grad_norm_ (values
// from optim/testdata/gen.py).
func TestClipGradNorm(t *testing.T) {
	for _, tc := range torchClip {
		ps := torchParams()
		feedTorchGrads(ps, 0)
		none := param(5) // no gradient: ignored
		norm := ClipGradNorm(append(ps, none), tc.maxNorm)
		if !closeRel(norm, tc.norm, 1e-6) {
			t.Errorf("max %g: norm %.9g, torch %.9g", tc.maxNorm, norm, tc.norm)
		}
		for pi, p := range ps {
			for i, g := range p.Grad.Data() {
				if w := tc.grads[pi][i]; !closeRel(float64(g), float64(w), 1e-6) {
					t.Errorf("max %g: grad %d[%d] = %.9g, torch %.9g", tc.maxNorm, pi, i, g, w)
				}
			}
		}
		if none.Grad != nil {
			t.Error("ClipGradNorm created a gradient")
		}
	}
	// 3-4-5: norm 5, clipped to 1 gives (0.6, 0.8) up to the 1e-6 guard.
	p := param(0, 0)
	setGrad(p, 3, 4)
	if n := ClipGradNorm([]*autograd.Var{p}, 1); n != 5 || !closeRel(float64(p.Grad.Data()[1]), 0.8, 1e-6) {
		t.Errorf("norm %g, grads %v", n, p.Grad.Data())
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("ClipGradNorm(-1) did not panic")
			}
		}()
		ClipGradNorm([]*autograd.Var{p}, -1)
	}()
	if n := ClipGradNorm([]*autograd.Var{param(1)}, 1); n != 0 {
		t.Errorf("no gradients: norm %g, want 0", n)
	}
	setGrad(p, float32(math.Inf(1)), 1)
	if n := ClipGradNorm([]*autograd.Var{p}, 1); !math.IsInf(n, 1) || p.Grad.Data()[1] != 1 {
		t.Errorf("infinite norm: returned %g and grads %v, want +Inf and untouched grads", n, p.Grad.Data())
	}
}

// TestLargeParameter checks that parameters big enough to be updated in
// parallel chunks get exactly the element-wise update of a small one.
func TestLargeParameter(t *testing.T) {
	pattern := []float32{0.5, -1.25, 2, 0.125, 1e-3}
	gradPattern := []float32{0.1, -0.3, 2.5, -1e-4, 0}
	n := 3*grain + 7
	for name, tc := range torchCases {
		small, big := param(pattern...), param(make([]float32, n)...)
		for i := range n {
			big.Data()[i] = pattern[i%len(pattern)]
		}
		optSmall, _ := tc.build(OneGroup([]*autograd.Var{small}))
		optBig, _ := tc.build(OneGroup([]*autograd.Var{big}))
		for step := range 3 {
			setGrad(small, gradPattern...)
			bg := make([]float32, n)
			for i := range bg {
				bg[i] = gradPattern[i%len(gradPattern)] * float32(step+1)
			}
			for i := range small.Grad.Data() {
				small.Grad.Data()[i] *= float32(step + 1)
			}
			big.Grad = tensor.FromSlice(bg, n)
			optSmall.Step()
			optBig.Step()
		}
		for i, v := range big.Data() {
			if w := small.Data()[i%len(pattern)]; v != w {
				t.Fatalf("%s: element %d = %g, small parameter has %g", name, i, v, w)
			}
		}
	}
}

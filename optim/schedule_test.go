package optim

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/metacnn/metacnn/autograd"
)

// twoGroups returns an SGD optimizer with base lrs 0.1 and 0.02, the setup
// of the scheduler runs in optim/testdata/gen.py.
func twoGroups(t *testing.T) *SGD {
	t.Helper()
	opt, err := NewSGD([]Group{{Params: []*autograd.Var{param(1)}}, {Params: []*autograd.Var{param(2)}, LR: 0.02}}, SGDConfig{LR: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	return opt
}

func checkLRs(t *testing.T, what string, opt Optimizer, want [2]float64) {
	t.Helper()
	got := opt.GroupLRs()
	for i := range want {
		if !closeRel(got[i], want[i], 1e-6) {
			t.Errorf("%s: group lrs %v, torch %v", what, got, want)
			return
		}
	}
}

// TestStepLRTorch compares with torch.optim.lr_scheduler.StepLR(step_size=2,
// gamma=0.5) (values from optim/testdata/gen.py).
func TestStepLRTorch(t *testing.T) {
	opt := twoGroups(t)
	s, err := NewStepLR(opt, 2, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	for n, want := range torchStepLR {
		if n > 0 {
			s.Step()
		}
		checkLRs(t, "StepLR position "+itoa(n), opt, want)
		if s.LR() != opt.LR() || s.Steps() != n {
			t.Errorf("position %d: LR() %g, Steps() %d", n, s.LR(), s.Steps())
		}
	}
	// Closed form: 0.1 * 0.5^(7/2) = 0.0125 at position 7.
	s.Seek(7)
	if s.LR() != 0.1*0.125 || opt.LR() != 0.1*0.125 {
		t.Errorf("Seek(7): lr %g", opt.LR())
	}
}

// TestCosineWarmupTorch compares with PyTorch's SequentialLR of
// LinearLR(start_factor=0.1, total_iters=3) and CosineAnnealingLR(T_max=7,
// eta_min=1e-3) (values from optim/testdata/gen.py).
func TestCosineWarmupTorch(t *testing.T) {
	opt := twoGroups(t)
	s, err := NewCosineWarmup(opt, CosineWarmupConfig{WarmupSteps: 3, TotalSteps: 10, MinLR: 1e-3, StartFactor: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	for n, want := range torchCosineWarmup {
		if n > 0 {
			s.Step()
		}
		checkLRs(t, "CosineWarmup position "+itoa(n), opt, want)
	}
	// After TotalSteps the rate holds at MinLR (torch's cosine would rise).
	for range 5 {
		s.Step()
		checkLRs(t, "CosineWarmup after the end", opt, [2]float64{1e-3, 1e-3})
	}
}

func TestCosineWarmupHand(t *testing.T) {
	opt := twoGroups(t)
	// W = 4, T = 8, start factor 0, min 0: warmup 0, 0.025, 0.05, 0.075 (base 0.1),
	// then 0.1 * (1 + cos(pi*k/4)) / 2 for k = 0..3: 0.1, 0.0853553391, 0.05, 0.0146446609, then 0.
	s, err := NewCosineWarmup(opt, CosineWarmupConfig{WarmupSteps: 4, TotalSteps: 8})
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{0, 0.025, 0.05, 0.075, 0.1, 0.0853553391, 0.05, 0.0146446609, 0, 0}
	for n, w := range want {
		if n > 0 {
			s.Step()
		}
		if !closeRel(opt.LR(), w, 1e-6) || !closeRel(opt.GroupLRs()[1], w/5, 1e-6) {
			t.Errorf("position %d: lrs %v, want %g and %g", n, opt.GroupLRs(), w, w/5)
		}
	}
	// No warmup: the cosine starts at the base rate.
	s2, _ := NewCosineWarmup(opt, CosineWarmupConfig{TotalSteps: 2})
	if opt.LR() != 0.1 || s2.LR() != 0.1 {
		t.Errorf("no warmup: lr %g", opt.LR())
	}
	s2.Seek(1)
	if !closeRel(opt.LR(), 0.05, 1e-12) {
		t.Errorf("no warmup, halfway: lr %g, want 0.05", opt.LR())
	}
}

func TestScheduleResumeUsesBaseLRs(t *testing.T) {
	// A scheduler built after LoadState derives rates from the restored base
	// lrs, not from the scheduled rate the state was saved with.
	opt := twoGroups(t)
	s, _ := NewStepLR(opt, 1, 0.5)
	s.Step()
	s.Step()
	saved := opt.State()

	opt2 := twoGroups(t)
	opt2.SetGroupLRs([]float64{7, 7})
	if err := opt2.LoadState(saved); err != nil {
		t.Fatal(err)
	}
	s2, _ := NewStepLR(opt2, 1, 0.5)
	s2.Seek(s.Steps())
	s.Step()
	s2.Step()
	if got, want := opt2.GroupLRs(), opt.GroupLRs(); got[0] != want[0] || got[1] != want[1] {
		t.Errorf("resumed lrs %v, uninterrupted %v", got, want)
	}
}

func TestScheduleErrors(t *testing.T) {
	opt := twoGroups(t)
	tests := []struct {
		err  error
		want string
	}{
		{second(NewStepLR(opt, 0, 0.5)), "step size 0"},
		{second(NewStepLR(opt, 1, 0)), "gamma 0"},
		{second(NewCosineWarmup(opt, CosineWarmupConfig{WarmupSteps: -1, TotalSteps: 1})), "warmup steps -1"},
		{second(NewCosineWarmup(opt, CosineWarmupConfig{WarmupSteps: 5, TotalSteps: 4})), "total steps 4 must be positive and at least the 5 warmup steps"},
		{second(NewCosineWarmup(opt, CosineWarmupConfig{TotalSteps: 4, MinLR: -1})), "min LR -1"},
		{second(NewCosineWarmup(opt, CosineWarmupConfig{TotalSteps: 4, StartFactor: 2})), "start factor 2"},
		{second(NewReduceLROnPlateau(opt, PlateauConfig{Factor: 1})), "factor 1 must be in (0, 1)"},
		{second(NewReduceLROnPlateau(opt, PlateauConfig{Patience: new(-1)})), "patience -1"},
		{second(NewReduceLROnPlateau(opt, PlateauConfig{Threshold: new(-0.5)})), "threshold -0.5"},
		{second(NewReduceLROnPlateau(opt, PlateauConfig{Mode: 7})), "unknown mode PlateauMode(7)"},
		{second(NewReduceLROnPlateau(opt, PlateauConfig{Cooldown: -2})), "cooldown -2"},
	}
	for _, tc := range tests {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("error %v, want one containing %q", tc.err, tc.want)
		}
	}
	s, _ := NewStepLR(opt, 1, 0.5)
	defer func() {
		if recover() == nil {
			t.Error("Seek(-1) did not panic")
		}
	}()
	s.Seek(-1)
}

func second[T any](_ T, err error) error { return err }

func plateauConfig(t *testing.T, name string) PlateauConfig {
	switch name {
	case "min_rel":
		return PlateauConfig{Mode: PlateauMin, Factor: 0.5, Patience: new(2), Cooldown: 1, MinLR: 0.03}
	case "max_abs":
		return PlateauConfig{Mode: PlateauMax, Factor: 0.1, Patience: new(1), Threshold: new(0.01), ThresholdMode: ThresholdAbs, MinLR: 1e-5}
	}
	t.Fatalf("no Go configuration for torch plateau run %q", name)
	return PlateauConfig{}
}

// TestPlateauTorch replays torch.optim.lr_scheduler.ReduceLROnPlateau runs
// (values from optim/testdata/gen.py).
func TestPlateauTorch(t *testing.T) {
	for name, run := range torchPlateau {
		t.Run(name, func(t *testing.T) {
			opt := twoGroups(t)
			r, err := NewReduceLROnPlateau(opt, plateauConfig(t, name))
			if err != nil {
				t.Fatal(err)
			}
			for i, m := range run.metrics {
				r.Step(m)
				checkLRs(t, "epoch "+itoa(i+1)+" ("+run.kwargs+")", opt, run.lrs[i])
			}
			if r.LR() != opt.LR() {
				t.Errorf("LR() = %g, optimizer %g", r.LR(), opt.LR())
			}
		})
	}
}

// TestPlateauResume saves optimizer and scheduler state through JSON at
// every epoch of a torch run and checks the resumed run follows torch.
func TestPlateauResume(t *testing.T) {
	for name, run := range torchPlateau {
		for cut := range run.metrics {
			opt := twoGroups(t)
			r, _ := NewReduceLROnPlateau(opt, plateauConfig(t, name))
			for _, m := range run.metrics[:cut] {
				r.Step(m)
			}
			optJSON, err := json.Marshal(opt.State())
			if err != nil {
				t.Fatal(err)
			}
			schedJSON, err := json.Marshal(r.State())
			if err != nil {
				t.Fatal(err)
			}

			opt2 := twoGroups(t)
			r2, _ := NewReduceLROnPlateau(opt2, plateauConfig(t, name))
			var optState State
			var ps PlateauState
			if err := json.Unmarshal(optJSON, &optState); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(schedJSON, &ps); err != nil {
				t.Fatal(err)
			}
			if err := opt2.LoadState(&optState); err != nil {
				t.Fatal(err)
			}
			if err := r2.LoadState(ps); err != nil {
				t.Fatal(err)
			}
			for i := cut; i < len(run.metrics); i++ {
				r2.Step(run.metrics[i])
				checkLRs(t, name+" resumed at "+itoa(cut)+", epoch "+itoa(i+1), opt2, run.lrs[i])
			}
		}
	}
	r, _ := NewReduceLROnPlateau(twoGroups(t), PlateauConfig{})
	if err := r.LoadState(PlateauState{NumBadEpochs: -1}); err == nil {
		t.Error("LoadState accepted a negative counter")
	}
}

func TestPlateauDefaults(t *testing.T) {
	opt := twoGroups(t)
	r, err := NewReduceLROnPlateau(opt, PlateauConfig{})
	if err != nil {
		t.Fatal(err)
	}
	// Patience 10: the lr drops on the 11th epoch without improvement
	// (the first metric always improves on +Inf), by the factor 0.1.
	r.Step(1)
	for i := range 10 {
		r.Step(1)
		if opt.LR() != 0.1 {
			t.Fatalf("bad epoch %d: lr already %g", i+1, opt.LR())
		}
	}
	r.Step(1)
	if !closeRel(opt.LR(), 0.01, 1e-15) {
		t.Errorf("after 11 bad epochs: lr %g, want 0.01", opt.LR())
	}
	// Relative threshold 1e-4: 0.99995 is not better than 1*(1-1e-4).
	r2, _ := NewReduceLROnPlateau(twoGroups(t), PlateauConfig{})
	r2.Step(1)
	r2.Step(0.99995)
	if s := r2.State(); *s.Best != 1 || s.NumBadEpochs != 1 {
		t.Errorf("state %+v, want best 1 and one bad epoch", s)
	}
	if s := (&ReduceLROnPlateau{cfg: PlateauConfig{}.withDefaults(), st: plateauState{best: math.Inf(1)}}).State(); s.Best != nil {
		t.Error("State reports an infinite best")
	}
}

func TestModeParsing(t *testing.T) {
	for _, m := range []PlateauMode{PlateauMin, PlateauMax} {
		if got, err := ParsePlateauMode(m.String()); err != nil || got != m {
			t.Errorf("ParsePlateauMode(%q) = %v, %v", m.String(), got, err)
		}
	}
	for _, m := range []ThresholdMode{ThresholdRel, ThresholdAbs} {
		if got, err := ParseThresholdMode(m.String()); err != nil || got != m {
			t.Errorf("ParseThresholdMode(%q) = %v, %v", m.String(), got, err)
		}
	}
	if _, err := ParsePlateauMode("MIN"); err == nil {
		t.Error(`ParsePlateauMode("MIN") succeeded`)
	}
	if _, err := ParseThresholdMode("relative"); err == nil {
		t.Error(`ParseThresholdMode("relative") succeeded`)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

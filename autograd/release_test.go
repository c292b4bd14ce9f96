package autograd

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
)

// releaseNet is a small network touching every op that writes its value
// into pooled, uninitialised memory.
func releaseNet(tp *Tape, x, w, b, s, fw, fb *Var) *Var {
	h := tp.ReLU(tp.Conv2D(x, w, b, Conv2DOptions{Padding: [2]int{1, 1}}))
	h = tp.MaxPool2D(h, Pool2DOptions{Kernel: [2]int{2, 2}})
	h = tp.Add(tp.Mul(h, s), tp.AvgPool2D(h, Pool2DOptions{Kernel: [2]int{1, 1}}))
	h = tp.Div(tp.Sub(h, tp.MulScalar(s, 0.5)), tp.AddScalar(tp.Sigmoid(s), 1))
	h = tp.RSubScalar(1, h)
	logits := tp.Linear(tp.Flatten(h), fw, fb)
	return tp.CrossEntropy(logits, []int{0, 2, 1}, CrossEntropyOptions{})
}

// TestReleaseReusesMemoryCorrectly runs a training step, poisons every
// pooled buffer it used with NaN, releases the tape and runs a second step
// on other inputs: values and gradients must match a step on a fresh tape,
// so no op may read stale pooled memory.
func TestReleaseReusesMemoryCorrectly(t *testing.T) {
	rng := newRNG(9)
	w := RandVar(rng, true, -0.5, 0.5, 4, 3, 3, 3)
	b := RandVar(rng, true, -0.5, 0.5, 4)
	s := RandVar(rng, true, 0.5, 1.5, 3, 4, 1, 1)
	fw := RandVar(rng, true, -0.2, 0.2, 3, 4*4*5)
	fb := RandVar(rng, true, -0.2, 0.2, 3)
	params := []*Var{w, b, s, fw, fb}
	x1 := RandVar(rng, false, -1, 1, 3, 3, 8, 10)
	x2 := RandVar(rng, false, -1, 1, 3, 3, 8, 10)

	step := func(tp *Tape, x *Var) (float32, [][]float32) {
		for _, p := range params {
			p.ZeroGrad()
		}
		loss := releaseNet(tp, x, w, b, s, fw, fb)
		tp.Backward(loss)
		var grads [][]float32
		for _, p := range params {
			grads = append(grads, append([]float32(nil), p.Grad.Data()...))
		}
		return loss.Data()[0], grads
	}
	wantLoss, wantGrads := step(NewTape(), x2)

	tp := NewTape()
	step(tp, x1)
	if len(tp.bufs) == 0 {
		t.Fatal("the tape pooled no buffers")
	}
	for _, buf := range tp.bufs {
		for i := range buf {
			buf[i] = float32(math.NaN())
		}
	}
	tp.Release()
	gotLoss, gotGrads := step(tp, x2)
	if gotLoss != wantLoss {
		t.Fatalf("loss after Release %v, fresh tape %v", gotLoss, wantLoss)
	}
	for i := range wantGrads {
		for j := range wantGrads[i] {
			if gotGrads[i][j] != wantGrads[i][j] {
				t.Fatalf("param %d grad[%d] after Release %v, fresh tape %v", i, j, gotGrads[i][j], wantGrads[i][j])
			}
		}
	}
}

// TestInferenceTape checks that an inference tape computes what a nil tape
// does, records nothing and recycles its buffers.
func TestInferenceTape(t *testing.T) {
	rng := newRNG(10)
	w := RandVar(rng, true, -0.5, 0.5, 4, 3, 3, 3)
	x := RandVar(rng, false, -1, 1, 2, 3, 6, 6)
	var nilTape *Tape
	want := nilTape.ReLU(nilTape.Conv2D(x, w, nil, Conv2DOptions{})).Data()
	tp := NewInferenceTape()
	for range 2 {
		y := tp.ReLU(tp.Conv2D(x, w, nil, Conv2DOptions{}))
		if y.RequiresGrad() || tp.Len() != 0 || tp.Recording() {
			t.Fatal("inference tape recorded an op")
		}
		for i, v := range y.Data() {
			if v != want[i] {
				t.Fatalf("value[%d] = %v, want %v", i, v, want[i])
			}
		}
		tp.Release()
	}
}

// TestReleaseSteadyStateAllocation checks that a training loop releasing
// its tape allocates a small fraction of what the same loop allocates
// without releasing: the values, gradients and scratch buffers are reused.
func TestReleaseSteadyStateAllocation(t *testing.T) {
	if testing.Short() {
		t.Skip("measures allocation over several steps")
	}
	rng := newRNG(12)
	w := RandVar(rng, true, -0.5, 0.5, 8, 3, 3, 3)
	b := RandVar(rng, true, -0.5, 0.5, 8)
	s := RandVar(rng, true, 0.5, 1.5, 3, 8, 1, 1)
	fw := RandVar(rng, true, -0.2, 0.2, 3, 8*16*16)
	fb := RandVar(rng, true, -0.2, 0.2, 3)
	x := RandVar(rng, false, -1, 1, 3, 3, 32, 32)
	perStep := func(release bool) uint64 {
		// No collection during the measurement, so pooled buffers stay.
		defer debug.SetGCPercent(debug.SetGCPercent(-1))
		tp := NewTape()
		step := func() {
			tp.Backward(releaseNet(tp, x, w, b, s, fw, fb))
			if release {
				tp.Release()
			} else {
				tp = NewTape()
			}
		}
		step()
		step()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		const steps = 5
		for range steps {
			step()
		}
		runtime.ReadMemStats(&m1)
		return (m1.TotalAlloc - m0.TotalAlloc) / steps
	}
	// Scratch buffers are drawn per parallel chunk, so a busy machine that
	// splits work differently can allocate a few more in one measurement;
	// the steady state is the best of three.
	fresh, released := perStep(false), perStep(true)
	for range 2 {
		released = min(released, perStep(true))
	}
	t.Logf("bytes allocated per step: %d with a new tape, %d releasing the tape", fresh, released)
	if released*4 > fresh {
		t.Fatalf("releasing the tape still allocates %d bytes per step (a new tape: %d)", released, fresh)
	}
}

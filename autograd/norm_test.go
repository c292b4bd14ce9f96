package autograd

import (
	"fmt"
	"math"
	"testing"

	"github.com/metacnn/metacnn/tensor"
)

// wantFloats fails t when got and want differ by more than tol anywhere.
func wantFloats(t *testing.T, name string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	for i, w := range want {
		if g := float64(got[i]); !(math.Abs(g-w) <= tol) {
			t.Fatalf("%s[%d] = %.8g, want %.8g (all: %v)", name, i, g, w, got)
		}
	}
}

// bnBase is the input of the running-statistics test: [N=2, C=2, H=1, W=2].
// Channel 0 holds 1 2 | 3 4 and channel 1 holds 0 0 | 2 2 across the batch.
var bnBase = []float32{1, 2, 0, 0, 3, 4, 2, 2}

func TestBatchNormRunningStats(t *testing.T) {
	rm, rv := tensor.New(2), tensor.Full(1, 2)
	w := Const(tensor.FromSlice([]float32{1.5, -0.5}, 2))
	b := Const(tensor.FromSlice([]float32{0.1, 0.2}, 2))
	var y *Var
	for k := range 3 {
		x := tensor.New(2, 2, 1, 2)
		for i, v := range bnBase {
			x.Data()[i] = v*float32(k+1) + float32(k)
		}
		y = (*Tape)(nil).BatchNorm2D(Const(x), w, b, rm, rv, BatchNormOptions{Training: true})
	}
	// Hand computation, momentum 0.1, steps x·(k+1)+k for k = 0, 1, 2:
	// channel 0 batch means 2.5, 6, 9.5 and unbiased variances 5/3, 20/3, 15;
	// channel 1 means 1, 3, 5 and unbiased variances 4/3, 16/3, 12. So
	// rm0 = ((0.25·0.9)+0.6)·0.9+0.95 = 1.6925, rv0 = ((1.06667)·0.9+0.66667)·0.9+1.5 = 2.964,
	// rm1 = 0.851, rv1 = 2.517. PyTorch 1.13 agrees, and gives the outputs
	// below (the last training step, then eval with the updated statistics):
	// python3 -c "import torch,torch.nn.functional as F; b=torch.tensor([1.,2,0,0,3,4,2,2]).reshape(2,2,1,2); w=torch.tensor([1.5,-.5]); c=torch.tensor([.1,.2]); rm=torch.zeros(2); rv=torch.ones(2); y=[F.batch_norm(b*(k+1)+k,rm,rv,w,c,training=True) for k in range(3)][-1]; print(rm.tolist(),rv.tolist(),y.flatten().tolist(),F.batch_norm(b,rm,rv,w,c).flatten().tolist())"
	wantFloats(t, "runningMean", rm.Data(), []float64{1.6925, 0.851}, 1e-6)
	wantFloats(t, "runningVar", rv.Data(), []float64{2.964, 2.517}, 1e-6)
	// PyTorch 1.13: the last training step's output (one-liner above).
	wantFloats(t, "training output", y.Data(), []float64{
		-1.912460207939148, -0.5708200931549072, 0.6999996900558472, 0.6999996900558472,
		0.7708200216293335, 2.112460136413574, -0.2999997138977051, -0.2999997138977051,
	}, 1e-5)
	// PyTorch 1.13: eval with the running statistics above (one-liner above).
	ye := (*Tape)(nil).BatchNorm2D(Const(tensor.FromSlice(append([]float32(nil), bnBase...), 2, 2, 1, 2)), w, b, rm, rv, BatchNormOptions{})
	wantFloats(t, "eval output", ye.Data(), []float64{
		-0.5033526420593262, 0.36791467666625977, 0.4681989550590515, 0.4681989550590515,
		1.2391819953918457, 2.1104493141174316, -0.16211587190628052, -0.16211587190628052,
	}, 1e-5)
	// Eval leaves the running statistics alone.
	wantFloats(t, "runningMean after eval", rm.Data(), []float64{1.6925, 0.851}, 1e-6)
}

func TestBatchNormNoRunningStatsUsesBatch(t *testing.T) {
	x := Const(tensor.FromSlice([]float32{1, 3, 5, 7}, 4, 1))
	// Batch mean 4, biased variance 5: (x-4)/sqrt(5+1e-5), in both modes.
	for _, training := range []bool{true, false} {
		y := (*Tape)(nil).BatchNorm2D(x, nil, nil, nil, nil, BatchNormOptions{Training: training})
		s := math.Sqrt(5 + 1e-5)
		wantFloats(t, fmt.Sprint("training=", training), y.Data(), []float64{-3 / s, -1 / s, 1 / s, 3 / s}, 1e-6)
	}
}

func TestGradBatchNorm(t *testing.T) {
	rng := newRNG(11)
	x4 := RandVar(rng, true, -2, 2, 3, 2, 2, 3)
	x2 := RandVar(rng, true, -2, 2, 5, 3)
	w2 := RandVar(rng, true, 0.5, 1.5, 2)
	b2 := RandVar(rng, true, -1, 1, 2)
	w3 := RandVar(rng, true, 0.5, 1.5, 3)
	b3 := RandVar(rng, true, -1, 1, 3)
	rm2, rv2 := RandVar(rng, false, -0.5, 0.5, 2).Value, RandVar(rng, false, 0.5, 2, 2).Value
	rm3, rv3 := RandVar(rng, false, -0.5, 0.5, 3).Value, RandVar(rng, false, 0.5, 2, 3).Value
	train := BatchNormOptions{Training: true}
	cases := map[string]func(tp *Tape) *Var{
		"Train4D": func(tp *Tape) *Var {
			// Fresh copies: training updates running statistics in place.
			return tp.BatchNorm2D(x4, w2, b2, rm2.Clone(), rv2.Clone(), train)
		},
		"Train2D":       func(tp *Tape) *Var { return tp.BatchNorm2D(x2, w3, b3, rm3.Clone(), rv3.Clone(), train) },
		"TrainNoAffine": func(tp *Tape) *Var { return tp.BatchNorm2D(x4, nil, nil, nil, nil, train) },
		"TrainWeightOnly": func(tp *Tape) *Var {
			return tp.BatchNorm2D(x4, w2, nil, nil, nil, BatchNormOptions{Training: true, Eps: 1e-3, Momentum: 0.3})
		},
		"Eval4D": func(tp *Tape) *Var { return tp.BatchNorm2D(x4, w2, b2, rm2, rv2, BatchNormOptions{}) },
		"Eval2D": func(tp *Tape) *Var { return tp.BatchNorm2D(x2, w3, b3, rm3, rv3, BatchNormOptions{}) },
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			if err := CheckGrad(f, []*Var{x4, x2, w2, b2, w3, b3}, CheckOptions{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestLayerNormForward(t *testing.T) {
	x := Const(tensor.FromSlice([]float32{1, 2, 3, 4, 5, 7, 0, -1, 2, 0.5, 0, 3}, 2, 2, 3))
	w := Const(tensor.FromSlice([]float32{1, 2, 3, -1, 0.5, 1}, 2, 3))
	b := Const(tensor.FromSlice([]float32{0, 0.1, 0.2, 0.3, 0.4, 0.5}, 2, 3))
	y := (*Tape)(nil).LayerNorm(x, w, b, []int{2, 3}, 1e-5)
	// PyTorch 1.13: python3 -c "import torch,torch.nn.functional as F;
	// print(F.layer_norm(torch.tensor([[1.,2,3,4,5,7],[0,-1,2,.5,0,3]]).reshape(2,2,3),[2,3],
	// torch.tensor([1.,2,3,-1,.5,1]).reshape(2,3),torch.tensor([0,.1,.2,.3,.4,.5]).reshape(2,3),1e-5).flatten().tolist())"
	wantFloats(t, "LayerNorm", y.Data(), []float64{
		-1.3522453308105469, -1.5903066396713257, -0.8141841888427734, 0.13096946477890015,
		0.738061249256134, 2.1903064250946045, -0.5570844411849976, -2.499727487564087,
		2.985422134399414, 0.4856948256492615, 0.1214577853679657, 2.171253204345703,
	}, 1e-5)
}

func TestGradLayerNorm(t *testing.T) {
	rng := newRNG(12)
	x := RandVar(rng, true, -2, 2, 3, 2, 4)
	w1 := RandVar(rng, true, 0.5, 1.5, 4)
	b1 := RandVar(rng, true, -1, 1, 4)
	w2 := RandVar(rng, true, 0.5, 1.5, 2, 4)
	b2 := RandVar(rng, true, -1, 1, 2, 4)
	cases := map[string]func(tp *Tape) *Var{
		"LastDim":   func(tp *Tape) *Var { return tp.LayerNorm(x, w1, b1, []int{4}, 1e-5) },
		"TwoDims":   func(tp *Tape) *Var { return tp.LayerNorm(x, w2, b2, []int{2, 4}, 1e-5) },
		"NoAffine":  func(tp *Tape) *Var { return tp.LayerNorm(x, nil, nil, []int{4}, 1e-5) },
		"WholeBias": func(tp *Tape) *Var { return tp.LayerNorm(x, nil, b2, []int{2, 4}, 1e-3) },
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			if err := CheckGrad(f, []*Var{x, w1, b1, w2, b2}, CheckOptions{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestNormShapePanics(t *testing.T) {
	x := Const(tensor.New(2, 3, 2, 2))
	cases := map[string]func(){
		"BNWeight":      func() { (*Tape)(nil).BatchNorm2D(x, Const(tensor.New(2)), nil, nil, nil, BatchNormOptions{}) },
		"BNHalfRunning": func() { (*Tape)(nil).BatchNorm2D(x, nil, nil, tensor.New(3), nil, BatchNormOptions{}) },
		"BNOneValue": func() {
			(*Tape)(nil).BatchNorm2D(Const(tensor.New(1, 3)), nil, nil, nil, nil, BatchNormOptions{Training: true})
		},
		"BNMomentum": func() { (*Tape)(nil).BatchNorm2D(x, nil, nil, nil, nil, BatchNormOptions{Momentum: 2}) },
		"LNShape":    func() { (*Tape)(nil).LayerNorm(x, nil, nil, []int{3}, 1e-5) },
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			f()
		})
	}
}

// TestBatchNormLargeParallel runs inputs big enough to be split across
// workers (run it under -race) and checks each channel comes out with mean 0
// and variance 1, and that LayerNorm rows do too.
func TestBatchNormLargeParallel(t *testing.T) {
	x := RandVar(newRNG(13), true, -3, 5, 4, 8, 32, 32)
	tp := NewTape()
	y := tp.BatchNorm2D(x, nil, nil, tensor.New(8), tensor.Full(1, 8), BatchNormOptions{Training: true})
	const sp = 32 * 32
	for ch := 0; ch < 8; ch++ {
		var s, sq float64
		for b := 0; b < 4; b++ {
			for _, v := range y.Data()[(b*8+ch)*sp : (b*8+ch+1)*sp] {
				s += float64(v)
				sq += float64(v) * float64(v)
			}
		}
		if m, v := s/(4*sp), sq/(4*sp); math.Abs(m) > 1e-5 || math.Abs(v-1) > 1e-3 {
			t.Fatalf("channel %d: mean %v, variance %v after batch norm", ch, m, v)
		}
	}
	tp.Backward(tp.Sum(tp.Mul(y, y), false))
	// Σ y² = n·C·(var/(var+eps)) does not depend on x up to eps, so its
	// gradient is nearly zero.
	for i, g := range x.Grad.Data() {
		if math.Abs(float64(g)) > 1e-3 {
			t.Fatalf("grad[%d] = %v, want ~0", i, g)
		}
	}
	ln := (*Tape)(nil).LayerNorm(x, nil, nil, []int{32, 32}, 1e-5)
	for r := 0; r < 32; r++ {
		var s float64
		for _, v := range ln.Data()[r*sp : (r+1)*sp] {
			s += float64(v)
		}
		if math.Abs(s/sp) > 1e-5 {
			t.Fatalf("LayerNorm row %d has mean %v", r, s/sp)
		}
	}
}

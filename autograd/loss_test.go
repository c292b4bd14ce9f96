package autograd

import (
	"fmt"
	"math"
	"testing"

	"github.com/metacnn/metacnn/tensor"
)

// ceLogits are the logits of the PyTorch-derived cross-entropy cases.
var ceLogits = []float32{1, 2, 0.5, 0, -1, 3, 2, 2, 2, 0.3, 0.1, -0.7}

func TestReductionStringParse(t *testing.T) {
	for _, r := range []Reduction{ReduceMean, ReduceSum, ReduceNone} {
		got, err := ParseReduction(r.String())
		if err != nil || got != r {
			t.Fatalf("ParseReduction(%q) = %v, %v", r.String(), got, err)
		}
	}
	if _, err := ParseReduction("avg"); err == nil {
		t.Fatal("ParseReduction accepted \"avg\"")
	}
	if Reduction(0) != ReduceMean {
		t.Fatal("zero Reduction is not ReduceMean")
	}
}

func TestCrossEntropyForward(t *testing.T) {
	x := Const(tensor.FromSlice(append([]float32(nil), ceLogits...), 4, 3))
	one := 1
	// Reference values from PyTorch 1.13:
	// python3 -c "import torch,torch.nn.functional as F; lg=torch.tensor([[1.,2,.5],[0,-1,3],[2,2,2],[.3,.1,-.7]]); wt=torch.tensor([.5,2,1.5]); t=torch.tensor([1,2,-100,0]); print(F.cross_entropy(lg,t).item(), F.cross_entropy(lg, torch.tensor([1,2,1,0]), ignore_index=1).item(), [F.cross_entropy(lg,t,weight=wt,label_smoothing=0.2,reduction=R).tolist() for R in ['mean','sum','none']])"
	cases := []struct {
		name    string
		targets []int
		opt     CrossEntropyOptions
		want    []float64
	}{
		// F.cross_entropy(lg, t): the -100 row is left out of the mean.
		{"defaultIgnore", []int{1, 2, -100, 0}, CrossEntropyOptions{}, []float64{0.4375350773334503}},
		// F.cross_entropy(lg, torch.tensor([1,2,1,0]), ignore_index=1)
		{"ignoreClass1", []int{1, 2, 1, 0}, CrossEntropyOptions{IgnoreIndex: &one}, []float64{0.4241182208061218}},
		// F.cross_entropy(lg, t, weight=wt, label_smoothing=0.2, reduction=R) for R = mean, sum, none
		{"weightSmoothMean", []int{1, 2, -100, 0}, CrossEntropyOptions{Weight: []float32{0.5, 2, 1.5}, LabelSmoothing: 0.2},
			[]float64{0.6070883274078369}},
		{"weightSmoothSum", []int{1, 2, -100, 0}, CrossEntropyOptions{Weight: []float32{0.5, 2, 1.5}, LabelSmoothing: 0.2, Reduction: ReduceSum},
			[]float64{2.4283533096313477}},
		{"weightSmoothNone", []int{1, 2, -100, 0}, CrossEntropyOptions{Weight: []float32{0.5, 2, 1.5}, LabelSmoothing: 0.2, Reduction: ReduceNone},
			[]float64{1.0501551628112793, 0.7299630641937256, 0, 0.648235023021698}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			y := (*Tape)(nil).CrossEntropy(x, c.targets, c.opt)
			wantShape := []int{}
			if c.opt.Reduction == ReduceNone {
				wantShape = []int{4}
			}
			if !tensor.EqualShapes(y.Shape(), wantShape) {
				t.Fatalf("shape %v, want %v", y.Shape(), wantShape)
			}
			wantFloats(t, c.name, y.Data(), c.want, 1e-6)
		})
	}
	// Hand computation: uniform logits over 3 classes give log 3.
	u := (*Tape)(nil).CrossEntropy(Const(tensor.New(2, 3)), []int{0, 2}, CrossEntropyOptions{})
	wantFloats(t, "uniform", u.Data(), []float64{math.Log(3)}, 1e-6)
	// Every sample ignored: an empty mean is NaN, as in PyTorch.
	all := (*Tape)(nil).CrossEntropy(x, []int{-100, -100, -100, -100}, CrossEntropyOptions{})
	if !math.IsNaN(float64(all.Data()[0])) {
		t.Fatalf("all ignored: %v, want NaN", all.Data()[0])
	}
}

func TestGradCrossEntropy(t *testing.T) {
	x := RandVar(newRNG(51), true, -2, 2, 5, 4)
	two := 2
	targets := []int{1, 3, -100, 0, 2}
	for _, red := range []Reduction{ReduceMean, ReduceSum, ReduceNone} {
		for _, weighted := range []bool{false, true} {
			for _, eps := range []float64{0, 0.15} {
				for _, ign := range []*int{nil, &two} {
					opt := CrossEntropyOptions{LabelSmoothing: eps, IgnoreIndex: ign, Reduction: red}
					if weighted {
						opt.Weight = []float32{0.5, 2, 1.5, 1}
					}
					tg := targets
					if ign != nil {
						tg = []int{1, 3, 2, 0, 2} // class 2 ignored
					}
					name := fmt.Sprintf("%v/weighted=%v/eps=%v/ignore=%v", red, weighted, eps, ign != nil)
					t.Run(name, func(t *testing.T) {
						f := func(tp *Tape) *Var { return tp.CrossEntropy(x, tg, opt) }
						if err := CheckGrad(f, []*Var{x}, CheckOptions{}); err != nil {
							t.Fatal(err)
						}
					})
				}
			}
		}
	}
}

func TestCrossEntropyBadTargetPanics(t *testing.T) {
	x := Const(tensor.New(2, 3))
	for _, tg := range [][]int{{0, 3}, {-1, 0}, {0}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Fatalf("targets %v: no panic", tg)
				}
			}()
			(*Tape)(nil).CrossEntropy(x, tg, CrossEntropyOptions{})
		}()
	}
}

func TestBCEWithLogitsForward(t *testing.T) {
	x := Const(tensor.FromSlice([]float32{0.5, -1, 3, -20, 0, 2}, 2, 3))
	y := tensor.FromSlice([]float32{1, 0, 1, 0, 1, 0.5}, 2, 3)
	pw := []float32{2, 0.5, 1}
	// PyTorch 1.13, for R = mean, sum, none and then with a weight broadcast over rows:
	// python3 -c "import torch,torch.nn.functional as F; x=torch.tensor([[.5,-1.,3],[-20,0,2]]); y=torch.tensor([[1.,0,1],[0,1,.5]]); pw=torch.tensor([2.,.5,1]); print([F.binary_cross_entropy_with_logits(x,y,pos_weight=pw,reduction=R).tolist() for R in ['mean','sum','none']], F.binary_cross_entropy_with_logits(x,y,weight=torch.tensor([1.,2,.5]),pos_weight=pw).item())"
	cases := []struct {
		red  Reduction
		want []float64
	}{
		{ReduceMean, []float64{0.46391740441322327}},
		{ReduceSum, []float64{2.7835044860839844}},
		{ReduceNone, []float64{0.9481539726257324, 0.31326162815093994, 0.04858732968568802, 0, 0.3465735912322998, 1.1269280910491943}},
	}
	for _, c := range cases {
		got := (*Tape)(nil).BCEWithLogits(x, y, BCEOptions{PosWeight: pw, Reduction: c.red})
		wantFloats(t, "BCE "+c.red.String(), got.Data(), c.want, 1e-6)
	}
	// PyTorch 1.13: the weighted case of the one-liner above.
	got := (*Tape)(nil).BCEWithLogits(x, y, BCEOptions{PosWeight: pw, Weight: tensor.FromSlice([]float32{1, 2, 0.5}, 3)})
	wantFloats(t, "BCE weighted", got.Data(), []float64{0.4759303629398346}, 1e-6)
	// Hand computation: extreme logits stay finite; x = ±100 with the matching
	// target costs log(1+e^-100) ≈ 0, the wrong one costs 100.
	big := (*Tape)(nil).BCEWithLogits(Const(tensor.FromSlice([]float32{100, -100}, 2)),
		tensor.FromSlice([]float32{1, 1}, 2), BCEOptions{Reduction: ReduceNone})
	wantFloats(t, "BCE large", big.Data(), []float64{0, 100}, 1e-5)
}

func TestGradBCEWithLogits(t *testing.T) {
	rng := newRNG(52)
	x := RandVar(rng, true, -3, 3, 4, 3)
	y := RandVar(rng, false, 0, 1, 4, 3).Value
	w := RandVar(rng, false, 0.5, 2, 4, 1).Value
	for _, red := range []Reduction{ReduceMean, ReduceSum, ReduceNone} {
		for _, opt := range []BCEOptions{
			{},
			{PosWeight: []float32{2, 0.5, 3}},
			{PosWeight: []float32{2, 0.5, 3}, Weight: w},
		} {
			opt.Reduction = red
			t.Run(fmt.Sprintf("%v/pw=%v/w=%v", red, opt.PosWeight != nil, opt.Weight != nil), func(t *testing.T) {
				f := func(tp *Tape) *Var { return tp.BCEWithLogits(x, y, opt) }
				if err := CheckGrad(f, []*Var{x}, CheckOptions{}); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

func TestMSE(t *testing.T) {
	p := Const(tensor.FromSlice([]float32{1, 2, 3}, 3))
	tg := tensor.FromSlice([]float32{0, 2, 5}, 3)
	// Hand computation: squared errors 1, 0, 4.
	wantFloats(t, "mean", (*Tape)(nil).MSE(p, tg, ReduceMean).Data(), []float64{5.0 / 3}, 1e-6)
	wantFloats(t, "sum", (*Tape)(nil).MSE(p, tg, ReduceSum).Data(), []float64{5}, 0)
	wantFloats(t, "none", (*Tape)(nil).MSE(p, tg, ReduceNone).Data(), []float64{1, 0, 4}, 0)

	rng := newRNG(53)
	x := RandVar(rng, true, -1, 1, 2, 3, 2)
	target := RandVar(rng, false, -1, 1, 2, 3, 2).Value
	for _, red := range []Reduction{ReduceMean, ReduceSum, ReduceNone} {
		t.Run("grad/"+red.String(), func(t *testing.T) {
			f := func(tp *Tape) *Var { return tp.MSE(x, target, red) }
			if err := CheckGrad(f, []*Var{x}, CheckOptions{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

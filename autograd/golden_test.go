package autograd

import (
	"encoding/json"
	"testing"

	"github.com/metacnn/metacnn/internal/golden"
	"github.com/metacnn/metacnn/tensor"
)

// Per-op references from PyTorch 1.13 (Debian python3-torch):
// testdata/torch/gen.py, function ops_golden. Inputs are rebuilt from the
// same integer hash (golden.Hashed) rather than stored. Bound per element:
// |got - want| <= 1e-5·|want| + 1e-6·max|want| (float32 accumulations in a
// different order differ by a few ulps).
const (
	opRTol = 1e-5
	opATol = 1e-6
)

func opsGolden(t *testing.T) *golden.File {
	t.Helper()
	g, err := golden.Open("../testdata/torch/ops.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// caseOptions decodes the JSON options gen.py stored for a case.
func caseOptions(t *testing.T, g *golden.File, name string, v any) {
	t.Helper()
	s, ok := g.Meta("case:" + name)
	if !ok {
		t.Fatalf("%s: no options in %s", name, g.Path)
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func stored(t *testing.T, g *golden.File, name string) *tensor.Tensor {
	t.Helper()
	v, err := g.Tensor(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func compare(t *testing.T, g *golden.File, name string, got *tensor.Tensor) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: no value", name)
		return
	}
	if err := g.Compare(name, got, opRTol, opATol); err != nil {
		t.Error(err)
	}
}

// runWithGrad runs f on a fresh tape and backpropagates the stored upstream
// gradient gy.
func runWithGrad(t *testing.T, g *golden.File, prefix string, f func(tp *Tape) *Var) *Var {
	tp := NewTape()
	y := f(tp)
	tp.BackwardWith(y, stored(t, g, prefix+".gy"))
	return y
}

func TestConv2DMatchesPyTorch(t *testing.T) {
	g := opsGolden(t)
	for _, name := range []string{"conv_basic", "conv_stride", "conv_dilation", "conv_groups", "conv_depthwise"} {
		t.Run(name, func(t *testing.T) {
			var o struct {
				Stride, Padding, Dilation [2]int
				Groups                    int
			}
			caseOptions(t, g, name, &o)
			x := Param(stored(t, g, name+".x"))
			w := Param(stored(t, g, name+".w"))
			b := Param(stored(t, g, name+".b"))
			y := runWithGrad(t, g, name, func(tp *Tape) *Var {
				return tp.Conv2D(x, w, b, Conv2DOptions{Stride: o.Stride, Padding: o.Padding, Dilation: o.Dilation, Groups: o.Groups})
			})
			compare(t, g, name+".y", y.Value)
			compare(t, g, name+".gx", x.Grad)
			compare(t, g, name+".gw", w.Grad)
			compare(t, g, name+".gb", b.Grad)
		})
	}
}

func TestPoolsMatchPyTorch(t *testing.T) {
	g := opsGolden(t)
	type poolOpts struct {
		Kernel, Stride, Padding [2]int
		CeilMode                bool  `json:"ceil_mode"`
		CountIncludePad         *bool `json:"count_include_pad"`
	}
	for _, name := range []string{"maxpool_ties", "maxpool_overlap", "maxpool_ceil", "avgpool_pad", "avgpool_exclude", "avgpool_ceil"} {
		t.Run(name, func(t *testing.T) {
			var o poolOpts
			caseOptions(t, g, name, &o)
			opt := Pool2DOptions{Kernel: o.Kernel, Stride: o.Stride, Padding: o.Padding, CeilMode: o.CeilMode}
			x := Param(stored(t, g, name+".x"))
			y := runWithGrad(t, g, name, func(tp *Tape) *Var {
				if o.CountIncludePad == nil {
					return tp.MaxPool2D(x, opt)
				}
				opt.CountExcludePad = !*o.CountIncludePad
				return tp.AvgPool2D(x, opt)
			})
			compare(t, g, name+".y", y.Value)
			compare(t, g, name+".gx", x.Grad)
		})
	}
	t.Run("adaptive", func(t *testing.T) {
		x := Param(stored(t, g, "adaptive.x"))
		y := runWithGrad(t, g, "adaptive", func(tp *Tape) *Var { return tp.AdaptiveAvgPool2D(x, 3, 2) })
		compare(t, g, "adaptive.y", y.Value)
		compare(t, g, "adaptive.gx", x.Grad)
	})
}

func TestBatchNormMatchesPyTorch(t *testing.T) {
	g := opsGolden(t)
	weight := Param(stored(t, g, "bn.weight"))
	bias := Param(stored(t, g, "bn.bias"))
	rm, rv := tensor.New(3), tensor.Full(1, 3)
	for step := range 3 {
		s := func(k string) string { return "bn." + k + string(rune('0'+step)) }
		weight.ZeroGrad()
		bias.ZeroGrad()
		x := Param(stored(t, g, s("x")))
		tp := NewTape()
		y := tp.BatchNorm2D(x, weight, bias, rm, rv, BatchNormOptions{Training: true})
		tp.BackwardWith(y, stored(t, g, s("gy")))
		compare(t, g, s("y"), y.Value)
		compare(t, g, s("gx"), x.Grad)
		compare(t, g, s("gweight"), weight.Grad)
		compare(t, g, s("gbias"), bias.Grad)
		compare(t, g, s("running_mean"), rm)
		compare(t, g, s("running_var"), rv)
	}
	x := Param(stored(t, g, "bn.xeval"))
	tp := NewTape()
	y := tp.BatchNorm2D(x, weight, bias, rm, rv, BatchNormOptions{})
	tp.BackwardWith(y, stored(t, g, "bn.gyeval"))
	compare(t, g, "bn.yeval", y.Value)
	compare(t, g, "bn.gxeval", x.Grad)
}

func TestEmbeddingMatchesPyTorch(t *testing.T) {
	g := opsGolden(t)
	ids, err := g.Ints("embedding.ids")
	if err != nil {
		t.Fatal(err)
	}
	w := Param(stored(t, g, "embedding.w"))
	y := runWithGrad(t, g, "embedding", func(tp *Tape) *Var { return tp.Embedding(w, ids) })
	compare(t, g, "embedding.y", y.Value)
	compare(t, g, "embedding.gw", w.Grad)
}

func TestCrossEntropyMatchesPyTorch(t *testing.T) {
	g := opsGolden(t)
	targets, err := g.Ints("ce.targets")
	if err != nil {
		t.Fatal(err)
	}
	weight := stored(t, g, "ce.weight").Data()
	for _, name := range []string{"ce_plain", "ce_weight", "ce_smooth", "ce_weight_smooth", "ce_ignore", "ce_sum"} {
		t.Run(name, func(t *testing.T) {
			var o struct {
				Weight         bool
				LabelSmoothing float64 `json:"label_smoothing"`
				IgnoreIndex    int     `json:"ignore_index"`
				Reduction      string
			}
			caseOptions(t, g, name, &o)
			red, err := ParseReduction(o.Reduction)
			if err != nil {
				t.Fatal(err)
			}
			opt := CrossEntropyOptions{LabelSmoothing: o.LabelSmoothing, IgnoreIndex: &o.IgnoreIndex, Reduction: red}
			if o.Weight {
				opt.Weight = weight
			}
			logits := Param(stored(t, g, "ce.logits"))
			tp := NewTape()
			loss := tp.CrossEntropy(logits, targets, opt)
			tp.Backward(loss)
			compare(t, g, name+".loss", loss.Value.Reshape(1))
			compare(t, g, name+".glogits", logits.Grad)
		})
	}
}

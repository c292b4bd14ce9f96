package nn

import (
	"fmt"
	"math/rand/v2"

	"github.com/metacnn/metacnn/autograd"
)

// Conv2DConfig configures a Conv2D layer. Zero values of Stride and
// Dilation mean 1, Groups 0 means 1, Padding defaults to 0; Bias is on by
// default unless NoBias is set.
type Conv2DConfig struct {
	In, Out  int
	Kernel   [2]int
	Stride   [2]int
	Padding  [2]int
	Dilation [2]int
	Groups   int
	NoBias   bool
}

// Conv2D is a 2-D convolution, as torch.nn.Conv2d.
// Input [N, In, H, W]; output [N, Out, H', W'] with
// H' = floor((H + 2·pad - dil·(k-1) - 1)/stride) + 1.
// Weight is [Out, In/Groups, KH, KW]; Bias [Out] or nil.
type Conv2D struct {
	Opt    autograd.Conv2DOptions
	Weight *autograd.Var
	Bias   *autograd.Var
}

var _ Layer = (*Conv2D)(nil)

// NewConv2D builds a convolution with PyTorch's default initialisation,
// U(-1/√fan_in, 1/√fan_in) with fan_in = In/Groups·KH·KW.
func NewConv2D(rng *rand.Rand, c Conv2DConfig) *Conv2D {
	g := max(c.Groups, 1)
	if c.In <= 0 || c.Out <= 0 || c.Kernel[0] <= 0 || c.Kernel[1] <= 0 {
		panic(fmt.Sprintf("nn.NewConv2D: channels and kernel must be positive, got in=%d out=%d kernel=%v", c.In, c.Out, c.Kernel))
	}
	if c.In%g != 0 || c.Out%g != 0 {
		panic(fmt.Sprintf("nn.NewConv2D: in=%d and out=%d must be divisible by groups=%d", c.In, c.Out, g))
	}
	opt := autograd.Conv2DOptions{Stride: c.Stride, Padding: c.Padding, Dilation: c.Dilation, Groups: g}
	for i := range 2 {
		if opt.Stride[i] == 0 {
			opt.Stride[i] = 1
		}
		if opt.Dilation[i] == 0 {
			opt.Dilation[i] = 1
		}
	}
	fanIn := c.In / g * c.Kernel[0] * c.Kernel[1]
	bound := fanInBound(fanIn)
	l := &Conv2D{Opt: opt, Weight: autograd.Param(uniform(rng, bound, c.Out, c.In/g, c.Kernel[0], c.Kernel[1]))}
	if !c.NoBias {
		l.Bias = autograd.Param(uniform(rng, bound, c.Out))
	}
	return l
}

// Forward convolves x [N, In, H, W].
func (l *Conv2D) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return tp.Conv2D(x, l.Weight, l.Bias, l.Opt)
}

// Params returns "weight" and, when present, "bias".
func (l *Conv2D) Params() []Param {
	ps := []Param{{Name: "weight", Var: l.Weight}}
	if l.Bias != nil {
		ps = append(ps, Param{Name: "bias", Var: l.Bias})
	}
	return ps
}

// SetTraining has no effect on a convolution.
func (l *Conv2D) SetTraining(bool) {}

// MaxPool2D is torch.nn.MaxPool2d: [N, C, H, W] -> [N, C, H', W'].
type MaxPool2D struct{ Opt autograd.Pool2DOptions }

// AvgPool2D is torch.nn.AvgPool2d: [N, C, H, W] -> [N, C, H', W'].
type AvgPool2D struct{ Opt autograd.Pool2DOptions }

// AdaptiveAvgPool2D is torch.nn.AdaptiveAvgPool2d: [N, C, H, W] -> [N, C, OutH, OutW].
type AdaptiveAvgPool2D struct{ OutH, OutW int }

// NewMaxPool2D returns a square max-pool with stride equal to the kernel, as
// nn.MaxPool2d(kernel_size=k).
func NewMaxPool2D(k int) *MaxPool2D {
	return &MaxPool2D{Opt: autograd.Pool2DOptions{Kernel: [2]int{k, k}, Stride: [2]int{k, k}}}
}

// NewAvgPool2D returns a square average pool with stride equal to the kernel.
func NewAvgPool2D(k int) *AvgPool2D {
	return &AvgPool2D{Opt: autograd.Pool2DOptions{Kernel: [2]int{k, k}, Stride: [2]int{k, k}}}
}

var (
	_ Layer = (*MaxPool2D)(nil)
	_ Layer = (*AvgPool2D)(nil)
	_ Layer = (*AdaptiveAvgPool2D)(nil)
)

// Forward pools x.
func (p *MaxPool2D) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return tp.MaxPool2D(x, p.Opt)
}

// Forward pools x.
func (p *AvgPool2D) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return tp.AvgPool2D(x, p.Opt)
}

// Forward pools x.
func (p *AdaptiveAvgPool2D) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return tp.AdaptiveAvgPool2D(x, p.OutH, p.OutW)
}

// Params is empty: pools have no parameters.
func (p *MaxPool2D) Params() []Param { return nil }

// Params is empty: pools have no parameters.
func (p *AvgPool2D) Params() []Param { return nil }

// Params is empty: pools have no parameters.
func (p *AdaptiveAvgPool2D) Params() []Param { return nil }

// SetTraining has no effect on pooling.
func (p *MaxPool2D) SetTraining(bool) {}

// SetTraining has no effect on pooling.
func (p *AvgPool2D) SetTraining(bool) {}

// SetTraining has no effect on pooling.
func (p *AdaptiveAvgPool2D) SetTraining(bool) {}

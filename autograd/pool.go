package autograd

import (
	"fmt"

	"github.com/metacnn/metacnn/internal/kernels"
	"github.com/metacnn/metacnn/tensor"
)

// Pool2DOptions configures MaxPool2D and AvgPool2D like PyTorch's
// max_pool2d / avg_pool2d arguments, as [height, width] pairs.
type Pool2DOptions struct {
	// Kernel is the window size; both entries must be positive.
	Kernel [2]int
	// Stride is the window step; a zero entry means the kernel size in that
	// dimension (PyTorch's stride=None).
	Stride [2]int
	// Padding is the implicit padding on each side (default 0). It must be at
	// most half the kernel size. Max pooling pads with -inf; average pooling
	// with zeros that count towards the divisor unless CountExcludePad.
	Padding [2]int
	// CeilMode rounds the output size up instead of down (ceil_mode=True);
	// every window still starts inside the input or its left padding.
	CeilMode bool
	// CountExcludePad makes AvgPool2D divide by the number of real input
	// elements in each window (count_include_pad=False). MaxPool2D ignores it.
	CountExcludePad bool
}

// geom resolves the defaults of opt for an H×W plane and panics, naming op
// and the input shape, on an invalid configuration or an empty output.
func (opt Pool2DOptions) geom(op string, shape []int) kernels.PoolGeom {
	if len(shape) != 4 {
		panic(fmt.Sprintf("autograd.%s: input %v, want [batch, channels, height, width]", op, shape))
	}
	g := kernels.PoolGeom{
		H: shape[2], W: shape[3],
		KH: opt.Kernel[0], KW: opt.Kernel[1],
		StrideH: opt.Stride[0], StrideW: opt.Stride[1],
		PadH: opt.Padding[0], PadW: opt.Padding[1],
		CeilMode: opt.CeilMode,
	}
	if g.StrideH == 0 {
		g.StrideH = g.KH
	}
	if g.StrideW == 0 {
		g.StrideW = g.KW
	}
	switch {
	case g.KH <= 0 || g.KW <= 0:
		panic(fmt.Sprintf("autograd.%s: kernel %v must be positive", op, opt.Kernel))
	case g.StrideH <= 0 || g.StrideW <= 0:
		panic(fmt.Sprintf("autograd.%s: stride %v must be positive (0 means the kernel size)", op, opt.Stride))
	case g.PadH < 0 || g.PadW < 0:
		panic(fmt.Sprintf("autograd.%s: padding %v must not be negative", op, opt.Padding))
	case g.PadH > g.KH/2 || g.PadW > g.KW/2:
		panic(fmt.Sprintf("autograd.%s: padding %v must be at most half of kernel %v", op, opt.Padding, opt.Kernel))
	}
	if oh, ow := g.Out(); oh <= 0 || ow <= 0 {
		panic(fmt.Sprintf("autograd.%s: input %v with kernel %v, stride [%d %d], padding %v gives output %dx%d, too small",
			op, shape, opt.Kernel, g.StrideH, g.StrideW, opt.Padding, oh, ow))
	}
	return g
}

// planeGrain picks how many planes one parallel task handles so each task
// touches at least ~32k elements.
func planeGrain(work int) int { return max(1, (1<<15)/max(work, 1)) }

// MaxPool2D is torch.nn.functional.max_pool2d (dilation 1): x is
// [N, C, H, W] and the result [N, C, OutH, OutW]. Padding acts as -inf; ties
// go to the first maximum in row-major window order and NaN propagates. The
// gradient flows to the element each window selected, accumulating where
// windows overlap.
func (tp *Tape) MaxPool2D(x *Var, opt Pool2DOptions) *Var {
	g := opt.geom("MaxPool2D", x.Shape())
	s := x.Shape()
	planes := s[0] * s[1]
	oh, ow := g.Out()
	inSize, outSize := g.H*g.W, oh*ow
	out := tp.alloc(false, s[0], s[1], oh, ow)
	argmax := kernels.GetI32(planes * outSize)
	xd, o := x.Data(), out.Data()
	kernels.ParallelFor(planes, planeGrain(outSize*g.KH*g.KW), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			kernels.MaxPool2D(g, xd[p*inSize:(p+1)*inSize], o[p*outSize:(p+1)*outSize], argmax[p*outSize:(p+1)*outSize])
		}
	})
	v := tp.result(out, func(gt *tensor.Tensor) {
		gd := gt.Data()
		gx, fresh := x.gradUninit()
		kernels.ParallelFor(planes, planeGrain(outSize), func(lo, hi int) {
			for p := lo; p < hi; p++ {
				if fresh {
					clear(gx[p*inSize : (p+1)*inSize])
				}
				kernels.MaxPool2DBackward(gd[p*outSize:(p+1)*outSize], argmax[p*outSize:(p+1)*outSize], gx[p*inSize:(p+1)*inSize])
			}
		})
	}, x)
	tp.keepIndices(v, argmax)
	return v
}

// AvgPool2D is torch.nn.functional.avg_pool2d: x is [N, C, H, W] and the
// result [N, C, OutH, OutW]. By default padding counts towards the divisor
// (count_include_pad=True), which is the window clipped to the padded input;
// opt.CountExcludePad divides by the real elements only.
func (tp *Tape) AvgPool2D(x *Var, opt Pool2DOptions) *Var {
	g := opt.geom("AvgPool2D", x.Shape())
	s := x.Shape()
	planes := s[0] * s[1]
	oh, ow := g.Out()
	inSize, outSize := g.H*g.W, oh*ow
	out := tp.alloc(false, s[0], s[1], oh, ow)
	xd, o := x.Data(), out.Data()
	ex := opt.CountExcludePad
	grain := planeGrain(outSize * g.KH * g.KW)
	kernels.ParallelFor(planes, grain, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			kernels.AvgPool2D(g, ex, xd[p*inSize:(p+1)*inSize], o[p*outSize:(p+1)*outSize])
		}
	})
	return tp.result(out, func(gt *tensor.Tensor) {
		gd, gx := gt.Data(), x.grad()
		kernels.ParallelFor(planes, grain, func(lo, hi int) {
			for p := lo; p < hi; p++ {
				kernels.AvgPool2DBackward(g, ex, gd[p*outSize:(p+1)*outSize], gx[p*inSize:(p+1)*inSize])
			}
		})
	}, x)
}

// AdaptiveAvgPool2D is torch.nn.functional.adaptive_avg_pool2d: x is
// [N, C, H, W] and the result [N, C, outH, outW]; output (i, j) averages
// rows floor(i*H/outH) to ceil((i+1)*H/outH) (exclusive) and likewise for
// columns, so windows may overlap when the sizes do not divide.
func (tp *Tape) AdaptiveAvgPool2D(x *Var, outH, outW int) *Var {
	s := x.Shape()
	if len(s) != 4 {
		panic(fmt.Sprintf("autograd.AdaptiveAvgPool2D: input %v, want [batch, channels, height, width]", s))
	}
	if outH <= 0 || outW <= 0 {
		panic(fmt.Sprintf("autograd.AdaptiveAvgPool2D: output size %dx%d must be positive (input %v)", outH, outW, s))
	}
	h, w := s[2], s[3]
	if h <= 0 || w <= 0 {
		panic(fmt.Sprintf("autograd.AdaptiveAvgPool2D: input %v has an empty plane", s))
	}
	planes := s[0] * s[1]
	inSize, outSize := h*w, outH*outW
	out := tensor.New(s[0], s[1], outH, outW)
	xd, o := x.Data(), out.Data()
	grain := planeGrain(inSize + outSize)
	kernels.ParallelFor(planes, grain, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			kernels.AdaptiveAvgPool2D(h, w, outH, outW, xd[p*inSize:(p+1)*inSize], o[p*outSize:(p+1)*outSize])
		}
	})
	return tp.result(out, func(gt *tensor.Tensor) {
		gd, gx := gt.Data(), x.grad()
		kernels.ParallelFor(planes, grain, func(lo, hi int) {
			for p := lo; p < hi; p++ {
				kernels.AdaptiveAvgPool2DBackward(h, w, outH, outW, gd[p*outSize:(p+1)*outSize], gx[p*inSize:(p+1)*inSize])
			}
		})
	}, x)
}

// GlobalAvgPool2D averages each channel over its spatial positions:
// [N, C, H, W] -> [N, C].
func (tp *Tape) GlobalAvgPool2D(x *Var) *Var {
	s := x.Shape()
	if len(s) != 4 {
		panic(fmt.Sprintf("autograd.GlobalAvgPool2D: input %v, want [batch, channels, height, width]", s))
	}
	planes, size := s[0]*s[1], s[2]*s[3]
	if size == 0 {
		panic(fmt.Sprintf("autograd.GlobalAvgPool2D: input %v has an empty plane", s))
	}
	out := tensor.New(s[0], s[1])
	xd, o := x.Data(), out.Data()
	n := float32(size)
	for p := range planes {
		var sum float32
		for _, v := range xd[p*size : (p+1)*size] {
			sum += v
		}
		o[p] = sum / n
	}
	return tp.result(out, func(gt *tensor.Tensor) {
		gd, gx := gt.Data(), x.grad()
		for p := range planes {
			v := gd[p] / n
			row := gx[p*size : (p+1)*size]
			for i := range row {
				row[i] += v
			}
		}
	}, x)
}

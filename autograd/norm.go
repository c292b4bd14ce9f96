package autograd

import (
	"fmt"
	"math"

	"github.com/metacnn/metacnn/internal/kernels"
	"github.com/metacnn/metacnn/tensor"
)

// Defaults of BatchNormOptions, as in torch.nn.BatchNorm2d.
const (
	DefaultBNMomentum = 0.1
	DefaultBNEps      = 1e-5
)

// BatchNormOptions configures BatchNorm2D. Zero fields take the documented
// defaults, so BatchNormOptions{Training: true} is PyTorch's default layer in
// train mode.
type BatchNormOptions struct {
	// Training normalises with the batch statistics and updates the running
	// statistics; otherwise the running statistics are used.
	Training bool
	// Momentum weights the new batch statistic in the running average:
	// running = (1-Momentum)·running + Momentum·batch. It must lie in
	// (0, 1]; 0 means the default 0.1. (PyTorch's momentum=0, which freezes
	// the running statistics, has the same training-mode output as passing
	// nil running statistics; PyTorch's momentum=None, a cumulative average,
	// is not supported.)
	Momentum float64
	// Eps is added to the variance before the square root (0 means the
	// default 1e-5).
	Eps float64
}

func (o BatchNormOptions) withDefaults() BatchNormOptions {
	if o.Momentum == 0 {
		o.Momentum = DefaultBNMomentum
	}
	if o.Eps == 0 {
		o.Eps = DefaultBNEps
	}
	if !(o.Momentum > 0 && o.Momentum <= 1) {
		panic(fmt.Sprintf("autograd.BatchNorm2D: momentum %v outside (0, 1]", o.Momentum))
	}
	if !(o.Eps > 0) {
		panic(fmt.Sprintf("autograd.BatchNorm2D: eps %v must be positive", o.Eps))
	}
	return o
}

// BatchNorm2D normalises x per channel as torch.nn.functional.batch_norm
// does. x is [N, C, H, W] (or any [N, C, ...], e.g. [N, C] as BatchNorm1d);
// weight and bias are [C] or nil (affine=False); runningMean and runningVar
// are [C] tensors, both present or both nil (track_running_stats=False). The
// result has x's shape.
//
// With opt.Training, or when there are no running statistics, the batch mean
// and biased batch variance over N and the spatial dimensions normalise x;
// in training the running statistics are then updated in place, the variance
// with the unbiased estimate n/(n-1)·var as PyTorch does. Otherwise the
// running statistics normalise x and the backward pass is the affine one.
// Training needs more than one value per channel.
func (tp *Tape) BatchNorm2D(x, weight, bias *Var, runningMean, runningVar *tensor.Tensor, opt BatchNormOptions) *Var {
	opt = opt.withDefaults()
	s := x.Shape()
	if len(s) < 2 {
		panic(fmt.Sprintf("autograd.BatchNorm2D: input %v, want [N, C, ...]", s))
	}
	n, c := s[0], s[1]
	sp := tensor.NumElements(s[2:])
	checkVec := func(name string, shape []int) {
		if len(shape) != 1 || shape[0] != c {
			panic(fmt.Sprintf("autograd.BatchNorm2D: %s %v does not match input %v (want [%d])", name, shape, s, c))
		}
	}
	if weight != nil {
		checkVec("weight", weight.Shape())
	}
	if bias != nil {
		checkVec("bias", bias.Shape())
	}
	if (runningMean == nil) != (runningVar == nil) {
		panic("autograd.BatchNorm2D: runningMean and runningVar must both be set or both be nil")
	}
	if runningMean != nil {
		checkVec("runningMean", runningMean.Shape())
		checkVec("runningVar", runningVar.Shape())
	}
	batchStats := opt.Training || runningMean == nil
	cnt := n * sp
	if batchStats && cnt <= 1 {
		panic(fmt.Sprintf("autograd.BatchNorm2D: expected more than 1 value per channel when using batch statistics, got input %v", s))
	}

	xd := x.Data()
	mean := make([]float64, c)
	invStd := make([]float64, c)
	if batchStats {
		// Two passes per channel (mean, then centred squares) for accuracy.
		kernels.ParallelFor(c, normGrain(cnt), func(lo, hi int) {
			for ch := lo; ch < hi; ch++ {
				var sum float64
				for b := 0; b < n; b++ {
					for _, v := range xd[(b*c+ch)*sp : (b*c+ch+1)*sp] {
						sum += float64(v)
					}
				}
				m := sum / float64(cnt)
				var sq float64
				for b := 0; b < n; b++ {
					for _, v := range xd[(b*c+ch)*sp : (b*c+ch+1)*sp] {
						d := float64(v) - m
						sq += d * d
					}
				}
				variance := sq / float64(cnt)
				mean[ch] = m
				invStd[ch] = 1 / math.Sqrt(variance+opt.Eps)
				if opt.Training && runningMean != nil {
					mom := opt.Momentum
					rm, rv := runningMean.Data(), runningVar.Data()
					unbiased := sq / float64(cnt-1)
					rm[ch] = float32((1-mom)*float64(rm[ch]) + mom*m)
					rv[ch] = float32((1-mom)*float64(rv[ch]) + mom*unbiased)
				}
			}
		})
	} else {
		rm, rv := runningMean.Data(), runningVar.Data()
		for ch := 0; ch < c; ch++ {
			mean[ch] = float64(rm[ch])
			invStd[ch] = 1 / math.Sqrt(float64(rv[ch])+opt.Eps)
		}
	}

	out := tensor.New(s...)
	o := out.Data()
	kernels.ParallelFor(n*c, normGrain(sp), func(lo, hi int) {
		for row := lo; row < hi; row++ {
			ch := row % c
			scale, shift := bnAffine(weight, bias, ch)
			m, is := mean[ch], invStd[ch]
			dst := o[row*sp : (row+1)*sp]
			for i, v := range xd[row*sp : (row+1)*sp] {
				dst[i] = float32((float64(v)-m)*is*scale + shift)
			}
		}
	})

	return tp.result(out, func(g *tensor.Tensor) {
		gd := g.Data()
		// Per channel: Σg and Σg·x̂, needed by every gradient.
		sumG := make([]float64, c)
		sumGX := make([]float64, c)
		kernels.ParallelFor(c, normGrain(cnt), func(lo, hi int) {
			for ch := lo; ch < hi; ch++ {
				m, is := mean[ch], invStd[ch]
				var sg, sgx float64
				for b := 0; b < n; b++ {
					off := (b*c + ch) * sp
					for i, gv := range gd[off : off+sp] {
						sg += float64(gv)
						sgx += float64(gv) * (float64(xd[off+i]) - m) * is
					}
				}
				sumG[ch], sumGX[ch] = sg, sgx
			}
		})
		if weight != nil && weight.requiresGrad {
			gw := weight.grad()
			for ch := range gw {
				gw[ch] += float32(sumGX[ch])
			}
		}
		if bias != nil && bias.requiresGrad {
			gb := bias.grad()
			for ch := range gb {
				gb[ch] += float32(sumG[ch])
			}
		}
		if !x.requiresGrad {
			return
		}
		gx := x.grad()
		kernels.ParallelFor(n*c, normGrain(sp), func(lo, hi int) {
			for row := lo; row < hi; row++ {
				ch := row % c
				scale, _ := bnAffine(weight, bias, ch)
				m, is := mean[ch], invStd[ch]
				off := row * sp
				if !batchStats {
					k := scale * is
					for i, gv := range gd[off : off+sp] {
						gx[off+i] += float32(float64(gv) * k)
					}
					continue
				}
				// dx = γ·σ⁻¹·(g - mean(g) - x̂·mean(g·x̂))
				k := scale * is
				mg := sumG[ch] / float64(cnt)
				mgx := sumGX[ch] / float64(cnt)
				for i, gv := range gd[off : off+sp] {
					xh := (float64(xd[off+i]) - m) * is
					gx[off+i] += float32(k * (float64(gv) - mg - xh*mgx))
				}
			}
		})
	}, x, weight, bias)
}

// bnAffine returns the scale and shift of channel ch (1 and 0 when absent).
func bnAffine(weight, bias *Var, ch int) (scale, shift float64) {
	scale = 1
	if weight != nil {
		scale = float64(weight.Data()[ch])
	}
	if bias != nil {
		shift = float64(bias.Data()[ch])
	}
	return scale, shift
}

// normGrain returns a ParallelFor grain so that each chunk of items of the
// given size holds enough work to be worth a goroutine.
func normGrain(itemSize int) int {
	const work = 16 << 10
	return max(1, work/max(itemSize, 1))
}

// LayerNorm normalises x over its trailing dimensions normShape as
// torch.nn.functional.layer_norm does: x is [..., normShape...]; weight and
// bias are normShape-shaped or nil; the result has x's shape. Each slice is
// normalised with its mean and biased variance; eps is added to the variance
// (PyTorch's default is 1e-5) and must be positive.
func (tp *Tape) LayerNorm(x, weight, bias *Var, normShape []int, eps float64) *Var {
	s := x.Shape()
	k := len(normShape)
	if k == 0 || k > len(s) || !tensor.EqualShapes(s[len(s)-k:], normShape) {
		panic(fmt.Sprintf("autograd.LayerNorm: input %v does not end with normalised shape %v", s, normShape))
	}
	if weight != nil && !tensor.EqualShapes(weight.Shape(), normShape) {
		panic(fmt.Sprintf("autograd.LayerNorm: weight %v, want %v", weight.Shape(), normShape))
	}
	if bias != nil && !tensor.EqualShapes(bias.Shape(), normShape) {
		panic(fmt.Sprintf("autograd.LayerNorm: bias %v, want %v", bias.Shape(), normShape))
	}
	if !(eps > 0) {
		panic(fmt.Sprintf("autograd.LayerNorm: eps %v must be positive", eps))
	}
	m := tensor.NumElements(normShape)
	rows := tensor.NumElements(s[:len(s)-k])
	if m == 0 {
		return tp.result(tensor.New(s...), func(*tensor.Tensor) {}, x, weight, bias)
	}
	xd := x.Data()
	var wd, bd []float32
	if weight != nil {
		wd = weight.Data()
	}
	if bias != nil {
		bd = bias.Data()
	}
	mean := make([]float64, rows)
	invStd := make([]float64, rows)
	out := tensor.New(s...)
	o := out.Data()
	kernels.ParallelFor(rows, normGrain(m), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			src := xd[r*m : (r+1)*m]
			var sum float64
			for _, v := range src {
				sum += float64(v)
			}
			mu := sum / float64(m)
			var sq float64
			for _, v := range src {
				d := float64(v) - mu
				sq += d * d
			}
			is := 1 / math.Sqrt(sq/float64(m)+eps)
			mean[r], invStd[r] = mu, is
			dst := o[r*m : (r+1)*m]
			for j, v := range src {
				y := (float64(v) - mu) * is
				if wd != nil {
					y *= float64(wd[j])
				}
				if bd != nil {
					y += float64(bd[j])
				}
				dst[j] = float32(y)
			}
		}
	})
	return tp.result(out, func(g *tensor.Tensor) {
		gd := g.Data()
		if x.requiresGrad {
			gx := x.grad()
			kernels.ParallelFor(rows, normGrain(m), func(lo, hi int) {
				for r := lo; r < hi; r++ {
					mu, is := mean[r], invStd[r]
					off := r * m
					// With h = γ·g: dx = σ⁻¹·(h - mean(h) - x̂·mean(h·x̂)).
					var sh, shx float64
					for j := 0; j < m; j++ {
						h := float64(gd[off+j])
						if wd != nil {
							h *= float64(wd[j])
						}
						sh += h
						shx += h * (float64(xd[off+j]) - mu) * is
					}
					mh, mhx := sh/float64(m), shx/float64(m)
					for j := 0; j < m; j++ {
						h := float64(gd[off+j])
						if wd != nil {
							h *= float64(wd[j])
						}
						xh := (float64(xd[off+j]) - mu) * is
						gx[off+j] += float32(is * (h - mh - xh*mhx))
					}
				}
			})
		}
		needW := weight != nil && weight.requiresGrad
		needB := bias != nil && bias.requiresGrad
		if !needW && !needB {
			return
		}
		sw := make([]float64, m)
		sb := make([]float64, m)
		for r := 0; r < rows; r++ {
			mu, is := mean[r], invStd[r]
			off := r * m
			for j := 0; j < m; j++ {
				gv := float64(gd[off+j])
				sb[j] += gv
				sw[j] += gv * (float64(xd[off+j]) - mu) * is
			}
		}
		if needW {
			gw := weight.grad()
			for j, v := range sw {
				gw[j] += float32(v)
			}
		}
		if needB {
			gb := bias.grad()
			for j, v := range sb {
				gb[j] += float32(v)
			}
		}
	}, x, weight, bias)
}

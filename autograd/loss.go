package autograd

import (
	"fmt"
	"math"

	"github.com/metacnn/metacnn/tensor"
)

// Reduction says how a loss combines its per-element values. The zero value
// is Mean, PyTorch's default.
type Reduction int

const (
	// ReduceMean averages the per-element losses (CrossEntropy: a weighted mean).
	ReduceMean Reduction = iota
	// ReduceSum adds the per-element losses.
	ReduceSum
	// ReduceNone returns the per-element losses unreduced.
	ReduceNone
)

// String returns PyTorch's name for r: "mean", "sum" or "none".
func (r Reduction) String() string {
	switch r {
	case ReduceMean:
		return "mean"
	case ReduceSum:
		return "sum"
	case ReduceNone:
		return "none"
	}
	return fmt.Sprintf("Reduction(%d)", int(r))
}

// ParseReduction parses PyTorch's names "mean", "sum" and "none".
func ParseReduction(s string) (Reduction, error) {
	switch s {
	case "mean":
		return ReduceMean, nil
	case "sum":
		return ReduceSum, nil
	case "none":
		return ReduceNone, nil
	}
	return 0, fmt.Errorf("unknown reduction %q (want mean, sum or none)", s)
}

// reduceLoss turns per-element losses l (of the given shape) into the loss
// tensor for red, dividing by denom for Mean. It also returns the factor
// d(output)/d(l[i]) times the output gradient g, for the backward pass.
func reduceLoss(op string, l []float64, shape []int, red Reduction, denom float64) (*tensor.Tensor, func(g []float32, i int) float64) {
	switch red {
	case ReduceNone:
		out := tensor.New(shape...)
		for i, v := range l {
			out.Data()[i] = float32(v)
		}
		return out, func(g []float32, i int) float64 { return float64(g[i]) }
	case ReduceSum, ReduceMean:
		var s float64
		for _, v := range l {
			s += v
		}
		scale := 1.0
		if red == ReduceMean {
			// An empty mean is 0/0 = NaN, as in PyTorch.
			scale = 1 / denom
		}
		return tensor.Scalar(float32(s * scale)), func(g []float32, _ int) float64 { return float64(g[0]) * scale }
	}
	panic(fmt.Sprintf("autograd.%s: unknown reduction %v", op, red))
}

// DefaultIgnoreIndex is the target value CrossEntropy ignores when
// CrossEntropyOptions.IgnoreIndex is nil (PyTorch's default, -100).
const DefaultIgnoreIndex = -100

// CrossEntropyOptions configures CrossEntropy; the zero value is PyTorch's
// default F.cross_entropy.
type CrossEntropyOptions struct {
	// Weight holds one weight per class, or nil for all ones.
	Weight []float32
	// LabelSmoothing ε in [0, 1] mixes the one-hot target with the uniform
	// distribution: target = (1-ε)·onehot + ε/C.
	LabelSmoothing float64
	// IgnoreIndex points to the target value that contributes nothing to the
	// loss, its gradient or the mean's denominator. nil means
	// DefaultIgnoreIndex (-100), so, as in PyTorch, a target of -100 is
	// always ignored unless another index is given.
	IgnoreIndex *int
	// Reduction combines the per-sample losses (default Mean).
	Reduction Reduction
}

// CrossEntropy returns torch.nn.functional.cross_entropy of logits [N, C]
// against class indices targets (length N): a scalar [] for Mean and Sum,
// [N] for None.
//
// For a sample i that is not ignored, with log-probabilities lp = log
// softmax(logits_i), target y, class weights w (all 1 when nil) and
// smoothing ε:
//
//	loss_i = (1-ε)·(-w_y·lp_y) + ε·(-Σ_c w_c·lp_c / C)
//
// Ignored samples have loss 0. Mean divides Σ loss_i by Σ w_{y_i} over the
// samples that are not ignored — both the NLL and the smoothing part, as
// PyTorch 1.13 does (checked against torch 1.13 with weights, smoothing and
// ignored samples together); it is NaN when every sample is ignored. A target
// outside [0, C) that is not the ignore index panics.
func (tp *Tape) CrossEntropy(logits *Var, targets []int, opt CrossEntropyOptions) *Var {
	s := logits.Shape()
	if len(s) != 2 {
		panic(fmt.Sprintf("autograd.CrossEntropy: logits %v, want [N, C]", s))
	}
	n, c := s[0], s[1]
	if len(targets) != n {
		panic(fmt.Sprintf("autograd.CrossEntropy: %d targets for logits %v", len(targets), s))
	}
	if opt.Weight != nil && len(opt.Weight) != c {
		panic(fmt.Sprintf("autograd.CrossEntropy: %d class weights for %d classes", len(opt.Weight), c))
	}
	eps := opt.LabelSmoothing
	if !(eps >= 0 && eps <= 1) {
		panic(fmt.Sprintf("autograd.CrossEntropy: label smoothing %v outside [0, 1]", eps))
	}
	ignore := DefaultIgnoreIndex
	if opt.IgnoreIndex != nil {
		ignore = *opt.IgnoreIndex
	}
	w := func(k int) float64 {
		if opt.Weight == nil {
			return 1
		}
		return float64(opt.Weight[k])
	}
	var smoothW float64 // Σ_c w_c, the total smoothing coefficient before ε/C
	for k := 0; k < c; k++ {
		smoothW += w(k)
	}
	tg := append([]int(nil), targets...) // the caller may reuse its slice before backward
	xd := logits.Data()
	logp := make([]float64, n*c)
	losses := make([]float64, n)
	var denom float64
	for i, y := range tg {
		if y == ignore {
			continue
		}
		if y < 0 || y >= c {
			panic(fmt.Sprintf("autograd.CrossEntropy: target %d at position %d out of range [0, %d)", y, i, c))
		}
		row := xd[i*c : (i+1)*c]
		lp := logp[i*c : (i+1)*c]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, float64(v))
		}
		var sum float64
		for _, v := range row {
			sum += math.Exp(float64(v) - mx)
		}
		lse := mx + math.Log(sum)
		var smooth float64
		for k, v := range row {
			lp[k] = float64(v) - lse
			smooth -= w(k) * lp[k]
		}
		losses[i] = -(1-eps)*w(y)*lp[y] + eps*smooth/float64(c)
		denom += w(y)
	}
	var outShape []int
	if opt.Reduction == ReduceNone {
		outShape = []int{n}
	}
	out, scaleOf := reduceLoss("CrossEntropy", losses, outShape, opt.Reduction, denom)
	return tp.result(out, func(g *tensor.Tensor) {
		gd := g.Data()
		gx := logits.grad()
		for i, y := range tg {
			if y == ignore {
				continue
			}
			sc := scaleOf(gd, i)
			// loss_i = -Σ_c a_c·lp_c with a_c = ε·w_c/C + (1-ε)·w_y·[c=y], so
			// d loss_i / d x_c = softmax_c·Σa - a_c.
			total := eps*smoothW/float64(c) + (1-eps)*w(y)
			for k := 0; k < c; k++ {
				a := eps * w(k) / float64(c)
				if k == y {
					a += (1 - eps) * w(y)
				}
				gx[i*c+k] += float32(sc * (math.Exp(logp[i*c+k])*total - a))
			}
		}
	}, logits)
}

// BCEOptions configures BCEWithLogits; the zero value is PyTorch's default.
type BCEOptions struct {
	// PosWeight weights the positive term per class along the last
	// dimension (length = logits' last dimension), or nil for none.
	PosWeight []float32
	// Weight rescales each element's loss; its shape must broadcast to the
	// logits' shape. nil means no rescaling.
	Weight *tensor.Tensor
	// Reduction combines the per-element losses (default Mean, over all
	// elements).
	Reduction Reduction
}

// BCEWithLogits returns torch.nn.functional.binary_cross_entropy_with_logits
// of logits against targets of the same shape (any shape): a scalar [] for
// Mean and Sum, logits' shape for None. Each element's loss is computed in
// PyTorch's stable form
//
//	w·((1-y)·x + (1+(pw-1)·y)·(log(1+exp(-|x|)) + max(-x, 0)))
//
// which never overflows. No gradient flows to targets.
func (tp *Tape) BCEWithLogits(logits *Var, targets *tensor.Tensor, opt BCEOptions) *Var {
	s := logits.Shape()
	tensor.MustSameShape("autograd.BCEWithLogits: logits and targets", logits.Value, targets)
	last := 1
	if len(s) > 0 {
		last = s[len(s)-1]
	}
	if opt.PosWeight != nil && len(opt.PosWeight) != last {
		panic(fmt.Sprintf("autograd.BCEWithLogits: %d positive weights for logits %v (want %d)", len(opt.PosWeight), s, last))
	}
	xd, yd := logits.Data(), targets.Data()
	var wt []float32 // per-element weight, nil for none
	if opt.Weight != nil {
		bc := newBcast("BCEWithLogits", s, opt.Weight.Shape())
		if !tensor.EqualShapes(bc.shape, s) {
			panic(fmt.Sprintf("autograd.BCEWithLogits: weight %v does not broadcast to logits %v", opt.Weight.Shape(), s))
		}
		wt = make([]float32, len(xd))
		wd := opt.Weight.Data()
		bc.each(func(i, _, iw int) { wt[i] = wd[iw] })
	}
	// lw is the weight of the log-sigmoid term, 1+(pw-1)·y.
	lw := func(i int) float64 {
		if opt.PosWeight == nil {
			return 1
		}
		return 1 + (float64(opt.PosWeight[i%last])-1)*float64(yd[i])
	}
	losses := make([]float64, len(xd))
	for i, xv := range xd {
		x, y := float64(xv), float64(yd[i])
		l := (1-y)*x + lw(i)*(math.Log1p(math.Exp(-math.Abs(x)))+math.Max(-x, 0))
		if wt != nil {
			l *= float64(wt[i])
		}
		losses[i] = l
	}
	var outShape []int
	if opt.Reduction == ReduceNone {
		outShape = s
	}
	out, scaleOf := reduceLoss("BCEWithLogits", losses, outShape, opt.Reduction, float64(len(xd)))
	return tp.result(out, func(g *tensor.Tensor) {
		gd := g.Data()
		gx := logits.grad()
		for i, xv := range xd {
			// d/dx = (1-y) - lw·sigmoid(-x)
			d := (1 - float64(yd[i])) - lw(i)*float64(sigmoid(-xv))
			if wt != nil {
				d *= float64(wt[i])
			}
			gx[i] += float32(scaleOf(gd, i) * d)
		}
	}, logits)
}

// MSE returns torch.nn.functional.mse_loss: the squared differences
// (pred - target)² of two same-shaped tensors (any shape), reduced by red —
// a scalar [] for Mean and Sum, pred's shape for None. No gradient flows to
// target.
func (tp *Tape) MSE(pred *Var, target *tensor.Tensor, red Reduction) *Var {
	tensor.MustSameShape("autograd.MSE: pred and target", pred.Value, target)
	pd, td := pred.Data(), target.Data()
	losses := make([]float64, len(pd))
	for i, p := range pd {
		d := float64(p) - float64(td[i])
		losses[i] = d * d
	}
	var outShape []int
	if red == ReduceNone {
		outShape = pred.Shape()
	}
	out, scaleOf := reduceLoss("MSE", losses, outShape, red, float64(len(pd)))
	return tp.result(out, func(g *tensor.Tensor) {
		gd := g.Data()
		gp := pred.grad()
		for i, p := range pd {
			gp[i] += float32(scaleOf(gd, i) * 2 * (float64(p) - float64(td[i])))
		}
	}, pred)
}

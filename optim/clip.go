package optim

import (
	"fmt"
	"math"

	"github.com/metacnn/metacnn/autograd"
)

// ClipGradNorm scales the gradients of params in place so that their joint
// L2 norm is at most maxNorm, as torch.nn.utils.clip_grad_norm_ does, and
// returns the norm before clipping. Parameters with a nil Grad are ignored.
// The gradients are multiplied by maxNorm / (norm + 1e-6) when that is below
// 1. When the norm is NaN or infinite the gradients are left unchanged (the
// caller can check the returned norm and skip the step); PyTorch would
// instead scale them to NaN or zero. It panics when maxNorm is negative or
// NaN.
func ClipGradNorm(params []*autograd.Var, maxNorm float64) float64 {
	if !(maxNorm >= 0) {
		panic(fmt.Sprintf("optim.ClipGradNorm: max norm %g must be non-negative", maxNorm))
	}
	var sumSq float64
	for _, p := range params {
		if p.Grad == nil {
			continue
		}
		for _, g := range p.Grad.Data() {
			sumSq += float64(g) * float64(g)
		}
	}
	norm := math.Sqrt(sumSq)
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return norm
	}
	if coef := maxNorm / (norm + 1e-6); coef < 1 {
		c := float32(coef)
		for _, p := range params {
			if p.Grad == nil {
				continue
			}
			g := p.Grad.Data()
			for i := range g {
				g[i] *= c
			}
		}
	}
	return norm
}

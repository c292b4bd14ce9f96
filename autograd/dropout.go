package autograd

import (
	"fmt"
	"math/rand/v2"

	"github.com/metacnn/metacnn/tensor"
)

// Dropout zeroes each element of x with probability p and scales the kept
// ones by 1/(1-p) (inverted dropout, as torch.nn.functional.dropout). The
// result has x's shape. When !training or p == 0 it returns x itself; p == 1
// gives zeros. The mask draws one rng.Float64 per element in row-major
// order, so a given seeded rng gives the same mask. p must lie in [0, 1] and
// rng must be non-nil whenever elements can be dropped.
func (tp *Tape) Dropout(x *Var, p float64, training bool, rng *rand.Rand) *Var {
	if !(p >= 0 && p <= 1) {
		panic(fmt.Sprintf("autograd.Dropout: probability %v outside [0, 1]", p))
	}
	if !training || p == 0 {
		return x
	}
	if rng == nil && p < 1 {
		panic("autograd.Dropout: nil rng in training mode")
	}
	xd := x.Data()
	mask := make([]float32, len(xd)) // 0 or 1/(1-p) per element
	if p < 1 {
		scale := float32(1 / (1 - p))
		for i := range mask {
			if rng.Float64() >= p {
				mask[i] = scale
			}
		}
	}
	out := tensor.New(x.Shape()...)
	o := out.Data()
	for i, v := range xd {
		o[i] = v * mask[i]
	}
	return tp.result(out, func(g *tensor.Tensor) {
		gx := x.grad()
		for i, gv := range g.Data() {
			gx[i] += gv * mask[i]
		}
	}, x)
}

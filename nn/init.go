package nn

import (
	"math"
	"math/rand/v2"

	"github.com/metacnn/metacnn/tensor"
)

// uniform returns a tensor of the given shape drawn from U(-bound, bound).
func uniform(rng *rand.Rand, bound float64, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data() {
		t.Data()[i] = float32((rng.Float64()*2 - 1) * bound)
	}
	return t
}

// normal returns a tensor of the given shape drawn from N(0, 1).
func normal(rng *rand.Rand, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data() {
		t.Data()[i] = float32(rng.NormFloat64())
	}
	return t
}

// fanInBound is PyTorch's default bound for Linear and Conv weights and
// biases: kaiming_uniform_(a=√5) gives U(-1/√fan_in, 1/√fan_in), and the bias
// uses the same bound.
func fanInBound(fanIn int) float64 {
	if fanIn <= 0 {
		return 0
	}
	return 1 / math.Sqrt(float64(fanIn))
}

package optim

import (
	"strconv"
	"testing"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/tensor"
)

// BenchmarkStep measures one optimizer step over a single parameter of n
// elements and reports the throughput in parameters per second.
func BenchmarkStep(b *testing.B) {
	builds := []struct {
		name  string
		build func([]Group) (Optimizer, error)
	}{
		{"sgd-momentum", func(g []Group) (Optimizer, error) {
			return NewSGD(g, SGDConfig{LR: 0.1, Momentum: 0.9, WeightDecay: 1e-4})
		}},
		{"adam", func(g []Group) (Optimizer, error) { return NewAdam(g, AdamConfig{}) }},
		{"adamw", func(g []Group) (Optimizer, error) { return NewAdamW(g, AdamConfig{}) }},
	}
	for _, bc := range builds {
		for _, n := range []int{1 << 10, 1 << 16, 1 << 21} {
			b.Run(bc.name+"/"+strconv.Itoa(n), func(b *testing.B) {
				p := autograd.Param(tensor.Full(0.5, n))
				p.Grad = tensor.Full(0.01, n)
				opt, err := bc.build(OneGroup([]*autograd.Var{p}))
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(4 * n))
				for b.Loop() {
					opt.Step()
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mparams/s")
			})
		}
	}
}

package autograd

import (
	"fmt"
	"testing"

	"github.com/metacnn/metacnn/tensor"
)

// BenchmarkConv2D times the seed CNN's two convolutions at batch 32
// (3x3, padding 1), forward alone and forward plus backward, and reports
// GFLOP/s counting 2·N·Cout·OH·OW·Cin·KH·KW per forward pass and three times
// that for forward plus backward (dX and dW).
func BenchmarkConv2D(b *testing.B) {
	cases := []struct {
		name             string
		n, cin, hw, cout int
	}{
		{"seed-conv1", 32, 3, 56, 32},
		{"seed-conv2", 32, 32, 28, 64},
	}
	for _, c := range cases {
		flops := 2.0 * float64(c.n*c.cout*c.hw*c.hw*c.cin*9)
		for _, train := range []bool{false, true} {
			mode := "forward"
			if train {
				mode = "forward+backward"
			}
			b.Run(fmt.Sprintf("%s/%s", c.name, mode), func(b *testing.B) {
				rng := newRNG(1)
				x := RandVar(rng, train, -1, 1, c.n, c.cin, c.hw, c.hw)
				w := RandVar(rng, train, -0.1, 0.1, c.cout, c.cin, 3, 3)
				bias := RandVar(rng, train, -0.1, 0.1, c.cout)
				opt := Conv2DOptions{Padding: [2]int{1, 1}}
				var gy *tensor.Tensor
				tp := NewTape()
				b.ResetTimer()
				for range b.N {
					if !train {
						(*Tape)(nil).Conv2D(x, w, bias, opt)
						continue
					}
					y := tp.Conv2D(x, w, bias, opt)
					if gy == nil {
						gy = tensor.Full(1, y.Shape()...)
					}
					tp.BackwardWith(y, gy)
					tp.Release()
					x.ZeroGrad()
					w.ZeroGrad()
					bias.ZeroGrad()
				}
				work := flops
				if train {
					work *= 3
				}
				b.ReportMetric(work*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

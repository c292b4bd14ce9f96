package model

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/nn"
	"github.com/metacnn/metacnn/optim"
	"github.com/metacnn/metacnn/tensor"
)

// seedBatch returns a random batch of n inputs for arch.
func seedBatch(arch string, rng *rand.Rand, n int) (Inputs, []int) {
	images := tensor.New(n, 3, SeedImageSize, SeedImageSize)
	for i := range images.Data() {
		images.Data()[i] = rng.Float32()
	}
	in := Inputs{Images: autograd.Const(images)}
	switch arch {
	case SeedConcat:
		ids := make([]int, n)
		for i := range ids {
			ids[i] = rng.IntN(seedOperators)
		}
		in.IDs = [][]int{ids}
	case SeedScaleBias, SeedFiLM:
		k := 1
		if arch == SeedFiLM {
			k = 2
		}
		meta := tensor.New(n, k)
		for i := range meta.Data() {
			meta.Data()[i] = rng.Float32()*2 - 1
		}
		in.Meta = autograd.Const(meta)
	}
	labels := make([]int, n)
	for i := range labels {
		labels[i] = rng.IntN(seedClasses)
	}
	return in, labels
}

// BenchmarkSeedTrain measures one Adam training step (forward, backward,
// update) of each seed architecture at batch 32, reporting images/s.
func BenchmarkSeedTrain(b *testing.B) {
	const batch = 32
	for _, arch := range SeedArchs {
		b.Run(arch, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			net, err := NewSeed(arch, rng)
			if err != nil {
				b.Fatal(err)
			}
			opt, err := optim.NewAdam(optim.OneGroup(nn.Trainable(net)), optim.AdamConfig{LR: 1e-3})
			if err != nil {
				b.Fatal(err)
			}
			in, labels := seedBatch(arch, rng, batch)
			// One tape released after every step, as the training loop does,
			// so -benchmem shows the steady state's allocation.
			tp := autograd.NewTape()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				loss := tp.CrossEntropy(net.Forward(tp, in), labels, autograd.CrossEntropyOptions{})
				opt.ZeroGrad()
				tp.Backward(loss)
				opt.Step()
				tp.Release()
			}
			b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "img/s")
		})
	}
}

// BenchmarkSeedInfer measures inference of seed-film at several batch sizes.
func BenchmarkSeedInfer(b *testing.B) {
	for _, batch := range []int{1, 32} {
		b.Run(fmt.Sprintf("%s/batch=%d", SeedFiLM, batch), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			net, err := NewSeed(SeedFiLM, rng)
			if err != nil {
				b.Fatal(err)
			}
			in, _ := seedBatch(SeedFiLM, rng, batch)
			b.ResetTimer()
			for range b.N {
				net.Forward(nil, in)
			}
			b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "img/s")
		})
	}
}

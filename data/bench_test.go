package data

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
)

// BenchmarkLoader measures loader throughput on 64x64 RGB PNGs (random
// pixels, so PNG compression does not flatter the decoder): decode, convert
// to float32 CHW, augment (none, or every transform: crop, rotation,
// flips, quarter turns, brightness, contrast, gamma, hue, blur, noise),
// normalise, batch 32; img/s is images delivered per second. The cache
// case keeps every decoded image, so after its first epoch it measures
// augmentation alone. Run with
//
//	go test -run - -bench Loader ./data
func BenchmarkLoader(b *testing.B) {
	const n = 256
	rows := makeRows(b, b.TempDir(), n, 64, 64)
	full := fullAugment()
	for _, tc := range []struct {
		name  string
		aug   *Augment
		cache bool
	}{{"augment=none", nil, false}, {"augment=full", full, false}, {"augment=full/cache", full, true}} {
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/workers=%d", tc.name, workers), func(b *testing.B) {
				o := LoaderOptions{BatchSize: 32, Shuffle: true, Workers: workers, Augment: tc.aug,
					Image: ImageOptions{Width: 64, Height: 64, Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{0.25, 0.25, 0.25}}}
				if tc.cache {
					o.CacheBytes = 64 << 20
				}
				l, err := NewLoader(rows, o)
				if err != nil {
					b.Fatal(err)
				}
				images := 0
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					e := l.Epoch(context.Background(), i)
					for {
						batch, err := e.Next()
						if errors.Is(err, io.EOF) {
							break
						}
						if err != nil {
							b.Fatal(err)
						}
						images += batch.Len()
					}
					e.Close()
				}
				b.ReportMetric(float64(images)/b.Elapsed().Seconds(), "img/s")
			})
		}
	}
}

// BenchmarkAugment measures each transform alone on one 3x64x64 image.
func BenchmarkAugment(b *testing.B) {
	const c, h, w = 3, 64, 64
	src := randImage(1, c, h, w, 0, 1)
	img, scratch := make([]float32, len(src)), make([]float32, len(src))
	for _, tc := range []struct {
		name string
		a    Augment
	}{
		{"flips", Augment{FlipH: 0.5, FlipV: 0.5, Rot90: true}},
		{"rotate", Augment{Rotate: 15}},
		{"crop", Augment{CropScale: Range{0.08, 1}}},
		{"brightness-contrast", Augment{Brightness: 0.1, Contrast: 0.2}},
		{"gamma", Augment{Gamma: 0.2}},
		{"hue", Augment{Hue: 0.05}},
		{"blur", Augment{Blur: Range{0.1, 1}}},
		{"noise", Augment{Noise: 0.05}},
		{"full", *fullAugment()},
	} {
		b.Run(tc.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			for i := 0; i < b.N; i++ {
				copy(img, src)
				tc.a.Apply(img, scratch, c, h, w, rng)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "img/s")
		})
	}
}

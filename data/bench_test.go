package data

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
)

// BenchmarkLoader measures loader throughput on 64x64 RGB PNGs (random
// pixels, so PNG compression does not flatter the decoder): decode, convert
// to float32 CHW, normalise, optionally augment, batch 32. Run with
// go test -bench Loader -run - ./data
func BenchmarkLoader(b *testing.B) {
	const n = 256
	rows := makeRows(b, b.TempDir(), n, 64, 64)
	for _, aug := range []bool{false, true} {
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("augment=%v/workers=%d", aug, workers), func(b *testing.B) {
				o := LoaderOptions{BatchSize: 32, Shuffle: true, Workers: workers,
					Image: ImageOptions{Width: 64, Height: 64, Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{0.25, 0.25, 0.25}}}
				if aug {
					o.Augment = &Augment{FlipH: 0.5, Rot90: true, Brightness: 0.1, Contrast: 0.1, Noise: 0.02}
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

package eval

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func randomPreds(b testing.TB, n, k int, columns ...string) *Predictions {
	rng := rand.New(rand.NewPCG(1, 2))
	classes := make([]string, k)
	for c := range classes {
		classes[c] = fmt.Sprint("c", c)
	}
	labels := make([]int, n)
	flat := make([]float64, n*k)
	keys := make([]map[string]string, n)
	for i := range n {
		labels[i] = rng.IntN(k)
		row, sum := flat[i*k:(i+1)*k], 0.0
		for c := range row {
			row[c] = rng.Float64()
			if c == labels[i] {
				row[c] += 1
			}
			sum += row[c]
		}
		for c := range row {
			row[c] /= sum
		}
		keys[i] = map[string]string{}
		for j, col := range columns {
			keys[i][col] = fmt.Sprint("v", rng.IntN(3+2*j))
		}
	}
	p, err := NewPredictionsFlat(classes, labels, flat, keys)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkEvaluate times a full report (overall + 3 slice columns with
// 3, 5 and 7 values, B = 1000) and reports rows per second.
func BenchmarkEvaluate(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint("rows=", n), func(b *testing.B) {
			p := randomPreds(b, n, 4, "camera", "operator", "shift")
			opts := Options{SliceBy: []string{"camera", "operator", "shift"}}
			for b.Loop() {
				if _, err := Evaluate(p, opts); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkComparePaired times the default 10000-resample paired bootstrap.
func BenchmarkComparePaired(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint("rows=", n), func(b *testing.B) {
			p := randomPreds(b, n, 4)
			for b.Loop() {
				if _, err := ComparePaired("a", p, "b", p, Bootstrap{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

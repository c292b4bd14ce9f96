package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestAdamStepAgrees checks the vectorised AdamStep (AVX2 where the CPU has
// it) against its portable twin bit for bit over several steps, on odd
// lengths and offsets, with gradients spanning many magnitudes, zeros of
// both signs and moments starting at zero.
func TestAdamStepAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, n := range []int{1, 7, 8, 9, 31, 64, 1000, 1027} {
		for _, off := range []int{0, 3} {
			t.Run(fmt.Sprintf("n%d_off%d", n, off), func(t *testing.T) {
				total := off + n
				x := randSlice(rng, total)
				m := make([]float32, total)
				v := make([]float32, total)
				x2 := append([]float32(nil), x...)
				m2 := append([]float32(nil), m...)
				v2 := append([]float32(nil), v...)
				for step := 1; step <= 4; step++ {
					g := make([]float32, total)
					for i := range g {
						switch rng.IntN(8) {
						case 0:
							g[i] = 0
						case 1:
							g[i] = float32(math.Copysign(0, -1))
						default:
							g[i] = (rng.Float32()*2 - 1) * float32(math.Pow(10, float64(rng.IntN(12)-8)))
						}
					}
					lr, b1, b2 := 1e-3, 0.9, 0.999
					c := AdamConsts{
						Beta1: float32(b1), Keep1: float32(1 - b1),
						Beta2: float32(b2), Keep2: float32(1 - b2),
						Eps:         1e-8,
						NegStepSize: float32(-(lr / (1 - math.Pow(b1, float64(step))))),
						BC2Sqrt:     float32(math.Sqrt(1 - math.Pow(b2, float64(step)))),
					}
					AdamStep(x[off:], g[off:], m[off:], v[off:], c)
					adamGeneric(x2[off:], g[off:], m2[off:], v2[off:], c)
					for i := range x {
						if math.Float32bits(x[i]) != math.Float32bits(x2[i]) ||
							math.Float32bits(m[i]) != math.Float32bits(m2[i]) ||
							math.Float32bits(v[i]) != math.Float32bits(v2[i]) {
							t.Fatalf("step %d element %d: x, m, v = %v %v %v, want %v %v %v (g %v)",
								step, i, x[i], m[i], v[i], x2[i], m2[i], v2[i], g[i])
						}
					}
				}
			})
		}
	}
}

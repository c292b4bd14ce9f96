package kernels

import "math"

// AdamConsts are the per-step constants of one Adam update (see AdamStep),
// float32 as the optimizer rounds them.
type AdamConsts struct {
	Beta1, Keep1 float32 // beta1 and 1-beta1
	Beta2, Keep2 float32 // beta2 and 1-beta2
	Eps          float32
	NegStepSize  float32 // -lr / (1 - beta1^t)
	BC2Sqrt      float32 // sqrt(1 - beta2^t)
	_            float32
	keep1d       float64 // Keep1 as float64, for the assembly
}

// AdamStep applies torch.optim.Adam's single-tensor update (no weight decay,
// no AMSGrad) to parameters x with gradients g and moments m and v, all the
// same length, with exactly the float32 roundings of optim.Adam:
//
//	m = float32(float64(float32(Beta1*m)) + float64(Keep1)*float64(g))  (one rounding of the fused add, as torch's add(alpha=))
//	v = float32(Beta2*v) + float32(float32(Keep2*g)*g)
//	x = x + float32(float32(NegStepSize*m) / (float32(sqrt(v)/BC2Sqrt) + Eps))
//
// AVX2 where the CPU has it; adamGeneric is the portable twin. Every
// operation is an IEEE single or exact-product double operation, so the
// vector lanes round exactly as the scalar loop.
func AdamStep(x, g, m, v []float32, c AdamConsts) {
	g, m, v = g[:len(x)], m[:len(x)], v[:len(x)]
	i := 0
	if useAVX2FMA && len(x) >= 8 {
		i = len(x) &^ 7
		c.keep1d = float64(c.Keep1)
		adamBlocks(x, g, m, v, i/8, &c)
	}
	adamGeneric(x[i:], g[i:], m[i:], v[i:], c)
}

func adamGeneric(x, g, m, v []float32, c AdamConsts) {
	g, m, v = g[:len(x)], m[:len(x)], v[:len(x)]
	for i, gr := range g {
		m[i] = float32(float64(float32(c.Beta1*m[i])) + float64(c.Keep1)*float64(gr))
		v[i] = float32(c.Beta2*v[i]) + float32(float32(c.Keep2*gr)*gr)
		denom := float32(sqrt32(v[i])/c.BC2Sqrt) + c.Eps
		x[i] = x[i] + float32(float32(c.NegStepSize*m[i])/denom)
	}
}

// sqrt32 is the correctly rounded float32 square root (the float64 root of
// a float32, rounded to float32, is correctly rounded).
func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }

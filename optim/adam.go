package optim

import (
	"fmt"
	"math"

	"github.com/metacnn/metacnn/internal/kernels"
)

// Defaults of torch.optim.Adam and AdamW (Adam's weight decay is 0).
const (
	DefaultAdamLR     = 1e-3
	DefaultBeta1      = 0.9
	DefaultBeta2      = 0.999
	DefaultAdamEps    = 1e-8
	DefaultAdamWDecay = 0.01
)

// AdamConfig configures Adam and AdamW. Zero fields select PyTorch's
// defaults.
type AdamConfig struct {
	// LR is the learning rate; zero means 1e-3.
	LR float64
	// Betas are the decay rates of the first and second moment estimates;
	// the zero value means (0.9, 0.999). Any other value is used as given,
	// so {0, 0.99} turns the first moment off.
	Betas [2]float64
	// Eps is added to the denominator; zero means 1e-8.
	Eps float64
	// WeightDecay is the weight decay; nil means 0 for Adam (an L2 penalty
	// added to the gradient) and 0.01 for AdamW (decoupled: the parameter
	// is multiplied by 1 - lr*wd before the update). Groups may override it.
	WeightDecay *float64
	// AMSGrad uses the running maximum of the second moment.
	AMSGrad bool
}

// withDefaults returns c with zero fields replaced by their defaults.
func (c AdamConfig) withDefaults(decoupled bool) AdamConfig {
	if c.LR == 0 {
		c.LR = DefaultAdamLR
	}
	if c.Betas == [2]float64{} {
		c.Betas = [2]float64{DefaultBeta1, DefaultBeta2}
	}
	if c.Eps == 0 {
		c.Eps = DefaultAdamEps
	}
	if c.WeightDecay == nil {
		wd := 0.0
		if decoupled {
			wd = DefaultAdamWDecay
		}
		c.WeightDecay = &wd
	}
	return c
}

// Validate reports the first invalid field, with the rule it breaks.
func (c AdamConfig) Validate() error { return c.validate("adam") }

func (c AdamConfig) validate(kind string) error {
	c = c.withDefaults(false)
	switch {
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("optim: %s: learning rate %g must be positive and finite", kind, c.LR)
	case !(c.Betas[0] >= 0 && c.Betas[0] < 1):
		return fmt.Errorf("optim: %s: beta1 %g must be in [0, 1)", kind, c.Betas[0])
	case !(c.Betas[1] >= 0 && c.Betas[1] < 1):
		return fmt.Errorf("optim: %s: beta2 %g must be in [0, 1)", kind, c.Betas[1])
	case !(c.Eps > 0) || math.IsInf(c.Eps, 0):
		return fmt.Errorf("optim: %s: eps %g must be positive and finite", kind, c.Eps)
	case !(*c.WeightDecay >= 0) || math.IsInf(*c.WeightDecay, 0):
		return fmt.Errorf("optim: %s: weight decay %g must be non-negative and finite", kind, *c.WeightDecay)
	}
	return nil
}

// Adam is the Adam optimizer (Kingma & Ba), or AdamW (Loshchilov & Hutter)
// when built by NewAdamW, exactly as torch.optim.Adam and AdamW in PyTorch
// 1.13 (single-tensor path). Per element at step t, with g the gradient and
// p the parameter:
//
//	p = p * (1 - lr*wd)                         (AdamW)
//	g = g + wd*p                                (Adam, when wd != 0)
//	m = beta1*m + (1-beta1)*g
//	v = beta2*v + (1-beta2)*g*g
//	vmax = max(vmax, v); use vmax for v below   (AMSGrad)
//	denom = sqrt(v) / sqrt(1 - beta2^t) + eps
//	p = p - (lr / (1 - beta1^t)) * m / denom
//
// The bias corrections and step size are computed in float64 and rounded to
// float32 where PyTorch rounds them; everything else is float32.
type Adam struct {
	base
	cfg       AdamConfig
	decoupled bool
}

var _ Optimizer = (*Adam)(nil)

// NewAdam returns an Adam optimizer (L2 weight decay) over groups.
func NewAdam(groups []Group, cfg AdamConfig) (*Adam, error) {
	return newAdam(groups, cfg, false)
}

// NewAdamW returns an AdamW optimizer (decoupled weight decay, default
// 0.01) over groups.
func NewAdamW(groups []Group, cfg AdamConfig) (*Adam, error) {
	return newAdam(groups, cfg, true)
}

func newAdam(groups []Group, cfg AdamConfig, decoupled bool) (*Adam, error) {
	cfg = cfg.withDefaults(decoupled)
	kind := "adam"
	if decoupled {
		kind = "adamw"
	}
	if err := cfg.validate(kind); err != nil {
		return nil, err
	}
	b, err := newBase(kind, groups, cfg.LR, *cfg.WeightDecay)
	if err != nil {
		return nil, err
	}
	b.allowed = []string{BufExpAvg, BufExpAvgSq}
	if cfg.AMSGrad {
		b.allowed = append(b.allowed, BufMaxExpAvgSq)
	}
	return &Adam{base: b, cfg: cfg, decoupled: decoupled}, nil
}

// Step applies one update to every parameter whose Grad is non-nil.
func (o *Adam) Step() {
	beta1, beta2 := o.cfg.Betas[0], o.cfg.Betas[1]
	b1, keep1 := float32(beta1), float32(1-beta1)
	b2, keep2 := float32(beta2), float32(1-beta2)
	eps := float32(o.cfg.Eps)
	for gi := range o.groups {
		g := &o.groups[gi]
		wd := float32(g.wd)
		decay := float32(1 - g.lr*g.wd)
		for pi, p := range g.params {
			grad := o.grad(gi, pi, p)
			if grad == nil {
				continue
			}
			x := p.Value.Data()
			st := &g.state[pi]
			m, _ := st.buffer(BufExpAvg, len(x))
			v, _ := st.buffer(BufExpAvgSq, len(x))
			var vmax []float32
			if o.cfg.AMSGrad {
				vmax, _ = st.buffer(BufMaxExpAvgSq, len(x))
			}
			st.step++
			t := float64(st.step)
			biasCorrection1 := 1 - math.Pow(beta1, t)
			biasCorrection2 := 1 - math.Pow(beta2, t)
			negStepSize := float32(-(g.lr / biasCorrection1))
			bc2Sqrt := float32(math.Sqrt(biasCorrection2))
			decoupled, l2 := o.decoupled, g.wd != 0
			if !decoupled && !l2 && vmax == nil {
				// The plain update, vectorised with the same roundings.
				c := kernels.AdamConsts{
					Beta1: b1, Keep1: keep1, Beta2: b2, Keep2: keep2,
					Eps: eps, NegStepSize: negStepSize, BC2Sqrt: bc2Sqrt,
				}
				kernels.ParallelFor(len(x), grain, func(lo, hi int) {
					kernels.AdamStep(x[lo:hi], grad[lo:hi], m[lo:hi], v[lo:hi], c)
				})
				continue
			}
			kernels.ParallelFor(len(x), grain, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					gr := grad[i]
					if decoupled {
						x[i] = float32(x[i] * decay)
					} else if l2 {
						gr = add32(gr, wd, x[i])
					}
					m[i] = add32(float32(b1*m[i]), keep1, gr)
					v[i] = float32(b2*v[i]) + float32(float32(keep2*gr)*gr)
					sq := v[i]
					if vmax != nil {
						vmax[i] = max(vmax[i], v[i])
						sq = vmax[i]
					}
					denom := float32(sqrt32(sq)/bc2Sqrt) + eps
					x[i] = x[i] + float32(float32(negStepSize*m[i])/denom)
				}
			})
		}
	}
}

// sqrt32 is the correctly rounded float32 square root, as torch's sqrt: the
// float64 root of a float32 rounded to float32 is correctly rounded, and the
// compiler emits a single float32 square root for it.
func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }

package optim

import (
	"errors"
	"fmt"

	"github.com/metacnn/metacnn/internal/kernels"
)

// SGDConfig configures stochastic gradient descent. The zero value of every
// field but LR selects torch.optim.SGD's default.
type SGDConfig struct {
	// LR is the learning rate, required (> 0).
	LR float64
	// Momentum is the momentum factor; zero is plain SGD.
	Momentum float64
	// Dampening scales down the gradient's contribution to the momentum
	// buffer by (1 - Dampening); not applied on the first step.
	Dampening float64
	// Nesterov uses Nesterov momentum; it needs Momentum > 0 and zero
	// Dampening.
	Nesterov bool
	// WeightDecay is the L2 penalty added to the gradient (wd * param);
	// groups may override it.
	WeightDecay float64
}

// Validate reports the first invalid field, with the rule it breaks.
func (c SGDConfig) Validate() error {
	switch {
	case !(c.LR > 0):
		return fmt.Errorf("optim: sgd: learning rate %g must be positive", c.LR)
	case !(c.Momentum >= 0):
		return fmt.Errorf("optim: sgd: momentum %g must be non-negative", c.Momentum)
	case !(c.WeightDecay >= 0):
		return fmt.Errorf("optim: sgd: weight decay %g must be non-negative", c.WeightDecay)
	case c.Nesterov && (c.Momentum <= 0 || c.Dampening != 0):
		return errors.New("optim: sgd: Nesterov momentum needs a positive momentum and zero dampening")
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"learning rate", c.LR}, {"momentum", c.Momentum}, {"dampening", c.Dampening}, {"weight decay", c.WeightDecay}} {
		if err := checkFinite(f.name, f.v); err != nil {
			return fmt.Errorf("optim: sgd: %w", err)
		}
	}
	return nil
}

// SGD is stochastic gradient descent with optional momentum, dampening,
// Nesterov momentum and L2 weight decay, exactly as torch.optim.SGD in
// PyTorch 1.13. Per element, with g the gradient and p the parameter:
//
//	d = g + wd*p                       (when wd != 0)
//	buf = d                            (first step, when momentum != 0)
//	buf = momentum*buf + (1-dampening)*d   (later steps)
//	d = d + momentum*buf (Nesterov) or d = buf
//	p = p - lr*d
type SGD struct {
	base
	cfg SGDConfig
}

var _ Optimizer = (*SGD)(nil)

// NewSGD returns an SGD optimizer over groups.
func NewSGD(groups []Group, cfg SGDConfig) (*SGD, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	b, err := newBase("sgd", groups, cfg.LR, cfg.WeightDecay)
	if err != nil {
		return nil, err
	}
	if cfg.Momentum != 0 {
		b.allowed = []string{BufMomentum}
	}
	return &SGD{base: b, cfg: cfg}, nil
}

// Step applies one update to every parameter whose Grad is non-nil.
func (o *SGD) Step() {
	momentum := float32(o.cfg.Momentum)
	keep := float32(1 - o.cfg.Dampening)
	for gi := range o.groups {
		g := &o.groups[gi]
		negLR := float32(-g.lr)
		wd := float32(g.wd)
		for pi, p := range g.params {
			grad := o.grad(gi, pi, p)
			if grad == nil {
				continue
			}
			x := p.Value.Data()
			st := &g.state[pi]
			var buf []float32
			fresh := false
			if o.cfg.Momentum != 0 {
				buf, fresh = st.buffer(BufMomentum, len(x))
			}
			nesterov, decay := o.cfg.Nesterov, g.wd != 0
			kernels.ParallelFor(len(x), grain, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					d := grad[i]
					if decay {
						d = add32(d, wd, x[i])
					}
					if buf != nil {
						if fresh {
							buf[i] = d
						} else {
							buf[i] = add32(float32(momentum*buf[i]), keep, d)
						}
						if nesterov {
							d = add32(d, momentum, buf[i])
						} else {
							d = buf[i]
						}
					}
					x[i] = add32(x[i], negLR, d)
				}
			})
			st.step++
		}
	}
}

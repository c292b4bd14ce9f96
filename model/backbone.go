package model

import (
	"fmt"
	"math/rand/v2"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/fusion"
	"github.com/metacnn/metacnn/nn"
)

// backbone is an image feature extractor cut into stages that fusion blocks
// can follow. Stage s runs on the output of stage s-1 (stage 1 on the
// stem's output); m is the metadata vector, used only by conditional batch
// norms inside the stages (nil when there are none).
type backbone interface {
	stem(tp *autograd.Tape, x *autograd.Var) *autograd.Var
	stage(tp *autograd.Tape, s int, x, m *autograd.Var) *autograd.Var
	// shapes returns [C, H, W] after the stem (index 0) and after each
	// stage (index s).
	shapes() [][3]int
	params() []nn.Param
	// parts describes params(), in the same order: the stage each belongs
	// to (0: the stem) and whether it is a cbn generator's.
	parts() []bbParam
	// setFrozen keeps the batch norms of the stem and stages 1..k in
	// evaluation mode from the next setTraining on.
	setFrozen(k int)
	// singleValueNorm reports whether a batch norm that trains (one not
	// frozen) normalises a 1x1 feature map, which a batch of one row cannot
	// give batch statistics.
	singleValueNorm() bool
	setTraining(bool)
}

// bbParam is one entry of backbone.params with where it belongs.
type bbParam struct {
	nn.Param
	stage int
	// gen marks the metadata generator of a conditional batch norm
	// (hidden_layer, gamma_layer, beta_layer): fusion, not backbone.
	gen bool
}

// stageParts tags ps as belonging to stage s, marking cbn generators.
func stageParts(s int, ps []nn.Param, gens map[*autograd.Var]bool) []bbParam {
	out := make([]bbParam, len(ps))
	for i, p := range ps {
		out[i] = bbParam{Param: p, stage: s, gen: gens[p.Var]}
	}
	return out
}

// norm is a batch norm that may be conditioned on the metadata.
type norm struct {
	bn  *nn.BatchNorm2D
	cbn *fusion.CondBatchNorm
}

func newNorm(rng *rand.Rand, c int, cond bool, metaDim int, opt fusion.Options) norm {
	if cond {
		return norm{cbn: fusion.NewCondBatchNorm(rng, c, metaDim, opt)}
	}
	return norm{bn: nn.NewBatchNorm2D(c)}
}

func (n norm) forward(tp *autograd.Tape, x, m *autograd.Var) *autograd.Var {
	if n.cbn != nil {
		return n.cbn.Forward(tp, x, m)
	}
	return n.bn.Forward(tp, x)
}

func (n norm) params() []nn.Param {
	if n.cbn != nil {
		return n.cbn.Params()
	}
	return n.bn.Params()
}

// generators returns the variables of a conditional batch norm's metadata
// generator (everything but nn.BatchNorm2D's five names), or nil.
func (n norm) generators() map[*autograd.Var]bool {
	if n.cbn == nil {
		return nil
	}
	own := map[string]bool{"weight": true, "bias": true, "running_mean": true, "running_var": true, "num_batches_tracked": true}
	g := map[*autograd.Var]bool{}
	for _, p := range n.cbn.Params() {
		if !own[p.Name] {
			g[p.Var] = true
		}
	}
	return g
}

func (n norm) setTraining(b bool) {
	if n.cbn != nil {
		n.cbn.SetTraining(b)
	} else {
		n.bn.SetTraining(b)
	}
}

// convOut is the output length of a convolution or pooling window.
func convOut(n, k, stride, pad int) int { return (n+2*pad-k)/stride + 1 }

// seedBackbone is the reference document's feature extractor, generalised:
// stage i is conv 3x3 pad 1 (widths[i] channels), [batch norm], ReLU,
// max-pool 2. Its layers are numbered as one nn.Sequential named
// cnn_layers, so with widths [32, 64] and no batch norm the parameter names
// are the document's (cnn_layers.0.weight, cnn_layers.3.weight).
type seedBackbone struct {
	stages []seedStage
	shape  [][3]int
	frozen int
}

type seedStage struct {
	conv  *nn.Conv2D
	norm  *norm // nil without batch norm
	first int   // index of conv in cnn_layers
}

// newSeedBackbone builds the stages for an input [c, h, w]; cond[s] makes
// the batch norm of stage s (1-based) conditional, adding one when the
// backbone has none.
func newSeedBackbone(rng *rand.Rand, spec BackboneSpec, in [3]int, cond map[int]fusion.Options, metaDim int) (*seedBackbone, error) {
	b := &seedBackbone{shape: [][3]int{in}}
	c, h, w := in[0], in[1], in[2]
	idx := 0
	for i, width := range spec.Widths {
		st := seedStage{first: idx, conv: nn.NewConv2D(rng, nn.Conv2DConfig{In: c, Out: width, Kernel: [2]int{3, 3}, Padding: [2]int{1, 1}})}
		idx++
		opt, isCond := cond[i+1]
		if spec.BatchNorm || isCond {
			n := newNorm(rng, width, isCond, metaDim, opt)
			st.norm = &n
			idx++
		}
		idx += 2 // ReLU, max-pool
		c, h, w = width, h/2, w/2
		if h < 1 || w < 1 {
			return nil, fmt.Errorf("input %dx%d is too small for %d seed stages (each halves it): stage %d would be empty", in[1], in[2], len(spec.Widths), i+1)
		}
		b.stages = append(b.stages, st)
		b.shape = append(b.shape, [3]int{c, h, w})
	}
	return b, nil
}

var seedPool = autograd.Pool2DOptions{Kernel: [2]int{2, 2}, Stride: [2]int{2, 2}}

func (b *seedBackbone) stem(_ *autograd.Tape, x *autograd.Var) *autograd.Var { return x }

func (b *seedBackbone) stage(tp *autograd.Tape, s int, x, m *autograd.Var) *autograd.Var {
	st := b.stages[s-1]
	x = st.conv.Forward(tp, x)
	if st.norm != nil {
		x = st.norm.forward(tp, x, m)
	}
	return tp.MaxPool2D(tp.ReLU(x), seedPool)
}

func (b *seedBackbone) shapes() [][3]int { return b.shape }

func (b *seedBackbone) params() []nn.Param {
	var ps []nn.Param
	for _, p := range b.parts() {
		ps = append(ps, p.Param)
	}
	return ps
}

func (b *seedBackbone) parts() []bbParam {
	var ps []bbParam
	for i, st := range b.stages {
		ps = append(ps, stageParts(i+1, nn.Prefixed(fmt.Sprintf("cnn_layers.%d", st.first), st.conv.Params()), nil)...)
		if st.norm != nil {
			ps = append(ps, stageParts(i+1, nn.Prefixed(fmt.Sprintf("cnn_layers.%d", st.first+1), st.norm.params()), st.norm.generators())...)
		}
	}
	return ps
}

func (b *seedBackbone) setFrozen(k int) { b.frozen = k }

// singleValueNorm is false: a stage's batch norm sees the stage's input
// size (the conv pads 1), at least 2x2, since the max-pool after it must
// leave a pixel.
func (b *seedBackbone) singleValueNorm() bool { return false }

func (b *seedBackbone) setTraining(t bool) {
	for i, st := range b.stages {
		if st.norm != nil {
			st.norm.setTraining(t && i+1 > b.frozen)
		}
	}
}

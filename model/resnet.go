package model

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/fusion"
	"github.com/metacnn/metacnn/nn"
)

// resnetBlocks gives the basic blocks per stage of each supported depth.
var resnetBlocks = map[int][]int{
	8:  {1, 1, 1},
	18: {2, 2, 2, 2},
}

// resnetWidths are torchvision's stage widths before the multiplier.
var resnetWidths = []int{64, 128, 256, 512}

// resnet is torchvision's ResNet with basic blocks, without avgpool and fc
// (the head does those), and with parameter names identical to
// torchvision's resnet18 state_dict: conv1, bn1, layer<s>.<b>.conv1, .bn1,
// .conv2, .bn2, .downsample.0 (1x1 conv), .downsample.1 (batch norm).
// Convolutions have no bias and start from kaiming_normal_(mode="fan_out",
// nonlinearity="relu"); batch norms from weight 1, bias 0, as torchvision
// initialises them.
type resnet struct {
	conv1   *nn.Conv2D
	bn1     *nn.BatchNorm2D
	maxpool bool
	layers  [][]*basicBlock
	shape   [][3]int
	frozen  int // stages 0 (stem) to frozen keep their batch norms in evaluation mode
}

// basicBlock is torchvision's BasicBlock:
// relu(bn2(conv2(relu(bn1(conv1(x))))) + downsample(x)).
type basicBlock struct {
	conv1, conv2 *nn.Conv2D
	bn1, bn2     norm
	down         *nn.Conv2D // nil when the shape is kept
	downBN       *nn.BatchNorm2D
}

// kaimingFanOut redraws the conv's weight from N(0, 2/fan_out), fan_out =
// out·kh·kw, as torchvision's ResNet does.
func kaimingFanOut(rng *rand.Rand, c *nn.Conv2D) *nn.Conv2D {
	s := c.Weight.Shape()
	std := math.Sqrt(2 / float64(s[0]*s[2]*s[3]))
	for i := range c.Weight.Data() {
		c.Weight.Data()[i] = float32(rng.NormFloat64() * std)
	}
	return c
}

func resnetConv(rng *rand.Rand, in, out, k, stride, pad int) *nn.Conv2D {
	return kaimingFanOut(rng, nn.NewConv2D(rng, nn.Conv2DConfig{
		In: in, Out: out, Kernel: [2]int{k, k}, Stride: [2]int{stride, stride}, Padding: [2]int{pad, pad}, NoBias: true,
	}))
}

var resnetMaxPool = autograd.Pool2DOptions{Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}}

// newResNet builds the network for an input [c, h, w]; cond[s] makes every
// batch norm of stage s's blocks (bn1 and bn2, not the downsample's)
// conditional on the metadata.
func newResNet(rng *rand.Rand, spec BackboneSpec, in [3]int, cond map[int]fusion.Options, metaDim int) (*resnet, error) {
	blocks := resnetBlocks[spec.Depth]
	r := &resnet{}
	c, h, w := in[0], in[1], in[2]
	stemW := roundWidth(64, spec.WidthMultiplier)
	if spec.Stem == StemSmall {
		r.conv1 = resnetConv(rng, c, stemW, 3, 1, 1)
	} else {
		r.conv1 = resnetConv(rng, c, stemW, 7, 2, 3)
		r.maxpool = true
		h, w = convOut(h, 7, 2, 3), convOut(w, 7, 2, 3)
		h, w = convOut(h, 3, 2, 1), convOut(w, 3, 2, 1)
	}
	r.bn1 = nn.NewBatchNorm2D(stemW)
	c = stemW
	r.shape = [][3]int{{c, h, w}}
	for s, n := range blocks {
		width := roundWidth(resnetWidths[s], spec.WidthMultiplier)
		opt, isCond := cond[s+1]
		var layer []*basicBlock
		for i := range n {
			stride := 1
			if s > 0 && i == 0 {
				stride = 2
			}
			b := &basicBlock{conv1: resnetConv(rng, c, width, 3, stride, 1)}
			b.bn1 = newNorm(rng, width, isCond, metaDim, opt)
			b.conv2 = resnetConv(rng, width, width, 3, 1, 1)
			b.bn2 = newNorm(rng, width, isCond, metaDim, opt)
			if stride != 1 || c != width {
				b.down = resnetConv(rng, c, width, 1, stride, 0)
				b.downBN = nn.NewBatchNorm2D(width)
			}
			layer = append(layer, b)
			c = width
			h, w = convOut(h, 3, stride, 1), convOut(w, 3, stride, 1)
		}
		r.layers = append(r.layers, layer)
		r.shape = append(r.shape, [3]int{c, h, w})
	}
	return r, nil
}

func (r *resnet) stem(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	x = tp.ReLU(r.bn1.Forward(tp, r.conv1.Forward(tp, x)))
	if r.maxpool {
		x = tp.MaxPool2D(x, resnetMaxPool)
	}
	return x
}

func (r *resnet) stage(tp *autograd.Tape, s int, x, m *autograd.Var) *autograd.Var {
	for _, b := range r.layers[s-1] {
		x = b.forward(tp, x, m)
	}
	return x
}

func (b *basicBlock) forward(tp *autograd.Tape, x, m *autograd.Var) *autograd.Var {
	out := tp.ReLU(b.bn1.forward(tp, b.conv1.Forward(tp, x), m))
	out = b.bn2.forward(tp, b.conv2.Forward(tp, out), m)
	id := x
	if b.down != nil {
		id = b.downBN.Forward(tp, b.down.Forward(tp, x))
	}
	return tp.ReLU(tp.Add(out, id))
}

func (r *resnet) shapes() [][3]int { return r.shape }

func (r *resnet) params() []nn.Param {
	var ps []nn.Param
	for _, p := range r.parts() {
		ps = append(ps, p.Param)
	}
	return ps
}

func (r *resnet) parts() []bbParam {
	ps := stageParts(0, nn.Prefixed("conv1", r.conv1.Params()), nil)
	ps = append(ps, stageParts(0, nn.Prefixed("bn1", r.bn1.Params()), nil)...)
	for s, layer := range r.layers {
		for i, b := range layer {
			p := fmt.Sprintf("layer%d.%d", s+1, i)
			ps = append(ps, stageParts(s+1, nn.Prefixed(p+".conv1", b.conv1.Params()), nil)...)
			ps = append(ps, stageParts(s+1, nn.Prefixed(p+".bn1", b.bn1.params()), b.bn1.generators())...)
			ps = append(ps, stageParts(s+1, nn.Prefixed(p+".conv2", b.conv2.Params()), nil)...)
			ps = append(ps, stageParts(s+1, nn.Prefixed(p+".bn2", b.bn2.params()), b.bn2.generators())...)
			if b.down != nil {
				ps = append(ps, stageParts(s+1, nn.Prefixed(p+".downsample.0", b.down.Params()), nil)...)
				ps = append(ps, stageParts(s+1, nn.Prefixed(p+".downsample.1", b.downBN.Params()), nil)...)
			}
		}
	}
	return ps
}

func (r *resnet) setFrozen(k int) { r.frozen = k }

// singleValueNorm: the batch norms of stage s see the stage's output size;
// the stem's is taken as its output's (after the max-pool, at most its
// conv's), which can only err towards reporting one.
func (r *resnet) singleValueNorm() bool {
	first := 0 // the first index (0: stem) whose batch norms train
	if r.frozen > 0 {
		first = r.frozen + 1
	}
	for s := first; s < len(r.shape); s++ {
		if r.shape[s][1]*r.shape[s][2] == 1 {
			return true
		}
	}
	return false
}

func (r *resnet) setTraining(t bool) {
	r.bn1.SetTraining(t && r.frozen == 0)
	for s, layer := range r.layers {
		on := t && s+1 > r.frozen
		for _, b := range layer {
			b.bn1.setTraining(on)
			b.bn2.setTraining(on)
			if b.downBN != nil {
				b.downBN.SetTraining(on)
			}
		}
	}
}

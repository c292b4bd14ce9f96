package model

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/fusion"
	"github.com/metacnn/metacnn/meta"
	"github.com/metacnn/metacnn/nn"
)

// Net is the network Build makes from a Spec:
//
//	images [N, C, H, W] ─(early: + metadata channels)─ stem ─ stage 1 ─ [blocks] ─ ... ─ stage S ─ [blocks]
//	     ─ pooling (flatten | avg) ─(concat: + metadata vector)─ head MLP ─ logits [N, classes]
//	metadata: dense [N, K] + embeddings of IDs ─(modality dropout)─ tower MLP ─ vector [N, D]
//
// where [blocks] are the scalebias, film and gate blocks placed after that
// stage, in spec order, and cbn makes the batch norms inside a stage
// conditional. Parameter names: the backbone's (cnn_layers.* for seed,
// torchvision's for resnet), meta_tower.*, <kind>.<stage>.* for blocks
// after stages (film.4.gamma_layer.weight), head.*.
type Net struct {
	spec    Spec // defaults applied
	input   [3]int
	classes int

	tower    *metaTower // nil for image only
	metaDim  int        // width of the tower's output
	early    bool
	bb       backbone
	after    [][]stageBlock // after[s]: blocks following stage s (index 0 unused)
	concat   bool
	head     *nn.Sequential
	rng      *rand.Rand // Build's: modality dropout draws from it
	training bool
	cbnOf    map[int]int // stage -> index in spec.Fusion of the cbn entry conditioning it
}

type stageBlock struct {
	name   string // "<kind>.<stage>"
	fusion int    // index in spec.Fusion
	block  fusion.Block
}

var _ Network = (*Net)(nil)

// Build makes the network of spec for images of shape input ([C, H, W]),
// a metadata encoder whose dense vector is metaWidth wide with the given
// id columns (meta.Schema's Width and IDSlots), and classes output classes.
// Parameters are drawn from rng (PyTorch's default initialisation unless a
// block documents otherwise), so the same seed builds the same model. The
// network keeps rng: dropout and modality dropout draw from it in training
// mode, so whoever owns rng's source owns all of the network's randomness
// (train saves and restores it in checkpoints, which makes a resumed run
// bit-exact). The network starts in training mode, with the stem and the
// first Backbone.Freeze stages frozen (see BackboneSpec.Freeze).
//
// A preset spec (Arch) returns NewSeed's network, which fixes its own input
// (3x56x56), metadata and 2 classes; the other arguments must agree.
// Otherwise the result is a *Net.
func Build(spec Spec, input [3]int, metaWidth int, idSlots []meta.IDSlot, classes int, rng *rand.Rand) (Network, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if input[0] <= 0 || input[1] <= 0 || input[2] <= 0 {
		return nil, fmt.Errorf("model: input shape %v, want positive [channels, height, width]", input)
	}
	if classes < 2 {
		return nil, fmt.Errorf("model: %d classes, want at least 2", classes)
	}
	if metaWidth < 0 {
		return nil, fmt.Errorf("model: metadata width %d, want >= 0", metaWidth)
	}
	if spec.Arch != "" {
		if input != [3]int{3, SeedImageSize, SeedImageSize} || classes != seedClasses {
			return nil, fmt.Errorf("model: preset %s takes 3x%dx%d images and %d classes, not %v and %d",
				spec.Arch, SeedImageSize, SeedImageSize, seedClasses, input, classes)
		}
		return NewSeed(spec.Arch, rng)
	}
	spec = spec.WithDefaults()
	n := &Net{spec: spec, input: input, classes: classes, training: true}

	if spec.UsesMetadata() {
		if metaWidth == 0 && len(idSlots) == 0 {
			return nil, fmt.Errorf("model: fusion %v needs metadata, but the metadata encoder produces none (no columns?)", spec.fusionKinds())
		}
		t, err := newMetaTower(rng, spec.MetaTower, metaWidth, idSlots, spec.ModalityDropout > 0)
		if err != nil {
			return nil, fmt.Errorf("model: meta_tower: %w", err)
		}
		n.tower, n.metaDim = t, t.out
	}
	n.rng = rng

	cond := map[int]fusion.Options{}
	n.cbnOf = map[int]int{}
	for i, f := range spec.Fusion {
		switch f.Kind {
		case fusion.KindEarly:
			n.early = true
		case fusion.KindConcat:
			n.concat = true
		case fusion.KindCBN:
			for _, s := range f.Stages {
				cond[s] = f.Options.toFusion()
				n.cbnOf[s] = i
			}
		}
	}
	bbIn := input
	if n.early {
		bbIn[0] += n.metaDim
	}
	var err error
	switch spec.Backbone.Kind {
	case BackboneSeed:
		n.bb, err = newSeedBackbone(rng, spec.Backbone, bbIn, cond, n.metaDim)
	case BackboneResNet:
		n.bb, err = newResNet(rng, spec.Backbone, bbIn, cond, n.metaDim)
	}
	if err != nil {
		return nil, fmt.Errorf("model: backbone: %w", err)
	}
	shapes := n.bb.shapes()

	n.after = make([][]stageBlock, len(shapes))
	for i, f := range spec.Fusion {
		for _, s := range f.Stages {
			if f.Kind == fusion.KindCBN {
				continue
			}
			c, d, opt := shapes[s][0], n.metaDim, f.Options.toFusion()
			var b fusion.Block
			switch f.Kind {
			case fusion.KindScaleBias:
				b = fusion.NewScaleBias(rng, c, d, opt)
			case fusion.KindFiLM:
				b = fusion.NewFiLM(rng, c, d, opt)
			case fusion.KindGate:
				b = fusion.NewGate(rng, c, d, opt)
			}
			n.after[s] = append(n.after[s], stageBlock{name: fmt.Sprintf("%v.%d", f.Kind, s), fusion: i, block: b})
		}
	}

	last := shapes[len(shapes)-1]
	feat := last[0]
	if spec.Head.Pooling == PoolingFlatten {
		feat = last[0] * last[1] * last[2]
	}
	if n.concat {
		feat += n.metaDim
	}
	n.head = mlp(rng, feat, spec.Head.Hidden, spec.Head.Activation, spec.Head.Dropout, classes)
	n.freeze(spec.Backbone.Freeze)
	return n, nil
}

// freeze stops gradients to the backbone's own parameters in the stem and
// stages 1..k (cbn generators excepted) and keeps those stages' batch
// norms in evaluation mode.
func (n *Net) freeze(k int) {
	if k <= 0 {
		return
	}
	for _, p := range n.bb.parts() {
		if !p.gen && p.stage <= k {
			p.Var.SetRequiresGrad(false)
		}
	}
	n.bb.setFrozen(k)
	n.bb.setTraining(n.training)
}

// orMissing combines two optional missing marks of the same length.
func orMissing(a, b []bool) []bool {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	out := make([]bool, len(a))
	for i := range a {
		out[i] = a[i] || b[i]
	}
	return out
}

func (o FusionOptions) toFusion() fusion.Options {
	f := fusion.Options{Raw: o.Raw}
	if o.Hidden != nil {
		f.Hidden = *o.Hidden
	}
	return f
}

func (s Spec) fusionKinds() []string {
	var ks []string
	for _, f := range s.Fusion {
		ks = append(ks, f.Kind.String())
	}
	return ks
}

// Spec returns the network's spec with every default filled in.
func (n *Net) Spec() Spec { return n.spec }

// InputShape returns the [C, H, W] the network takes.
func (n *Net) InputShape() [3]int { return n.input }

// MetaDim returns the width of the metadata vector (the tower's output), 0
// for an image-only network.
func (n *Net) MetaDim() int { return n.metaDim }

// FeatureShapes returns [C, H, W] after the stem (index 0) and after each
// backbone stage (index s): the shapes fusion blocks at stage s see.
func (n *Net) FeatureShapes() [][3]int { return slices.Clone(n.bb.shapes()) }

// Forward computes logits [N, classes] from images [N, C, H, W] and, unless
// the network is image only, the encoded metadata: in.Meta [N, metaWidth]
// (nil when metaWidth is 0) and in.IDs, one column of N ids per id slot.
// Rows marked in in.MetaMissing have their metadata replaced by missing
// (see Inputs.MetaMissing). In training mode with modality dropout, a
// random fraction of rows are replaced too, drawn from the network's
// generator, one draw per row in row order (see Spec.ModalityDropout).
func (n *Net) Forward(tp *autograd.Tape, in Inputs) *autograd.Var {
	return n.ForwardMissing(tp, in, nil)
}

// ForwardMissing is Forward with the rows whose metadata is absent marked
// (missing[i] for row i; nil marks none), in addition to those marked in
// in.MetaMissing: their metadata is replaced by
// missing exactly as modality dropout does in training, and their in.Meta
// and in.IDs values are ignored (they must still be present and in range).
// This is how a model trained with modality dropout serves a request
// without metadata.
func (n *Net) ForwardMissing(tp *autograd.Tape, in Inputs, missing []bool) *autograd.Var {
	logits, _ := n.forward(tp, in, missing)
	return logits
}

// forward is ForwardMissing that also returns the feature map the head
// reads (see ForwardFeatures).
func (n *Net) forward(tp *autograd.Tape, in Inputs, missing []bool) (logits, features *autograd.Var) {
	if in.Images == nil {
		panic("model: no images")
	}
	s := in.Images.Shape()
	if len(s) != 4 || s[1] != n.input[0] || s[2] != n.input[1] || s[3] != n.input[2] {
		panic(fmt.Sprintf("model: images have shape %v, want [N, %d, %d, %d]", s, n.input[0], n.input[1], n.input[2]))
	}
	rows := s[0]
	if missing != nil && len(missing) != rows {
		panic(fmt.Sprintf("model: %d missing marks for %d rows", len(missing), rows))
	}
	if in.MetaMissing != nil && len(in.MetaMissing) != rows {
		panic(fmt.Sprintf("model: in.MetaMissing has %d marks for %d rows", len(in.MetaMissing), rows))
	}
	var m *autograd.Var
	if n.tower != nil {
		missing = orMissing(missing, in.MetaMissing)
		if n.training && n.spec.ModalityDropout > 0 {
			drop := make([]bool, rows)
			for i := range drop {
				// One draw per row, marked or not, so the generator's
				// position depends only on the number of rows.
				r := n.rng.Float64() < n.spec.ModalityDropout
				drop[i] = (missing != nil && missing[i]) || r
			}
			missing = drop
		}
		m = n.tower.forward(tp, in, rows, missing)
	}
	x := in.Images
	if n.early {
		x = fusion.Early{}.Forward(tp, x, m)
	}
	x = n.bb.stem(tp, x)
	for st := 1; st < len(n.after); st++ {
		x = n.bb.stage(tp, st, x, m)
		for _, b := range n.after[st] {
			x = b.block.Forward(tp, x, m)
		}
	}
	features = x
	if n.spec.Head.Pooling == PoolingAvg {
		x = tp.GlobalAvgPool2D(x)
	} else {
		x = tp.Flatten(x)
	}
	if n.concat {
		x = fusion.Concat{}.Forward(tp, x, m)
	}
	return n.head.Forward(tp, x), features
}

// Params lists the backbone's parameters, then meta_tower.*, the blocks
// after stages (<kind>.<stage>.*) in stage order, and head.*.
func (n *Net) Params() []nn.Param {
	ps := n.bb.params()
	if n.tower != nil {
		ps = append(ps, nn.Prefixed("meta_tower", n.tower.params())...)
	}
	for _, bs := range n.after {
		for _, b := range bs {
			ps = append(ps, nn.Prefixed(b.name, b.block.Params())...)
		}
	}
	return append(ps, nn.Prefixed("head", n.head.Params())...)
}

// SetTraining switches batch norms, dropout and modality dropout on
// (training) or off (evaluation). The batch norms of frozen stages (see
// BackboneSpec.Freeze) stay in evaluation mode either way.
func (n *Net) SetTraining(t bool) {
	n.training = t
	n.bb.setTraining(t)
	if n.tower != nil {
		n.tower.setTraining(t)
	}
	for _, bs := range n.after {
		for _, b := range bs {
			b.block.SetTraining(t)
		}
	}
	n.head.SetTraining(t)
}

// MinTrainBatch returns the fewest rows a training batch of net can have:
// 2 when a batch norm that trains (one not frozen) normalises a 1x1 feature
// map, since a single value per channel has no batch variance (PyTorch
// refuses such a batch as well), else 1. The seed presets have no batch
// norm.
func MinTrainBatch(net Network) int {
	if n, ok := net.(*Net); ok && n.bb.singleValueNorm() {
		return 2
	}
	return 1
}

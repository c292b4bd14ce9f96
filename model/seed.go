package model

import (
	"fmt"
	"math/rand/v2"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/nn"
	"github.com/metacnn/metacnn/tensor"
)

// Seed architecture names, as used by --arch and model.arch.
const (
	SeedConcat    = "seed-concat"
	SeedScaleBias = "seed-scalebias"
	SeedFiLM      = "seed-film"
)

// Seed input geometry and sizes fixed by the reference document.
const (
	SeedImageSize  = 56 // images are [N, 3, 56, 56]
	seedFeatures   = 64 * 14 * 14
	seedOperators  = 10
	seedOpEmbedDim = 16
	seedMetaEmbed  = 8
	seedHidden     = 128
	seedClasses    = 2
)

// SeedArchs lists the seed architecture names.
var SeedArchs = []string{SeedConcat, SeedScaleBias, SeedFiLM}

// seedCNN is the document's feature extractor, named cnn_layers:
// conv 3->32 3x3 pad 1, ReLU, max-pool 2, conv 32->64 3x3 pad 1, ReLU,
// max-pool 2. [N, 3, 56, 56] -> [N, 64, 14, 14].
func seedCNN(rng *rand.Rand) *nn.Sequential {
	return nn.NewSequential(
		nn.NewConv2D(rng, nn.Conv2DConfig{In: 3, Out: 32, Kernel: [2]int{3, 3}, Padding: [2]int{1, 1}}),
		nn.NewActivation(nn.ReLU),
		nn.NewMaxPool2D(2),
		nn.NewConv2D(rng, nn.Conv2DConfig{In: 32, Out: 64, Kernel: [2]int{3, 3}, Padding: [2]int{1, 1}}),
		nn.NewActivation(nn.ReLU),
		nn.NewMaxPool2D(2),
	)
}

// NewSeed builds one of the seed architectures with PyTorch's default
// initialisation drawn from rng.
func NewSeed(arch string, rng *rand.Rand) (Network, error) {
	switch arch {
	case SeedConcat:
		return &seedConcat{
			cnn:        seedCNN(rng),
			embedding:  nn.NewEmbedding(rng, seedOperators, seedOpEmbedDim),
			fc:         nn.NewLinear(rng, seedFeatures+seedOpEmbedDim, seedHidden, true),
			classifier: nn.NewLinear(rng, seedHidden, seedClasses, true),
		}, nil
	case SeedScaleBias:
		return &seedScaleBias{
			cnn:        seedCNN(rng),
			tempEmbed:  nn.NewLinear(rng, 1, seedMetaEmbed, true),
			scale:      nn.NewLinear(rng, seedMetaEmbed, 64, true),
			bias:       nn.NewLinear(rng, seedMetaEmbed, 64, true),
			fc:         nn.NewLinear(rng, seedFeatures, seedHidden, true),
			classifier: nn.NewLinear(rng, seedHidden, seedClasses, true),
		}, nil
	case SeedFiLM:
		return &seedFiLM{
			cnn:        seedCNN(rng),
			metaEmbed:  nn.NewLinear(rng, 2, seedMetaEmbed, true),
			gamma:      nn.NewLinear(rng, seedMetaEmbed, 64, true),
			beta:       nn.NewLinear(rng, seedMetaEmbed, 64, true),
			fc:         nn.NewLinear(rng, seedFeatures, seedHidden, true),
			classifier: nn.NewLinear(rng, seedHidden, seedClasses, true),
		}, nil
	}
	return nil, fmt.Errorf("unknown seed architecture %q (want one of %v)", arch, SeedArchs)
}

// head is the shared classifier: relu(fc(x)) then classifier.
func head(tp *autograd.Tape, fc, classifier *nn.Linear, x *autograd.Var) *autograd.Var {
	return classifier.Forward(tp, tp.ReLU(fc.Forward(tp, x)))
}

// modulate returns scale ⊙ x + shift with scale and shift [N, C] applied per
// channel of x [N, C, H, W].
func modulate(tp *autograd.Tape, x, scale, shift *autograd.Var) *autograd.Var {
	n, c := scale.Value.Dim(0), scale.Value.Dim(1)
	s := tp.Reshape(scale, n, c, 1, 1)
	b := tp.Reshape(shift, n, c, 1, 1)
	return tp.Add(tp.Mul(s, x), b)
}

func checkImages(arch string, in Inputs) {
	s := in.Images.Shape()
	if len(s) != 4 || s[1] != 3 || s[2] != SeedImageSize || s[3] != SeedImageSize {
		panic(fmt.Sprintf("%s: images have shape %v, want [N, 3, 56, 56]", arch, s))
	}
}

func checkMeta(arch string, in Inputs, k int) {
	n := in.Images.Value.Dim(0)
	if in.Meta == nil || !tensor.EqualShapes(in.Meta.Shape(), []int{n, k}) {
		var got any = "nil"
		if in.Meta != nil {
			got = in.Meta.Shape()
		}
		panic(fmt.Sprintf("%s: metadata has shape %v, want [%d, %d]", arch, got, n, k))
	}
}

// seedConcat is the document's Example 1 (CNNWithMetadataConcatenation):
// operator ids (IDs[0], 0..9) are embedded and concatenated with the
// flattened features.
type seedConcat struct {
	cnn            *nn.Sequential
	embedding      *nn.Embedding
	fc, classifier *nn.Linear
}

// Forward is ForwardFeatures without the feature map.
func (m *seedConcat) Forward(tp *autograd.Tape, in Inputs) *autograd.Var {
	logits, _ := m.ForwardFeatures(tp, in)
	return logits
}

func (m *seedConcat) Params() []nn.Param {
	var ps []nn.Param
	ps = append(ps, nn.Prefixed("cnn_layers", m.cnn.Params())...)
	ps = append(ps, nn.Prefixed("embedding", m.embedding.Params())...)
	ps = append(ps, nn.Prefixed("fc", m.fc.Params())...)
	return append(ps, nn.Prefixed("classifier", m.classifier.Params())...)
}

func (m *seedConcat) SetTraining(t bool) { m.cnn.SetTraining(t) }

// seedScaleBias is the document's Example 2 (CNNWithMetadataConditioning):
// temperature (Meta [N, 1]) -> Linear 8 -> raw per-channel scale and bias.
type seedScaleBias struct {
	cnn            *nn.Sequential
	tempEmbed      *nn.Linear
	scale, bias    *nn.Linear
	fc, classifier *nn.Linear
}

// Forward is ForwardFeatures without the feature map.
func (m *seedScaleBias) Forward(tp *autograd.Tape, in Inputs) *autograd.Var {
	logits, _ := m.ForwardFeatures(tp, in)
	return logits
}

func (m *seedScaleBias) Params() []nn.Param {
	var ps []nn.Param
	ps = append(ps, nn.Prefixed("cnn_layers", m.cnn.Params())...)
	ps = append(ps, nn.Prefixed("temperature_embedding", m.tempEmbed.Params())...)
	ps = append(ps, nn.Prefixed("scale_layer", m.scale.Params())...)
	ps = append(ps, nn.Prefixed("bias_layer", m.bias.Params())...)
	ps = append(ps, nn.Prefixed("fc", m.fc.Params())...)
	return append(ps, nn.Prefixed("classifier", m.classifier.Params())...)
}

func (m *seedScaleBias) SetTraining(t bool) { m.cnn.SetTraining(t) }

// seedFiLM is the document's Example 3 (CNNWithFiLM): two metadata values
// (Meta [N, 2]) -> Linear 8 -> FiLM γ, β over the 64 feature channels.
type seedFiLM struct {
	cnn            *nn.Sequential
	metaEmbed      *nn.Linear
	gamma, beta    *nn.Linear
	fc, classifier *nn.Linear
}

// Forward is ForwardFeatures without the feature map.
func (m *seedFiLM) Forward(tp *autograd.Tape, in Inputs) *autograd.Var {
	logits, _ := m.ForwardFeatures(tp, in)
	return logits
}

func (m *seedFiLM) Params() []nn.Param {
	var ps []nn.Param
	ps = append(ps, nn.Prefixed("cnn_layers", m.cnn.Params())...)
	ps = append(ps, nn.Prefixed("metadata_embedding", m.metaEmbed.Params())...)
	ps = append(ps, nn.Prefixed("film_layer.gamma_layer", m.gamma.Params())...)
	ps = append(ps, nn.Prefixed("film_layer.beta_layer", m.beta.Params())...)
	ps = append(ps, nn.Prefixed("fc", m.fc.Params())...)
	return append(ps, nn.Prefixed("classifier", m.classifier.Params())...)
}

func (m *seedFiLM) SetTraining(t bool) { m.cnn.SetTraining(t) }

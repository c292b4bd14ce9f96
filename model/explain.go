package model

import (
	"errors"
	"fmt"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/fusion"
	"github.com/metacnn/metacnn/meta"
	"github.com/metacnn/metacnn/tensor"
)

// Explainable is a Network that shows its workings, for explanations such
// as Grad-CAM and the per-channel modulation a metadata row produces.
// Every network Build and NewSeed make implements it.
type Explainable interface {
	Network
	// ForwardFeatures is Forward that also returns the feature map the
	// head reads, [N, C, h, w]: the output of the last convolutional stage
	// after any fusion blocks placed after it, before pooling or
	// flattening. For the seed presets it is cnn_layers' output [N, 64,
	// 14, 14] after the preset's scale+bias or FiLM. With a recording tape,
	// the gradient of anything computed from logits reaches features.
	ForwardFeatures(tp *autograd.Tape, in Inputs) (logits, features *autograd.Var)
	// Modulations returns, for each block that scales and shifts feature
	// channels by values generated from the metadata (film and scalebias
	// blocks, the seed-film and seed-scalebias conditioning), the scale and
	// shift it applies to in's rows, in the order the network applies
	// them. Conditional batch norm and gate blocks are not listed. Nil for
	// a network without such blocks. Call it in evaluation mode.
	Modulations(in Inputs) []Modulation
}

// Modulation is what one metadata-driven block multiplies and adds per
// feature channel: y = Scale ⊙ x + Shift.
type Modulation struct {
	// Name says where the block is: "<kind>.<stage>" for a spec network's
	// block after a stage (film.4, its parameter prefix), film_layer for
	// seed-film, scale_bias for seed-scalebias.
	Name string
	// Kind is fusion.KindFiLM or fusion.KindScaleBias.
	Kind fusion.Kind
	// Scale (γ) and Shift (β) are [N, C], the identity offset of the
	// default (non-raw) form included: a fresh default block has Scale 1
	// and Shift 0.
	Scale, Shift *tensor.Tensor
}

var (
	_ Explainable = (*Net)(nil)
	_ Explainable = (*seedConcat)(nil)
	_ Explainable = (*seedScaleBias)(nil)
	_ Explainable = (*seedFiLM)(nil)
)

// ForwardFeatures implements Explainable.
func (n *Net) ForwardFeatures(tp *autograd.Tape, in Inputs) (logits, features *autograd.Var) {
	return n.forward(tp, in, nil)
}

// Modulations implements Explainable.
func (n *Net) Modulations(in Inputs) []Modulation {
	if n.tower == nil {
		return nil
	}
	m := n.tower.forward(nil, in, in.Images.Value.Dim(0), in.MetaMissing)
	var out []Modulation
	for _, bs := range n.after {
		for _, b := range bs {
			mod, ok := b.block.(fusion.Modulator)
			if !ok {
				continue
			}
			kind := fusion.KindFiLM
			if _, sb := mod.(*fusion.ScaleBias); sb {
				kind = fusion.KindScaleBias
			}
			s, t := mod.Modulation(nil, m)
			out = append(out, Modulation{Name: b.name, Kind: kind, Scale: s.Value, Shift: t.Value})
		}
	}
	return out
}

// ForwardFeatures implements Explainable.
func (m *seedConcat) ForwardFeatures(tp *autograd.Tape, in Inputs) (logits, features *autograd.Var) {
	checkImages(SeedConcat, in)
	n := in.Images.Value.Dim(0)
	if len(in.IDs) != 1 || len(in.IDs[0]) != n {
		panic(fmt.Sprintf("%s: want one id column of %d operator ids, got %d columns", SeedConcat, n, len(in.IDs)))
	}
	features = m.cnn.Forward(tp, in.Images)
	e := m.embedding.Forward(tp, in.IDs[0])
	return head(tp, m.fc, m.classifier, tp.Concat(1, tp.Flatten(features), e)), features
}

// Modulations implements Explainable: seed-concat has none.
func (m *seedConcat) Modulations(Inputs) []Modulation { return nil }

// ForwardFeatures implements Explainable.
func (m *seedScaleBias) ForwardFeatures(tp *autograd.Tape, in Inputs) (logits, features *autograd.Var) {
	checkImages(SeedScaleBias, in)
	checkMeta(SeedScaleBias, in, 1)
	f := m.cnn.Forward(tp, in.Images)
	e := m.tempEmbed.Forward(tp, in.Meta)
	features = modulate(tp, f, m.scale.Forward(tp, e), m.bias.Forward(tp, e))
	return head(tp, m.fc, m.classifier, tp.Flatten(features)), features
}

// Modulations implements Explainable: the raw scale and bias of
// scale_layer and bias_layer.
func (m *seedScaleBias) Modulations(in Inputs) []Modulation {
	checkMeta(SeedScaleBias, in, 1)
	e := m.tempEmbed.Forward(nil, in.Meta)
	return []Modulation{{Name: "scale_bias", Kind: fusion.KindScaleBias,
		Scale: m.scale.Forward(nil, e).Value, Shift: m.bias.Forward(nil, e).Value}}
}

// ForwardFeatures implements Explainable.
func (m *seedFiLM) ForwardFeatures(tp *autograd.Tape, in Inputs) (logits, features *autograd.Var) {
	checkImages(SeedFiLM, in)
	checkMeta(SeedFiLM, in, 2)
	f := m.cnn.Forward(tp, in.Images)
	e := m.metaEmbed.Forward(tp, in.Meta)
	features = modulate(tp, f, m.gamma.Forward(tp, e), m.beta.Forward(tp, e))
	return head(tp, m.fc, m.classifier, tp.Flatten(features)), features
}

// Modulations implements Explainable: the raw γ and β of film_layer.
func (m *seedFiLM) Modulations(in Inputs) []Modulation {
	checkMeta(SeedFiLM, in, 2)
	e := m.metaEmbed.Forward(nil, in.Meta)
	return []Modulation{{Name: "film_layer", Kind: fusion.KindFiLM,
		Scale: m.gamma.Forward(nil, e).Value, Shift: m.beta.Forward(nil, e).Value}}
}

// Inputs encodes images [N, C, H, W] (preprocessed as b.Image says) and
// one metadata row per image into a network's Inputs, as Predict does.
// rows may be nil for an image-only model. Unlike Predict it has no
// "metadata absent" form: a nil row in a model with metadata is an error.
// Encoding fallbacks are returned per row in warns.
func (b *Bundle) Inputs(images *tensor.Tensor, rows []map[string]string) (in Inputs, warns [][]meta.Warning, err error) {
	s := images.Shape()
	if len(s) != 4 || s[1] != b.Input[0] || s[2] != b.Input[1] || s[3] != b.Input[2] {
		return Inputs{}, nil, fmt.Errorf("model: images have shape %v, want [N, %d, %d, %d]", s, b.Input[0], b.Input[1], b.Input[2])
	}
	n := s[0]
	in = Inputs{Images: autograd.Const(images)}
	if rows != nil && len(rows) != n {
		return Inputs{}, nil, fmt.Errorf("model: %d images but %d metadata rows", n, len(rows))
	}
	if !b.usesMeta() {
		return in, nil, nil
	}
	if rows == nil {
		return Inputs{}, nil, errors.New("model: the model reads metadata; want one row per image")
	}
	for i, r := range rows {
		if r == nil {
			return Inputs{}, nil, fmt.Errorf("model: row %d has no metadata", i)
		}
	}
	in, _, warns, err = b.encodeRows(in, rows)
	if err != nil {
		return Inputs{}, warns, err
	}
	return in, warns, nil
}

// UsesMetadata reports whether the bundle's network reads metadata.
func (b *Bundle) UsesMetadata() bool { return b.usesMeta() }

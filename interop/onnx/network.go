package onnx

import (
	"fmt"

	"github.com/metacnn/metacnn/fusion"
	"github.com/metacnn/metacnn/model"
)

// inputs names the graph inputs a network reads ("" when absent).
type inputs struct {
	image, metadata, ids, missing string
}

// resnetBlocks gives the basic blocks per stage of each ResNet depth
// (model.BackboneSpec.Depth).
var resnetBlocks = map[int][]int{8: {1, 1, 1}, 18: {2, 2, 2, 2}}

// network emits the graph of a spec-built model.Net (spec with defaults
// applied) and returns the logits' value name. It mirrors model.Net's
// forward pass in evaluation mode; input is the image shape [C, H, W].
func (b *builder) network(spec model.Spec, input [3]int, in inputs, ids int) string {
	var m string // metadata vector [N, D]
	if spec.UsesMetadata() {
		m = b.tower(spec, in, ids)
	}
	cbn := map[int]bool{}
	for _, f := range spec.Fusion {
		if f.Kind == fusion.KindCBN {
			for _, s := range f.Stages {
				cbn[s] = true
			}
		}
	}

	x := in.image
	if hasKind(spec, fusion.KindEarly) {
		// fusion.Early: m [N, D] -> [N, D, 1, 1] + zeros [1, 1, H, W], then
		// appended as channels.
		plane := b.constF("early_plane", []int{1, 1, input[1], input[2]}, make([]float32, input[1]*input[2]))
		mm := b.node("Add", []string{b.perChannel(m), plane})
		x = b.node("Concat", []string{x, mm}, attrInt("axis", 1))
	}

	var stage func(s int, x string) string
	switch spec.Backbone.Kind {
	case model.BackboneSeed:
		first := make([]int, len(spec.Backbone.Widths)+1) // first[s]: index of stage s's conv in cnn_layers
		idx := 0
		for s := 1; s <= len(spec.Backbone.Widths); s++ {
			first[s] = idx
			idx += 3 // conv, ReLU, max-pool
			if spec.Backbone.BatchNorm || cbn[s] {
				idx++
			}
		}
		stage = func(s int, x string) string {
			p := fmt.Sprintf("cnn_layers.%d", first[s])
			x = b.conv(x, p, 1, 1)
			if spec.Backbone.BatchNorm || cbn[s] {
				x = b.norm(x, fmt.Sprintf("cnn_layers.%d", first[s]+1), cbn[s], m)
			}
			return b.maxPool(b.node("Relu", []string{x}), 2, 2, 0)
		}
	case model.BackboneResNet:
		if spec.Backbone.Stem == model.StemSmall {
			x = b.conv(x, "conv1", 1, 1)
		} else {
			x = b.conv(x, "conv1", 2, 3)
		}
		x = b.node("Relu", []string{b.batchNorm(x, "bn1")})
		if spec.Backbone.Stem != model.StemSmall {
			x = b.maxPool(x, 3, 2, 1)
		}
		blocks, ok := resnetBlocks[spec.Backbone.Depth]
		if !ok {
			b.fail("onnx: resnet depth %d is not supported", spec.Backbone.Depth)
		}
		stage = func(s int, x string) string {
			for i := 0; i < blocks[s-1]; i++ {
				stride := 1
				if s > 1 && i == 0 {
					stride = 2
				}
				x = b.basicBlock(x, fmt.Sprintf("layer%d.%d", s, i), stride, cbn[s], m)
			}
			return x
		}
	default:
		b.fail("onnx: backbone %v is not supported", spec.Backbone.Kind)
		return x
	}

	for s := 1; s <= spec.Backbone.NumStages(); s++ {
		x = stage(s, x)
		for _, f := range spec.Fusion {
			for _, st := range f.Stages {
				if st == s && f.Kind != fusion.KindCBN {
					x = b.block(x, m, f, fmt.Sprintf("%v.%d", f.Kind, s))
				}
			}
		}
	}

	if spec.Head.Pooling == model.PoolingAvg {
		x = b.node("GlobalAveragePool", []string{x})
	}
	x = b.node("Flatten", []string{x}, attrInt("axis", 1))
	if hasKind(spec, fusion.KindConcat) {
		x = b.node("Concat", []string{x, m}, attrInt("axis", 1))
	}
	return b.mlp(x, "head", len(spec.Head.Hidden), spec.Head.Activation, true)
}

func hasKind(spec model.Spec, k fusion.Kind) bool {
	for _, f := range spec.Fusion {
		if f.Kind == k {
			return true
		}
	}
	return false
}

// tower is model's metadata tower:
//
//	[metadata [N, K] | embedding_j(ids[:, j]) ... | metadata_missing [N, 1]] -> MLP -> [N, D]
//
// With modality dropout the input row is first multiplied by
// 1 - metadata_missing (a missing row becomes zeros) and the indicator is
// appended, exactly as model.Net.ForwardMissing does.
func (b *builder) tower(spec model.Spec, in inputs, ids int) string {
	var parts []string
	if in.metadata != "" {
		parts = append(parts, in.metadata)
	}
	for j := range ids {
		parts = append(parts, b.embedding(in.ids, j, fmt.Sprintf("meta_tower.embeddings.%d.weight", j)))
	}
	x := parts[0]
	if len(parts) > 1 {
		x = b.node("Concat", parts, attrInt("axis", 1))
	}
	if in.missing != "" {
		keep := b.node("Sub", []string{b.constF("one", nil, []float32{1}), in.missing})
		x = b.node("Concat", []string{b.node("Mul", []string{x, keep}), in.missing}, attrInt("axis", 1))
	}
	return b.mlp(x, "meta_tower.mlp", len(spec.MetaTower.Hidden), spec.MetaTower.Activation, false)
}

// norm is a backbone batch norm, conditional (fusion.CondBatchNorm) when
// cond:
//
//	x̂ = BatchNormalization(x, scale 1, bias 0, running_mean, running_var)
//	y = (weight + gamma_layer(h)) ⊙ x̂ + (bias + beta_layer(h)),  h = m or ReLU(hidden_layer(m))
func (b *builder) norm(x, prefix string, cond bool, m string) string {
	if !cond {
		return b.batchNorm(x, prefix)
	}
	w := b.params[prefix+".weight"]
	c := 0
	if w != nil {
		c = w.Len()
	}
	ones := make([]float32, c)
	for i := range ones {
		ones[i] = 1
	}
	xh := b.node("BatchNormalization", []string{x,
		b.constF(prefix+".unit_scale", []int{c}, ones), b.constF(prefix+".zero_bias", []int{c}, make([]float32, c)),
		b.param(prefix+".running_mean", c), b.param(prefix+".running_var", c)},
		attrFloat("epsilon", batchNormEps))
	h := b.generator(m, prefix)
	g := b.node("Add", []string{b.linear(h, prefix+".gamma_layer"), b.param(prefix+".weight", c)})
	s := b.node("Add", []string{b.linear(h, prefix+".beta_layer"), b.param(prefix+".bias", c)})
	return b.affine(xh, g, s)
}

// generator is fusion's optional hidden layer: ReLU(hidden_layer(m)), or m.
func (b *builder) generator(m, prefix string) string {
	if !b.has(prefix + ".hidden_layer.weight") {
		return m
	}
	return b.node("Relu", []string{b.linear(m, prefix+".hidden_layer")})
}

// basicBlock is torchvision's BasicBlock:
// relu(bn2(conv2(relu(bn1(conv1(x))))) + downsample(x)).
func (b *builder) basicBlock(x, prefix string, stride int, cond bool, m string) string {
	out := b.node("Relu", []string{b.norm(b.conv(x, prefix+".conv1", stride, 1), prefix+".bn1", cond, m)})
	out = b.norm(b.conv(out, prefix+".conv2", 1, 1), prefix+".bn2", cond, m)
	id := x
	if b.has(prefix + ".downsample.0.weight") {
		id = b.batchNorm(b.conv(x, prefix+".downsample.0", stride, 0), prefix+".downsample.1")
	}
	return b.node("Relu", []string{b.node("Add", []string{out, id})})
}

// block is a fusion block after a stage (scalebias, film or gate), its
// parameters under prefix (<kind>.<stage>). The exact math is the fusion
// package's:
//
//	scalebias  y = (1 + scale_layer(m)) ⊙ x + bias_layer(m)     raw: scale_layer(m) ⊙ x + ...
//	film       y = (1 + gamma_layer(h)) ⊙ x + beta_layer(h)     raw: gamma_layer(h) ⊙ x + ...
//	gate       y = x ⊙ 2σ(tanh(x ⊙ f_layer(m)) + g_layer(m))    raw: σ(tanh(x ⊙ f_layer(m)) + g_layer(m))
func (b *builder) block(x, m string, f model.FusionSpec, prefix string) string {
	one := func() string { return b.constF("one", nil, []float32{1}) }
	switch f.Kind {
	case fusion.KindScaleBias:
		s := b.linear(m, prefix+".scale_layer")
		if !f.Options.Raw {
			s = b.node("Add", []string{s, one()})
		}
		return b.affine(x, s, b.linear(m, prefix+".bias_layer"))
	case fusion.KindFiLM:
		h := b.generator(m, prefix)
		g := b.linear(h, prefix+".gamma_layer")
		if !f.Options.Raw {
			g = b.node("Add", []string{g, one()})
		}
		return b.affine(x, g, b.linear(h, prefix+".beta_layer"))
	case fusion.KindGate:
		fm := b.perChannel(b.linear(m, prefix+".f_layer"))
		gm := b.perChannel(b.linear(m, prefix+".g_layer"))
		s := b.node("Sigmoid", []string{b.node("Add", []string{b.node("Tanh", []string{b.node("Mul", []string{x, fm})}), gm})})
		if f.Options.Raw {
			return s
		}
		return b.node("Mul", []string{x, b.node("Mul", []string{s, b.constF("two", nil, []float32{2})})})
	}
	b.fail("onnx: fusion %v cannot follow a stage", f.Kind)
	return x
}

// seed emits one of the reference document's presets (model.NewSeed):
// cnn_layers (conv 3->32, ReLU, max-pool 2, conv 32->64, ReLU, max-pool 2),
// then
//
//	seed-concat     concat(flatten(f), embedding(ids[:, 0]))
//	seed-scalebias  flatten(scale_layer(e) ⊙ f + bias_layer(e)),  e = temperature_embedding(metadata)
//	seed-film       flatten(gamma_layer(e) ⊙ f + beta_layer(e)),  e = metadata_embedding(metadata)
//
// and the head classifier(relu(fc(·))).
func (b *builder) seed(arch string, in inputs) string {
	x := b.maxPool(b.node("Relu", []string{b.conv(in.image, "cnn_layers.0", 1, 1)}), 2, 2, 0)
	x = b.maxPool(b.node("Relu", []string{b.conv(x, "cnn_layers.3", 1, 1)}), 2, 2, 0)
	switch arch {
	case model.SeedConcat:
		e := b.embedding(in.ids, 0, "embedding.weight")
		x = b.node("Concat", []string{b.node("Flatten", []string{x}, attrInt("axis", 1)), e}, attrInt("axis", 1))
	case model.SeedScaleBias:
		e := b.linear(in.metadata, "temperature_embedding")
		x = b.affine(x, b.linear(e, "scale_layer"), b.linear(e, "bias_layer"))
		x = b.node("Flatten", []string{x}, attrInt("axis", 1))
	case model.SeedFiLM:
		e := b.linear(in.metadata, "metadata_embedding")
		x = b.affine(x, b.linear(e, "film_layer.gamma_layer"), b.linear(e, "film_layer.beta_layer"))
		x = b.node("Flatten", []string{x}, attrInt("axis", 1))
	default:
		b.fail("onnx: unknown preset %q", arch)
	}
	return b.linear(b.node("Relu", []string{b.linear(x, "fc")}), "classifier")
}

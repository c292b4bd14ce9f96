package model

import (
	"fmt"
	"math/rand/v2"

	"github.com/metacnn/metacnn/nn"
	"github.com/metacnn/metacnn/safetensors"
)

// ImportTorch makes a bundle of the seed preset arch from a PyTorch
// state_dict saved as safetensors (safetensors.torch.save_file(
// model.state_dict(), path)), with the reference document's module names
// (cnn_layers.0.weight, embedding.weight, film_layer.gamma_layer.weight,
// ...). Every parameter must be present with PyTorch's shape; any floating
// dtype (F32, F64, F16, BF16) is accepted and converted to float32. The
// error lists every missing, unexpected, mis-shaped or mistyped tensor. The
// bundle has the preset's fixed preprocessing, metadata columns and classes
// (NewBundle) and an empty training summary.
func ImportTorch(arch string, sd *safetensors.File) (*Bundle, error) {
	net, err := NewSeed(arch, rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		return nil, err
	}
	if err := LoadStateDict(net, sd); err != nil {
		return nil, fmt.Errorf("%s: %w", arch, err)
	}
	return NewBundle(net, nil, SeedImageOptions(), nil)
}

// LoadStateDict copies a PyTorch state_dict saved as safetensors into net,
// whose parameter names are the state_dict's names: every parameter and
// buffer must be present with net's shape and no other tensor may be; any
// floating dtype is accepted for float parameters and any integer dtype for
// integer buffers (num_batches_tracked), converted to float32. The error
// lists every missing, unexpected, mis-shaped or mistyped tensor and any
// holding NaN or infinity; on error net is unchanged.
func LoadStateDict(net Network, sd *safetensors.File) error {
	return loadWeights(net.Params(), sd, nil, false)
}

// LoadBackboneWeights copies a torchvision ResNet state_dict, saved as
// safetensors (safetensors.torch.save_file(resnet18().state_dict(), path)),
// into the resnet backbone of net: conv1, bn1, layer1..layer4, running
// statistics included. torchvision's classifier (fc.weight, fc.bias) is not
// part of the backbone and is skipped; every other tensor must match the
// backbone by name and shape, as for ImportTorch. Depth 18 with width
// multiplier 1 and the imagenet stem takes resnet18's state_dict unchanged;
// other shapes are listed as mismatches (all of them, up to 20, in one
// error). A conditional batch norm (cbn) takes the batch norm's weight,
// bias and statistics it replaces; its metadata generator, like the head,
// metadata tower and fusion blocks, keeps its values. On error net is
// unchanged.
func LoadBackboneWeights(net *Net, sd *safetensors.File) error {
	if _, ok := net.bb.(*resnet); !ok {
		return fmt.Errorf("model: backbone weights load into the resnet backbone, not %v", net.spec.Backbone.Kind)
	}
	var ps []nn.Param
	for _, p := range net.bb.parts() {
		if !p.gen {
			ps = append(ps, p.Param)
		}
	}
	skip := func(name string) bool { return name == "fc.weight" || name == "fc.bias" }
	if err := loadWeights(ps, sd, skip, false); err != nil {
		b := net.spec.Backbone
		return fmt.Errorf("backbone (resnet depth %d, width multiplier %g, stem %v): %w", b.Depth, b.WidthMultiplier, b.Stem, err)
	}
	return nil
}

// LoadBackboneFile reads the safetensors file at path and loads it into
// net's backbone with LoadBackboneWeights; errors name the file.
func LoadBackboneFile(net *Net, path string) error {
	sd, err := safetensors.ReadFile(path)
	if err != nil {
		return fmt.Errorf("model: pretrained backbone weights: %w", err)
	}
	if err := LoadBackboneWeights(net, sd); err != nil {
		return fmt.Errorf("model: pretrained backbone weights %s: %w", path, err)
	}
	return nil
}

package model

import (
	"fmt"
	"math/rand/v2"

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
	if err := loadWeights(net.Params(), sd, nil, false); err != nil {
		return nil, fmt.Errorf("%s: %w", arch, err)
	}
	return NewBundle(net, nil, SeedImageOptions(), nil)
}

// LoadBackboneWeights copies a torchvision ResNet state_dict, saved as
// safetensors (safetensors.torch.save_file(resnet18().state_dict(), path)),
// into the resnet backbone of net: conv1, bn1, layer1..layer4, running
// statistics included. torchvision's classifier (fc.weight, fc.bias) is not
// part of the backbone and is skipped; every other tensor must match the
// backbone by name and shape, as for ImportTorch. Depth 18 with width
// multiplier 1 and the imagenet stem takes resnet18's state_dict unchanged;
// other shapes are listed as mismatches. The head, metadata tower and
// fusion blocks keep their values.
func LoadBackboneWeights(net *Net, sd *safetensors.File) error {
	if _, ok := net.bb.(*resnet); !ok {
		return fmt.Errorf("model: backbone weights load into the resnet backbone, not %v", net.spec.Backbone.Kind)
	}
	skip := func(name string) bool { return name == "fc.weight" || name == "fc.bias" }
	if err := loadWeights(net.bb.params(), sd, skip, false); err != nil {
		return fmt.Errorf("backbone: %w", err)
	}
	return nil
}

package model

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/internal/golden"
	"github.com/metacnn/metacnn/safetensors"
	"github.com/metacnn/metacnn/tensor"
)

// resnetValue is gen.py's resnet_value: the hashed value of a torchvision
// resnet state_dict entry.
func resnetValue(name string, shape []int) *tensor.Tensor {
	n := len(name)
	switch {
	case n >= 19 && name[n-19:] == "num_batches_tracked":
		return tensor.Full(7, shape...)
	case (n >= 11 && name[n-11:] == "running_var") || (len(shape) == 1 && name[n-6:] == "weight"):
		return golden.Hashed(name, 0.5, 1.5, shape...)
	case len(shape) == 1:
		return golden.Hashed(name, -0.2, 0.2, shape...)
	}
	fanIn := tensor.NumElements(shape[1:])
	b := math.Sqrt(6 / float64(fanIn))
	return golden.Hashed(name, -b, b, shape...)
}

// TestResNet18TorchvisionParity loads the state_dict of torchvision's
// resnet18 (torchvision 0.14, PyTorch 1.13; testdata/torch/gen.py,
// torchvision_golden), with gen.py's hashed values, into the resnet
// backbone through LoadBackboneWeights, and compares in evaluation mode
// layer1's output and the pooled features (fc's input) for two hashed
// 3x112x112 images: |got - want| <= 1e-4·|want| + 1e-5·max|want|.
// It also checks that the backbone's parameter names, order, shapes and
// integer buffers are exactly the state_dict's, fc aside.
func TestResNet18TorchvisionParity(t *testing.T) {
	g := openGolden(t, "resnet18")
	raw, ok := g.Meta("state_dict")
	if !ok {
		t.Fatal("no state_dict listing")
	}
	var listing [][3]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &listing); err != nil {
		t.Fatal(err)
	}
	nw, err := Build(Spec{Backbone: BackboneSpec{Kind: BackboneResNet}, Head: HeadSpec{Hidden: []int{}}}, [3]int{3, 112, 112}, 0, nil, 1000, testRNG(3))
	if err != nil {
		t.Fatal(err)
	}
	net := nw.(*Net)
	ps := net.bb.params()
	var es []safetensors.Entry
	i := 0
	for _, item := range listing {
		var name, dtype string
		var shape []int
		json.Unmarshal(item[0], &name)
		json.Unmarshal(item[1], &shape)
		json.Unmarshal(item[2], &dtype)
		v := resnetValue(name, shape)
		if dtype == "I64" {
			es = append(es, safetensors.I64(name, []int64{7}, shape...))
		} else {
			es = append(es, safetensors.F32(name, v))
		}
		if name == "fc.weight" || name == "fc.bias" {
			continue
		}
		if i >= len(ps) || ps[i].Name != name || !tensor.EqualShapes(ps[i].Var.Shape(), shape) || ps[i].Integer != (dtype == "I64") {
			t.Fatalf("state_dict entry %d is %s %v %s; the backbone has %+v", i, name, shape, dtype, ps[min(i, len(ps)-1)])
		}
		i++
	}
	if i != len(ps) {
		t.Fatalf("the backbone has %d entries, torchvision's state_dict %d (fc aside)", len(ps), i)
	}
	var buf bytes.Buffer
	if err := safetensors.Encode(&buf, es, nil); err != nil {
		t.Fatal(err)
	}
	sd, err := safetensors.Decode(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := LoadBackboneWeights(net, sd); err != nil {
		t.Fatal(err)
	}
	net.SetTraining(false)
	x := autograd.Const(golden.Hashed("resnet.images", 0, 1, 2, 3, 112, 112))
	h := net.bb.stem(nil, x)
	l1 := net.bb.stage(nil, 1, h, nil)
	f := l1
	for s := 2; s <= 4; s++ {
		f = net.bb.stage(nil, s, f, nil)
	}
	feat := (*autograd.Tape)(nil).GlobalAvgPool2D(f)
	for _, c := range []struct {
		name string
		got  *tensor.Tensor
	}{{"layer1", l1.Value}, {"features", feat.Value}} {
		if err := g.Compare(c.name, c.got, parityRTol, parityATol); err != nil {
			t.Error(err)
		}
		t.Logf("%s: max |error| / max|value| = %.2g", c.name, g.MaxRelErr(c.name, c.got))
	}

	// A state_dict of another depth lists what does not fit.
	small, err := Build(Spec{Backbone: BackboneSpec{Kind: BackboneResNet, Depth: 8}, Head: HeadSpec{Hidden: []int{}}}, [3]int{3, 64, 64}, 0, nil, 2, testRNG(3))
	if err != nil {
		t.Fatal(err)
	}
	if err := LoadBackboneWeights(small.(*Net), sd); err == nil || !strings.Contains(err.Error(), `unexpected "layer1.1.conv1.weight"`) {
		t.Errorf("resnet8 with resnet18 weights: %v", err)
	}
}

package onnx

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/metacnn/metacnn/interop/onnx/onnxpb"
	"github.com/metacnn/metacnn/nn"
	"github.com/metacnn/metacnn/tensor"
)

// builder appends nodes and initializers to a graph. Parameters are looked
// up by their state_dict name and become initializers of that name the
// first time a node uses them. The first problem (a parameter the network
// lacks, or of an unexpected shape) is kept in err; later calls still
// return names so the caller's code stays linear.
type builder struct {
	params map[string]*tensor.Tensor
	used   map[string]bool
	g      *onnxpb.GraphProto
	seq    int
	err    error
}

func newBuilder(ps []nn.Param) *builder {
	b := &builder{params: map[string]*tensor.Tensor{}, used: map[string]bool{}, g: &onnxpb.GraphProto{}}
	for _, p := range ps {
		if !p.Integer {
			b.params[p.Name] = p.Var.Value
		}
	}
	return b
}

func (b *builder) fail(format string, args ...any) {
	if b.err == nil {
		b.err = fmt.Errorf(format, args...)
	}
}

// has reports whether the network has parameter name.
func (b *builder) has(name string) bool { _, ok := b.params[name]; return ok }

// param returns the initializer for parameter name, adding it on first use.
// With a shape given it checks the parameter's rank and sizes (-1 matches
// any size).
func (b *builder) param(name string, shape ...int) string {
	t, ok := b.params[name]
	if !ok {
		b.fail("onnx: the network has no parameter %q", name)
		return name
	}
	if shape != nil {
		s := t.Shape()
		ok := len(s) == len(shape)
		for i := 0; ok && i < len(s); i++ {
			ok = shape[i] < 0 || shape[i] == s[i]
		}
		if !ok {
			b.fail("onnx: parameter %q has shape %v, want %v", name, s, shape)
		}
	}
	if !b.used[name] {
		b.used[name] = true
		b.g.Initializer = append(b.g.Initializer, floatTensor(name, t.Shape(), t.Data()))
	}
	return name
}

// constF adds a float32 initializer of the given shape and values.
func (b *builder) constF(hint string, shape []int, vals []float32) string {
	name := b.tmp(hint)
	b.g.Initializer = append(b.g.Initializer, floatTensor(name, shape, vals))
	return name
}

// constI adds an int64 initializer of the given shape and values.
func (b *builder) constI(hint string, shape []int, vals []int64) string {
	name := b.tmp(hint)
	raw := make([]byte, 8*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
	}
	b.g.Initializer = append(b.g.Initializer, &onnxpb.TensorProto{
		Name: name, Dims: dims(shape), DataType: int32(onnxpb.TensorProto_INT64), RawData: raw,
	})
	return name
}

func floatTensor(name string, shape []int, vals []float32) *onnxpb.TensorProto {
	raw := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return &onnxpb.TensorProto{Name: name, Dims: dims(shape), DataType: int32(onnxpb.TensorProto_FLOAT), RawData: raw}
}

func dims(shape []int) []int64 {
	d := make([]int64, len(shape))
	for i, s := range shape {
		d[i] = int64(s)
	}
	return d
}

func (b *builder) tmp(hint string) string {
	b.seq++
	return fmt.Sprintf("%s_%d", hint, b.seq)
}

// node appends an op with one output and returns the output's name.
func (b *builder) node(op string, inputs []string, attrs ...*onnxpb.AttributeProto) string {
	out := b.tmp(op)
	b.g.Node = append(b.g.Node, &onnxpb.NodeProto{
		Name: out, OpType: op, Input: inputs, Output: []string{out}, Attribute: attrs,
	})
	return out
}

// rename makes the last node's output be called name (a graph output).
func (b *builder) rename(name string) {
	n := b.g.Node[len(b.g.Node)-1]
	n.Output[0] = name
}

func attrInt(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_INT, I: v}
}

func attrInts(name string, v ...int) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_INTS, Ints: dims(v)}
}

func attrFloat(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_FLOAT, F: v}
}

// valueInfo describes a float32 or int64 tensor; a dimension < 0 is the
// symbolic batch size N.
func valueInfo(name string, elem onnxpb.TensorProto_DataType, shape ...int) *onnxpb.ValueInfoProto {
	sh := &onnxpb.TensorShapeProto{}
	for _, d := range shape {
		if d < 0 {
			sh.Dim = append(sh.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: BatchDim}})
		} else {
			sh.Dim = append(sh.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
		}
	}
	return &onnxpb.ValueInfoProto{Name: name, Type: &onnxpb.TypeProto{
		Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: int32(elem), Shape: sh}},
	}}
}

// Layers, each the ONNX form of the nn layer of the same name.

// conv is nn.Conv2D: weight [out, in, kh, kw] and, when present, bias.
func (b *builder) conv(x, prefix string, stride, pad int) string {
	w := b.param(prefix+".weight", -1, -1, -1, -1)
	in := []string{x, w}
	if b.has(prefix + ".bias") {
		in = append(in, b.param(prefix+".bias", -1))
	}
	k := b.params[prefix+".weight"]
	kh, kw := 1, 1
	if k != nil && k.Rank() == 4 {
		kh, kw = k.Dim(2), k.Dim(3)
	}
	return b.node("Conv", in, attrInts("kernel_shape", kh, kw), attrInts("strides", stride, stride),
		attrInts("pads", pad, pad, pad, pad), attrInts("dilations", 1, 1), attrInt("group", 1))
}

// batchNormEps is nn.BatchNorm2D's and fusion.CondBatchNorm's eps.
const batchNormEps = 1e-5

// batchNorm is nn.BatchNorm2D in evaluation mode (running statistics).
func (b *builder) batchNorm(x, prefix string) string {
	return b.node("BatchNormalization", []string{x,
		b.param(prefix+".weight", -1), b.param(prefix+".bias", -1),
		b.param(prefix+".running_mean", -1), b.param(prefix+".running_var", -1)},
		attrFloat("epsilon", batchNormEps))
}

// linear is nn.Linear: x [N, in] -> [N, out] as Gemm(x, Wᵀ) + bias.
func (b *builder) linear(x, prefix string) string {
	in := []string{x, b.param(prefix+".weight", -1, -1)}
	if b.has(prefix + ".bias") {
		in = append(in, b.param(prefix+".bias", -1))
	}
	return b.node("Gemm", in, attrInt("transB", 1))
}

// activation is nn.Activation; GELU (not an operator before opset 20) is
// spelled out exactly: 0.5·x·(1 + erf(x/√2)).
func (b *builder) activation(x string, k nn.ActivationKind) string {
	switch k {
	case nn.ReLU:
		return b.node("Relu", []string{x})
	case nn.LeakyReLU:
		return b.node("LeakyRelu", []string{x}, attrFloat("alpha", nn.NewActivation(nn.LeakyReLU).Slope))
	case nn.GELU:
		e := b.node("Erf", []string{b.node("Mul", []string{x, b.constF("inv_sqrt2", nil, []float32{float32(1 / math.Sqrt2)})})})
		one := b.node("Add", []string{e, b.constF("one", nil, []float32{1})})
		return b.node("Mul", []string{b.node("Mul", []string{x, one}), b.constF("half", nil, []float32{0.5})})
	case nn.SiLU:
		return b.node("Mul", []string{x, b.node("Sigmoid", []string{x})})
	case nn.Sigmoid:
		return b.node("Sigmoid", []string{x})
	case nn.Tanh:
		return b.node("Tanh", []string{x})
	}
	b.fail("onnx: activation %v has no ONNX form here", k)
	return x
}

// mlp is model's MLP as an nn.Sequential: Linear, activation, Dropout per
// hidden width (dropout is the identity in evaluation mode, so it is left
// out), then a final Linear when final.
func (b *builder) mlp(x, prefix string, hidden int, act nn.ActivationKind, final bool) string {
	for i := range hidden {
		x = b.activation(b.linear(x, fmt.Sprintf("%s.%d", prefix, 3*i)), act)
	}
	if final {
		x = b.linear(x, fmt.Sprintf("%s.%d", prefix, 3*hidden))
	}
	return x
}

func (b *builder) maxPool(x string, k, stride, pad int) string {
	return b.node("MaxPool", []string{x}, attrInts("kernel_shape", k, k), attrInts("strides", stride, stride),
		attrInts("pads", pad, pad, pad, pad))
}

// perChannel turns v [N, C] into [N, C, 1, 1] so it broadcasts over a
// feature map.
func (b *builder) perChannel(v string) string {
	return b.node("Unsqueeze", []string{v, b.constI("axes_hw", []int{2}, []int64{2, 3})})
}

// affine is scale ⊙ x + shift with scale and shift [N, C] per channel.
func (b *builder) affine(x, scale, shift string) string {
	return b.node("Add", []string{b.node("Mul", []string{b.perChannel(scale), x}), b.perChannel(shift)})
}

// embedding is nn.Embedding of the ids in column col of ids [N, J]:
// Gather(weight, ids[:, col]) -> [N, dim].
func (b *builder) embedding(ids string, col int, weight string) string {
	c := b.node("Gather", []string{ids, b.constI("id_column", nil, []int64{int64(col)})}, attrInt("axis", 1))
	return b.node("Gather", []string{b.param(weight, -1, -1), c}, attrInt("axis", 0))
}

// SupportedOps lists every ai.onnx operator an exported graph may use, all
// at opset 13.
var SupportedOps = []string{
	"Add", "BatchNormalization", "Concat", "Conv", "Erf", "Flatten", "Gather", "Gemm",
	"GlobalAveragePool", "LeakyRelu", "MaxPool", "Mul", "Relu", "Sigmoid", "Sub", "Tanh", "Unsqueeze",
}

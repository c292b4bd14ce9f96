package onnx

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/fusion"
	"github.com/metacnn/metacnn/interop/onnx/onnxpb"
	"github.com/metacnn/metacnn/meta"
	"github.com/metacnn/metacnn/model"
	"github.com/metacnn/metacnn/nn"
	"google.golang.org/protobuf/proto"
)

// The numbers these graphs compute are checked against ONNX Runtime by
// interop/onnx/check (run.sh), which needs Node; these tests check the
// graph's structure only.

func testSchema(t *testing.T, rng *rand.Rand) *meta.Schema {
	t.Helper()
	s, err := meta.NewSchema([]meta.ColumnSpec{
		{Name: "camera", Type: meta.Categorical},
		{Name: "operator", Type: meta.Categorical, Encoding: meta.Embedding, Dim: 3},
		{Name: "line", Type: meta.Categorical, Encoding: meta.Index, Cardinality: 4},
		{Name: "temperature", Type: meta.Numeric, Missing: meta.Indicator},
	})
	if err != nil {
		t.Fatal(err)
	}
	rows := make([]map[string]string, 30)
	for i := range rows {
		rows[i] = map[string]string{
			"camera":      []string{"cam1", "cam2", "cam3"}[rng.IntN(3)],
			"operator":    []string{"op1", "op2", "op3", "op4"}[rng.IntN(4)],
			"line":        fmt.Sprint(rng.IntN(4)),
			"temperature": fmt.Sprintf("%.1f", 20+10*rng.Float64()),
		}
	}
	if err := s.Fit(rows); err != nil {
		t.Fatal(err)
	}
	return s
}

type exportCase struct {
	name string
	arch string
	spec model.Spec
}

func exportCases() []exportCase {
	seedBB := model.BackboneSpec{Kind: model.BackboneSeed, Widths: []int{4, 6}}
	resBB := model.BackboneSpec{Kind: model.BackboneResNet, Depth: 8, WidthMultiplier: 1.0 / 16, Stem: model.StemSmall}
	var cs []exportCase
	for _, bb := range []struct {
		name string
		spec model.BackboneSpec
	}{{"seed", seedBB}, {"resnet8", resBB}} {
		for _, k := range fusion.Kinds() {
			for _, opt := range []model.FusionOptions{{}, {Raw: true}, {Hidden: new(5)}} {
				f := model.FusionSpec{Kind: k, Options: opt}
				name := bb.name + "-" + k.String()
				switch {
				case opt.Raw && k != fusion.KindScaleBias && k != fusion.KindFiLM && k != fusion.KindGate:
					continue
				case opt.Hidden != nil && k != fusion.KindFiLM && k != fusion.KindCBN:
					continue
				case opt.Raw:
					name += "-raw"
				case opt.Hidden != nil:
					name += "-hidden"
				}
				cs = append(cs, exportCase{name: name, spec: model.Spec{Backbone: bb.spec, Fusion: []model.FusionSpec{f}}})
			}
		}
	}
	cs = append(cs,
		exportCase{name: "seed-bn-film-concat-md", spec: model.Spec{
			Backbone:        model.BackboneSpec{Widths: []int{4, 5, 6}, BatchNorm: true},
			Fusion:          []model.FusionSpec{{Kind: fusion.KindFiLM, Stages: []int{1, 3}}, {Kind: fusion.KindConcat}},
			MetaTower:       model.TowerSpec{Hidden: []int{6, 5}, Activation: nn.GELU, Dropout: 0.2},
			Head:            model.HeadSpec{Hidden: []int{7}, Activation: nn.SiLU, Pooling: model.PoolingAvg},
			ModalityDropout: 0.2,
		}},
		exportCase{name: "resnet18-imagenet-cbn-gate", spec: model.Spec{
			Backbone:  model.BackboneSpec{Kind: model.BackboneResNet, Depth: 18, WidthMultiplier: 1.0 / 16},
			Fusion:    []model.FusionSpec{{Kind: fusion.KindCBN, Stages: []int{1, 2}}, {Kind: fusion.KindGate, Stages: []int{4}}},
			MetaTower: model.TowerSpec{Hidden: []int{}},
			Head:      model.HeadSpec{Hidden: []int{}, Activation: nn.LeakyReLU},
		}},
	)
	for _, a := range model.SeedArchs {
		cs = append(cs, exportCase{name: "preset-" + a, arch: a})
	}
	return cs
}

func (c exportCase) bundle(t *testing.T) *model.Bundle {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, uint64(len(c.name))))
	if c.arch != "" {
		net, err := model.NewSeed(c.arch, rng)
		if err != nil {
			t.Fatal(err)
		}
		b, err := model.NewBundle(net, nil, data.ImageOptions{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	input := [3]int{3, 16, 16}
	if c.spec.Backbone.Kind == model.BackboneResNet && c.spec.Backbone.Stem != model.StemSmall {
		input = [3]int{3, 32, 32}
	}
	var schema *meta.Schema
	width, slots := 0, []meta.IDSlot(nil)
	if c.spec.UsesMetadata() {
		schema = testSchema(t, rng)
		width, slots = schema.Width(), schema.IDSlots()
	}
	net, err := model.Build(c.spec, input, width, slots, 3, rng)
	if err != nil {
		t.Fatal(err)
	}
	b, err := model.NewBundle(net, schema, data.ImageOptions{Width: input[2], Height: input[1], Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{0.2, 0.2, 0.2}},
		[]string{"ok", "scratch", "dent"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantInputs is the graph inputs a bundle should get: name -> shape, -1
// for the batch.
func wantInputs(b *model.Bundle) ([]string, map[string][]int64) {
	names := []string{InputImage}
	shapes := map[string][]int64{InputImage: {-1, int64(b.Input[0]), int64(b.Input[1]), int64(b.Input[2])}}
	if !b.Spec.UsesMetadata() {
		return names, shapes
	}
	if k := b.Schema.Width(); k > 0 {
		names = append(names, InputMetadata)
		shapes[InputMetadata] = []int64{-1, int64(k)}
	}
	if j := b.Schema.NumIDs(); j > 0 {
		names = append(names, InputIDs)
		shapes[InputIDs] = []int64{-1, int64(j)}
	}
	if b.Spec.ModalityDropout > 0 {
		names = append(names, InputMissing)
		shapes[InputMissing] = []int64{-1, 1}
	}
	return names, shapes
}

func shapeOf(t *testing.T, v *onnxpb.ValueInfoProto) ([]int64, onnxpb.TensorProto_DataType) {
	t.Helper()
	tt := v.GetType().GetTensorType()
	if tt == nil {
		t.Fatalf("%s: not a tensor type", v.GetName())
	}
	var s []int64
	for _, d := range tt.GetShape().GetDim() {
		switch d.GetValue().(type) {
		case *onnxpb.TensorShapeProto_Dimension_DimParam:
			if d.GetDimParam() != BatchDim {
				t.Errorf("%s: symbolic dimension %q, want %q", v.GetName(), d.GetDimParam(), BatchDim)
			}
			s = append(s, -1)
		default:
			s = append(s, d.GetDimValue())
		}
	}
	return s, onnxpb.TensorProto_DataType(tt.GetElemType())
}

// TestExportStructure exports every backbone x fusion kind x option, two
// combinations and the seed presets, and checks the model without running
// it: it round-trips through proto.Unmarshal; opset and IR version; the
// graph inputs and output by name, type and shape (batch symbolic); every
// node's op is in SupportedOps with its inputs defined before it (a
// topological order) and its output used; every float parameter of the
// network is an initializer of the same name, shape and little-endian
// bytes, and nothing else is named like one; the sidecar in
// metadata_props equals the one returned.
func TestExportStructure(t *testing.T) {
	for _, c := range exportCases() {
		t.Run(c.name, func(t *testing.T) {
			b := c.bundle(t)
			m, sc, err := Export(b, Options{ProducerVersion: "test"})
			if err != nil {
				t.Fatal(err)
			}
			raw, err := Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			var back onnxpb.ModelProto
			if err := proto.Unmarshal(raw, &back); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(m, &back) {
				t.Fatal("model changed in a Marshal/Unmarshal round trip")
			}
			if back.GetIrVersion() != IRVersion || len(back.GetOpsetImport()) != 1 ||
				back.GetOpsetImport()[0].GetDomain() != "" || back.GetOpsetImport()[0].GetVersion() != Opset {
				t.Errorf("ir_version %d, opset_import %v; want %d and ai.onnx %d", back.GetIrVersion(), back.GetOpsetImport(), IRVersion, Opset)
			}
			g := back.GetGraph()

			names, shapes := wantInputs(b)
			var got []string
			for _, in := range g.GetInput() {
				got = append(got, in.GetName())
				s, dt := shapeOf(t, in)
				wantDT := onnxpb.TensorProto_FLOAT
				if in.GetName() == InputIDs {
					wantDT = onnxpb.TensorProto_INT64
				}
				if !slices.Equal(s, shapes[in.GetName()]) || dt != wantDT {
					t.Errorf("input %s: %v %v, want %v %v", in.GetName(), dt, s, wantDT, shapes[in.GetName()])
				}
			}
			if !slices.Equal(got, names) {
				t.Errorf("inputs %v, want %v", got, names)
			}
			var scNames []string
			for _, in := range sc.Inputs {
				scNames = append(scNames, in.Name)
			}
			if !slices.Equal(scNames, names) {
				t.Errorf("sidecar inputs %v, want %v", scNames, names)
			}
			if len(g.GetOutput()) != 1 || g.GetOutput()[0].GetName() != OutputLogits {
				t.Fatalf("outputs %v, want one named %s", g.GetOutput(), OutputLogits)
			}
			if s, dt := shapeOf(t, g.GetOutput()[0]); !slices.Equal(s, []int64{-1, int64(len(b.Classes))}) || dt != onnxpb.TensorProto_FLOAT {
				t.Errorf("logits: %v %v, want FLOAT [N %d]", dt, s, len(b.Classes))
			}

			inits := map[string]*onnxpb.TensorProto{}
			for _, ini := range g.GetInitializer() {
				if inits[ini.GetName()] != nil {
					t.Errorf("initializer %q given twice", ini.GetName())
				}
				inits[ini.GetName()] = ini
			}
			defined := map[string]bool{}
			for _, in := range g.GetInput() {
				defined[in.GetName()] = true
			}
			for name := range inits {
				defined[name] = true
			}
			used := map[string]bool{OutputLogits: true}
			for i, n := range g.GetNode() {
				if !slices.Contains(SupportedOps, n.GetOpType()) || n.GetDomain() != "" {
					t.Errorf("node %d: op %q (domain %q) not in SupportedOps", i, n.GetOpType(), n.GetDomain())
				}
				for _, in := range n.GetInput() {
					if !defined[in] {
						t.Errorf("node %d (%s): input %q is not defined before it", i, n.GetOpType(), in)
					}
					used[in] = true
				}
				if len(n.GetOutput()) != 1 || defined[n.GetOutput()[0]] {
					t.Errorf("node %d (%s): outputs %v, want one new name", i, n.GetOpType(), n.GetOutput())
				}
				for _, o := range n.GetOutput() {
					defined[o] = true
				}
			}
			if last := g.GetNode()[len(g.GetNode())-1]; last.GetOutput()[0] != OutputLogits {
				t.Errorf("the last node makes %q, want %s", last.GetOutput()[0], OutputLogits)
			}
			for _, n := range g.GetNode() {
				if o := n.GetOutput()[0]; !used[o] {
					t.Errorf("node %s (%s): output unused", n.GetName(), n.GetOpType())
				}
			}
			for name := range inits {
				if !used[name] {
					t.Errorf("initializer %q unused", name)
				}
			}
			for _, in := range g.GetInput() {
				if !used[in.GetName()] {
					t.Errorf("input %q unused", in.GetName())
				}
			}

			for _, p := range b.Net.Params() {
				if p.Integer {
					if inits[p.Name] != nil {
						t.Errorf("integer buffer %q exported", p.Name)
					}
					continue
				}
				ini := inits[p.Name]
				if ini == nil {
					t.Errorf("parameter %q (%v) is not an initializer", p.Name, p.Var.Shape())
					continue
				}
				if !slices.Equal(ini.GetDims(), dims(p.Var.Shape())) || ini.GetDataType() != int32(onnxpb.TensorProto_FLOAT) {
					t.Errorf("initializer %q: %v type %d, want %v FLOAT", p.Name, ini.GetDims(), ini.GetDataType(), p.Var.Shape())
				}
				want := make([]byte, 4*p.Var.Value.Len())
				for i, v := range p.Var.Value.Data() {
					binary.LittleEndian.PutUint32(want[4*i:], math.Float32bits(v))
				}
				if !bytes.Equal(ini.GetRawData(), want) {
					t.Errorf("initializer %q: raw_data differs from the parameter", p.Name)
				}
			}

			var props map[string]string = map[string]string{}
			for _, p := range back.GetMetadataProps() {
				props[p.GetKey()] = p.GetValue()
			}
			var scBack Sidecar
			if err := json.Unmarshal([]byte(props[MetadataKey]), &scBack); err != nil {
				t.Fatalf("metadata_props[%q]: %v", MetadataKey, err)
			}
			scJSON, _ := json.Marshal(sc)
			backJSON, _ := json.Marshal(&scBack)
			if !bytes.Equal(scJSON, backJSON) {
				t.Errorf("metadata_props sidecar differs from Export's:\n%s\n%s", backJSON, scJSON)
			}
			if !reflect.DeepEqual(sc.Classes, b.Classes) || sc.Arch != b.Spec.Arch || sc.Opset != Opset {
				t.Errorf("sidecar classes %v arch %q opset %d", sc.Classes, sc.Arch, sc.Opset)
			}
			if b.Spec.UsesMetadata() != (sc.Metadata != nil) {
				t.Errorf("sidecar metadata %v for a model that uses metadata: %v", sc.Metadata, b.Spec.UsesMetadata())
			}
		})
	}
}

// TestExportFusionNodes checks the ops each fusion kind adds: the graph of
// a fused model holds its block's characteristic ops and the image-only one
// none of the metadata ops.
func TestExportFusionNodes(t *testing.T) {
	count := func(c exportCase) map[string]int {
		m, _, err := Export(c.bundle(t), Options{})
		if err != nil {
			t.Fatal(err)
		}
		ops := map[string]int{}
		for _, n := range m.GetGraph().GetNode() {
			ops[n.GetOpType()]++
		}
		return ops
	}
	spec := func(f model.FusionSpec) exportCase {
		return exportCase{name: f.Kind.String(), spec: model.Spec{Backbone: model.BackboneSpec{Widths: []int{4, 6}}, Fusion: []model.FusionSpec{f}}}
	}
	none := count(spec(model.FusionSpec{Kind: fusion.KindNone}))
	if none["Gather"]+none["Unsqueeze"]+none["Concat"] != 0 || none["Conv"] != 2 || none["MaxPool"] != 2 || none["Gemm"] != 2 {
		t.Errorf("image-only seed: ops %v", none)
	}
	for _, tc := range []struct {
		f    model.FusionSpec
		want map[string]int // op -> count beyond the image-only graph and the tower
	}{
		{model.FusionSpec{Kind: fusion.KindEarly}, map[string]int{"Unsqueeze": 1, "Concat": 1, "Add": 1}},
		{model.FusionSpec{Kind: fusion.KindConcat}, map[string]int{"Concat": 1}},
		{model.FusionSpec{Kind: fusion.KindScaleBias}, map[string]int{"Gemm": 2, "Unsqueeze": 2, "Mul": 1, "Add": 2}},
		{model.FusionSpec{Kind: fusion.KindScaleBias, Options: model.FusionOptions{Raw: true}}, map[string]int{"Gemm": 2, "Unsqueeze": 2, "Mul": 1, "Add": 1}},
		{model.FusionSpec{Kind: fusion.KindFiLM, Options: model.FusionOptions{Hidden: new(3)}}, map[string]int{"Gemm": 3, "Relu": 1, "Unsqueeze": 2, "Mul": 1, "Add": 2}},
		{model.FusionSpec{Kind: fusion.KindCBN}, map[string]int{"BatchNormalization": 1, "Gemm": 2, "Unsqueeze": 2, "Mul": 1, "Add": 3}},
		{model.FusionSpec{Kind: fusion.KindGate}, map[string]int{"Gemm": 2, "Unsqueeze": 2, "Mul": 3, "Tanh": 1, "Sigmoid": 1, "Add": 1}},
		{model.FusionSpec{Kind: fusion.KindGate, Options: model.FusionOptions{Raw: true}}, map[string]int{"Gemm": 2, "Unsqueeze": 2, "Mul": 1, "Tanh": 1, "Sigmoid": 1, "Add": 1}},
	} {
		name := tc.f.Kind.String()
		if tc.f.Options.Raw {
			name += "-raw"
		}
		got := count(spec(tc.f))
		// The tower: 2 id columns gathered (2 Gathers each), concatenated
		// with the dense input, then Linear + ReLU.
		tower := map[string]int{"Gather": 4, "Concat": 1, "Gemm": 1, "Relu": 1}
		for op := range mergeKeys(got, none, tc.want, tower) {
			if want := none[op] + tc.want[op] + tower[op]; got[op] != want {
				t.Errorf("%s: %d %s nodes, want %d (ops %v)", name, got[op], op, want, got)
			}
		}
	}
}

func mergeKeys(ms ...map[string]int) map[string]bool {
	keys := map[string]bool{}
	for _, m := range ms {
		for k := range m {
			keys[k] = true
		}
	}
	return keys
}

func TestSaveWritesModelAndSidecar(t *testing.T) {
	b := exportCase{name: "seed-film", arch: model.SeedFiLM}.bundle(t)
	path := filepath.Join(t.TempDir(), "film.onnx")
	sc, err := Save(path, b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile(SidecarPath(path))
	if err != nil {
		t.Fatal(err)
	}
	var back Sidecar
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if back.Format != SidecarFormat || back.Arch != model.SeedFiLM || back.Metadata == nil ||
		back.Metadata.DenseWidth != 2 || !slices.Equal(back.Metadata.DenseNames, []string{"m1", "m2"}) {
		t.Errorf("sidecar: %s", js)
	}
	if sc.Image.Width != 56 || sc.Image.Scale != "value/255" || sc.Image.Mean != nil {
		t.Errorf("seed image preprocessing: %+v", sc.Image)
	}
	again, err := Marshal(&m)
	if err != nil || !bytes.Equal(again, raw) {
		t.Error("the ONNX bytes are not reproducible")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 2 {
		t.Errorf("directory holds %d entries, want the model and the sidecar (no temporary files)", len(entries))
	}
}

func TestExportErrors(t *testing.T) {
	if _, _, err := Export(nil, Options{}); err == nil {
		t.Error("nil bundle: no error")
	}
	b := exportCase{name: "seed-film", arch: model.SeedFiLM}.bundle(t)
	b.Spec = model.Spec{Arch: "seed-unknown"}
	if _, _, err := Export(b, Options{}); err == nil || !strings.Contains(err.Error(), "seed-unknown") {
		t.Errorf("unknown preset: %v", err)
	}
	if _, err := Save(filepath.Join(t.TempDir(), "missing", "m.onnx"), exportCase{name: "seed-concat", arch: model.SeedConcat}.bundle(t), Options{}); err == nil {
		t.Error("a missing directory: no error")
	}
}

func ExampleExport() {
	net, _ := model.NewSeed(model.SeedFiLM, rand.New(rand.NewPCG(1, 2)))
	b, _ := model.NewBundle(net, nil, data.ImageOptions{}, nil)
	m, sc, err := Export(b, Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, in := range sc.Inputs {
		fmt.Println("input", in.Name, in.DType, in.Shape)
	}
	fmt.Println("output", sc.Outputs[0].Name, sc.Outputs[0].Shape, sc.Classes)
	fmt.Println("metadata", sc.Metadata.DenseNames)
	fmt.Println("opset", m.GetOpsetImport()[0].GetVersion(), "nodes", len(m.GetGraph().GetNode()))
	// Output:
	// input image float32 [N 3 56 56]
	// input metadata float32 [N 2]
	// output logits [N 2] [0 1]
	// metadata [m1 m2]
	// opset 13 nodes 17
}

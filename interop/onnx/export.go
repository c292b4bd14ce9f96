package onnx

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/interop/onnx/onnxpb"
	"github.com/metacnn/metacnn/model"
	"google.golang.org/protobuf/proto"
)

// What the exported files are.
const (
	// Opset is the ai.onnx operator set the graphs use.
	Opset = 13
	// IRVersion is the ONNX IR version written (IR 7 goes with opset 13).
	IRVersion = 7
	// SidecarFormat and SidecarVersion identify the JSON sidecar.
	SidecarFormat  = "metacnn-onnx"
	SidecarVersion = 1
	// MetadataKey is the metadata_props key holding the whole sidecar JSON;
	// the other keys (MetadataKey + ".classes", ".image", ".inputs",
	// ".metadata") hold parts of it for tools that show one property.
	MetadataKey = "metacnn"
)

// Graph input and output names, and the symbolic batch dimension.
const (
	// InputImage is float32 [N, C, H, W], preprocessed as Sidecar.Image
	// says (resized, pixels/255, then (x - mean)/std when set).
	InputImage = "image"
	// InputMetadata is float32 [N, K], the dense encoded metadata
	// (meta.Schema.Encode's Dense); absent when K is 0.
	InputMetadata = "metadata"
	// InputIDs is int64 [N, J]: column j holds the ids of the j-th
	// embedding- or index-encoded metadata column (meta.Schema.IDSlots
	// order, Encode's IDs); absent when J is 0. Ids must be in [0, size).
	InputIDs = "ids"
	// InputMissing is float32 [N, 1], only in models trained with modality
	// dropout: 1 marks a row whose metadata is absent (its metadata and ids
	// are then ignored, but must still be present and in range), 0 a row
	// with metadata.
	InputMissing = "metadata_missing"
	// OutputLogits is float32 [N, classes], classes in Sidecar.Classes
	// order. Probabilities are its softmax.
	OutputLogits = "logits"
	// BatchDim is the symbolic name of the batch dimension.
	BatchDim = "N"
)

// Options tune the export. The zero value is valid.
type Options struct {
	// ProducerVersion is written as the model's producer_version (the
	// producer_name is always "metacnn"); empty means "dev".
	ProducerVersion string
}

// Sidecar is the JSON written next to the ONNX file (<model>.onnx.json)
// and, whole, into its metadata_props under MetadataKey: everything another
// runtime needs to turn an image file and a manifest row into the graph's
// inputs, and the logits into labels.
type Sidecar struct {
	Format        string `json:"format"`
	FormatVersion int    `json:"format_version"`
	Opset         int    `json:"opset"`
	// Arch is the preset's name for a seed preset, else "".
	Arch string `json:"arch,omitempty"`
	// Spec is the architecture of a spec-built model, defaults filled in.
	Spec *model.Spec `json:"spec,omitempty"`
	// Inputs and Outputs list the graph's tensors; a "N" dimension is the
	// batch.
	Inputs  []TensorInfo `json:"inputs"`
	Outputs []TensorInfo `json:"outputs"`
	// Image is how an image file becomes one row of the image input.
	Image ImageInfo `json:"image"`
	// Metadata is how a manifest row becomes the metadata, ids and
	// metadata_missing inputs; nil for an image-only model.
	Metadata *MetadataInfo `json:"metadata,omitempty"`
	// Classes names the logits, in order.
	Classes []string `json:"classes"`
	// WeightsSHA256 is the source model file's weights checksum, when it
	// was loaded from or saved to a file.
	WeightsSHA256 string `json:"weights_sha256,omitempty"`
}

// TensorInfo is one graph input or output.
type TensorInfo struct {
	Name  string `json:"name"`
	DType string `json:"dtype"`
	// Shape has "N" for the batch dimension and numbers for the others.
	Shape []any  `json:"shape"`
	Doc   string `json:"doc"`
}

// ImageInfo is data.ImageOptions without the deployment limits. Decode the
// file (EXIF orientation applied), composite transparency on Background
// (1 and 3 channels), convert to Channels (1: ITU-R 601 luma), bring to
// Width x Height by Resize with Filter, scale pixels to [0, 1] (value/255),
// then, when Mean and Std are set, x = (x - Mean[c]) / Std[c]; lay out as
// [C, H, W].
type ImageInfo struct {
	Width      int             `json:"width"`
	Height     int             `json:"height"`
	Channels   int             `json:"channels"`
	Resize     data.ResizeMode `json:"resize"`
	Filter     data.Filter     `json:"filter"`
	Background [3]uint8        `json:"background"`
	Scale      string          `json:"scale"`
	Mean       []float32       `json:"mean"`
	Std        []float32       `json:"std"`
}

// MetadataInfo describes the metadata inputs.
type MetadataInfo struct {
	// DenseWidth is K, the metadata input's width (0: no such input).
	DenseWidth int `json:"dense_width"`
	// DenseNames names each of the K values ("camera=A", "temperature",
	// "hour:sin", "temperature:missing", ...).
	DenseNames []string `json:"dense_names"`
	// Columns gives each manifest column's range of the dense vector.
	Columns []ColumnInfo `json:"columns"`
	// IDs lists the columns of the ids input, in order.
	IDs []IDInfo `json:"ids"`
	// MissingInput is InputMissing when the model takes it, else "".
	MissingInput string `json:"missing_input,omitempty"`
	// Encoder is the fitted encoder state (meta.State, as in the .mcnn
	// model.json): column specs, vocabularies, means, stds, bin edges, fill
	// values. meta's package documentation gives the layout it produces.
	Encoder json.RawMessage `json:"encoder"`
}

// ColumnInfo is one manifest column's part of the dense vector:
// metadata[:, Offset : Offset+Width], its missing flag last when HasFlag.
type ColumnInfo struct {
	Column  string `json:"column"`
	Type    string `json:"type"`
	Offset  int    `json:"offset"`
	Width   int    `json:"width"`
	HasFlag bool   `json:"has_flag"`
}

// IDInfo is one column of the ids input: ids[:, Index] holds Column's id,
// in [0, Size).
type IDInfo struct {
	Column string `json:"column"`
	Index  int    `json:"index"`
	Size   int    `json:"size"`
}

// Describe returns b's sidecar: its inputs and output, the image
// preprocessing and metadata encoding that feed them, and the classes. It
// builds no graph, so other exporters can share the same description.
func Describe(b *model.Bundle) (*Sidecar, error) {
	if b == nil || b.Net == nil {
		return nil, errors.New("onnx: no model")
	}
	spec := b.Spec.WithDefaults()
	sc := &Sidecar{
		Format: SidecarFormat, FormatVersion: SidecarVersion, Opset: Opset,
		Arch: spec.Arch, Classes: slices.Clone(b.Classes), WeightsSHA256: b.WeightsSHA256,
		Image: imageInfo(b.Image),
	}
	if spec.Arch == "" {
		sc.Spec = &spec
	}
	sc.Inputs = append(sc.Inputs, tensorInfo(InputImage, "float32", []int{-1, b.Input[0], b.Input[1], b.Input[2]},
		"images, preprocessed as image says"))
	if spec.UsesMetadata() {
		if b.Schema == nil {
			return nil, errors.New("onnx: the model reads metadata but has no metadata schema")
		}
		mi, err := metadataInfo(b)
		if err != nil {
			return nil, err
		}
		if spec.ModalityDropout > 0 {
			mi.MissingInput = InputMissing
		}
		sc.Metadata = mi
		if k := mi.DenseWidth; k > 0 {
			sc.Inputs = append(sc.Inputs, tensorInfo(InputMetadata, "float32", []int{-1, k}, "dense encoded metadata, laid out as metadata.dense_names"))
		}
		if j := len(mi.IDs); j > 0 {
			sc.Inputs = append(sc.Inputs, tensorInfo(InputIDs, "int64", []int{-1, j}, "ids of the embedding- and index-encoded columns, in metadata.ids order"))
		}
		if mi.MissingInput != "" {
			sc.Inputs = append(sc.Inputs, tensorInfo(InputMissing, "float32", []int{-1, 1}, "1 for a row without metadata, else 0"))
		}
	}
	sc.Outputs = append(sc.Outputs, tensorInfo(OutputLogits, "float32", []int{-1, len(b.Classes)}, "logits, in classes order; softmax gives probabilities"))
	return sc, nil
}

// Export builds the ONNX model of b (its network in evaluation mode:
// batch norms use their running statistics as BatchNormalization nodes,
// dropout is left out) and its sidecar (Describe). Every parameter becomes
// an initializer named by its state_dict name, float32 raw_data
// little-endian.
func Export(b *model.Bundle, opt Options) (*onnxpb.ModelProto, *Sidecar, error) {
	sc, err := Describe(b)
	if err != nil {
		return nil, nil, err
	}
	spec := b.Spec.WithDefaults()
	bd := newBuilder(b.Net.Params())
	g := bd.g
	g.Name = "metacnn"
	if spec.Arch != "" {
		g.Name = spec.Arch
	}
	in := inputs{image: InputImage}
	g.Input = append(g.Input, valueInfo(InputImage, onnxpb.TensorProto_FLOAT, -1, b.Input[0], b.Input[1], b.Input[2]))
	if mi := sc.Metadata; mi != nil {
		if k := mi.DenseWidth; k > 0 {
			in.metadata = InputMetadata
			g.Input = append(g.Input, valueInfo(InputMetadata, onnxpb.TensorProto_FLOAT, -1, k))
		}
		if j := len(mi.IDs); j > 0 {
			in.ids = InputIDs
			g.Input = append(g.Input, valueInfo(InputIDs, onnxpb.TensorProto_INT64, -1, j))
		}
		if mi.MissingInput != "" {
			in.missing = InputMissing
			g.Input = append(g.Input, valueInfo(InputMissing, onnxpb.TensorProto_FLOAT, -1, 1))
		}
	}

	var logits string
	if spec.Arch != "" {
		logits = bd.seed(spec.Arch, in)
	} else {
		logits = bd.network(spec, b.Input, in, len(sc.metadataIDs()))
	}
	if bd.err != nil {
		return nil, nil, bd.err
	}
	if len(g.Node) == 0 || g.Node[len(g.Node)-1].Output[0] != logits {
		return nil, nil, errors.New("onnx: internal error: the graph does not end in the logits")
	}
	bd.rename(OutputLogits)
	g.Output = append(g.Output, valueInfo(OutputLogits, onnxpb.TensorProto_FLOAT, -1, len(b.Classes)))

	props, err := metadataProps(sc)
	if err != nil {
		return nil, nil, err
	}
	v := opt.ProducerVersion
	if v == "" {
		v = "dev"
	}
	m := &onnxpb.ModelProto{
		IrVersion:       IRVersion,
		OpsetImport:     []*onnxpb.OperatorSetIdProto{{Domain: "", Version: Opset}},
		ProducerName:    "metacnn",
		ProducerVersion: v,
		Domain:          "io.github.metacnn",
		ModelVersion:    1,
		DocString:       "exported by metacnn export onnx; the inputs, their encoding and the classes are in metadata_props[\"metacnn\"] and the .onnx.json sidecar",
		Graph:           g,
		MetadataProps:   props,
	}
	return m, sc, nil
}

func (s *Sidecar) metadataIDs() []IDInfo {
	if s.Metadata == nil {
		return nil
	}
	return s.Metadata.IDs
}

func tensorInfo(name, dtype string, shape []int, doc string) TensorInfo {
	t := TensorInfo{Name: name, DType: dtype, Doc: doc}
	for _, d := range shape {
		if d < 0 {
			t.Shape = append(t.Shape, BatchDim)
		} else {
			t.Shape = append(t.Shape, d)
		}
	}
	return t
}

func imageInfo(o data.ImageOptions) ImageInfo {
	info := ImageInfo{Width: o.Width, Height: o.Height, Channels: o.Channels, Resize: o.Resize, Filter: o.Filter,
		Background: o.Background, Scale: "value/255", Mean: o.Mean, Std: o.Std}
	if info.Channels == 0 {
		info.Channels = 3
	}
	if info.Resize == data.ResizeUnset {
		info.Resize = data.Stretch
	}
	if info.Filter == data.FilterUnset {
		info.Filter = data.CatmullRom
	}
	return info
}

func metadataInfo(b *model.Bundle) (*MetadataInfo, error) {
	s := b.Schema
	enc, err := s.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("onnx: metadata encoder: %w", err)
	}
	mi := &MetadataInfo{DenseWidth: s.Width(), DenseNames: s.Names(), Encoder: enc, Columns: []ColumnInfo{}, IDs: []IDInfo{}}
	for _, sl := range s.Slots() {
		mi.Columns = append(mi.Columns, ColumnInfo{Column: sl.Column, Type: sl.Type.String(), Offset: sl.Offset, Width: sl.Width, HasFlag: sl.HasFlag})
	}
	for j, id := range s.IDSlots() {
		mi.IDs = append(mi.IDs, IDInfo{Column: id.Column, Index: j, Size: id.Size})
	}
	return mi, nil
}

func metadataProps(sc *Sidecar) ([]*onnxpb.StringStringEntryProto, error) {
	parts := []struct {
		key string
		v   any
	}{
		{MetadataKey, sc},
		{MetadataKey + ".classes", sc.Classes},
		{MetadataKey + ".image", sc.Image},
		{MetadataKey + ".inputs", sc.Inputs},
	}
	if sc.Metadata != nil {
		parts = append(parts, struct {
			key string
			v   any
		}{MetadataKey + ".metadata", sc.Metadata})
	}
	var props []*onnxpb.StringStringEntryProto
	for _, p := range parts {
		j, err := json.Marshal(p.v)
		if err != nil {
			return nil, fmt.Errorf("onnx: encoding %s: %w", p.key, err)
		}
		props = append(props, &onnxpb.StringStringEntryProto{Key: p.key, Value: string(j)})
	}
	return props, nil
}

// Marshal encodes m as ONNX file bytes, deterministically.
func Marshal(m *onnxpb.ModelProto) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}

// SidecarPath is where Save writes the sidecar of the ONNX file at path.
func SidecarPath(path string) string { return path + ".json" }

// Save exports b to path (the ONNX model) and SidecarPath(path) (the
// sidecar, indented JSON), each written atomically, and returns the
// sidecar.
func Save(path string, b *model.Bundle, opt Options) (*Sidecar, error) {
	m, sc, err := Export(b, opt)
	if err != nil {
		return nil, err
	}
	raw, err := Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("onnx: encoding %s: %w", path, err)
	}
	js, err := json.MarshalIndent(sc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("onnx: encoding the sidecar: %w", err)
	}
	if err := writeAtomic(path, raw); err != nil {
		return nil, err
	}
	if err := writeAtomic(SidecarPath(path), append(js, '\n')); err != nil {
		return nil, err
	}
	return sc, nil
}

func writeAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("onnx: writing %s: %w", path, err)
	}
	return nil
}

// Package torch exports a metacnn model as a self-contained PyTorch package
// (`metacnn export torch`): a directory holding
//
//	model.py              an nn.Module whose state_dict names and shapes are
//	                      metacnn's parameter names and shapes, exactly
//	weights.safetensors   the model's parameters and buffers (F32; I64 for
//	                      num_batches_tracked), read by model.py itself
//	encoding.json         how images and manifest rows become the module's
//	                      inputs and what the logits mean
//
// model.py needs only PyTorch (no safetensors package): load_model() builds
// the module, loads the weights strictly and returns it in evaluation mode;
// model(image, metadata=None, ids=None, metadata_missing=None) returns the
// logits, with the inputs described in encoding.json (the same tensors as the
// ONNX export's graph inputs).
//
// This first increment covers the seed presets and spec networks on the
// seed backbone (with or without batch norm) with fusion none, concat,
// scalebias and film (raw or not, film's hidden layer), any tower and head,
// and modality dropout. Other backbones and fusion kinds are refused with an
// error naming them.
package torch

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/metacnn/metacnn/fusion"
	"github.com/metacnn/metacnn/interop/onnx"
	"github.com/metacnn/metacnn/model"
	"github.com/metacnn/metacnn/nn"
	"github.com/metacnn/metacnn/safetensors"
)

// Files written into the output directory.
const (
	ModelFile    = "model.py"
	WeightsFile  = "weights.safetensors"
	EncodingFile = "encoding.json"
)

// Encoding format written to encoding.json.
const (
	EncodingFormat  = "metacnn-torch"
	EncodingVersion = 1
)

// Encoding is encoding.json: the ONNX sidecar's description of the inputs,
// image preprocessing, metadata encoder state and classes, which the
// generated module's forward arguments follow (image, metadata, ids,
// metadata_missing).
type Encoding struct {
	Format        string             `json:"format"`
	FormatVersion int                `json:"format_version"`
	Arch          string             `json:"arch,omitempty"`
	Spec          *model.Spec        `json:"spec,omitempty"`
	Inputs        []onnx.TensorInfo  `json:"inputs"`
	Image         onnx.ImageInfo     `json:"image"`
	Metadata      *onnx.MetadataInfo `json:"metadata,omitempty"`
	Classes       []string           `json:"classes"`
	WeightsSHA256 string             `json:"weights_sha256,omitempty"`
	Parameters    map[string][]int   `json:"parameters"`
}

// Package is what Export produces.
type Package struct {
	ModelPy  []byte
	Weights  []safetensors.Entry
	Encoding *Encoding
}

// config is the architecture model.py builds, sizes read from the
// parameters. It is embedded in model.py as JSON.
type config struct {
	Arch    string   `json:"arch,omitempty"`
	Input   [3]int   `json:"input"`
	Classes int      `json:"classes"`
	Stages  []stage  `json:"stages,omitempty"`
	Tower   *tower   `json:"tower,omitempty"`
	Blocks  []block  `json:"blocks,omitempty"`
	Concat  bool     `json:"concat,omitempty"`
	Pooling string   `json:"pooling,omitempty"`
	Head    *mlpSpec `json:"head,omitempty"`
}

type stage struct {
	First     int  `json:"first"` // index of the conv in cnn_layers
	In        int  `json:"in"`
	Out       int  `json:"out"`
	BatchNorm bool `json:"batch_norm"`
}

type tower struct {
	Dense      int      `json:"dense"`
	Embeddings [][2]int `json:"embeddings"` // [num ids, dim]
	Indicator  bool     `json:"indicator"`
	MLP        *mlpSpec `json:"mlp,omitempty"`
}

type mlpSpec struct {
	Layers     [][2]int `json:"layers"` // [in, out] per Linear
	Activation string   `json:"activation"`
	Dropout    float64  `json:"dropout"`
	Final      bool     `json:"final"` // the last Linear has no activation
}

type block struct {
	Kind   string `json:"kind"`
	Stage  int    `json:"stage"`
	C      int    `json:"c"`
	D      int    `json:"d"`
	Raw    bool   `json:"raw"`
	Hidden int    `json:"hidden"`
}

// Export builds the package of b.
func Export(b *model.Bundle) (*Package, error) {
	if b == nil || b.Net == nil {
		return nil, errors.New("torch: no model")
	}
	sc, err := onnx.Describe(b)
	if err != nil {
		return nil, fmt.Errorf("torch: %w", err)
	}
	shapes := map[string][]int{}
	var entries []safetensors.Entry
	for _, p := range b.Net.Params() {
		shapes[p.Name] = slices.Clone(p.Var.Shape())
		if p.Integer {
			vals := make([]int64, p.Var.Value.Len())
			for j, v := range p.Var.Value.Data() {
				vals[j] = int64(v)
			}
			entries = append(entries, safetensors.I64(p.Name, vals, p.Var.Shape()...))
		} else {
			entries = append(entries, safetensors.F32(p.Name, p.Var.Value))
		}
	}
	spec := b.Spec.WithDefaults()
	cfg, err := buildConfig(spec, b, shapes)
	if err != nil {
		return nil, err
	}
	enc := &Encoding{
		Format: EncodingFormat, FormatVersion: EncodingVersion, Arch: sc.Arch, Spec: sc.Spec,
		Inputs: sc.Inputs, Image: sc.Image, Metadata: sc.Metadata, Classes: sc.Classes,
		WeightsSHA256: sc.WeightsSHA256, Parameters: shapes,
	}
	py, err := modelPy(cfg, b.Net.Params())
	if err != nil {
		return nil, err
	}
	return &Package{ModelPy: py, Weights: entries, Encoding: enc}, nil
}

func buildConfig(spec model.Spec, b *model.Bundle, shapes map[string][]int) (*config, error) {
	cfg := &config{Arch: spec.Arch, Input: b.Input, Classes: len(b.Classes)}
	if spec.Arch != "" {
		if !slices.Contains(model.SeedArchs, spec.Arch) {
			return nil, fmt.Errorf("torch: unknown preset %q", spec.Arch)
		}
		return cfg, nil
	}
	if spec.Backbone.Kind != model.BackboneSeed {
		return nil, fmt.Errorf("torch: backbone %v is not supported yet (only seed)", spec.Backbone.Kind)
	}
	shape := func(name string, rank int) ([]int, error) {
		s, ok := shapes[name]
		if !ok {
			return nil, fmt.Errorf("torch: the network has no parameter %q", name)
		}
		if len(s) != rank {
			return nil, fmt.Errorf("torch: parameter %q has shape %v, want rank %d", name, s, rank)
		}
		return s, nil
	}
	idx := 0
	for range spec.Backbone.Widths {
		w, err := shape(fmt.Sprintf("cnn_layers.%d.weight", idx), 4)
		if err != nil {
			return nil, err
		}
		st := stage{First: idx, In: w[1], Out: w[0], BatchNorm: spec.Backbone.BatchNorm}
		cfg.Stages = append(cfg.Stages, st)
		idx += 3
		if st.BatchNorm {
			idx++
		}
	}
	for _, f := range spec.Fusion {
		switch f.Kind {
		case fusion.KindNone:
		case fusion.KindConcat:
			cfg.Concat = true
		case fusion.KindScaleBias, fusion.KindFiLM:
			for _, s := range f.Stages {
				p := fmt.Sprintf("%v.%d", f.Kind, s)
				bl := block{Kind: f.Kind.String(), Stage: s, Raw: f.Options.Raw}
				gen := p + ".scale_layer.weight"
				if f.Kind == fusion.KindFiLM {
					gen = p + ".gamma_layer.weight"
				}
				w, err := shape(gen, 2)
				if err != nil {
					return nil, err
				}
				bl.C, bl.D = w[0], w[1]
				if h, ok := shapes[p+".hidden_layer.weight"]; ok {
					bl.Hidden, bl.D = h[0], h[1]
				}
				cfg.Blocks = append(cfg.Blocks, bl)
			}
		default:
			return nil, fmt.Errorf("torch: fusion %v is not supported yet (only none, concat, scalebias, film)", f.Kind)
		}
	}
	cfg.Pooling = spec.Head.Pooling.String()
	if spec.UsesMetadata() {
		if b.Schema == nil {
			return nil, errors.New("torch: the model reads metadata but has no metadata schema")
		}
		t := &tower{Dense: b.Schema.Width(), Indicator: spec.ModalityDropout > 0}
		for j := range b.Schema.NumIDs() {
			w, err := shape(fmt.Sprintf("meta_tower.embeddings.%d.weight", j), 2)
			if err != nil {
				return nil, err
			}
			t.Embeddings = append(t.Embeddings, [2]int{w[0], w[1]})
		}
		if len(spec.MetaTower.Hidden) > 0 {
			m, err := mlpLayers("meta_tower.mlp", len(spec.MetaTower.Hidden), false, shape)
			if err != nil {
				return nil, err
			}
			m.Activation, m.Dropout = spec.MetaTower.Activation.String(), spec.MetaTower.Dropout
			t.MLP = m
		}
		cfg.Tower = t
	}
	h, err := mlpLayers("head", len(spec.Head.Hidden), true, shape)
	if err != nil {
		return nil, err
	}
	h.Activation, h.Dropout = spec.Head.Activation.String(), spec.Head.Dropout
	cfg.Head = h
	return cfg, nil
}

func mlpLayers(prefix string, hidden int, final bool, shape func(string, int) ([]int, error)) (*mlpSpec, error) {
	m := &mlpSpec{Final: final}
	n := hidden
	if final {
		n++
	}
	for i := range n {
		w, err := shape(fmt.Sprintf("%s.%d.weight", prefix, 3*i), 2)
		if err != nil {
			return nil, err
		}
		m.Layers = append(m.Layers, [2]int{w[1], w[0]})
	}
	return m, nil
}

// Save writes the package of b into dir (created if needed).
func Save(dir string, b *model.Bundle) (*Package, error) {
	pkg, err := Export(b)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("torch: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ModelFile), pkg.ModelPy, 0o644); err != nil {
		return nil, fmt.Errorf("torch: %w", err)
	}
	if err := safetensors.WriteFile(filepath.Join(dir, WeightsFile), pkg.Weights, map[string]string{"format": "pt"}); err != nil {
		return nil, fmt.Errorf("torch: %w", err)
	}
	js, err := json.MarshalIndent(pkg.Encoding, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("torch: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, EncodingFile), append(js, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("torch: %w", err)
	}
	return pkg, nil
}

// pyString quotes s as a Python string literal (JSON strings are valid
// Python string literals for the ASCII-escaped text json.Marshal writes).
func pyString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func modelPy(cfg *config, params []nn.Param) ([]byte, error) {
	cj, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	var names strings.Builder
	for _, p := range params {
		sh, _ := json.Marshal(p.Var.Shape())
		fmt.Fprintf(&names, "    %s: %s,\n", pyString(p.Name), sh)
	}
	s := strings.Replace(modelTemplate, "@CONFIG@", pyString(string(cj)), 1)
	s = strings.Replace(s, "@PARAMETERS@", names.String(), 1)
	return []byte(s), nil
}

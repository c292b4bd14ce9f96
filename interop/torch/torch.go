// Package torch exports a metacnn model as a self-contained PyTorch package
// (`metacnn export torch`): a directory holding
//
//	model.py              an nn.Module whose state_dict names and shapes are
//	                      metacnn's parameter names and shapes, exactly
//	weights.safetensors   the model's parameters and buffers (F32; I64 for
//	                      num_batches_tracked), read by model.py itself
//	encoding.json         how images and manifest rows become the module's
//	                      inputs and what the logits mean
//	train_ddp.py          a script that fine-tunes the module (TrainFile)
//
// model.py needs only PyTorch (no safetensors package): load_model() builds
// the module, loads the weights strictly and returns it in evaluation mode;
// model(image, metadata=None, ids=None, metadata_missing=None) returns the
// logits, with the inputs described in encoding.json (the same tensors as the
// ONNX export's graph inputs).
//
// Every model metacnn builds is covered: the seed presets, and spec networks
// on either backbone (seed, with or without batch norm; resnet of depth 8
// or 18 with either stem and any width multiplier, with torchvision's
// names) with every fusion kind (none, early, concat, scalebias, film, cbn,
// gate, raw or not, with or without hidden generator layers), any tower,
// head and pooling. In evaluation mode the module computes metacnn's
// logits. In training mode (model.train()) it does what metacnn's training
// forward does: batch norms, conditional ones included, normalise with
// batch statistics and update their running statistics (eps 1e-5, momentum
// 0.1, unbiased variance); dropout drops; modality dropout marks each row
// missing with the spec's probability; and a backbone frozen up to stage k
// (model.BackboneSpec.Freeze) keeps those stages' parameters from requiring
// gradients and their batch norms in evaluation mode. Only the random draws
// differ from metacnn's.
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
	TrainFile    = "train_ddp.py"
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
	TrainPy  []byte
	Weights  []safetensors.Entry
	Encoding *Encoding
}

// config is the architecture model.py builds (CONFIG, embedded as JSON),
// every size read from the parameters' shapes so that the module's
// state_dict has exactly the network's names and shapes. A preset sets
// only Arch, Input and Classes; a spec network sets exactly one of Seed
// and ResNet.
type config struct {
	Arch    string      `json:"arch,omitempty"`
	Input   [3]int      `json:"input"`
	Classes int         `json:"classes"`
	Seed    []seedStage `json:"seed,omitempty"`
	ResNet  *resnet     `json:"resnet,omitempty"`
	// Freeze is model.BackboneSpec.Freeze: the stem and stages 1..Freeze
	// do not train, and their batch norms stay in evaluation mode.
	Freeze int    `json:"freeze,omitempty"`
	Early  bool   `json:"early,omitempty"`
	Tower  *tower `json:"tower,omitempty"`
	// Blocks are the fusion blocks after stages, in the order the network
	// applies them (stage by stage, spec order within a stage).
	Blocks  []block  `json:"blocks,omitempty"`
	Concat  bool     `json:"concat,omitempty"`
	Pooling string   `json:"pooling,omitempty"`
	Head    *mlpSpec `json:"head,omitempty"`
	// ModalityDropout is the fraction of training rows whose metadata the
	// module replaces by missing (model.Spec.ModalityDropout).
	ModalityDropout float64 `json:"modality_dropout,omitempty"`
}

// seedStage is one stage of the seed backbone: cnn_layers.<First>, a conv
// 3x3 pad 1 from In to Out channels, then (with Norm) the batch norm
// cnn_layers.<First+1>, conditional when Cond is set, then ReLU and
// max-pool 2.
type seedStage struct {
	First int   `json:"first"`
	In    int   `json:"in"`
	Out   int   `json:"out"`
	Norm  bool  `json:"norm"`
	Cond  *cond `json:"cond,omitempty"`
}

// cond sizes a conditional batch norm's metadata generator.
type cond struct {
	D      int `json:"d"`      // width of the metadata vector
	Hidden int `json:"hidden"` // width of hidden_layer; 0: none
}

// resnet is the resnet backbone: the stem conv1 (In to Width channels,
// no bias), bn1, ReLU, [max-pool 3x3 stride 2 pad 1], then layer<s> for
// each stage s, a sequence of basic blocks.
type resnet struct {
	In      int            `json:"in"`
	Width   int            `json:"width"`
	Kernel  int            `json:"kernel"`
	Stride  int            `json:"stride"`
	Padding int            `json:"padding"`
	MaxPool bool           `json:"maxpool"`
	Stages  [][]basicBlock `json:"stages"`
}

// basicBlock is torchvision's BasicBlock from In to Out channels; its
// first conv and the downsample (present when the shape changes) have
// stride Stride; bn1 and bn2 are conditional when Cond is set.
type basicBlock struct {
	In         int   `json:"in"`
	Out        int   `json:"out"`
	Stride     int   `json:"stride"`
	Downsample bool  `json:"downsample"`
	Cond       *cond `json:"cond,omitempty"`
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

// block is a fusion block after stage Stage, named <Kind>.<Stage>: C
// channels modulated from a metadata vector of width D.
type block struct {
	Kind   string `json:"kind"` // scalebias, film or gate
	Stage  int    `json:"stage"`
	C      int    `json:"c"`
	D      int    `json:"d"`
	Raw    bool   `json:"raw"`
	Hidden int    `json:"hidden"` // film's hidden_layer width; 0: none
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
	shapes := paramShapes{}
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
	return &Package{ModelPy: py, TrainPy: []byte(trainTemplate), Weights: entries, Encoding: enc}, nil
}

// paramShapes maps the network's parameter names to their shapes.
type paramShapes map[string][]int

// shape returns the shape of parameter name, which must have the given rank.
func (ps paramShapes) shape(name string, rank int) ([]int, error) {
	s, ok := ps[name]
	if !ok {
		return nil, fmt.Errorf("torch: the network has no parameter %q", name)
	}
	if len(s) != rank {
		return nil, fmt.Errorf("torch: parameter %q has shape %v, want rank %d", name, s, rank)
	}
	return s, nil
}

// has reports whether the network has parameter name.
func (ps paramShapes) has(name string) bool { _, ok := ps[name]; return ok }

// buildConfig describes the network of b (spec with defaults applied) for
// model.py, reading sizes from ps; an error names a parameter the spec
// implies but the network lacks, or a kind this package does not know.
func buildConfig(spec model.Spec, b *model.Bundle, ps paramShapes) (*config, error) {
	cfg := &config{Arch: spec.Arch, Input: b.Input, Classes: len(b.Classes)}
	if spec.Arch != "" {
		if !slices.Contains(model.SeedArchs, spec.Arch) {
			return nil, fmt.Errorf("torch: unknown preset %q", spec.Arch)
		}
		return cfg, nil
	}
	cbn := map[int]bool{}
	for _, f := range spec.Fusion {
		switch f.Kind {
		case fusion.KindNone, fusion.KindScaleBias, fusion.KindFiLM, fusion.KindGate:
		case fusion.KindEarly:
			cfg.Early = true
		case fusion.KindConcat:
			cfg.Concat = true
		case fusion.KindCBN:
			for _, s := range f.Stages {
				cbn[s] = true
			}
		default:
			return nil, fmt.Errorf("torch: fusion %v is not supported", f.Kind)
		}
	}
	var err error
	switch spec.Backbone.Kind {
	case model.BackboneSeed:
		cfg.Seed, err = seedStages(spec.Backbone, cbn, ps)
	case model.BackboneResNet:
		cfg.ResNet, err = resnetConfig(spec.Backbone, cbn, ps)
	default:
		err = fmt.Errorf("torch: backbone %v is not supported", spec.Backbone.Kind)
	}
	if err != nil {
		return nil, err
	}
	cfg.Freeze = spec.Backbone.Freeze
	if cfg.Blocks, err = stageBlocks(spec.Fusion, ps); err != nil {
		return nil, err
	}
	cfg.Pooling = spec.Head.Pooling.String()
	if spec.UsesMetadata() {
		if cfg.Tower, err = towerConfig(spec, b, ps); err != nil {
			return nil, err
		}
		cfg.ModalityDropout = spec.ModalityDropout
	}
	h, err := mlpLayers("head", len(spec.Head.Hidden), true, ps)
	if err != nil {
		return nil, err
	}
	h.Activation, h.Dropout = spec.Head.Activation.String(), spec.Head.Dropout
	cfg.Head = h
	return cfg, nil
}

// seedStages describes the seed backbone's stages; cbn[s] makes stage s's
// batch norm conditional (adding one when the backbone has none, as
// model.Build does).
func seedStages(bb model.BackboneSpec, cbn map[int]bool, ps paramShapes) ([]seedStage, error) {
	var out []seedStage
	idx := 0
	for s := 1; s <= len(bb.Widths); s++ {
		w, err := ps.shape(fmt.Sprintf("cnn_layers.%d.weight", idx), 4)
		if err != nil {
			return nil, err
		}
		st := seedStage{First: idx, In: w[1], Out: w[0], Norm: bb.BatchNorm || cbn[s]}
		idx += 3 // conv, ReLU, max-pool
		if st.Norm {
			idx++
		}
		if cbn[s] {
			if st.Cond, err = condOf(fmt.Sprintf("cnn_layers.%d", st.First+1), ps); err != nil {
				return nil, err
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// resnetConfig describes the resnet backbone: the stem from bb.Stem, and
// as many basic blocks per stage as the parameters name, the first of
// every stage but the first with stride 2 (torchvision's rule, as
// model.Build applies it).
func resnetConfig(bb model.BackboneSpec, cbn map[int]bool, ps paramShapes) (*resnet, error) {
	w, err := ps.shape("conv1.weight", 4)
	if err != nil {
		return nil, err
	}
	r := &resnet{In: w[1], Width: w[0], Kernel: w[2], Stride: 2, Padding: 3, MaxPool: true}
	if bb.Stem == model.StemSmall {
		r.Stride, r.Padding, r.MaxPool = 1, 1, false
	}
	for s := 1; s <= bb.NumStages(); s++ {
		var blocks []basicBlock
		for i := 0; ; i++ {
			p := fmt.Sprintf("layer%d.%d", s, i)
			if i > 0 && !ps.has(p+".conv1.weight") {
				break
			}
			c, err := ps.shape(p+".conv1.weight", 4)
			if err != nil {
				return nil, err
			}
			bl := basicBlock{In: c[1], Out: c[0], Stride: 1, Downsample: ps.has(p + ".downsample.0.weight")}
			if s > 1 && i == 0 {
				bl.Stride = 2
			}
			if cbn[s] {
				if bl.Cond, err = condOf(p+".bn1", ps); err != nil {
					return nil, err
				}
			}
			blocks = append(blocks, bl)
		}
		r.Stages = append(r.Stages, blocks)
	}
	return r, nil
}

// condOf sizes the metadata generator of the conditional batch norm named
// prefix from its gamma_layer (and hidden_layer, when present).
func condOf(prefix string, ps paramShapes) (*cond, error) {
	_, d, hidden, err := generator(prefix, "gamma_layer", ps)
	if err != nil {
		return nil, err
	}
	return &cond{D: d, Hidden: hidden}, nil
}

// generator returns the channels c and metadata width d of the generator
// layer prefix.layer ([c, d] or [c, hidden]) and the width of
// prefix.hidden_layer ([hidden, d]), 0 when absent.
func generator(prefix, layer string, ps paramShapes) (c, d, hidden int, err error) {
	w, err := ps.shape(prefix+"."+layer+".weight", 2)
	if err != nil {
		return 0, 0, 0, err
	}
	c, d = w[0], w[1]
	if ps.has(prefix + ".hidden_layer.weight") {
		h, err := ps.shape(prefix+".hidden_layer.weight", 2)
		if err != nil {
			return 0, 0, 0, err
		}
		hidden, d = h[0], h[1]
	}
	return c, d, hidden, nil
}

// stageBlocks describes the fusion blocks after stages (scalebias, film,
// gate) in the order model.Net applies them: by stage, then spec order.
func stageBlocks(fs []model.FusionSpec, ps paramShapes) ([]block, error) {
	var out []block
	for _, f := range fs {
		layer := map[fusion.Kind]string{fusion.KindScaleBias: "scale_layer", fusion.KindFiLM: "gamma_layer", fusion.KindGate: "f_layer"}[f.Kind]
		if layer == "" {
			continue
		}
		for _, s := range f.Stages {
			bl := block{Kind: f.Kind.String(), Stage: s, Raw: f.Options.Raw}
			var err error
			if bl.C, bl.D, bl.Hidden, err = generator(fmt.Sprintf("%v.%d", f.Kind, s), layer, ps); err != nil {
				return nil, err
			}
			out = append(out, bl)
		}
	}
	slices.SortStableFunc(out, func(a, b block) int { return a.Stage - b.Stage })
	return out, nil
}

// towerConfig describes the metadata tower.
func towerConfig(spec model.Spec, b *model.Bundle, ps paramShapes) (*tower, error) {
	if b.Schema == nil {
		return nil, errors.New("torch: the model reads metadata but has no metadata schema")
	}
	t := &tower{Dense: b.Schema.Width(), Embeddings: [][2]int{}, Indicator: spec.ModalityDropout > 0}
	for j := range b.Schema.NumIDs() {
		w, err := ps.shape(fmt.Sprintf("meta_tower.embeddings.%d.weight", j), 2)
		if err != nil {
			return nil, err
		}
		t.Embeddings = append(t.Embeddings, [2]int{w[0], w[1]})
	}
	if len(spec.MetaTower.Hidden) > 0 {
		m, err := mlpLayers("meta_tower.mlp", len(spec.MetaTower.Hidden), false, ps)
		if err != nil {
			return nil, err
		}
		m.Activation, m.Dropout = spec.MetaTower.Activation.String(), spec.MetaTower.Dropout
		t.MLP = m
	}
	return t, nil
}

// mlpLayers sizes the Linear layers of the nn.Sequential prefix (Linear,
// activation, Dropout per hidden layer, then with final a last Linear).
func mlpLayers(prefix string, hidden int, final bool, ps paramShapes) (*mlpSpec, error) {
	m := &mlpSpec{Final: final}
	n := hidden
	if final {
		n++
	}
	for i := range n {
		w, err := ps.shape(fmt.Sprintf("%s.%d.weight", prefix, 3*i), 2)
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
	if err := os.WriteFile(filepath.Join(dir, TrainFile), pkg.TrainPy, 0o755); err != nil {
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

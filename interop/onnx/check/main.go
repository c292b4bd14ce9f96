// Command check builds the models that interop/onnx/check/run.sh exports
// and runs in ONNX Runtime: one random model per backbone and fusion kind
// (and option), the seed presets, and a few combinations. For each it
// writes, into -out:
//
//	<name>.mcnn  the model file
//	<name>.json  inputs (image, metadata, ids, metadata_missing: what the
//	             graph takes, encoded from raw rows with the model's schema)
//	             and the logits metacnn computes for them (model.Load, then
//	             Bundle.Predict on the raw rows); for a model whose
//	             training forward draws nothing at random (no dropout, no
//	             modality dropout), also the logits of one training-mode
//	             forward on the same inputs and the batch-norm running
//	             statistics after it (expected_train, train_stats), which
//	             interop/torch/check compares with model.train()
//
// and cases.json listing them. With -torch (default
// testdata/torch/import, written by testdata/torch/gen.py with PyTorch 1.13)
// it adds the three seed presets with the document's PyTorch weights,
// imported as `metacnn import torch` does, on its PNGs and metadata rows;
// their expected logits are PyTorch's own. Every parameter is randomised, including the
// fusion generators that start at zero and the batch-norm running
// statistics, so a block exported wrongly cannot hide behind an identity
// start. All randomness is seeded (-seed).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/metacnn/metacnn/autograd"

	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/fusion"
	"github.com/metacnn/metacnn/meta"
	"github.com/metacnn/metacnn/model"
	"github.com/metacnn/metacnn/nn"
	"github.com/metacnn/metacnn/safetensors"
	"github.com/metacnn/metacnn/tensor"
)

type testCase struct {
	name     string
	backbone string // for the table
	fusion   string // for the table
	arch     string // a seed preset, or "" for spec
	spec     model.Spec
	input    [3]int
	missing  bool // mark some rows as without metadata
}

// caseFile is <name>.json.
type caseFile struct {
	Name     string           `json:"name"`
	Backbone string           `json:"backbone"`
	Fusion   string           `json:"fusion"`
	Model    string           `json:"model"`
	Inputs   map[string]array `json:"inputs"`
	Expected array            `json:"expected"`
	// ExpectedTrain and TrainStats: see the command's documentation.
	ExpectedTrain *array           `json:"expected_train,omitempty"`
	TrainStats    map[string]array `json:"train_stats,omitempty"`
}

type array struct {
	DType string    `json:"dtype"`
	Shape []int     `json:"shape"`
	Data  []float64 `json:"data"`
}

func main() {
	out := flag.String("out", "", "directory to write the models and cases into (required)")
	batch := flag.Int("batch", 5, "rows per case")
	seed := flag.Uint64("seed", 1, "random seed")
	only := flag.String("only", "", "comma-separated case names to build (default all)")
	torch := flag.String("torch", "testdata/torch/import", "directory of the PyTorch import goldens (\"\" to skip)")
	flag.Parse()
	if *out == "" || *batch < 2 {
		fmt.Fprintln(os.Stderr, "usage: check -out DIR [-batch N>=2] [-seed S] [-only a,b]")
		os.Exit(2)
	}
	if err := run(*out, *batch, *seed, *only, *torch); err != nil {
		fmt.Fprintln(os.Stderr, "check:", err)
		os.Exit(1)
	}
}

func cases() []testCase {
	seedBB := model.BackboneSpec{Kind: model.BackboneSeed, Widths: []int{6, 8}}
	resBB := model.BackboneSpec{Kind: model.BackboneResNet, Depth: 8, WidthMultiplier: 1.0 / 16, Stem: model.StemSmall}
	kinds := []struct {
		label string
		f     []model.FusionSpec
	}{
		{"none", []model.FusionSpec{{Kind: fusion.KindNone}}},
		{"early", []model.FusionSpec{{Kind: fusion.KindEarly}}},
		{"concat", []model.FusionSpec{{Kind: fusion.KindConcat}}},
		{"scalebias", []model.FusionSpec{{Kind: fusion.KindScaleBias}}},
		{"scalebias-raw", []model.FusionSpec{{Kind: fusion.KindScaleBias, Options: model.FusionOptions{Raw: true}}}},
		{"film", []model.FusionSpec{{Kind: fusion.KindFiLM}}},
		{"film-raw", []model.FusionSpec{{Kind: fusion.KindFiLM, Options: model.FusionOptions{Raw: true}}}},
		{"film-hidden", []model.FusionSpec{{Kind: fusion.KindFiLM, Options: model.FusionOptions{Hidden: new(7)}}}},
		{"cbn", []model.FusionSpec{{Kind: fusion.KindCBN}}},
		{"cbn-hidden", []model.FusionSpec{{Kind: fusion.KindCBN, Options: model.FusionOptions{Hidden: new(5)}}}},
		{"gate", []model.FusionSpec{{Kind: fusion.KindGate}}},
		{"gate-raw", []model.FusionSpec{{Kind: fusion.KindGate, Options: model.FusionOptions{Raw: true}}}},
	}
	var cs []testCase
	for _, bb := range []struct {
		label string
		spec  model.BackboneSpec
	}{{"seed", seedBB}, {"resnet8", resBB}} {
		for _, k := range kinds {
			cs = append(cs, testCase{
				name: bb.label + "-" + k.label, backbone: bb.label, fusion: k.label,
				spec:  model.Spec{Backbone: bb.spec, Fusion: k.f, MetaTower: model.TowerSpec{Hidden: []int{6}}, Head: model.HeadSpec{Hidden: []int{9}}},
				input: [3]int{3, 16, 16},
			})
		}
	}
	cs = append(cs,
		testCase{
			name: "seed-bn-film12-concat-md", backbone: "seed+bn", fusion: "film@1,2+concat, modality dropout, gelu/silu, dropout",
			spec: model.Spec{
				Backbone:        model.BackboneSpec{Kind: model.BackboneSeed, Widths: []int{5, 6, 7}, BatchNorm: true},
				Fusion:          []model.FusionSpec{{Kind: fusion.KindFiLM, Stages: []int{1, 2}}, {Kind: fusion.KindConcat}},
				MetaTower:       model.TowerSpec{Hidden: []int{8, 6}, Activation: nn.GELU, Dropout: 0.3},
				Head:            model.HeadSpec{Hidden: []int{10}, Activation: nn.SiLU, Dropout: 0.2, Pooling: model.PoolingAvg},
				ModalityDropout: 0.25,
			},
			input: [3]int{3, 16, 12}, missing: true,
		},
		testCase{
			name: "resnet18-imagenet-cbn-gate-film", backbone: "resnet18 imagenet stem", fusion: "cbn@2+gate@3+film@4, leaky_relu/tanh, no tower MLP",
			spec: model.Spec{
				Backbone: model.BackboneSpec{Kind: model.BackboneResNet, Depth: 18, WidthMultiplier: 1.0 / 16},
				Fusion: []model.FusionSpec{{Kind: fusion.KindCBN, Stages: []int{2}}, {Kind: fusion.KindGate, Stages: []int{3}},
					{Kind: fusion.KindFiLM, Stages: []int{4}, Options: model.FusionOptions{Hidden: new(4)}}},
				MetaTower: model.TowerSpec{Hidden: []int{}, EmbeddingDim: 2},
				Head:      model.HeadSpec{Hidden: []int{6}, Activation: nn.LeakyReLU},
			},
			input: [3]int{3, 32, 32},
		},
		testCase{
			name: "resnet8-early-scalebias-sigmoid", backbone: "resnet8 flatten head", fusion: "early+scalebias@1,3, sigmoid tower, 1-channel",
			spec: model.Spec{
				Backbone:  resBB,
				Fusion:    []model.FusionSpec{{Kind: fusion.KindEarly}, {Kind: fusion.KindScaleBias, Stages: []int{1, 3}}},
				MetaTower: model.TowerSpec{Hidden: []int{5}, Activation: nn.Sigmoid},
				Head:      model.HeadSpec{Hidden: []int{}, Pooling: model.PoolingFlatten},
			},
			input: [3]int{1, 8, 8},
		},
	)
	for _, a := range model.SeedArchs {
		cs = append(cs, testCase{name: "preset-" + a, backbone: "seed preset", fusion: strings.TrimPrefix(a, "seed-") + " (document)", arch: a, input: [3]int{3, model.SeedImageSize, model.SeedImageSize}})
	}
	return cs
}

func run(out string, batch int, seed uint64, only, torch string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	want := map[string]bool{}
	for _, n := range strings.Split(only, ",") {
		if n != "" {
			want[n] = true
		}
	}
	var list []string
	for i, c := range cases() {
		if len(want) > 0 && !want[c.name] {
			continue
		}
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		if err := build(out, c, batch, rng); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		list = append(list, c.name)
	}
	if torch != "" {
		names, err := torchCases(out, torch, want)
		if err != nil {
			return fmt.Errorf("%s: %w", torch, err)
		}
		list = append(list, names...)
	}
	if len(list) == 0 {
		return errors.New("no case matches -only")
	}
	return writeJSON(filepath.Join(out, "cases.json"), list)
}

// schemaRows are raw manifest rows for the spec-built models' schema.
func schemaRows(rng *rand.Rand, n int) []map[string]string {
	rows := make([]map[string]string, n)
	for i := range rows {
		r := map[string]string{
			"camera":   []string{"cam1", "cam2", "cam3"}[rng.IntN(3)],
			"operator": []string{"op1", "op2", "op3", "op4", "op5"}[rng.IntN(5)],
			"line":     fmt.Sprint(rng.IntN(4)),
			"hour":     fmt.Sprintf("%.1f", 24*rng.Float64()),
		}
		if rng.IntN(4) > 0 { // sometimes missing: exercises the indicator flag
			r["temperature"] = fmt.Sprintf("%.2f", 15+30*rng.Float64())
		}
		rows[i] = r
	}
	return rows
}

func newSchema(rng *rand.Rand) (*meta.Schema, error) {
	s, err := meta.NewSchema([]meta.ColumnSpec{
		{Name: "camera", Type: meta.Categorical},
		{Name: "operator", Type: meta.Categorical, Encoding: meta.Embedding, Dim: 3},
		{Name: "line", Type: meta.Categorical, Encoding: meta.Index, Cardinality: 4},
		{Name: "temperature", Type: meta.Numeric, Missing: meta.Indicator},
		{Name: "hour", Type: meta.Cyclical, Period: 24},
	})
	if err != nil {
		return nil, err
	}
	return s, s.Fit(schemaRows(rng, 60))
}

func build(out string, c testCase, batch int, rng *rand.Rand) error {
	var (
		net    model.Network
		schema *meta.Schema
		err    error
		img    data.ImageOptions
		rows   []map[string]string
	)
	classes := []string{"ok", "scratch", "dent"}
	if c.arch != "" {
		net, err = model.NewSeed(c.arch, rng)
		classes = nil
		rows = make([]map[string]string, batch)
		for i := range rows {
			rows[i] = map[string]string{
				"operator_id": fmt.Sprint(rng.IntN(10)),
				"temperature": fmt.Sprintf("%.3f", 20+10*rng.NormFloat64()),
				"m1":          fmt.Sprintf("%.4f", rng.NormFloat64()),
				"m2":          fmt.Sprintf("%.4f", rng.NormFloat64()),
			}
		}
	} else {
		if schema, err = newSchema(rng); err != nil {
			return err
		}
		net, err = model.Build(c.spec, c.input, schema.Width(), schema.IDSlots(), len(classes), rng)
		img = data.ImageOptions{Width: c.input[2], Height: c.input[1], Channels: c.input[0]}
		if c.input[0] == 3 {
			img.Mean, img.Std = []float32{0.5, 0.45, 0.4}, []float32{0.25, 0.2, 0.22}
		}
		rows = schemaRows(rng, batch)
		if c.missing {
			rows[1], rows[batch-1] = nil, nil
		}
	}
	if err != nil {
		return err
	}
	randomise(net, rng)
	b, err := model.NewBundle(net, schema, img, classes)
	if err != nil {
		return err
	}
	if !c.spec.UsesMetadata() && c.arch == "" {
		rows = nil
	}
	path := filepath.Join(out, c.name+".mcnn")
	if err := model.Save(path, b); err != nil {
		return err
	}
	// The expected logits come from the model file, as predict would.
	loaded, err := model.Load(path)
	if err != nil {
		return err
	}
	shape := loaded.Input
	images := tensor.New(batch, shape[0], shape[1], shape[2])
	for i := range images.Data() {
		images.Data()[i] = float32(rng.NormFloat64())
	}
	logits, _, err := loaded.Predict(images, rows)
	if err != nil {
		return err
	}

	cf := caseFile{Name: c.name, Backbone: c.backbone, Fusion: c.fusion, Model: c.name + ".mcnn", Inputs: map[string]array{}}
	cf.Inputs["image"] = toArray("float32", images.Shape(), images.Data())
	in := model.Inputs{Images: autograd.Const(images)}
	if rows != nil && loaded.Schema != nil {
		s := loaded.Schema
		k, j := s.Width(), s.NumIDs()
		dense := make([]float32, batch*k)
		ids := make([]float32, batch*j)
		missing := make([]float32, batch)
		for i, r := range rows {
			if r == nil {
				missing[i] = 1
				continue
			}
			e, _, err := s.Encode(r)
			if err != nil {
				return fmt.Errorf("row %d: %w", i, err)
			}
			copy(dense[i*k:], e.Dense)
			for jj, id := range e.IDs {
				ids[i*j+jj] = float32(id)
			}
		}
		if k > 0 {
			cf.Inputs["metadata"] = toArray("float32", []int{batch, k}, dense)
			in.Meta = autograd.Const(tensor.FromSlice(dense, batch, k))
		}
		if j > 0 {
			cf.Inputs["ids"] = toArray("int64", []int{batch, j}, ids)
			in.IDs = make([][]int, j)
			for jj := range in.IDs {
				for i := range batch {
					in.IDs[jj] = append(in.IDs[jj], int(ids[i*j+jj]))
				}
			}
		}
		if loaded.Spec.ModalityDropout > 0 {
			cf.Inputs["metadata_missing"] = toArray("float32", []int{batch, 1}, missing)
		}
	}
	cf.Expected = toArray("float32", logits.Shape(), logits.Data())
	if deterministicTraining(loaded.Spec) {
		trainingStep(&cf, loaded.Net, in)
	}
	return writeJSON(filepath.Join(out, c.name+".json"), cf)
}

// deterministicTraining reports whether the training forward of a network
// built from spec draws nothing at random.
func deterministicTraining(spec model.Spec) bool {
	return spec.ModalityDropout == 0 && spec.MetaTower.Dropout == 0 && spec.Head.Dropout == 0
}

// trainingStep records one training-mode forward of net on in: its logits
// and the running statistics of every batch norm afterwards.
func trainingStep(cf *caseFile, net model.Network, in model.Inputs) {
	net.SetTraining(true)
	defer net.SetTraining(false)
	out := net.Forward(nil, in)
	a := toArray("float32", out.Shape(), out.Value.Data())
	cf.ExpectedTrain = &a
	cf.TrainStats = map[string]array{}
	for _, p := range net.Params() {
		if strings.HasSuffix(p.Name, ".running_mean") || strings.HasSuffix(p.Name, ".running_var") {
			cf.TrainStats[p.Name] = toArray("float32", p.Var.Shape(), p.Var.Value.Data())
		}
	}
}

// randomise redraws every parameter and buffer so that no block is at its
// identity start: zero tensors (fusion generators, biases) get N(0, 0.2²),
// tensors of ones (batch-norm weights) U(0.7, 1.3), running means
// N(0, 0.1²), running variances U(0.5, 1.5); other weights keep their
// random initialisation.
func randomise(net model.Network, rng *rand.Rand) {
	for _, p := range net.Params() {
		if p.Integer {
			continue
		}
		d := p.Var.Value.Data()
		switch {
		case strings.HasSuffix(p.Name, "running_mean"):
			for i := range d {
				d[i] = float32(0.1 * rng.NormFloat64())
			}
		case strings.HasSuffix(p.Name, "running_var"):
			for i := range d {
				d[i] = float32(0.5 + rng.Float64())
			}
		case all(d, 0):
			for i := range d {
				d[i] = float32(0.2 * rng.NormFloat64())
			}
		case all(d, 1):
			for i := range d {
				d[i] = float32(0.7 + 0.6*rng.Float64())
			}
		}
	}
}

func all(d []float32, v float32) bool {
	for _, x := range d {
		if x != v {
			return false
		}
	}
	return true
}

func toArray(dtype string, shape []int, d []float32) array {
	a := array{DType: dtype, Shape: append([]int(nil), shape...), Data: make([]float64, len(d))}
	for i, v := range d {
		a.Data[i] = float64(v)
	}
	return a
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// torchGoldens is testdata/torch/import/cases.json.
type torchGoldens struct {
	Images  []string `json:"images"`
	Presets map[string]struct {
		Weights string              `json:"weights"`
		Rows    []map[string]string `json:"rows"`
		Logits  [][]float64         `json:"logits"`
	} `json:"presets"`
}

// torchCases writes pytorch-<preset> cases: the preset with PyTorch's
// weights, the golden PNGs decoded as the model says, the rows encoded by
// its schema, and PyTorch's logits as the expected output.
func torchCases(out, dir string, want map[string]bool) ([]string, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "cases.json"))
	if err != nil {
		return nil, err
	}
	var g torchGoldens
	if err := json.Unmarshal(raw, &g); err != nil {
		return nil, err
	}
	var names []string
	for _, arch := range model.SeedArchs {
		name := "pytorch-" + arch
		p, ok := g.Presets[arch]
		if !ok || (len(want) > 0 && !want[name]) {
			continue
		}
		w, err := os.ReadFile(filepath.Join(dir, p.Weights))
		if err != nil {
			return nil, err
		}
		sd, err := safetensors.Decode(w)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Weights, err)
		}
		b, err := model.ImportTorch(arch, sd)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.Weights, err)
		}
		if err := model.Save(filepath.Join(out, name+".mcnn"), b); err != nil {
			return nil, err
		}
		n, per := len(g.Images), b.Image.Len()
		images := make([]float32, n*per)
		for i, img := range g.Images {
			if err := data.LoadImage(filepath.Join(dir, img), b.Image, images[i*per:(i+1)*per]); err != nil {
				return nil, err
			}
		}
		cf := caseFile{Name: name, Backbone: "seed preset", Fusion: strings.TrimPrefix(arch, "seed-") + " (PyTorch 1.13 weights and logits)",
			Model: name + ".mcnn", Inputs: map[string]array{}}
		cf.Inputs["image"] = toArray("float32", []int{n, b.Input[0], b.Input[1], b.Input[2]}, images)
		k, j := b.Schema.Width(), b.Schema.NumIDs()
		dense, ids := make([]float32, n*k), make([]float32, n*j)
		for i, r := range p.Rows {
			e, _, err := b.Schema.Encode(r)
			if err != nil {
				return nil, fmt.Errorf("%s row %d: %w", arch, i, err)
			}
			copy(dense[i*k:], e.Dense)
			for jj, id := range e.IDs {
				ids[i*j+jj] = float32(id)
			}
		}
		if k > 0 {
			cf.Inputs["metadata"] = toArray("float32", []int{n, k}, dense)
		}
		if j > 0 {
			cf.Inputs["ids"] = toArray("int64", []int{n, j}, ids)
		}
		var flat []float32
		for _, row := range p.Logits {
			for _, v := range row {
				flat = append(flat, float32(v))
			}
		}
		cf.Expected = toArray("float32", []int{len(p.Logits), len(p.Logits[0])}, flat)
		if err := writeJSON(filepath.Join(out, name+".json"), cf); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	return names, nil
}

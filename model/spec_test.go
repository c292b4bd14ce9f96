package model

import (
	"bytes"
	"strings"
	"testing"

	"github.com/metacnn/metacnn/fusion"
	"gopkg.in/yaml.v3"
)

// decodeSpec decodes the `model:` section of a config as the config loader
// does: yaml.v3 with KnownFields.
func decodeSpec(t *testing.T, src string) (Spec, error) {
	t.Helper()
	var cfg struct {
		Model Spec `yaml:"model"`
	}
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	err := dec.Decode(&cfg)
	return cfg.Model, err
}

const exampleYAML = `
model:
  backbone: {kind: resnet, depth: 18, width_multiplier: 0.5}
  fusion:
    - {kind: film, stages: [3, 4]}
    - kind: cbn
      stages: [4]
      options: {hidden: 32}
    - {kind: concat}
  meta_tower: {hidden: [64], activation: gelu, dropout: 0.1}
  head: {hidden: [128], dropout: 0.2, pooling: avg}
  modality_dropout: 0.1
`

func TestSpecYAML(t *testing.T) {
	s, err := decodeSpec(t, exampleYAML)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.Backbone.Kind != BackboneResNet || s.Backbone.WidthMultiplier != 0.5 || len(s.Fusion) != 3 ||
		s.Fusion[1].Kind != fusion.KindCBN || s.Fusion[1].Options.Hidden == nil || *s.Fusion[1].Options.Hidden != 32 || s.Head.Pooling != PoolingAvg {
		t.Errorf("decoded %+v", s)
	}
	// A spec with its defaults filled in reads back the same.
	d := s.WithDefaults()
	var buf bytes.Buffer
	if err := yaml.NewEncoder(&buf).Encode(map[string]Spec{"model": d}); err != nil {
		t.Fatal(err)
	}
	back, err := decodeSpec(t, buf.String())
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	var b2 bytes.Buffer
	if err := yaml.NewEncoder(&b2).Encode(map[string]Spec{"model": back}); err != nil {
		t.Fatal(err)
	}
	if buf.String() != b2.String() {
		t.Errorf("round trip changed the spec:\n%s\nvs\n%s", buf.String(), b2.String())
	}

	for src, want := range map[string]string{
		"model:\n  backbone: {kind: resnet, depht: 18}\n":       `depht`,
		"model:\n  fusion: [{kind: film, stage: [1]}]\n":        `stage`,
		"model:\n  fusion: [{kind: attention}]\n":               `unknown fusion kind "attention"`,
		"model:\n  backbone: {kind: vgg}\n":                     `unknown backbone kind "vgg"`,
		"model:\n  head: {pooling: max}\n":                      `unknown head pooling "max"`,
		"model:\n  meta_tower: {activation: swish}\n":           `unknown activation "swish"`,
		"model:\n  fusion: [{kind: film, options: {rwa: 1}}]\n": `rwa`,
	} {
		if _, err := decodeSpec(t, src); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want it to mention %s", src, err, want)
		}
	}
}

func TestSpecValidateErrors(t *testing.T) {
	resnet := BackboneSpec{Kind: BackboneResNet}
	cases := []struct {
		name string
		spec Spec
		want string // substring of the error
	}{
		{"unknown preset", Spec{Arch: "seed-attention"}, `model.arch: unknown preset "seed-attention"`},
		{"preset plus fields", Spec{Arch: SeedFiLM, ModalityDropout: 0.1}, "model.arch: preset \"seed-film\" fixes the whole model"},
		{"seed widths empty", Spec{Backbone: BackboneSpec{Widths: []int{}}}, "model.backbone.widths: 0 stages, want 1 to 6"},
		{"seed width zero", Spec{Backbone: BackboneSpec{Widths: []int{32, 0}}}, "model.backbone.widths[1]: width 0"},
		{"seed with depth", Spec{Backbone: BackboneSpec{Depth: 18}}, "model.backbone.depth: applies to the resnet backbone"},
		{"resnet depth", Spec{Backbone: BackboneSpec{Kind: BackboneResNet, Depth: 34}}, "model.backbone.depth: depth 34, want 8 or 18"},
		{"resnet multiplier", Spec{Backbone: BackboneSpec{Kind: BackboneResNet, WidthMultiplier: -1}}, "model.backbone.width_multiplier"},
		{"resnet widths", Spec{Backbone: BackboneSpec{Kind: BackboneResNet, Widths: []int{8}}}, "model.backbone.widths: applies to the seed backbone"},
		{"resnet batch_norm", Spec{Backbone: BackboneSpec{Kind: BackboneResNet, BatchNorm: true}}, "model.backbone.batch_norm"},
		{"bad backbone", Spec{Backbone: BackboneSpec{Kind: 9}}, "model.backbone.kind: invalid backbone kind 9"},
		{"stage out of range seed", Spec{Fusion: []FusionSpec{film(3)}}, "model.fusion[0].stages: stage 3 out of range 1..2"},
		{"stage out of range resnet8", Spec{Backbone: BackboneSpec{Kind: BackboneResNet, Depth: 8}, Fusion: []FusionSpec{film(4)}}, "stage 4 out of range 1..3"},
		{"stage zero", Spec{Backbone: resnet, Fusion: []FusionSpec{film(0)}}, "stage 0 out of range 1..4"},
		{"duplicate stage", Spec{Fusion: []FusionSpec{film(1), film(2, 1)}}, "model.fusion[1].stages: film at stage 1 already given at fusion[0]"},
		{"duplicate default stage", Spec{Fusion: []FusionSpec{film(), film(2)}}, "model.fusion[1].stages: film at stage 2 already given at fusion[0]"},
		{"none combined", Spec{Fusion: []FusionSpec{{Kind: fusion.KindNone}, film()}}, "none (image only) cannot be combined"},
		{"concat twice", Spec{Fusion: []FusionSpec{{Kind: fusion.KindConcat}, {Kind: fusion.KindConcat}}}, "model.fusion[1].kind: concat already given at fusion[0]"},
		{"concat stages", Spec{Fusion: []FusionSpec{{Kind: fusion.KindConcat, Stages: []int{1}}}}, "model.fusion[0].stages: concat has a fixed place"},
		{"early stages", Spec{Fusion: []FusionSpec{{Kind: fusion.KindEarly, Stages: []int{1}}}}, "early has a fixed place"},
		{"bad kind", Spec{Fusion: []FusionSpec{{Kind: 12}}}, "model.fusion[0].kind: invalid fusion kind 12"},
		{"raw cbn", Spec{Fusion: []FusionSpec{{Kind: fusion.KindCBN, Options: FusionOptions{Raw: true}}}}, "model.fusion[0].options.raw: applies to scalebias, film and gate, not cbn"},
		{"hidden gate", Spec{Fusion: []FusionSpec{{Kind: fusion.KindGate, Options: FusionOptions{Hidden: new(8)}}}}, "model.fusion[0].options.hidden: applies to film and cbn, not gate"},
		{"negative hidden", Spec{Fusion: []FusionSpec{{Kind: fusion.KindFiLM, Options: FusionOptions{Hidden: new(-1)}}}}, "options.hidden: -1"},
		{"tower width", Spec{MetaTower: TowerSpec{Hidden: []int{16, 0}}}, "model.meta_tower.hidden[1]: width 0"},
		{"tower dropout", Spec{MetaTower: TowerSpec{Dropout: 1}}, "model.meta_tower.dropout: 1, want a value in [0, 1)"},
		{"tower activation", Spec{MetaTower: TowerSpec{Activation: 99}}, "model.meta_tower.activation: invalid activation 99"},
		{"embedding dim", Spec{MetaTower: TowerSpec{EmbeddingDim: -2}}, "model.meta_tower.embedding_dim: -2"},
		{"head width", Spec{Head: HeadSpec{Hidden: []int{-5}}}, "model.head.hidden[0]: width -5"},
		{"head dropout", Spec{Head: HeadSpec{Dropout: -0.1}}, "model.head.dropout: -0.1"},
		{"head pooling", Spec{Head: HeadSpec{Pooling: 7}}, "model.head.pooling: invalid pooling 7"},
		{"modality dropout range", Spec{Fusion: []FusionSpec{film()}, ModalityDropout: 1.5}, "model.modality_dropout: 1.5, want a value in [0, 1)"},
		{"modality dropout image only", Spec{ModalityDropout: 0.2}, "model.modality_dropout: needs a fusion kind that uses metadata"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.spec.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
	// Every problem is reported, not only the first.
	err := Spec{Backbone: BackboneSpec{Widths: []int{0}}, Head: HeadSpec{Dropout: 2}}.Validate()
	if err == nil || !strings.Contains(err.Error(), "widths[0]") || !strings.Contains(err.Error(), "head.dropout") {
		t.Errorf("error %v, want both problems", err)
	}
	for _, ok := range []Spec{
		{},
		{Arch: SeedConcat},
		{Backbone: resnet, Fusion: []FusionSpec{film(1, 2, 3, 4), {Kind: fusion.KindCBN, Stages: []int{2, 4}}, {Kind: fusion.KindGate}, {Kind: fusion.KindEarly}, {Kind: fusion.KindConcat}}, ModalityDropout: 0.3},
		{Fusion: []FusionSpec{{Kind: fusion.KindNone}}},
	} {
		if err := ok.Validate(); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
}

func TestSpecDefaults(t *testing.T) {
	d := Spec{Fusion: []FusionSpec{film()}}.WithDefaults()
	if d.Backbone.Kind != BackboneSeed || len(d.Backbone.Widths) != 2 || d.Fusion[0].Stages[0] != 2 ||
		d.Head.Pooling != PoolingFlatten || d.Head.Hidden[0] != 128 || d.MetaTower.Hidden[0] != 64 {
		t.Errorf("seed defaults: %+v", d)
	}
	r := Spec{Backbone: BackboneSpec{Kind: BackboneResNet}, Fusion: []FusionSpec{film()}}.WithDefaults()
	if r.Backbone.Depth != 18 || r.Backbone.WidthMultiplier != 1 || r.Backbone.Stem != StemImageNet ||
		r.Fusion[0].Stages[0] != 4 || r.Head.Pooling != PoolingAvg {
		t.Errorf("resnet defaults: %+v", r)
	}
	if err := d.Validate(); err != nil {
		t.Error(err)
	}
}

func film(stages ...int) FusionSpec { return FusionSpec{Kind: fusion.KindFiLM, Stages: stages} }

// TestFiLMHiddenDefault: film without raw gets a hidden generator layer by
// default (so it is not the same model as scalebias); an explicit 0, raw
// film and cbn keep none.
func TestFiLMHiddenDefault(t *testing.T) {
	s := Spec{Fusion: []FusionSpec{
		{Kind: fusion.KindFiLM},
		{Kind: fusion.KindFiLM, Stages: []int{1}, Options: FusionOptions{Hidden: new(0)}},
		{Kind: fusion.KindScaleBias},
		{Kind: fusion.KindCBN},
	}}.WithDefaults()
	raw := Spec{Fusion: []FusionSpec{{Kind: fusion.KindFiLM, Options: FusionOptions{Raw: true}}}}.WithDefaults()
	hidden := func(f FusionSpec) int {
		if f.Options.Hidden == nil {
			return 0
		}
		return *f.Options.Hidden
	}
	if got := hidden(s.Fusion[0]); got != DefaultFiLMHidden {
		t.Errorf("film hidden %d, want %d", got, DefaultFiLMHidden)
	}
	for i, f := range []FusionSpec{s.Fusion[1], s.Fusion[2], s.Fusion[3], raw.Fusion[0]} {
		if got := hidden(f); got != 0 {
			t.Errorf("case %d (%v): hidden %d, want 0", i, f.Kind, got)
		}
	}
	net, err := Build(s, [3]int{3, 16, 16}, 4, nil, 2, testRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range net.Params() {
		if strings.Contains(p.Name, "hidden_layer") {
			names = append(names, p.Name)
		}
	}
	if len(names) != 2 {
		t.Errorf("hidden generator parameters %v, want the default film's weight and bias", names)
	}
}

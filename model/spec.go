package model

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"

	"github.com/metacnn/metacnn/fusion"
	"github.com/metacnn/metacnn/nn"
)

// Spec is the `model:` section of a config: which backbone extracts image
// features, where the metadata enters (fusion), how the metadata vector is
// made (meta_tower) and how logits are made (head). The zero value is valid:
// the seed backbone, image only, with the defaults documented on each field.
// Build turns a Spec into a network; WithDefaults shows every default
// filled in. The YAML key of each field is in its tag; a caller decoding
// with yaml.v3's KnownFields gets an error naming any unknown key.
//
//	model:
//	  backbone: {kind: resnet, depth: 18, width_multiplier: 0.5}
//	  fusion:
//	    - {kind: film, stages: [3, 4]}
//	    - {kind: concat}
//	  meta_tower: {hidden: [64], activation: relu, dropout: 0.1}
//	  head: {hidden: [128], dropout: 0.2, pooling: avg}
//	  modality_dropout: 0.1
type Spec struct {
	// Arch, when set, names a fixed preset (seed-concat, seed-scalebias,
	// seed-film: the reference document's models, see NewSeed); every other
	// field must then be left empty.
	Arch string `yaml:"arch,omitempty" json:"arch,omitempty"`
	// Backbone extracts image features; see BackboneSpec.
	Backbone BackboneSpec `yaml:"backbone,omitempty" json:"backbone,omitempty"`
	// Fusion lists where and how the metadata enters. Empty, or a single
	// {kind: none}, means image only.
	Fusion []FusionSpec `yaml:"fusion,omitempty" json:"fusion,omitempty"`
	// MetaTower makes the metadata vector the fusion blocks share.
	MetaTower TowerSpec `yaml:"meta_tower,omitempty" json:"meta_tower,omitempty"`
	// Head maps pooled image features (and, with concat, the metadata
	// vector) to logits.
	Head HeadSpec `yaml:"head,omitempty" json:"head,omitempty"`
	// ModalityDropout is the fraction, in [0, 1), of training rows whose
	// metadata is replaced by "missing", so the model learns to do without
	// it. Missing means, exactly: the tower's input row (the dense encoded
	// metadata followed by the embeddings of the id columns) is set to zeros,
	// and one extra input, the missing indicator, is 1 (it is 0 for rows
	// with metadata). Zeros are the encoder's value for a standardised
	// numeric at its training mean, for "no category" in a one-hot group and
	// for the per-column missing flags; the indicator is what tells the
	// model the whole row is absent. The indicator input exists only when
	// ModalityDropout > 0. At serving time a row without metadata is marked
	// with Net.ForwardMissing, which applies the same substitution. 0 (the
	// default) turns it off. Not allowed without metadata fusion.
	ModalityDropout float64 `yaml:"modality_dropout,omitempty" json:"modality_dropout,omitempty"`
}

// BackboneKind names a backbone. The zero value is unset and means seed.
type BackboneKind int

// Backbones.
const (
	BackboneUnset  BackboneKind = iota
	BackboneSeed                // the reference document's CNN: per stage conv 3x3 pad 1, [batch norm], ReLU, max-pool 2
	BackboneResNet              // torchvision-style ResNet of basic blocks with batch norm
)

var backboneNames = []string{"", "seed", "resnet"}

func (k BackboneKind) String() string { return enumString("BackboneKind", int(k), backboneNames) }

// ParseBackbone parses "seed" or "resnet".
func ParseBackbone(s string) (BackboneKind, error) {
	i, err := parseEnum("backbone kind", s, backboneNames)
	return BackboneKind(i), err
}

// MarshalText implements encoding.TextMarshaler.
func (k BackboneKind) MarshalText() ([]byte, error) {
	return marshalEnum("BackboneKind", int(k), backboneNames)
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *BackboneKind) UnmarshalText(b []byte) error {
	v, err := ParseBackbone(string(b))
	*k = v
	return err
}

// StemKind is the ResNet stem. The zero value is unset and means imagenet.
type StemKind int

// ResNet stems.
const (
	StemUnset StemKind = iota
	// StemImageNet is torchvision's: conv 7x7 stride 2 pad 3, batch norm,
	// ReLU, max-pool 3x3 stride 2 pad 1 (a quarter of the resolution).
	StemImageNet
	// StemSmall keeps the resolution, for small images: conv 3x3 stride 1
	// pad 1, batch norm, ReLU, no max-pool. Its conv1 does not take
	// torchvision weights.
	StemSmall
)

var stemNames = []string{"", "imagenet", "small"}

func (k StemKind) String() string { return enumString("StemKind", int(k), stemNames) }

// ParseStem parses "imagenet" or "small".
func ParseStem(s string) (StemKind, error) {
	i, err := parseEnum("resnet stem", s, stemNames)
	return StemKind(i), err
}

// MarshalText implements encoding.TextMarshaler.
func (k StemKind) MarshalText() ([]byte, error) { return marshalEnum("StemKind", int(k), stemNames) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *StemKind) UnmarshalText(b []byte) error {
	v, err := ParseStem(string(b))
	*k = v
	return err
}

// PoolingKind is how the head reduces the last feature map. The zero value
// is unset: flatten for the seed backbone (as the document does), avg for
// resnet.
type PoolingKind int

// Poolings.
const (
	PoolingUnset   PoolingKind = iota
	PoolingFlatten             // [N, C, H, W] -> [N, C·H·W]; fixes the input size
	PoolingAvg                 // global average: [N, C, H, W] -> [N, C]
)

var poolingNames = []string{"", "flatten", "avg"}

func (k PoolingKind) String() string { return enumString("PoolingKind", int(k), poolingNames) }

// ParsePooling parses "flatten" or "avg".
func ParsePooling(s string) (PoolingKind, error) {
	i, err := parseEnum("head pooling", s, poolingNames)
	return PoolingKind(i), err
}

// MarshalText implements encoding.TextMarshaler.
func (k PoolingKind) MarshalText() ([]byte, error) {
	return marshalEnum("PoolingKind", int(k), poolingNames)
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *PoolingKind) UnmarshalText(b []byte) error {
	v, err := ParsePooling(string(b))
	*k = v
	return err
}

// BackboneSpec selects and sizes the image feature extractor. Keys of the
// other kind must be left at their zero value.
type BackboneSpec struct {
	// Kind is seed (default) or resnet.
	Kind BackboneKind `yaml:"kind,omitempty" json:"kind,omitempty"`

	// Widths (seed) are the output channels of each stage; default [32, 64],
	// the document's. One stage per entry, 1 to 6 stages.
	Widths []int `yaml:"widths,omitempty" json:"widths,omitempty"`
	// BatchNorm (seed) adds batch norm after each convolution.
	BatchNorm bool `yaml:"batch_norm,omitempty" json:"batch_norm,omitempty"`

	// Depth (resnet) is 18 (default: torchvision's resnet18, stages of
	// 2, 2, 2, 2 basic blocks at 64, 128, 256, 512 channels) or 8 (three
	// stages of one block at 64, 128, 256: the stem, six block convolutions
	// and the classifier make 8 layers).
	Depth int `yaml:"depth,omitempty" json:"depth,omitempty"`
	// WidthMultiplier (resnet) scales every channel count (rounded, at least
	// 1); default 1. Only 1 takes torchvision weights.
	WidthMultiplier float64 `yaml:"width_multiplier,omitempty" json:"width_multiplier,omitempty"`
	// Stem (resnet) is imagenet (default) or small; see StemKind.
	Stem StemKind `yaml:"stem,omitempty" json:"stem,omitempty"`

	// Weights (resnet) names a torchvision ResNet state_dict saved as
	// safetensors (safetensors.torch.save_file(resnet18(weights=...)
	// .state_dict(), path)) that training loads as pretrained backbone
	// weights after building the network (LoadBackboneFile); a config file
	// gives it relative to its own directory. torchvision's fc is skipped;
	// every other tensor must match by name and shape, so depth 18, width
	// multiplier 1 and the imagenet stem take resnet18's weights. Build
	// itself never reads it: a model file records it only as provenance.
	Weights string `yaml:"weights,omitempty" json:"weights,omitempty"`
	// Freeze, 0 (default) to NumStages, freezes the stem and the first
	// Freeze stages: their convolutions and batch norms are not trained
	// (their variables stop requiring gradients, so optimizers never see
	// them) and their batch norms stay in evaluation mode, normalising with
	// the running statistics they came with and never updating them, even
	// while the rest of the network trains. That keeps pretrained features
	// exactly as loaded. The metadata generators of conditional batch norms
	// (cbn) in frozen stages are fusion, not backbone: they keep training.
	// Meant for use with Weights; freezing random weights is allowed.
	Freeze int `yaml:"freeze,omitempty" json:"freeze,omitempty"`
}

// FusionSpec places one kind of fusion.
type FusionSpec struct {
	// Kind is required.
	Kind fusion.Kind `yaml:"kind" json:"kind"`
	// Stages (scalebias, film, gate, cbn) lists the backbone stages, 1 to
	// NumStages, whose output the block conditions (for cbn: whose batch
	// norms become conditional). Empty means the last stage, following the
	// reference document's advice to inject metadata into higher-level
	// feature maps. Must be empty for none, early and concat, which have
	// fixed places (nowhere, the input, before the head).
	Stages []int `yaml:"stages,omitempty" json:"stages,omitempty"`
	// Options tune the blocks; see FusionOptions.
	Options FusionOptions `yaml:"options,omitempty" json:"options,omitempty"`
}

// FusionOptions are fusion.Options as config keys.
type FusionOptions struct {
	// Raw (scalebias, film, gate) selects the reference document's exact
	// form (MetaBlock's for gate) instead of the identity start.
	Raw bool `yaml:"raw,omitempty" json:"raw,omitempty"`
	// Hidden (film, cbn) adds a hidden generator layer Linear + ReLU of
	// this width in front of the γ/β layers; 0 means none. nil (the key
	// left out) means DefaultFiLMHidden for film without raw, so that film
	// is a non-linear function of the metadata and not the same model as
	// scalebias, and none for cbn and raw film (the document's form).
	Hidden *int `yaml:"hidden,omitempty" json:"hidden,omitempty"`
	// WeightDecay (scalebias, film, cbn, gate), when set, replaces
	// train.optimizer.weight_decay for this entry's metadata generators
	// (the γ/β, scale/bias and gate layers; for cbn not the batch norm's
	// own weight and bias), which training puts in an optimizer group of
	// their own; 0 turns decay off for them. nil (the key left out) means
	// the optimizer's weight decay. Not used by Build.
	WeightDecay *float64 `yaml:"weight_decay,omitempty" json:"weight_decay,omitempty"`
}

// TowerSpec shapes the metadata tower: the dense encoded metadata and one
// learned embedding per id column, concatenated, then an MLP (Linear,
// activation, dropout per hidden layer). Its output is the metadata vector
// the fusion blocks share.
type TowerSpec struct {
	// Hidden lists the MLP's layer widths. nil (the key left out) means the
	// default [64]; an explicit empty list (`hidden: []`) means no MLP: the
	// vector is the concatenated input itself. (So marshal a spec after
	// WithDefaults, which never leaves nil, for it to read back the same.)
	Hidden []int `yaml:"hidden" json:"hidden"`
	// Activation after each hidden layer (default relu).
	Activation nn.ActivationKind `yaml:"activation,omitempty" json:"activation,omitempty"`
	// Dropout after each hidden layer, in [0, 1); default 0.
	Dropout float64 `yaml:"dropout,omitempty" json:"dropout,omitempty"`
	// EmbeddingDim is the embedding width of id columns whose metadata spec
	// gives no dim. 0 means fastai's rule of thumb, min(50, round(1.6·n^0.56))
	// for n ids.
	EmbeddingDim int `yaml:"embedding_dim,omitempty" json:"embedding_dim,omitempty"`
}

// HeadSpec shapes the classifier: pooling, then an MLP (Linear, activation,
// dropout per hidden layer), then a Linear to the classes.
type HeadSpec struct {
	// Hidden lists the MLP's layer widths. nil (the key left out) means the
	// default [128] (the document's fc); an explicit empty list means a
	// linear classifier.
	Hidden []int `yaml:"hidden" json:"hidden"`
	// Activation after each hidden layer (default relu).
	Activation nn.ActivationKind `yaml:"activation,omitempty" json:"activation,omitempty"`
	// Dropout after each hidden layer, in [0, 1); default 0.
	Dropout float64 `yaml:"dropout,omitempty" json:"dropout,omitempty"`
	// Pooling is flatten or avg; the default depends on the backbone (see
	// PoolingKind).
	Pooling PoolingKind `yaml:"pooling,omitempty" json:"pooling,omitempty"`
}

// DefaultFiLMHidden is the width of film's hidden generator layer when the
// config leaves options.hidden out.
const DefaultFiLMHidden = 32

// Defaults filled in by WithDefaults.
var (
	DefaultSeedWidths  = []int{32, 64}
	DefaultTowerHidden = []int{64}
	DefaultHeadHidden  = []int{128}
)

// Bounds checked by Validate.
const (
	MaxSeedStages = 6
	maxWidth      = 1 << 14
)

// WithDefaults returns a copy of s with every unset field given its
// documented default. A preset (Arch) is returned unchanged.
func (s Spec) WithDefaults() Spec {
	if s.Arch != "" {
		return s
	}
	b := &s.Backbone
	if b.Kind == BackboneUnset {
		b.Kind = BackboneSeed
	}
	switch b.Kind {
	case BackboneSeed:
		if b.Widths == nil {
			b.Widths = slices.Clone(DefaultSeedWidths)
		}
	case BackboneResNet:
		if b.Depth == 0 {
			b.Depth = 18
		}
		if b.WidthMultiplier == 0 {
			b.WidthMultiplier = 1
		}
		if b.Stem == StemUnset {
			b.Stem = StemImageNet
		}
	}
	s.Fusion = slices.Clone(s.Fusion)
	for i := range s.Fusion {
		f := &s.Fusion[i]
		if f.Kind == fusion.KindFiLM && f.Options.Hidden == nil && !f.Options.Raw {
			f.Options.Hidden = new(DefaultFiLMHidden)
		}
		if f.Kind.AtStage() && len(f.Stages) == 0 {
			if n := s.Backbone.NumStages(); n > 0 {
				f.Stages = []int{n}
			}
		}
	}
	if s.MetaTower.Hidden == nil {
		s.MetaTower.Hidden = slices.Clone(DefaultTowerHidden)
	}
	if s.Head.Hidden == nil {
		s.Head.Hidden = slices.Clone(DefaultHeadHidden)
	}
	if s.Head.Pooling == PoolingUnset {
		s.Head.Pooling = PoolingFlatten
		if b.Kind == BackboneResNet {
			s.Head.Pooling = PoolingAvg
		}
	}
	return s
}

// NumStages returns the number of stages fusion can refer to, defaults
// applied: len(widths) for seed, 4 for resnet 18, 3 for resnet 8; 0 for an
// invalid spec.
func (b BackboneSpec) NumStages() int {
	switch b.Kind {
	case BackboneUnset, BackboneSeed:
		if b.Widths == nil {
			return len(DefaultSeedWidths)
		}
		return len(b.Widths)
	case BackboneResNet:
		switch b.Depth {
		case 0, 18:
			return 4
		case 8:
			return 3
		}
	}
	return 0
}

// UsesMetadata reports whether any fusion entry is other than none.
func (s Spec) UsesMetadata() bool {
	if s.Arch != "" {
		return true // every preset reads metadata
	}
	for _, f := range s.Fusion {
		if f.Kind != fusion.KindNone {
			return true
		}
	}
	return false
}

// Validate checks the spec and returns every problem found, each naming its
// key (model.fusion[1].stages, ...), joined into one error.
func (s Spec) Validate() error {
	var errs []error
	fail := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("model.%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if s.Arch != "" {
		if !slices.Contains(SeedArchs, s.Arch) {
			fail("arch", "unknown preset %q (want one of %s)", s.Arch, strings.Join(SeedArchs, ", "))
		}
		rest := s
		rest.Arch = ""
		if !rest.isZero() {
			fail("arch", "preset %q fixes the whole model: leave backbone, fusion, meta_tower, head and modality_dropout unset", s.Arch)
		}
		return errors.Join(errs...)
	}

	b := s.Backbone
	switch b.Kind {
	case BackboneUnset, BackboneSeed:
		if b.Widths != nil && (len(b.Widths) == 0 || len(b.Widths) > MaxSeedStages) {
			fail("backbone.widths", "%d stages, want 1 to %d", len(b.Widths), MaxSeedStages)
		}
		for i, w := range b.Widths {
			if w <= 0 || w > maxWidth {
				fail(fmt.Sprintf("backbone.widths[%d]", i), "width %d, want 1 to %d", w, maxWidth)
			}
		}
		for key, set := range map[string]bool{"depth": b.Depth != 0, "width_multiplier": b.WidthMultiplier != 0, "stem": b.Stem != StemUnset} {
			if set {
				fail("backbone."+key, "applies to the resnet backbone, not seed")
			}
		}
	case BackboneResNet:
		if b.Depth != 0 && b.Depth != 8 && b.Depth != 18 {
			fail("backbone.depth", "depth %d, want 8 or 18", b.Depth)
		}
		if m := b.WidthMultiplier; m != 0 && !(m >= 1.0/64 && m <= 16) {
			fail("backbone.width_multiplier", "%v, want a value in [1/64, 16]", m)
		}
		if b.Stem < StemUnset || b.Stem > StemSmall {
			fail("backbone.stem", "invalid stem %d", int(b.Stem))
		}
		if b.Widths != nil {
			fail("backbone.widths", "applies to the seed backbone; resnet widths come from depth and width_multiplier")
		}
		if b.BatchNorm {
			fail("backbone.batch_norm", "applies to the seed backbone; resnet always has batch norm")
		}
	default:
		fail("backbone.kind", "invalid backbone kind %d", int(b.Kind))
	}

	stages := b.NumStages()
	if b.Weights != "" && b.Kind != BackboneResNet {
		fail("backbone.weights", "pretrained weights (a torchvision state_dict) load into the resnet backbone, not %v", max(b.Kind, BackboneSeed))
	}
	if b.Freeze < 0 || (stages > 0 && b.Freeze > stages) {
		fail("backbone.freeze", "%d, want 0 (nothing frozen) to %d (the stem and every stage)", b.Freeze, stages)
	}
	seen := map[fusion.Kind]int{}
	at := map[[2]int]int{} // (kind, stage) -> fusion index
	for i, f := range s.Fusion {
		key := fmt.Sprintf("fusion[%d]", i)
		if !f.Kind.Valid() {
			fail(key+".kind", "invalid fusion kind %d", int(f.Kind))
			continue
		}
		if j, ok := seen[f.Kind]; ok && !f.Kind.AtStage() {
			fail(key+".kind", "%v already given at fusion[%d]", f.Kind, j)
		}
		seen[f.Kind] = i
		if f.Kind == fusion.KindNone && len(s.Fusion) > 1 {
			fail(key+".kind", "none (image only) cannot be combined with other fusion entries")
		}
		if !f.Kind.AtStage() && len(f.Stages) > 0 {
			fail(key+".stages", "%v has a fixed place; stages apply to scalebias, film, cbn and gate", f.Kind)
		}
		sts := f.Stages
		if len(sts) == 0 && f.Kind.AtStage() && stages > 0 {
			sts = []int{stages} // the default, as WithDefaults fills it
		}
		for _, st := range sts {
			if stages > 0 && (st < 1 || st > stages) {
				fail(key+".stages", "stage %d out of range 1..%d for this backbone", st, stages)
				continue
			}
			if j, ok := at[[2]int{int(f.Kind), st}]; ok {
				fail(key+".stages", "%v at stage %d already given at fusion[%d]", f.Kind, st, j)
			}
			at[[2]int{int(f.Kind), st}] = i
		}
		o := f.Options
		if o.Raw && f.Kind != fusion.KindScaleBias && f.Kind != fusion.KindFiLM && f.Kind != fusion.KindGate {
			fail(key+".options.raw", "applies to scalebias, film and gate, not %v", f.Kind)
		}
		if h := o.Hidden; h != nil {
			if *h < 0 || *h > maxWidth {
				fail(key+".options.hidden", "%d, want 0 to %d", *h, maxWidth)
			} else if f.Kind != fusion.KindFiLM && f.Kind != fusion.KindCBN {
				fail(key+".options.hidden", "applies to film and cbn, not %v", f.Kind)
			}
		}
		if wd := o.WeightDecay; wd != nil {
			if !f.Kind.AtStage() {
				fail(key+".options.weight_decay", "applies to scalebias, film, cbn and gate (the blocks with metadata generators), not %v", f.Kind)
			} else if !(*wd >= 0) || math.IsInf(*wd, 0) {
				fail(key+".options.weight_decay", "%g, want a finite value >= 0", *wd)
			}
		}
	}

	checkMLP := func(key string, hidden []int, act nn.ActivationKind, dropout float64) {
		for i, h := range hidden {
			if h <= 0 || h > maxWidth {
				fail(fmt.Sprintf("%s.hidden[%d]", key, i), "width %d, want 1 to %d", h, maxWidth)
			}
		}
		if _, err := nn.ParseActivation(act.String()); err != nil {
			fail(key+".activation", "invalid activation %d", int(act))
		}
		if !(dropout >= 0 && dropout < 1) {
			fail(key+".dropout", "%v, want a value in [0, 1)", dropout)
		}
	}
	checkMLP("meta_tower", s.MetaTower.Hidden, s.MetaTower.Activation, s.MetaTower.Dropout)
	if d := s.MetaTower.EmbeddingDim; d < 0 || d > maxWidth {
		fail("meta_tower.embedding_dim", "%d, want 0 to %d", d, maxWidth)
	}
	checkMLP("head", s.Head.Hidden, s.Head.Activation, s.Head.Dropout)
	if p := s.Head.Pooling; p < PoolingUnset || p > PoolingAvg {
		fail("head.pooling", "invalid pooling %d", int(p))
	}
	if p := s.ModalityDropout; !(p >= 0 && p < 1) {
		fail("modality_dropout", "%v, want a value in [0, 1)", p)
	} else if p > 0 && !s.UsesMetadata() {
		fail("modality_dropout", "needs a fusion kind that uses metadata")
	}
	return errors.Join(errs...)
}

func (s Spec) isZero() bool { return reflect.ValueOf(s).IsZero() }

// enumString, parseEnum and marshalEnum implement the typed enums above;
// index 0 is the unset value.
func enumString(typ string, i int, names []string) string {
	if i > 0 && i < len(names) {
		return names[i]
	}
	if i == 0 {
		return "unset"
	}
	return fmt.Sprintf("%s(%d)", typ, i)
}

func parseEnum(what, s string, names []string) (int, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	for i, n := range names[1:] {
		if n == t {
			return i + 1, nil
		}
	}
	return 0, fmt.Errorf("unknown %s %q (want one of %s)", what, s, strings.Join(names[1:], ", "))
}

func marshalEnum(typ string, i int, names []string) ([]byte, error) {
	if i <= 0 || i >= len(names) {
		return nil, fmt.Errorf("cannot encode %s(%d)", typ, i)
	}
	return []byte(names[i]), nil
}

func roundWidth(base int, mult float64) int { return max(1, int(math.Round(float64(base)*mult))) }

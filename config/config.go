package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/meta"
	"github.com/metacnn/metacnn/model"
)

// MaxFileBytes bounds the size of a config file.
const MaxFileBytes = 4 << 20

// Config is a whole config file. The YAML (and JSON) key of each field is in
// its tag.
type Config struct {
	// Data says where the manifests are and how to read them. Required.
	Data Data `yaml:"data" json:"data"`
	// Metadata lists the metadata columns with their types; empty means
	// image only.
	Metadata meta.Config `yaml:"metadata,omitempty" json:"metadata"`
	// Model is the network; the zero value is the seed backbone, image only.
	Model model.Spec `yaml:"model,omitempty" json:"model"`
	// Train is the training recipe.
	Train Train `yaml:"train,omitempty" json:"train"`

	// Dir is the directory the file was read from; relative paths in Data
	// were resolved against it by Load. Not a key of the file.
	Dir string `yaml:"-" json:"-"`
}

// Data is the `data:` section. Give either Manifest (one table whose split
// column, or a split rule, divides the rows) or Train (and optionally Val
// and Test): separate tables.
type Data struct {
	// Manifest is one CSV or JSON Lines table holding every row.
	Manifest string `yaml:"manifest,omitempty" json:"manifest,omitempty"`
	// Train, Val and Test are separate tables; Train is required when
	// Manifest is not set. Without Val there is no validation (no early
	// stopping, no plateau schedule).
	Train string `yaml:"train,omitempty" json:"train,omitempty"`
	Val   string `yaml:"val,omitempty" json:"val,omitempty"`
	Test  string `yaml:"test,omitempty" json:"test,omitempty"`
	// ImageColumn holds the image paths (relative to the manifest's
	// directory, or absolute). Default "path".
	ImageColumn string `yaml:"image_column,omitempty" json:"image_column,omitempty"`
	// LabelColumn holds the class labels. Default "label".
	LabelColumn string `yaml:"label_column,omitempty" json:"label_column,omitempty"`
	// SplitColumn (with Manifest) holds train, val or test per row. Default
	// "split" when Manifest is set and Split.Method is unset or "column".
	SplitColumn string `yaml:"split_column,omitempty" json:"split_column,omitempty"`
	// Split (with Manifest, instead of a split column) divides the rows by
	// a rule.
	Split Split `yaml:"split,omitempty" json:"split,omitempty"`
	// Classes fixes the class list and its order; empty means the distinct
	// labels of the training rows, sorted (numerically when all are
	// integers). A label outside the list is a bad row.
	Classes []string `yaml:"classes,omitempty" json:"classes,omitempty"`
	// Image says how images become tensors.
	Image Image `yaml:"image,omitempty" json:"image,omitempty"`
	// OnBadRow is error (default: stop, listing the first problems) or skip
	// (leave bad rows out, report each).
	OnBadRow string `yaml:"on_bad_row,omitempty" json:"on_bad_row,omitempty"`
	// ImageCheck is how thoroughly images are checked before training:
	// header (default), decode or none.
	ImageCheck string `yaml:"image_check,omitempty" json:"image_check,omitempty"`
}

// Split divides a single manifest by a rule (see data.SplitRows).
type Split struct {
	// Method is column (default: the split column), random, stratified or
	// grouped.
	Method string `yaml:"method,omitempty" json:"method,omitempty"`
	// Val and Test are fractions of the rows, each in [0, 1) with a sum
	// below 1 (random, stratified, grouped); defaults 0.15 and 0.15.
	Val  *float64 `yaml:"val,omitempty" json:"val,omitempty"`
	Test *float64 `yaml:"test,omitempty" json:"test,omitempty"`
	// GroupColumn (grouped) keeps each of its values in one split.
	GroupColumn string `yaml:"group_column,omitempty" json:"group_column,omitempty"`
}

// Image is the `data.image:` section.
type Image struct {
	// Size sets both Width and Height. Default 64 (56 for the seed presets,
	// which fix their input).
	Size   int `yaml:"size,omitempty" json:"size,omitempty"`
	Width  int `yaml:"width,omitempty" json:"width,omitempty"`
	Height int `yaml:"height,omitempty" json:"height,omitempty"`
	// Channels is 1, 3 (default) or 4.
	Channels int `yaml:"channels,omitempty" json:"channels,omitempty"`
	// Resize is stretch (default), fit-pad or center-crop.
	Resize string `yaml:"resize,omitempty" json:"resize,omitempty"`
	// Filter is catmull-rom (default), bilinear or nearest.
	Filter string `yaml:"filter,omitempty" json:"filter,omitempty"`
	// Background is the RGB colour [r, g, b] (0-255) transparency is
	// composited on and fit-pad pads with. Default black.
	Background []int `yaml:"background,omitempty" json:"background,omitempty"`
	// MaxPixels rejects larger images before decoding; 0 means data's default.
	MaxPixels int64 `yaml:"max_pixels,omitempty" json:"max_pixels,omitempty"`
	// Normalize is none (default: pixels/255), dataset (per-channel mean
	// and std of the training images), imagenet, or custom (Mean and Std;
	// giving them implies custom).
	Normalize string    `yaml:"normalize,omitempty" json:"normalize,omitempty"`
	Mean      []float32 `yaml:"mean,omitempty" json:"mean,omitempty"`
	Std       []float32 `yaml:"std,omitempty" json:"std,omitempty"`
}

// Normalisation modes of Image.Normalize.
const (
	NormalizeNone     = "none"
	NormalizeDataset  = "dataset"
	NormalizeImageNet = "imagenet"
	NormalizeCustom   = "custom"
)

// ImageNet channel statistics (torchvision's), for normalize: imagenet.
var (
	ImageNetMean = []float32{0.485, 0.456, 0.406}
	ImageNetStd  = []float32{0.229, 0.224, 0.225}
)

// Train is the `train:` section.
type Train struct {
	// Epochs is the number of passes over the training rows. Default 10,
	// applied only when Steps is 0: Steps replaces it, and giving both is an
	// error.
	Epochs int `yaml:"epochs,omitempty" json:"epochs,omitempty"`
	// Steps, when > 0, is the run's length in optimizer steps (batches)
	// instead of epochs: the run trains ceil(Steps / batches per epoch)
	// epochs and the last one stops at the step budget; that cut epoch is
	// validated, logged and checkpointed like any final epoch. A cosine
	// schedule ends at the budget. Default 0: off (Epochs counts).
	Steps int `yaml:"steps,omitempty" json:"steps,omitempty"`
	// BatchSize default 32.
	BatchSize int `yaml:"batch_size,omitempty" json:"batch_size,omitempty"`
	// DropLast leaves out a last batch smaller than BatchSize.
	DropLast  bool      `yaml:"drop_last,omitempty" json:"drop_last,omitempty"`
	Optimizer Optimizer `yaml:"optimizer,omitempty" json:"optimizer,omitempty"`
	Schedule  Schedule  `yaml:"schedule,omitempty" json:"schedule,omitempty"`
	// ClassWeights weight the loss per class: none (default),
	// inverse-frequency (n / (classes * count), from the training rows), or
	// an explicit list with one weight per class.
	ClassWeights ClassWeights `yaml:"class_weights,omitempty" json:"class_weights,omitempty"`
	// LabelSmoothing in [0, 1); default 0.
	LabelSmoothing float64       `yaml:"label_smoothing,omitempty" json:"label_smoothing,omitempty"`
	EarlyStopping  EarlyStopping `yaml:"early_stopping,omitempty" json:"early_stopping,omitempty"`
	// Seed drives every random choice: initialisation, shuffling,
	// augmentation, dropout, random splits. Default 0 (a seed like any other).
	Seed uint64 `yaml:"seed,omitempty" json:"seed,omitempty"`
	// Workers decode images in parallel; 0 (default) means one per CPU.
	// Results do not depend on it.
	Workers int `yaml:"workers,omitempty" json:"workers,omitempty"`
	// CheckpointEvery saves a checkpoint every this many epochs. Default 1;
	// the last epoch and an interruption always save one.
	CheckpointEvery int `yaml:"checkpoint_every,omitempty" json:"checkpoint_every,omitempty"`
	// LogEvery adds a line to the training log every this many steps;
	// default 0: one line per epoch only.
	LogEvery int `yaml:"log_every,omitempty" json:"log_every,omitempty"`
	// GradClip, when > 0, clips the gradients' joint L2 norm to it.
	GradClip float64 `yaml:"grad_clip,omitempty" json:"grad_clip,omitempty"`
	// Augment transforms training images (never validation ones).
	Augment data.Augment `yaml:"augment,omitempty" json:"augment,omitempty"`
	// Keep is which weights the model file gets: best (default when there is
	// validation data: the epoch with the best early-stopping metric) or last.
	Keep string `yaml:"keep,omitempty" json:"keep,omitempty"`
}

// Optimizer kinds.
const (
	OptimizerSGD   = "sgd"
	OptimizerAdam  = "adam"
	OptimizerAdamW = "adamw"
)

// Optimizer is the `train.optimizer:` section.
type Optimizer struct {
	// Kind is sgd, adam or adamw (default).
	Kind string `yaml:"kind,omitempty" json:"kind,omitempty"`
	// LR is the base learning rate. Default 0.001 (adam, adamw), 0.01 (sgd).
	LR float64 `yaml:"lr,omitempty" json:"lr,omitempty"`
	// WeightDecay: default 0.01 for adamw (decoupled), 0 otherwise (L2).
	WeightDecay *float64 `yaml:"weight_decay,omitempty" json:"weight_decay,omitempty"`
	// Momentum and Nesterov (sgd); default 0.9 and false.
	Momentum *float64 `yaml:"momentum,omitempty" json:"momentum,omitempty"`
	Nesterov bool     `yaml:"nesterov,omitempty" json:"nesterov,omitempty"`
	// Betas (adam, adamw); default [0.9, 0.999].
	Betas []float64 `yaml:"betas,omitempty" json:"betas,omitempty"`
	// Eps (adam, adamw); default 1e-8.
	Eps float64 `yaml:"eps,omitempty" json:"eps,omitempty"`
	// BackboneLR, when > 0, is the base learning rate of the backbone's
	// parameters (model.backbone: the stem and stages, not the cbn
	// generators inside them), which then form an optimizer group of their
	// own; LR stays that of the rest. Schedules scale every group from its
	// own base learning rate (a cosine schedule's min_lr and the plateau
	// schedule's min_lr are the same floor for all). 0 (default): the
	// backbone trains at LR. Not for the seed presets (model.arch).
	BackboneLR float64 `yaml:"backbone_lr,omitempty" json:"backbone_lr,omitempty"`
}

// Schedule kinds.
const (
	ScheduleNone    = "none"
	ScheduleStep    = "step"
	ScheduleCosine  = "cosine"
	SchedulePlateau = "plateau"
)

// Schedule is the `train.schedule:` section: how the learning rate moves.
type Schedule struct {
	// Kind is none (default: constant), step (multiply by Gamma every
	// StepSize epochs), cosine (per step: linear warmup over WarmupEpochs,
	// then a half cosine down to MinLR at the last step) or plateau
	// (multiply by Factor when the early-stopping metric has not improved
	// for Patience epochs).
	Kind string `yaml:"kind,omitempty" json:"kind,omitempty"`
	// StepSize (step) in epochs; default 10.
	StepSize int `yaml:"step_size,omitempty" json:"step_size,omitempty"`
	// Gamma (step) default 0.1.
	Gamma float64 `yaml:"gamma,omitempty" json:"gamma,omitempty"`
	// WarmupEpochs (cosine) may be fractional; default 0.
	WarmupEpochs float64 `yaml:"warmup_epochs,omitempty" json:"warmup_epochs,omitempty"`
	// MinLR (cosine, plateau) default 0.
	MinLR float64 `yaml:"min_lr,omitempty" json:"min_lr,omitempty"`
	// Factor (plateau) default 0.1.
	Factor float64 `yaml:"factor,omitempty" json:"factor,omitempty"`
	// Patience (plateau) default 2.
	Patience *int `yaml:"patience,omitempty" json:"patience,omitempty"`
}

// Validation metrics for early stopping and the plateau schedule.
const (
	MetricValLoss             = "val_loss"
	MetricValAccuracy         = "val_accuracy"
	MetricValBalancedAccuracy = "val_balanced_accuracy"
)

// Metrics lists the metric names.
var Metrics = []string{MetricValLoss, MetricValAccuracy, MetricValBalancedAccuracy}

// EarlyStopping is the `train.early_stopping:` section. The metric is also
// what `keep: best` and the plateau schedule watch.
type EarlyStopping struct {
	// Metric is val_loss (default), val_accuracy or val_balanced_accuracy.
	Metric string `yaml:"metric,omitempty" json:"metric,omitempty"`
	// Patience stops training after this many epochs without improvement;
	// 0 (default) never stops early.
	Patience int `yaml:"patience,omitempty" json:"patience,omitempty"`
	// Mode is min or max; default min for val_loss, max otherwise.
	Mode string `yaml:"mode,omitempty" json:"mode,omitempty"`
	// MinDelta is the least change that counts as an improvement; default 0.
	MinDelta float64 `yaml:"min_delta,omitempty" json:"min_delta,omitempty"`
}

// Class weight modes.
const (
	ClassWeightsNone     = "none"
	ClassWeightsInverse  = "inverse-frequency"
	ClassWeightsExplicit = "explicit"
)

// ClassWeights is `none`, `inverse-frequency`, or a list of weights, one
// per class in class order.
type ClassWeights struct {
	// Mode is none, inverse-frequency or explicit (set by giving a list).
	Mode string
	// Weights (explicit) has one positive weight per class.
	Weights []float64
}

// UnmarshalYAML accepts a scalar mode or a sequence of weights.
func (w *ClassWeights) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*w = ClassWeights{Mode: n.Value}
		return nil
	case yaml.SequenceNode:
		var ws []float64
		if err := n.Decode(&ws); err != nil {
			return err
		}
		*w = ClassWeights{Mode: ClassWeightsExplicit, Weights: ws}
		return nil
	}
	return fmt.Errorf("line %d: class_weights: want none, inverse-frequency or a list of numbers", n.Line)
}

// MarshalYAML writes the mode, or the list for explicit weights.
func (w ClassWeights) MarshalYAML() (any, error) {
	if w.Mode == ClassWeightsExplicit || (w.Mode == "" && w.Weights != nil) {
		return w.Weights, nil
	}
	return w.Mode, nil
}

// IsZero lets omitempty leave an unset value out.
func (w ClassWeights) IsZero() bool { return w.Mode == "" && w.Weights == nil }

// MarshalJSON writes the same shape as MarshalYAML.
func (w ClassWeights) MarshalJSON() ([]byte, error) {
	v, _ := w.MarshalYAML()
	return json.Marshal(v)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (w *ClassWeights) UnmarshalJSON(b []byte) error {
	var ws []float64
	if err := json.Unmarshal(b, &ws); err == nil {
		*w = ClassWeights{Mode: ClassWeightsExplicit, Weights: ws}
		if ws == nil {
			*w = ClassWeights{}
		}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("class_weights: want a string or a list of numbers")
	}
	*w = ClassWeights{Mode: s}
	return nil
}

// Load reads, parses and validates the config file at path and resolves
// its relative paths against the file's directory.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	if len(b) > MaxFileBytes {
		return nil, fmt.Errorf("config: %s: file is over %d bytes", path, MaxFileBytes)
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	c.Resolve(dir)
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse decodes a config from YAML without resolving paths or validating.
// Unknown keys, a wrong type for a key and more than one YAML document are
// errors naming the line.
func Parse(b []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("config: the file is empty")
		}
		return nil, fmt.Errorf("config: %w", rewriteYAMLError(err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("config: more than one YAML document (a stray \"---\"?)")
	}
	return &c, nil
}

// Resolve makes the relative manifest paths and model.backbone.weights
// absolute against dir and records dir.
func (c *Config) Resolve(dir string) {
	c.Dir = dir
	for _, p := range []*string{&c.Data.Manifest, &c.Data.Train, &c.Data.Val, &c.Data.Test, &c.Model.Backbone.Weights} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
}

var yamlUnknownField = regexp.MustCompile(`line (\d+): field (.+) not found in type (\S+)`)

// sections maps Go types to the config keys they decode.
var sections = map[string]string{
	"config.Config":        "the top level (want data, metadata, model, train)",
	"config.Data":          "data",
	"config.Split":         "data.split",
	"config.Image":         "data.image",
	"config.Train":         "train",
	"config.Optimizer":     "train.optimizer",
	"config.Schedule":      "train.schedule",
	"config.EarlyStopping": "train.early_stopping",
	"data.Augment":         "train.augment",
	"meta.Config":          "metadata",
	"meta.ColumnSpec":      "a metadata column",
	"model.Spec":           "model",
	"model.BackboneSpec":   "model.backbone",
	"model.FusionSpec":     "a model.fusion entry",
	"model.FusionOptions":  "model.fusion options",
	"model.TowerSpec":      "model.meta_tower",
	"model.HeadSpec":       "model.head",
}

// rewriteYAMLError turns yaml.v3's "field x not found in type
// config.Train" into "unknown key "x" in train", keeping the line.
func rewriteYAMLError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		if s := yamlUnknownField.FindStringSubmatch(m); s != nil {
			where := sections[s[3]]
			if where == "" {
				where = s[3]
			}
			m = fmt.Sprintf("line %s: unknown key %q in %s", s[1], s[2], where)
		}
		msgs[i] = m
	}
	return errors.New(strings.Join(msgs, "; "))
}

// Marshal writes c as YAML that Parse reads back to the same config.
func Marshal(c *Config) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	cc := *c
	// A nil hidden list means "the default" and would marshal as [] ("none").
	cc.Model = cc.Model.WithDefaults()
	if err := enc.Encode(&cc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// HasValidation reports whether the data section can give validation rows:
// a val manifest, a split column (which may or may not hold val rows), or a
// split rule with a val fraction above 0.
func (d Data) HasValidation() bool {
	switch {
	case d.Manifest == "":
		return d.Val != ""
	case d.Split.Method == "" || d.Split.Method == "column":
		return true
	}
	return d.Split.Val == nil || *d.Split.Val > 0
}

// Policy returns the bad-row policy of OnBadRow.
func (d Data) Policy() data.BadRowPolicy {
	p, err := data.ParseBadRowPolicy(d.OnBadRow)
	if err != nil || p == data.BadRowUnset {
		return data.Stop
	}
	return p
}

func isPreset(s model.Spec) bool { return s.Arch != "" && slices.Contains(model.SeedArchs, s.Arch) }

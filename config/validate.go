package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"

	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/meta"
	"github.com/metacnn/metacnn/model"
)

// Defaults filled in by WithDefaults.
const (
	DefaultImageSize       = 64
	DefaultEpochs          = 10
	DefaultBatchSize       = 32
	DefaultAdamLR          = 1e-3
	DefaultSGDLR           = 1e-2
	DefaultSGDMomentum     = 0.9
	DefaultAdamWDecay      = 0.01
	DefaultStepSize        = 10
	DefaultStepGamma       = 0.1
	DefaultPlateauFactor   = 0.1
	DefaultPlateauPatience = 2
	DefaultSplitFraction   = 0.15
	DefaultSplitColumn     = "split"
	KeepBest               = "best"
	KeepLast               = "last"
)

// WithDefaults returns a copy of c with every unset field given its
// documented default. The model section is left as written (model.Spec
// documents its own defaults).
func (c Config) WithDefaults() Config {
	d := &c.Data
	d.Classes = slices.Clone(d.Classes)
	if d.ImageColumn == "" {
		d.ImageColumn = data.DefaultImageColumn
	}
	if d.LabelColumn == "" {
		d.LabelColumn = data.DefaultLabelColumn
	}
	if d.Manifest != "" {
		if d.Split.Method == "" {
			d.Split.Method = "column"
		}
		if d.Split.Method == "column" {
			if d.SplitColumn == "" {
				d.SplitColumn = DefaultSplitColumn
			}
		} else {
			if d.Split.Val == nil {
				d.Split.Val = new(DefaultSplitFraction)
			}
			if d.Split.Test == nil {
				d.Split.Test = new(DefaultSplitFraction)
			}
		}
	}
	if d.OnBadRow == "" {
		d.OnBadRow = "error"
	}
	if d.ImageCheck == "" {
		d.ImageCheck = "header"
	}
	im := &d.Image
	if im.Size != 0 && im.Width == 0 && im.Height == 0 {
		im.Width, im.Height, im.Size = im.Size, im.Size, 0
	}
	size := DefaultImageSize
	if isPreset(c.Model) {
		size = model.SeedImageSize
	}
	if im.Width == 0 && im.Height == 0 {
		im.Width, im.Height = size, size
	}
	if im.Channels == 0 {
		im.Channels = 3
	}
	if im.Resize == "" {
		im.Resize = "stretch"
	}
	if im.Filter == "" {
		im.Filter = "catmull-rom"
	}
	if im.Normalize == "" {
		im.Normalize = NormalizeNone
		if im.Mean != nil || im.Std != nil {
			im.Normalize = NormalizeCustom
		}
	}

	t := &c.Train
	if t.Epochs == 0 && t.Steps <= 0 {
		t.Epochs = DefaultEpochs
	}
	if t.BatchSize == 0 {
		t.BatchSize = DefaultBatchSize
	}
	o := &t.Optimizer
	if o.Kind == "" {
		o.Kind = OptimizerAdamW
	}
	if o.LR == 0 {
		o.LR = DefaultAdamLR
		if o.Kind == OptimizerSGD {
			o.LR = DefaultSGDLR
		}
	}
	if o.WeightDecay == nil {
		o.WeightDecay = new(0.0)
		if o.Kind == OptimizerAdamW {
			o.WeightDecay = new(DefaultAdamWDecay)
		}
	}
	if o.Kind == OptimizerSGD && o.Momentum == nil {
		o.Momentum = new(DefaultSGDMomentum)
	}
	if o.Kind != OptimizerSGD {
		if o.Betas == nil {
			o.Betas = []float64{0.9, 0.999}
		}
		if o.Eps == 0 {
			o.Eps = 1e-8
		}
	}
	s := &t.Schedule
	if s.Kind == "" {
		s.Kind = ScheduleNone
	}
	switch s.Kind {
	case ScheduleStep:
		if s.StepSize == 0 {
			s.StepSize = DefaultStepSize
		}
		if s.Gamma == 0 {
			s.Gamma = DefaultStepGamma
		}
	case SchedulePlateau:
		if s.Factor == 0 {
			s.Factor = DefaultPlateauFactor
		}
		if s.Patience == nil {
			s.Patience = new(DefaultPlateauPatience)
		}
	}
	if t.ClassWeights.Mode == "" {
		t.ClassWeights.Mode = ClassWeightsNone
		if t.ClassWeights.Weights != nil {
			t.ClassWeights.Mode = ClassWeightsExplicit
		}
	}
	t.ClassWeights.Weights = slices.Clone(t.ClassWeights.Weights)
	e := &t.EarlyStopping
	if e.Metric == "" {
		e.Metric = MetricValLoss
	}
	if e.Mode == "" {
		e.Mode = "max"
		if e.Metric == MetricValLoss {
			e.Mode = "min"
		}
	}
	if t.CheckpointEvery == 0 {
		t.CheckpointEvery = 1
	}
	if t.Keep == "" {
		t.Keep = KeepLast
		if d.HasValidation() {
			t.Keep = KeepBest
		}
	}
	return c
}

// Validate checks the whole config, defaults applied, and returns every
// problem found, each naming its key (train.optimizer.lr), joined into one
// error.
func (c *Config) Validate() error {
	v := c.WithDefaults()
	var errs []error
	fail := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	oneOf := func(key, val string, allowed ...string) {
		if !slices.Contains(allowed, val) {
			fail(key, "%q is not one of %s", val, strings.Join(allowed, ", "))
		}
	}
	fraction := func(key string, x float64, hiOpen bool) {
		if !(x >= 0 && x <= 1) || (hiOpen && x == 1) {
			fail(key, "%g, want a value in [0, 1)", x)
		}
	}

	// data
	d := v.Data
	switch {
	case d.Manifest == "" && d.Train == "":
		fail("data", "give manifest (one table with a split column or split rule) or train (and val, test)")
	case d.Manifest != "" && (d.Train != "" || d.Val != "" || d.Test != ""):
		fail("data.manifest", "give either manifest or train/val/test, not both")
	case d.Manifest == "" && d.SplitColumn != "":
		fail("data.split_column", "applies with data.manifest; separate train/val/test tables are the split")
	case d.Manifest == "" && c.Data.Split != (Split{}):
		fail("data.split", "applies with data.manifest; separate train/val/test tables are the split")
	}
	if d.Manifest != "" {
		oneOf("data.split.method", d.Split.Method, "column", "random", "stratified", "grouped")
		if d.Split.Method == "column" {
			if c.Data.Split.Val != nil || c.Data.Split.Test != nil || d.Split.GroupColumn != "" {
				fail("data.split", "val, test and group_column apply to the random, stratified and grouped methods, not column")
			}
		} else {
			if c.Data.SplitColumn != "" {
				fail("data.split_column", "conflicts with data.split.method %s (which makes its own split)", d.Split.Method)
			}
			fraction("data.split.val", *d.Split.Val, true)
			fraction("data.split.test", *d.Split.Test, true)
			if *d.Split.Val+*d.Split.Test >= 1 {
				fail("data.split", "val %g + test %g leave no training rows", *d.Split.Val, *d.Split.Test)
			}
			if (d.Split.Method == "grouped") != (d.Split.GroupColumn != "") {
				fail("data.split.group_column", "is required by, and only applies to, method grouped")
			}
		}
	}
	cols := map[string]string{}
	for _, kc := range [][2]string{{"data.image_column", d.ImageColumn}, {"data.label_column", d.LabelColumn}, {"data.split_column", d.SplitColumn}} {
		if kc[1] == "" {
			continue
		}
		if other, dup := cols[kc[1]]; dup {
			fail(kc[0], "column %q is also %s", kc[1], other)
		}
		cols[kc[1]] = kc[0]
	}
	seen := map[string]bool{}
	for i, cl := range d.Classes {
		if strings.TrimSpace(cl) == "" {
			fail(fmt.Sprintf("data.classes[%d]", i), "empty class name")
		} else if seen[cl] {
			fail(fmt.Sprintf("data.classes[%d]", i), "class %q listed twice", cl)
		}
		seen[cl] = true
	}
	if len(d.Classes) == 1 {
		fail("data.classes", "one class; want at least 2")
	}
	if _, err := data.ParseBadRowPolicy(d.OnBadRow); err != nil {
		fail("data.on_bad_row", "%q is not one of error, skip", d.OnBadRow)
	}
	if _, err := data.ParseImageCheck(d.ImageCheck); err != nil {
		fail("data.image_check", "%q is not one of header, decode, none", d.ImageCheck)
	}
	im := d.Image
	if c.Data.Image.Size != 0 && (c.Data.Image.Width != 0 || c.Data.Image.Height != 0) {
		fail("data.image.size", "give size (square) or width and height, not both")
	}
	if im.Width <= 0 || im.Height <= 0 || im.Width > 1<<15 || im.Height > 1<<15 {
		fail("data.image", "size %dx%d: want width and height in [1, 32768] (both, or size)", im.Width, im.Height)
	}
	if im.Channels != 1 && im.Channels != 3 && im.Channels != 4 {
		fail("data.image.channels", "%d, want 1, 3 or 4", im.Channels)
	}
	if _, err := data.ParseResizeMode(im.Resize); err != nil {
		fail("data.image.resize", "%q is not one of stretch, fit-pad, center-crop", im.Resize)
	}
	if _, err := data.ParseFilter(im.Filter); err != nil {
		fail("data.image.filter", "%q is not one of catmull-rom, bilinear, nearest", im.Filter)
	}
	if im.Background != nil {
		if len(im.Background) != 3 {
			fail("data.image.background", "%d values, want [r, g, b]", len(im.Background))
		}
		for _, x := range im.Background {
			if x < 0 || x > 255 {
				fail("data.image.background", "%d outside [0, 255]", x)
				break
			}
		}
	}
	if im.MaxPixels < 0 {
		fail("data.image.max_pixels", "%d is negative", im.MaxPixels)
	}
	oneOf("data.image.normalize", im.Normalize, NormalizeNone, NormalizeDataset, NormalizeImageNet, NormalizeCustom)
	switch im.Normalize {
	case NormalizeCustom:
		if len(im.Mean) != im.Channels || len(im.Std) != im.Channels {
			fail("data.image", "normalize custom needs mean and std with one value per channel (%d), got %d and %d", im.Channels, len(im.Mean), len(im.Std))
		}
		for i, s := range im.Std {
			if !(s > 0) || math.IsInf(float64(s), 0) {
				fail(fmt.Sprintf("data.image.std[%d]", i), "%g, want a finite value > 0", s)
			}
		}
		for i, m := range im.Mean {
			if math.IsNaN(float64(m)) || math.IsInf(float64(m), 0) {
				fail(fmt.Sprintf("data.image.mean[%d]", i), "%g is not finite", m)
			}
		}
	case NormalizeImageNet:
		if im.Channels != 3 {
			fail("data.image.normalize", "imagenet needs 3 channels, not %d", im.Channels)
		}
		fallthrough
	default:
		if im.Mean != nil || im.Std != nil {
			fail("data.image", "mean and std apply to normalize custom, not %s", im.Normalize)
		}
	}

	// metadata
	if err := c.Metadata.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("metadata: %w", err))
	}
	for i, s := range c.Metadata.Columns {
		if role, ok := cols[strings.TrimSpace(s.Name)]; ok {
			fail(fmt.Sprintf("metadata.columns[%d]", i), "column %q is %s, not metadata", s.Name, role)
		}
	}

	// model
	if err := c.Model.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Model.UsesMetadata() && len(c.Metadata.Columns) == 0 && !isPreset(c.Model) {
		fail("model.fusion", "uses metadata, but metadata.columns is empty (use fusion [{kind: none}] for image only)")
	}
	if isPreset(c.Model) {
		if im.Width != model.SeedImageSize || im.Height != model.SeedImageSize || im.Channels != 3 {
			fail("data.image", "model.arch %s takes 3x%dx%d images, not %dx%dx%d", c.Model.Arch, model.SeedImageSize, model.SeedImageSize, im.Channels, im.Height, im.Width)
		}
		if want, err := model.SeedColumns(c.Model.Arch); err == nil && len(c.Metadata.Columns) > 0 && !reflect.DeepEqual(c.Metadata.Columns, want) {
			fail("metadata.columns", "model.arch %s reads %s fed raw; leave metadata out or list exactly those columns with scale raw (numeric) or encoding index (categorical)",
				c.Model.Arch, strings.Join(columnNames(want), ", "))
		}
		if len(d.Classes) != 0 && len(d.Classes) != 2 {
			fail("data.classes", "model.arch %s has 2 classes, not %d", c.Model.Arch, len(d.Classes))
		}
	}

	// train
	t := v.Train
	if t.Epochs < 0 {
		fail("train.epochs", "%d is negative", t.Epochs)
	}
	if t.Steps < 0 {
		fail("train.steps", "%d is negative (0: off, train.epochs counts)", t.Steps)
	} else if t.Steps > 0 && c.Train.Epochs != 0 {
		fail("train.steps", "conflicts with train.epochs: give the run's length as train.epochs or train.steps, not both")
	}
	if t.BatchSize < 0 {
		fail("train.batch_size", "%d is negative", t.BatchSize)
	}
	o := t.Optimizer
	oneOf("train.optimizer.kind", o.Kind, OptimizerSGD, OptimizerAdam, OptimizerAdamW)
	if !(o.LR > 0) || math.IsInf(o.LR, 0) {
		fail("train.optimizer.lr", "%g, want a finite value > 0", o.LR)
	}
	if wd := *o.WeightDecay; !(wd >= 0) || math.IsInf(wd, 0) {
		fail("train.optimizer.weight_decay", "%g, want a finite value >= 0", wd)
	}
	if o.BackboneLR != 0 {
		if !(o.BackboneLR > 0) || math.IsInf(o.BackboneLR, 0) {
			fail("train.optimizer.backbone_lr", "%g, want a finite value > 0 (or leave it out: the backbone trains at lr)", o.BackboneLR)
		} else if c.Model.Arch != "" {
			fail("train.optimizer.backbone_lr", "applies to a model built from backbone, fusion and head, not the preset model.arch %s", c.Model.Arch)
		} else if c.Model.Backbone.Freeze > 0 && c.Model.Backbone.Freeze >= c.Model.Backbone.NumStages() {
			fail("train.optimizer.backbone_lr", "model.backbone.freeze %d freezes the whole backbone: nothing would train at backbone_lr", c.Model.Backbone.Freeze)
		}
	}
	if o.Kind == OptimizerSGD {
		if m := *o.Momentum; !(m >= 0 && m < 1) {
			fail("train.optimizer.momentum", "%g, want a value in [0, 1)", m)
		}
		if o.Nesterov && *o.Momentum == 0 {
			fail("train.optimizer.nesterov", "needs momentum > 0")
		}
		if o.Betas != nil || o.Eps != 0 {
			fail("train.optimizer", "betas and eps apply to adam and adamw, not sgd")
		}
	} else {
		if o.Momentum != nil || o.Nesterov {
			fail("train.optimizer", "momentum and nesterov apply to sgd, not %s", o.Kind)
		}
		if len(o.Betas) != 2 {
			fail("train.optimizer.betas", "%d values, want [beta1, beta2]", len(o.Betas))
		} else {
			for i, b := range o.Betas {
				fraction(fmt.Sprintf("train.optimizer.betas[%d]", i), b, true)
			}
		}
		if !(o.Eps > 0) || math.IsInf(o.Eps, 0) {
			fail("train.optimizer.eps", "%g, want a finite value > 0", o.Eps)
		}
	}
	s := t.Schedule
	oneOf("train.schedule.kind", s.Kind, ScheduleNone, ScheduleStep, ScheduleCosine, SchedulePlateau)
	keys := map[string]bool{"step_size": s.StepSize != 0, "gamma": s.Gamma != 0, "warmup_epochs": s.WarmupEpochs != 0,
		"min_lr": s.MinLR != 0, "factor": s.Factor != 0, "patience": s.Patience != nil}
	applies := map[string][]string{ScheduleStep: {"step_size", "gamma"}, ScheduleCosine: {"warmup_epochs", "min_lr"},
		SchedulePlateau: {"factor", "patience", "min_lr"}}
	for _, k := range []string{"step_size", "gamma", "warmup_epochs", "min_lr", "factor", "patience"} {
		if keys[k] && !slices.Contains(applies[s.Kind], k) {
			fail("train.schedule."+k, "does not apply to schedule kind %s", s.Kind)
		}
	}
	switch s.Kind {
	case ScheduleStep:
		if s.StepSize < 0 {
			fail("train.schedule.step_size", "%d, want > 0 epochs", s.StepSize)
		}
		if !(s.Gamma > 0) || math.IsInf(s.Gamma, 0) {
			fail("train.schedule.gamma", "%g, want a finite value > 0", s.Gamma)
		}
	case ScheduleCosine:
		// With train.steps the epoch length is known only from the data:
		// the trainer checks that the warm-up fits the step budget.
		if !(s.WarmupEpochs >= 0) || (t.Steps <= 0 && s.WarmupEpochs > float64(t.Epochs)) {
			fail("train.schedule.warmup_epochs", "%g, want a value in [0, epochs = %d]", s.WarmupEpochs, t.Epochs)
		}
	case SchedulePlateau:
		if !(s.Factor > 0 && s.Factor < 1) {
			fail("train.schedule.factor", "%g, want a value in (0, 1)", s.Factor)
		}
		if *s.Patience < 0 {
			fail("train.schedule.patience", "%d is negative", *s.Patience)
		}
		if !d.HasValidation() {
			fail("train.schedule.kind", "plateau watches a validation metric, but data gives no validation rows")
		}
	}
	if !(s.MinLR >= 0) || math.IsInf(s.MinLR, 0) {
		fail("train.schedule.min_lr", "%g, want a finite value >= 0", s.MinLR)
	}
	cw := t.ClassWeights
	oneOf("train.class_weights", cw.Mode, ClassWeightsNone, ClassWeightsInverse, ClassWeightsExplicit)
	if cw.Mode == ClassWeightsExplicit {
		if len(cw.Weights) == 0 {
			fail("train.class_weights", "an explicit list needs one weight per class")
		}
		if len(d.Classes) > 0 && len(cw.Weights) != len(d.Classes) {
			fail("train.class_weights", "%d weights for %d classes", len(cw.Weights), len(d.Classes))
		}
		for i, w := range cw.Weights {
			if !(w > 0) || math.IsInf(w, 0) {
				fail(fmt.Sprintf("train.class_weights[%d]", i), "%g, want a finite value > 0", w)
			}
		}
	} else if cw.Weights != nil {
		fail("train.class_weights", "weights given with mode %s", cw.Mode)
	}
	fraction("train.label_smoothing", t.LabelSmoothing, true)
	e := t.EarlyStopping
	oneOf("train.early_stopping.metric", e.Metric, Metrics...)
	oneOf("train.early_stopping.mode", e.Mode, "min", "max")
	if e.Patience < 0 {
		fail("train.early_stopping.patience", "%d is negative", e.Patience)
	}
	if !(e.MinDelta >= 0) || math.IsInf(e.MinDelta, 0) {
		fail("train.early_stopping.min_delta", "%g, want a finite value >= 0", e.MinDelta)
	}
	if e.Patience > 0 && !d.HasValidation() {
		fail("train.early_stopping", "needs validation rows (data.val or a split with val)")
	}
	if t.Workers < 0 {
		fail("train.workers", "%d is negative (0 means one per CPU)", t.Workers)
	}
	if t.CheckpointEvery < 0 {
		fail("train.checkpoint_every", "%d is negative", t.CheckpointEvery)
	}
	if t.LogEvery < 0 {
		fail("train.log_every", "%d is negative", t.LogEvery)
	}
	if !(t.GradClip >= 0) || math.IsInf(t.GradClip, 0) {
		fail("train.grad_clip", "%g, want a finite value >= 0 (0: off)", t.GradClip)
	}
	if err := t.Augment.Validate(data.ImageOptions{Width: im.Width, Height: im.Height}); err != nil {
		fail("train.augment", "%s", strings.TrimPrefix(err.Error(), "data: augment "))
	}
	oneOf("train.keep", t.Keep, KeepBest, KeepLast)
	if t.Keep == KeepBest && !d.HasValidation() {
		fail("train.keep", "best needs validation rows; use last")
	}
	return errors.Join(errs...)
}

// ImageOptions returns the image options the data section gives, with the
// normalisation statistics when they are fixed (none, imagenet, custom).
// For normalize: dataset the caller computes Mean and Std from the training
// images (data.ChannelStats).
func (c *Config) ImageOptions() (data.ImageOptions, error) {
	im := c.WithDefaults().Data.Image
	o := data.ImageOptions{Width: im.Width, Height: im.Height, Channels: im.Channels, MaxPixels: im.MaxPixels}
	var err error
	if o.Resize, err = data.ParseResizeMode(im.Resize); err != nil {
		return o, fmt.Errorf("data.image.resize: %w", err)
	}
	if o.Filter, err = data.ParseFilter(im.Filter); err != nil {
		return o, fmt.Errorf("data.image.filter: %w", err)
	}
	for i, x := range im.Background {
		if i < 3 {
			o.Background[i] = uint8(min(max(x, 0), 255))
		}
	}
	switch im.Normalize {
	case NormalizeImageNet:
		o.Mean, o.Std = slices.Clone(ImageNetMean), slices.Clone(ImageNetStd)
	case NormalizeCustom:
		o.Mean, o.Std = slices.Clone(im.Mean), slices.Clone(im.Std)
	}
	return o, o.Validate()
}

// MetaSpecs returns the metadata column specs.
func (c *Config) MetaSpecs() []meta.ColumnSpec { return slices.Clone(c.Metadata.Columns) }

func columnNames(cs []meta.ColumnSpec) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

package train

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/model"
	"github.com/metacnn/metacnn/nn"
	"github.com/metacnn/metacnn/safetensors"
)

// tinyResNet is the backbone of the group tests: a resnet8 at an eighth of
// the width (8, 16, 32 channels) with the small stem, for 8x8 images.
var tinyResNet = model.BackboneSpec{Kind: model.BackboneResNet, Depth: 8, WidthMultiplier: 0.125, Stem: model.StemSmall}

// writePretrained writes, as dir/pretrained.safetensors, the backbone of a
// freshly built tinyResNet (seed 99, its batch-norm statistics moved by
// one training forward) under torchvision's names, with the classifier
// fc.* a torchvision state_dict has; it returns the backbone's values by
// name.
func writePretrained(t *testing.T, dir string) map[string][]float32 {
	t.Helper()
	nw, err := model.Build(model.Spec{Backbone: tinyResNet}, [3]int{3, 8, 8}, 0, nil, 2, rand.New(rand.NewPCG(99, 1)))
	if err != nil {
		t.Fatal(err)
	}
	net := nw.(*model.Net)
	net.Forward(nil, model.Inputs{Images: autograd.RandVar(rand.New(rand.NewPCG(98, 1)), false, 0, 1, 4, 3, 8, 8)})
	vals := map[string][]float32{}
	var es []safetensors.Entry
	for _, p := range net.ParamParts() {
		if p.Part.Kind != model.PartBackbone {
			continue
		}
		vals[p.Name] = slices.Clone(p.Var.Value.Data())
		if p.Integer {
			es = append(es, safetensors.I64(p.Name, []int64{int64(p.Var.Value.Data()[0])}))
		} else {
			es = append(es, safetensors.F32(p.Name, p.Var.Value))
		}
	}
	es = append(es, safetensors.F32("fc.weight", autograd.RandVar(rand.New(rand.NewPCG(1, 1)), false, -1, 1, 1000, 32).Value))
	if err := safetensors.WriteFile(filepath.Join(dir, "pretrained.safetensors"), es, nil); err != nil {
		t.Fatal(err)
	}
	return vals
}

func weightsOf(m nn.Module) map[string][]float32 {
	out := map[string][]float32{}
	for _, p := range m.Params() {
		out[p.Name] = slices.Clone(p.Var.Value.Data())
	}
	return out
}

// groupsConfig trains tinyResNet, pretrained and with its stem and stage 1
// frozen, for exactly one SGD step (40 training rows, one batch), with FiLM
// after stages 2 and 3 whose hidden generator layer is decayed. %s takes
// the optimizer's extra keys and the FiLM options.
const groupsConfig = `
data:
  train: train.csv
  val: val.csv
  image: {size: 8}
metadata:
  columns:
    - {name: m, type: numeric}
    - {name: cam, type: categorical}
model:
  backbone: {kind: resnet, depth: 8, width_multiplier: 0.125, stem: small, weights: pretrained.safetensors, freeze: 1}
  fusion: [{kind: film, stages: [2, 3], options: {hidden: 4%s}}, {kind: concat}]
  meta_tower: {hidden: [8]}
  head: {hidden: [16]}
train:
  epochs: 1
  batch_size: 64
  optimizer: {kind: sgd, lr: 0.05, momentum: 0%s}
  seed: 3
  workers: 2
  keep: last
`

// TestOptimizerGroups trains one SGD step twice from the same pretrained
// start: run A with train.optimizer.backbone_lr a tenth of lr and a weight
// decay of 0.5 on the FiLM generators (fusion[0].options.weight_decay), run
// B with neither. SGD without momentum updates p - lr·(g + wd·p) with the
// same gradient g in both runs, so (a hand computation):
//   - the frozen stem and stage 1 stay exactly the pretrained file's
//     values, batch-norm statistics included, in both runs;
//   - the tower, head and the rest of the default group move identically;
//   - the trainable backbone moves a tenth as far in A;
//   - a FiLM hidden-layer weight ends 0.05·0.5·p0 lower in A than in B.
func TestOptimizerGroups(t *testing.T) {
	dir := t.TempDir()
	writeDataset(t, dir, 50, 4)
	pre := writePretrained(t, dir)
	ctx := context.Background()

	cfgA := loadConfig(t, dir, fmt.Sprintf(groupsConfig, ", weight_decay: 0.5", ", backbone_lr: 0.005"))
	// The run's groups and the network before any step.
	r, err := newRun(ctx, *cfgA, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := groupNames(r.groups), []string{"default", "backbone", "fusion[0]"}; !slices.Equal(got, want) {
		t.Fatalf("groups %q, want %q", got, want)
	}
	if got, want := r.opt.GroupLRs(), []float64{0.05, 0.005, 0.05}; !slices.Equal(got, want) {
		t.Errorf("group LRs %v, want %v", got, want)
	}
	if wds := []float64{r.groups[0].WeightDecay, r.groups[1].WeightDecay, r.groups[2].WeightDecay}; !slices.Equal(wds, []float64{0, 0, 0.5}) {
		t.Errorf("group weight decays %v, want [0 0 0.5]", wds)
	}
	parts := map[string]model.Part{}
	for _, p := range r.net.(*model.Net).ParamParts() {
		parts[p.Name] = p.Part
	}
	frozen := func(name string) bool {
		pt := parts[name]
		return pt.Kind == model.PartBackbone && pt.Stage <= 1
	}
	nTrainable := 0
	for _, p := range r.net.Params() {
		if !p.Buffer && !frozen(p.Name) {
			nTrainable++
		}
	}
	if n := r.groups[0].Params + r.groups[1].Params + r.groups[2].Params; n != nTrainable || r.groups[1].Params == 0 || r.groups[2].Params != 2*6 {
		t.Errorf("group sizes %d, %d, %d; want %d in all (frozen left out), film's 2 blocks x 6 in fusion[0]",
			r.groups[0].Params, r.groups[1].Params, r.groups[2].Params, nTrainable)
	}
	p0 := weightsOf(r.net)
	for name, v := range pre {
		if !slices.Equal(p0[name], v) {
			t.Fatalf("%s was not loaded from the pretrained file", name)
		}
	}

	var logA bytes.Buffer
	a, err := Run(ctx, Options{Config: cfgA, Log: &logA})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Run(ctx, Options{Config: loadConfig(t, dir, fmt.Sprintf(groupsConfig, "", ""))})
	if err != nil {
		t.Fatal(err)
	}
	if a.Summary.Steps != 1 || b.Summary.Steps != 1 {
		t.Fatalf("%d and %d steps, want 1", a.Summary.Steps, b.Summary.Steps)
	}
	wa, wb := weightsOf(a.Network), weightsOf(b.Network)
	var da, db float64 // squared norms of the trainable backbone's steps
	for name, pt := range parts {
		x0, xa, xb := p0[name], wa[name], wb[name]
		switch {
		case frozen(name):
			if !slices.Equal(xa, x0) || !slices.Equal(xb, x0) {
				t.Errorf("frozen %s changed", name)
			}
		case pt.Kind == model.PartBackbone:
			if strings.Contains(name, "running_") || strings.Contains(name, "num_batches") {
				if !slices.Equal(xa, xb) {
					t.Errorf("%s: batch-norm statistics differ between the runs", name)
				}
				continue
			}
			for i := range x0 {
				da += math.Pow(float64(xa[i]-x0[i]), 2)
				db += math.Pow(float64(xb[i]-x0[i]), 2)
			}
		case pt.Kind == model.PartFusion && strings.Contains(name, "hidden_layer.weight"):
			for i := range x0 {
				want := float64(xb[i]) - 0.05*0.5*float64(x0[i])
				if math.Abs(float64(xa[i])-want) > 1e-6 {
					t.Fatalf("%s[%d] = %v, want %v (B's %v less lr·wd·p0)", name, i, xa[i], want, xb[i])
				}
			}
		case pt.Kind != model.PartFusion:
			if !slices.Equal(xa, xb) {
				t.Errorf("%s (%v, default group) differs between the runs", name, pt.Kind)
			}
		}
	}
	if db == 0 {
		t.Fatal("the trainable backbone did not move")
	}
	if ratio := math.Sqrt(da / db); math.Abs(ratio-0.1) > 1e-3 {
		t.Errorf("backbone step at backbone_lr / at lr = %.5f, want 0.1", ratio)
	}
	t.Logf("backbone step ratio %.6f", math.Sqrt(da/db))

	sc := bufio.NewScanner(&logA)
	sc.Scan()
	var start struct {
		Event  string       `json:"event"`
		Groups []paramGroup `json:"optimizer_groups"`
	}
	if err := json.Unmarshal(sc.Bytes(), &start); err != nil || start.Event != "start" || len(start.Groups) != 3 || start.Groups[1].LR != 0.005 {
		t.Errorf("start log line %s: %+v (%v)", sc.Text(), start, err)
	}
}

// groupsResumeConfig exercises every stateful part of a run with optimizer
// groups and modality dropout: pretrained weights, a frozen stem and stage
// 1, conditional batch norm in stage 2 and FiLM after stage 3 (each with a
// weight-decay group), a backbone learning rate, AdamW, a cosine schedule
// with warmup, head dropout, augmentation and modality dropout.
const groupsResumeConfig = `
data:
  train: train.csv
  val: val.csv
  image: {size: 8}
metadata:
  columns:
    - {name: m, type: numeric}
    - {name: cam, type: categorical}
model:
  backbone: {kind: resnet, depth: 8, width_multiplier: 0.125, stem: small, weights: pretrained.safetensors, freeze: 1}
  fusion:
    - {kind: cbn, stages: [2], options: {weight_decay: 0}}
    - {kind: film, stages: [3], options: {weight_decay: 0.1}}
    - {kind: concat}
  meta_tower: {hidden: [8]}
  head: {hidden: [16], dropout: 0.2}
  modality_dropout: 0.3
train:
  epochs: 3
  batch_size: 8
  optimizer: {kind: adamw, lr: 0.01, backbone_lr: 0.001}
  schedule: {kind: cosine, warmup_epochs: 0.5}
  grad_clip: 5
  seed: 11
  workers: 2
  keep: last
  augment: {flip_h: 0.5, noise: 0.01}
`

// TestResumeWithGroupsAndModalityDropoutIsBitExact interrupts runs inside
// epoch 2 and resumes them: the result must equal the uninterrupted run's
// bit for bit, with optimizer groups and modality dropout on (whose draws
// come from the model stream the checkpoint saves), for the resnet config
// above and for the seed config of TestResumeAfterInterruptionIsBitExact
// with modality dropout added.
func TestResumeWithGroupsAndModalityDropoutIsBitExact(t *testing.T) {
	for _, c := range []struct{ name, text string }{
		{"resnet groups", groupsResumeConfig},
		{"seed", strings.Replace(tinyConfig, "  head: {hidden: [16], dropout: 0.2}\n", "  head: {hidden: [16], dropout: 0.2}\n  modality_dropout: 0.4\n", 1)},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(c.text, "modality_dropout") {
				t.Fatal("the config lacks modality dropout")
			}
			dir := t.TempDir()
			writeDataset(t, dir, 50, 1)
			writePretrained(t, dir)
			cfg := loadConfig(t, dir, c.text)
			ctx := context.Background()
			a, err := Run(ctx, Options{Config: cfg})
			if err != nil {
				t.Fatal(err)
			}
			ckpt := filepath.Join(dir, "b.ckpt")
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			const stopAt = 7
			_, err = Run(cctx, Options{Config: cfg, Checkpoint: ckpt, Progress: func(p Progress) {
				if p.Step == stopAt {
					cancel()
				}
			}})
			if !errors.Is(err, ErrInterrupted) {
				t.Fatalf("error %v, want an interruption", err)
			}
			b, err := Resume(ctx, ckpt, Options{Config: cfg, Workers: 1})
			if err != nil {
				t.Fatal(err)
			}
			sameWeights(t, "resumed vs uninterrupted", a.Network, b.Network)
			for i, h := range a.Summary.History {
				if hb := b.Summary.History[i]; *h.ValLoss != *hb.ValLoss || h.LR != hb.LR || h.TrainLoss != hb.TrainLoss {
					t.Errorf("epoch %d: val loss %v vs %v, train loss %v vs %v, lr %v vs %v", i+1, *h.ValLoss, *hb.ValLoss, h.TrainLoss, hb.TrainLoss, h.LR, hb.LR)
				}
			}

			ck, err := ReadCheckpoint(ckpt)
			if err != nil {
				t.Fatal(err)
			}
			if c.name == "resnet groups" {
				var names []string
				for _, g := range ck.Optimizer.Groups {
					names = append(names, g.Name)
				}
				if want := []string{"default", "backbone", "fusion[0]", "fusion[1]"}; !slices.Equal(names, want) {
					t.Errorf("checkpoint optimizer groups %q, want %q", names, want)
				}
			}
		})
	}
}

// TestCheckGroups checks that a checkpoint whose optimizer groups are laid
// out differently is refused with the groups named.
func TestCheckGroups(t *testing.T) {
	gs := []paramGroup{{Name: "default", vars: make([]*autograd.Var, 3)}, {Name: "backbone", vars: make([]*autograd.Var, 2)}}
	ok := optimHeader{Groups: []groupHeader{{Name: "default", Steps: make([]int64, 3)}, {Name: "backbone", Steps: make([]int64, 2)}}}
	if err := checkGroups(ok, gs); err != nil {
		t.Fatal(err)
	}
	old := optimHeader{Groups: []groupHeader{{Steps: make([]int64, 3)}, {Steps: make([]int64, 2)}}}
	if err := checkGroups(old, gs); err != nil {
		t.Errorf("unnamed groups of the same sizes: %v", err)
	}
	for _, c := range []struct {
		h    optimHeader
		want string
	}{
		{optimHeader{Groups: []groupHeader{{Name: "default", Steps: make([]int64, 5)}}}, `has 1 parameter groups ["default"], this run 2 ["default" "backbone"]`},
		{optimHeader{Groups: []groupHeader{{Name: "default", Steps: make([]int64, 3)}, {Name: "fusion[0]", Steps: make([]int64, 2)}}}, `optimizer group 1 is "fusion[0]" in the checkpoint, "backbone" in this run`},
		{optimHeader{Groups: []groupHeader{{Name: "default", Steps: make([]int64, 3)}, {Name: "backbone", Steps: make([]int64, 4)}}}, `optimizer group 1 (backbone) has 4 parameters in the checkpoint, 2 in this run`},
	} {
		err := checkGroups(c.h, gs)
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, errCheckpointMismatch) {
			t.Errorf("error %v, want one containing %q", err, c.want)
		}
	}
}

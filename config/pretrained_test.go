package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPretrainedBackboneKeys checks the keys for a pretrained, partly
// frozen backbone with its own learning rate and a FiLM generator with its
// own weight decay: they parse, validate, and the weights path is resolved
// against the config's directory.
func TestPretrainedBackboneKeys(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	text := `
data: {train: train.csv}
metadata: {columns: [{name: m, type: numeric}]}
model:
  backbone: {kind: resnet, weights: weights/resnet18.safetensors, freeze: 2}
  fusion: [{kind: film, stages: [3, 4], options: {weight_decay: 0}}]
train:
  optimizer: {kind: adamw, lr: 0.001, backbone_lr: 0.0001}
`
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "weights", "resnet18.safetensors"); c.Model.Backbone.Weights != want {
		t.Errorf("weights = %q, want %q (resolved against the config's directory)", c.Model.Backbone.Weights, want)
	}
	if c.Model.Backbone.Freeze != 2 || c.Train.Optimizer.BackboneLR != 0.0001 {
		t.Errorf("freeze %d, backbone_lr %g", c.Model.Backbone.Freeze, c.Train.Optimizer.BackboneLR)
	}
	if wd := c.Model.Fusion[0].Options.WeightDecay; wd == nil || *wd != 0 {
		t.Errorf("fusion[0].options.weight_decay = %v, want 0", wd)
	}
	b, err := Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if wd := back.Model.Fusion[0].Options.WeightDecay; wd == nil || *wd != 0 || back.Train.Optimizer.BackboneLR != 0.0001 || back.Model.Backbone.Freeze != 2 {
		t.Errorf("after a marshal round trip: %+v, %+v", back.Model, back.Train.Optimizer)
	}
}

func TestPretrainedBackboneErrors(t *testing.T) {
	const meta = "metadata: {columns: [{name: m, type: numeric}]}\n"
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"weights on seed", "data: {train: a.csv}\nmodel: {backbone: {weights: w.safetensors}}\n",
			[]string{"model.backbone.weights: pretrained weights (a torchvision state_dict) load into the resnet backbone, not seed"}},
		{"freeze range", "data: {train: a.csv}\nmodel: {backbone: {kind: resnet, freeze: 5}}\n",
			[]string{"model.backbone.freeze: 5, want 0 (nothing frozen) to 4"}},
		{"backbone lr", "data: {train: a.csv}\ntrain: {optimizer: {backbone_lr: -0.1}}\n",
			[]string{"train.optimizer.backbone_lr: -0.1, want a finite value > 0"}},
		{"backbone lr preset", "data: {train: a.csv}\nmodel: {arch: seed-film}\ntrain: {optimizer: {backbone_lr: 0.1}}\n",
			[]string{"train.optimizer.backbone_lr: applies to a model built from backbone, fusion and head, not the preset model.arch seed-film"}},
		{"backbone lr all frozen", "data: {train: a.csv}\nmodel: {backbone: {kind: resnet, depth: 8, freeze: 3}}\ntrain: {optimizer: {backbone_lr: 0.1}}\n",
			[]string{"train.optimizer.backbone_lr: model.backbone.freeze 3 freezes the whole backbone"}},
		{"weight decay", "data: {train: a.csv}\n" + meta + "model: {fusion: [{kind: concat, options: {weight_decay: 0.1}}, {kind: film, options: {weight_decay: -1}}]}\n",
			[]string{"model.fusion[0].options.weight_decay: applies to scalebias, film, cbn and gate", "model.fusion[1].options.weight_decay: -1"}},
	} {
		c, err := Parse([]byte(tc.yaml))
		if err != nil {
			t.Errorf("%s: parse: %v", tc.name, err)
			continue
		}
		err = c.Validate()
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tc.name, err, w)
			}
		}
	}
	if _, err := Parse([]byte("data: {train: a.csv}\nmodel: {backbone: {kind: resnet, wieghts: w}}\n")); err == nil || !strings.Contains(err.Error(), `unknown key "wieghts" in model.backbone`) {
		t.Errorf("misspelt key: %v", err)
	}
}

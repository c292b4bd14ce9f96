package train

import (
	"fmt"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/config"
	"github.com/metacnn/metacnn/model"
	"github.com/metacnn/metacnn/optim"
)

// Optimizer group names.
const (
	groupDefault  = "default"
	groupBackbone = "backbone"
)

// paramGroup is one optimizer group of a run.
type paramGroup struct {
	// Name is default, backbone or fusion[i] (i indexes model.fusion).
	Name string `json:"name"`
	// LR is the group's base learning rate.
	LR float64 `json:"lr"`
	// WeightDecay is the group's weight decay.
	WeightDecay float64 `json:"weight_decay"`
	Params      int     `json:"params"`

	wd   *float64 // nil: the optimizer's
	vars []*autograd.Var
}

// paramGroups splits the trainable parameters of net (those that are not
// buffers and require gradients: frozen backbone stages are left out) into
// optimizer groups. The layout depends only on the config, so a resumed run
// rebuilds the checkpoint's: group 0, default, holds every parameter no
// other group takes, at train.optimizer.lr and weight_decay; then, with
// train.optimizer.backbone_lr, backbone (model.PartBackbone) at that LR;
// then, for each model.fusion[i] that sets options.weight_decay, in order,
// fusion[i]: that entry's metadata generators (model.PartFusion) with that
// weight decay, at lr. Parameters keep the network's order within a group.
// A group may be empty (every parameter it would take frozen). The seed
// presets are one default group.
func paramGroups(o config.Optimizer, net model.Network) []paramGroup {
	gs := []paramGroup{{Name: groupDefault, LR: o.LR, WeightDecay: *o.WeightDecay}}
	n, ok := net.(*model.Net)
	if !ok {
		for _, p := range net.Params() {
			if !p.Buffer && p.Var.RequiresGrad() {
				gs[0].vars = append(gs[0].vars, p.Var)
			}
		}
		gs[0].Params = len(gs[0].vars)
		return gs
	}
	backbone := -1
	if o.BackboneLR > 0 {
		backbone = len(gs)
		gs = append(gs, paramGroup{Name: groupBackbone, LR: o.BackboneLR, WeightDecay: *o.WeightDecay})
	}
	fusionGroup := map[int]int{}
	for i, f := range n.Spec().Fusion {
		if wd := f.Options.WeightDecay; wd != nil {
			fusionGroup[i] = len(gs)
			gs = append(gs, paramGroup{Name: fmt.Sprintf("fusion[%d]", i), LR: o.LR, WeightDecay: *wd, wd: wd})
		}
	}
	for _, p := range n.ParamParts() {
		if p.Buffer || !p.Var.RequiresGrad() {
			continue
		}
		g := 0
		switch p.Part.Kind {
		case model.PartBackbone:
			if backbone > 0 {
				g = backbone
			}
		case model.PartFusion:
			if i, ok := fusionGroup[p.Part.Fusion]; ok {
				g = i
			}
		}
		gs[g].vars = append(gs[g].vars, p.Var)
	}
	for i := range gs {
		gs[i].Params = len(gs[i].vars)
	}
	return gs
}

// optimGroups turns the run's groups into optim's.
func optimGroups(gs []paramGroup) []optim.Group {
	out := make([]optim.Group, len(gs))
	for i, g := range gs {
		out[i] = optim.Group{Params: g.vars, LR: g.LR, WeightDecay: g.wd}
	}
	return out
}

func groupNames(gs []paramGroup) []string {
	names := make([]string, len(gs))
	for i, g := range gs {
		names[i] = g.Name
	}
	return names
}

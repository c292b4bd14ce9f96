package model

import (
	"fmt"

	"github.com/metacnn/metacnn/nn"
)

// PartKind names the part of a Net a parameter belongs to, for giving
// parts their own optimizer settings (a backbone learning rate, a weight
// decay for metadata generators).
type PartKind int

// Parts of a Net.
const (
	// PartBackbone: the stem and stages (convolutions, batch norms; the
	// weight, bias and statistics of conditional batch norms too).
	PartBackbone PartKind = iota + 1
	// PartTower: the metadata tower (meta_tower.*).
	PartTower
	// PartFusion: the blocks after stages (<kind>.<stage>.*) and the
	// metadata generators of conditional batch norms.
	PartFusion
	// PartHead: the classifier (head.*).
	PartHead
)

var partNames = []string{"", "backbone", "meta_tower", "fusion", "head"}

func (k PartKind) String() string { return enumString("PartKind", int(k), partNames) }

// Part says where a parameter of a Net belongs.
type Part struct {
	Kind PartKind
	// Stage is, for the backbone, 0 for the stem and s for stage s; for
	// fusion, the stage the block follows or conditions; 0 otherwise.
	Stage int
	// Fusion is, for fusion, the index in Spec.Fusion of the entry that
	// made the parameter; -1 otherwise.
	Fusion int
}

// ParamPart is a parameter with its part.
type ParamPart struct {
	nn.Param
	Part Part
}

// ParamParts returns Params, in the same order, each with its part.
// Frozen parameters (BackboneSpec.Freeze) are listed; their variables do
// not require gradients.
func (n *Net) ParamParts() []ParamPart {
	var out []ParamPart
	for _, p := range n.bb.parts() {
		pt := Part{Kind: PartBackbone, Stage: p.stage, Fusion: -1}
		if p.gen {
			i, ok := n.cbnOf[p.stage]
			if !ok {
				panic(fmt.Sprintf("model: %s is a cbn generator at stage %d, which no cbn entry conditions", p.Name, p.stage))
			}
			pt = Part{Kind: PartFusion, Stage: p.stage, Fusion: i}
		}
		out = append(out, ParamPart{Param: p.Param, Part: pt})
	}
	if n.tower != nil {
		for _, p := range nn.Prefixed("meta_tower", n.tower.params()) {
			out = append(out, ParamPart{Param: p, Part: Part{Kind: PartTower, Fusion: -1}})
		}
	}
	for s, bs := range n.after {
		for _, b := range bs {
			for _, p := range nn.Prefixed(b.name, b.block.Params()) {
				out = append(out, ParamPart{Param: p, Part: Part{Kind: PartFusion, Stage: s, Fusion: b.fusion}})
			}
		}
	}
	for _, p := range nn.Prefixed("head", n.head.Params()) {
		out = append(out, ParamPart{Param: p, Part: Part{Kind: PartHead, Fusion: -1}})
	}
	return out
}

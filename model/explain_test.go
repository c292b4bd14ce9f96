package model

import (
	"math"
	"slices"
	"strconv"
	"testing"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/fusion"
	"github.com/metacnn/metacnn/tensor"
)

// ForwardFeatures must be Forward (same logits, bit for bit) plus the
// feature map the head reads, and the gradient of a logit must reach it.
func TestForwardFeaturesSeed(t *testing.T) {
	for i, arch := range SeedArchs {
		net, err := NewSeed(arch, testRNG(uint64(20+i)))
		if err != nil {
			t.Fatal(err)
		}
		net.SetTraining(false)
		rng := testRNG(30)
		in := Inputs{Images: autograd.RandVar(rng, false, 0, 1, 2, 3, SeedImageSize, SeedImageSize)}
		switch arch {
		case SeedConcat:
			in.IDs = [][]int{{3, 7}}
		case SeedScaleBias:
			in.Meta = autograd.RandVar(rng, false, 10, 30, 2, 1)
		case SeedFiLM:
			in.Meta = autograd.RandVar(rng, false, -1, 1, 2, 2)
		}
		checkForwardFeatures(t, arch, net.(Explainable), in, []int{2, 64, 14, 14})
	}
}

func TestForwardFeaturesSpec(t *testing.T) {
	for _, bb := range testBackbones {
		spec := Spec{Backbone: bb.spec, Fusion: []FusionSpec{
			{Kind: fusion.KindFiLM, Options: FusionOptions{Raw: true, Hidden: new(5)}},
			{Kind: fusion.KindScaleBias, Stages: []int{1}, Options: FusionOptions{Raw: true}},
			{Kind: fusion.KindConcat},
		}}
		for _, pool := range []PoolingKind{PoolingAvg, PoolingFlatten} {
			spec.Head.Pooling = pool
			nw, err := Build(spec, bb.input, testMetaWidth, testIDSlots, 3, testRNG(40))
			if err != nil {
				t.Fatalf("%s: %v", bb.name, err)
			}
			net := nw.(*Net)
			net.SetTraining(false)
			in := testInputs(testRNG(41), bb.input, 2)
			shapes := net.FeatureShapes()
			last := shapes[len(shapes)-1]
			checkForwardFeatures(t, bb.name, net, in, []int{2, last[0], last[1], last[2]})

			// Modulations: one per film/scalebias block, in the order
			// applied (stage 1's scalebias, then the last stage's film),
			// equal to the block's own Modulation of the tower's vector.
			mods := net.Modulations(in)
			names := []string{}
			for _, m := range mods {
				names = append(names, m.Name)
			}
			want := []string{"scalebias.1", "film." + itoa(len(shapes)-1)}
			if !slices.Equal(names, want) {
				t.Fatalf("%s: modulations %v, want %v", bb.name, names, want)
			}
			m := net.tower.forward(nil, in, 2, nil)
			blocks := []fusion.Modulator{net.after[1][0].block.(fusion.Modulator), net.after[len(shapes)-1][0].block.(fusion.Modulator)}
			for i, mod := range mods {
				s, b := blocks[i].Modulation(nil, m)
				c := shapes[[]int{1, len(shapes) - 1}[i]][0]
				if !tensor.EqualShapes(mod.Scale.Shape(), []int{2, c}) || !slices.Equal(mod.Scale.Data(), s.Value.Data()) || !slices.Equal(mod.Shift.Data(), b.Value.Data()) {
					t.Errorf("%s: %s differs from its block's Modulation", bb.name, mod.Name)
				}
			}
			if mods[0].Kind != fusion.KindScaleBias || mods[1].Kind != fusion.KindFiLM {
				t.Errorf("%s: kinds %v %v", bb.name, mods[0].Kind, mods[1].Kind)
			}
		}
	}
}

// A fresh default (identity-start) block generates γ = 1 and β = 0.
func TestModulationsIdentityStart(t *testing.T) {
	bb := testBackbones[0]
	nw, err := Build(Spec{Backbone: bb.spec, Fusion: []FusionSpec{{Kind: fusion.KindFiLM}}}, bb.input, testMetaWidth, testIDSlots, 2, testRNG(50))
	if err != nil {
		t.Fatal(err)
	}
	net := nw.(*Net)
	net.SetTraining(false)
	mods := net.Modulations(testInputs(testRNG(51), bb.input, 3))
	if len(mods) != 1 {
		t.Fatalf("%d modulations, want 1", len(mods))
	}
	for i := range mods[0].Scale.Data() {
		if mods[0].Scale.Data()[i] != 1 || mods[0].Shift.Data()[i] != 0 {
			t.Fatalf("fresh film: γ %v β %v, want 1 and 0", mods[0].Scale.Data(), mods[0].Shift.Data())
		}
	}
	// Image-only: none.
	io, err := Build(Spec{Backbone: bb.spec}, bb.input, 0, nil, 2, testRNG(52))
	if err != nil {
		t.Fatal(err)
	}
	if m := io.(*Net).Modulations(Inputs{Images: autograd.RandVar(testRNG(53), false, 0, 1, 1, 3, 16, 16)}); m != nil {
		t.Errorf("image-only network has modulations %v", m)
	}
}

func checkForwardFeatures(t *testing.T, name string, net Explainable, in Inputs, featShape []int) {
	t.Helper()
	want := net.Forward(nil, in).Value
	tp := autograd.NewTape()
	defer tp.Release()
	in.Images = autograd.NewVar(in.Images.Value, true)
	logits, feats := net.ForwardFeatures(tp, in)
	if !slices.Equal(logits.Value.Data(), want.Data()) {
		t.Errorf("%s: ForwardFeatures logits differ from Forward's", name)
	}
	if !tensor.EqualShapes(feats.Shape(), featShape) {
		t.Errorf("%s: features %v, want %v", name, feats.Shape(), featShape)
	}
	seed := tensor.New(logits.Shape()...)
	seed.Data()[0] = 1
	tp.BackwardWith(logits, seed)
	if feats.Grad == nil {
		t.Fatalf("%s: no gradient reached the features", name)
	}
	var s float64
	for _, v := range feats.Grad.Data() {
		s += math.Abs(float64(v))
	}
	if !(s > 0) {
		t.Errorf("%s: the features' gradient is zero", name)
	}
	for _, p := range net.Params() {
		p.Var.ZeroGrad()
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

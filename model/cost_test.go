package model

import (
	"testing"

	"github.com/metacnn/metacnn/fusion"
	"github.com/metacnn/metacnn/meta"
)

// TestCostOf checks parameter and multiply-add counts against hand
// computations.
func TestCostOf(t *testing.T) {
	film, err := NewSeed(SeedFiLM, testRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	// conv1 32·3·9·56·56 = 2,709,504; conv2 64·32·9·28·28 = 14,450,688;
	// fc 12544·128 = 1,605,632; classifier 128·2 = 256;
	// metadata_embedding 2·8 = 16; gamma and beta 8·64 each = 1,024.
	// Parameters: 896 + 18,496 + 24 + 576 + 576 + 1,605,760 + 258.
	if c := CostOf(film); c.MACs != 18_767_120 || c.Params != 1_626_586 || c.Buffers != 0 || c.FLOPs() != 2*c.MACs {
		t.Errorf("seed-film: %+v, want 18,767,120 MACs and 1,626,586 parameters", c)
	}
	concat, _ := NewSeed(SeedConcat, testRNG(1))
	// As seed-film's convolutions, fc (12544+16)·128 = 1,607,680 and the
	// classifier; the embedding is a lookup.
	if c := CostOf(concat); c.MACs != 2_709_504+14_450_688+1_607_680+256 {
		t.Errorf("seed-concat: %d MACs", c.MACs)
	}

	// resnet8, small stem, width 1/4 (16, 32, 64 channels) on 3x32x32, film
	// at stage 3, 6 dense metadata values, 3 classes:
	// stem 16·3·9·32·32 = 442,368; stage 1 two convs 16·16·9·32·32 =
	// 4,718,592; stage 2 at 16x16: 32·16·9·256 + 32·32·9·256 + 32·16·256
	// (downsample) = 3,670,016; stage 3 at 8x8: 64·32·9·64 + 64·64·9·64 +
	// 64·32·64 = 3,670,016; linear: tower 6·64, film 2·64·64, head 64·128 +
	// 128·3 = 17,152. Total 12,518,144.
	net, err := Build(Spec{
		Backbone: BackboneSpec{Kind: BackboneResNet, Depth: 8, WidthMultiplier: 0.25, Stem: StemSmall},
		Fusion:   []FusionSpec{{Kind: fusion.KindFiLM, Options: FusionOptions{Hidden: new(0)}}},
	}, [3]int{3, 32, 32}, 6, []meta.IDSlot(nil), 3, testRNG(2))
	if err != nil {
		t.Fatal(err)
	}
	if c := CostOf(net); c.MACs != 12_518_144 {
		t.Errorf("resnet8 film: %d MACs, want 12,518,144", c.MACs)
	}
	// minParams is a lower bound of the real count.
	if lb, c := minParams(net.(*Net).Spec(), [3]int{3, 32, 32}, 6, nil, 3), CostOf(net); lb > float64(c.Params) || lb < 0.5*float64(c.Params) {
		t.Errorf("minParams %v for %d parameters", lb, c.Params)
	}
}

package fusion

import (
	"fmt"
	"math"
	"testing"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/tensor"
)

// Modulation must return exactly the scale and shift Forward applies:
// Forward(0) = shift and Forward(1) − Forward(0) = scale, per channel.
func TestModulationMatchesForward(t *testing.T) {
	const n, c, d = 3, 5, 4
	for i, b := range []Modulator{
		NewFiLM(newRNG(1), c, d, Options{}),
		NewFiLM(newRNG(2), c, d, Options{Raw: true}),
		NewFiLM(newRNG(3), c, d, Options{Hidden: 6}),
		NewScaleBias(newRNG(4), c, d, Options{}),
		NewScaleBias(newRNG(5), c, d, Options{Raw: true}),
	} {
		name := fmt.Sprintf("%d %T", i, b)
		randomize(b, newRNG(uint64(10+i)))
		m := autograd.RandVar(newRNG(uint64(20+i)), false, -1, 1, n, d)
		scale, shift := b.Modulation(nil, m)
		if !tensor.EqualShapes(scale.Shape(), []int{n, c}) || !tensor.EqualShapes(shift.Shape(), []int{n, c}) {
			t.Fatalf("%s: shapes %v %v, want [%d %d]", name, scale.Shape(), shift.Shape(), n, c)
		}
		zero := autograd.Const(tensor.New(n, c, 1, 1))
		one := autograd.Const(tensor.Full(1, n, c, 1, 1))
		y0 := b.Forward(nil, zero, m).Data()
		y1 := b.Forward(nil, one, m).Data()
		for k := range y0 {
			if math.Abs(float64(shift.Data()[k]-y0[k])) > 1e-6 || math.Abs(float64(scale.Data()[k]-(y1[k]-y0[k]))) > 1e-5 {
				t.Fatalf("%s: element %d: scale %g shift %g, Forward gives %g and %g", name, k, scale.Data()[k], shift.Data()[k], y1[k]-y0[k], y0[k])
			}
		}
	}
	// The identity start: γ = 1, β = 0.
	s, sh := NewFiLM(newRNG(6), c, d, Options{}).Modulation(nil, autograd.RandVar(newRNG(7), false, -1, 1, n, d))
	for k := range s.Data() {
		if s.Data()[k] != 1 || sh.Data()[k] != 0 {
			t.Fatalf("fresh FiLM: γ %v β %v", s.Data(), sh.Data())
		}
	}
}

func TestModulationShapePanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil {
			t.Error("metadata of the wrong width did not panic")
		}
	}()
	NewFiLM(newRNG(1), 5, 4, Options{}).Modulation(nil, autograd.Const(tensor.New(2, 3)))
}

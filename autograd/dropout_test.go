package autograd

import (
	"math/rand/v2"
	"testing"

	"github.com/metacnn/metacnn/tensor"
)

func TestDropoutIdentityAndZeros(t *testing.T) {
	x := RandVar(newRNG(31), true, -1, 1, 4, 5)
	tp := NewTape()
	if y := tp.Dropout(x, 0.5, false, nil); y != x {
		t.Fatal("eval dropout did not return its input")
	}
	if y := tp.Dropout(x, 0, true, newRNG(1)); y != x {
		t.Fatal("p=0 dropout did not return its input")
	}
	y := tp.Dropout(x, 1, true, newRNG(1))
	wantFloats(t, "p=1", y.Data(), make([]float64, 20), 0)
}

func TestDropoutDeterministicAndScaled(t *testing.T) {
	x := Const(tensor.Full(2, 1000))
	const p = 0.3
	a := (*Tape)(nil).Dropout(x, p, true, rand.New(rand.NewPCG(9, 9)))
	b := (*Tape)(nil).Dropout(x, p, true, rand.New(rand.NewPCG(9, 9)))
	kept := 0
	for i, v := range a.Data() {
		if v != b.Data()[i] {
			t.Fatalf("element %d differs between runs with the same seed: %v vs %v", i, v, b.Data()[i])
		}
		switch v {
		case 0:
		case float32(2 / (1 - p)): // kept elements are scaled by 1/(1-p)
			kept++
		default:
			t.Fatalf("element %d = %v, want 0 or %v", i, v, 2/(1-p))
		}
	}
	// Binomial(1000, 0.7): mean 700, sd 14.5; 5 sd either side.
	if kept < 627 || kept > 773 {
		t.Fatalf("kept %d of 1000 at p=%v", kept, p)
	}
	c := (*Tape)(nil).Dropout(x, p, true, rand.New(rand.NewPCG(10, 9)))
	same := true
	for i, v := range a.Data() {
		same = same && v == c.Data()[i]
	}
	if same {
		t.Fatal("different seeds gave the same mask")
	}
}

func TestGradDropout(t *testing.T) {
	x := RandVar(newRNG(32), true, -1, 1, 3, 4, 5)
	for _, p := range []float64{0.2, 0.5, 1} {
		// Reseeding inside f fixes the mask across the finite-difference calls.
		f := func(tp *Tape) *Var { return tp.Dropout(x, p, true, rand.New(rand.NewPCG(5, 5))) }
		if err := CheckGrad(f, []*Var{x}, CheckOptions{}); err != nil {
			t.Fatalf("p=%v: %v", p, err)
		}
	}
}

package autograd

import (
	"testing"

	"github.com/metacnn/metacnn/tensor"
)

func TestEmbeddingForwardBackward(t *testing.T) {
	w := Param(tensor.FromSlice([]float32{0, 1, 10, 11, 20, 21}, 3, 2))
	tp := NewTape()
	y := tp.Embedding(w, []int{2, 0, 2})
	if !tensor.EqualShapes(y.Shape(), []int{3, 2}) {
		t.Fatalf("shape %v, want [3 2]", y.Shape())
	}
	wantFloats(t, "rows", y.Data(), []float64{20, 21, 0, 1, 20, 21}, 0)
	// Upstream gradient rows 1 2 | 3 4 | 5 6: row 2 receives 1+5 and 2+6
	// (scatter-add of the repeated id), row 1 nothing.
	tp.BackwardWith(y, tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 3, 2))
	wantFloats(t, "grad", w.Grad.Data(), []float64{3, 4, 0, 0, 6, 8}, 0)
}

func TestGradEmbedding(t *testing.T) {
	w := RandVar(newRNG(21), true, -1, 1, 5, 3)
	f := func(tp *Tape) *Var { return tp.Embedding(w, []int{4, 1, 4, 0, 4, 1}) }
	if err := CheckGrad(f, []*Var{w}, CheckOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestEmbeddingOutOfRangePanics(t *testing.T) {
	w := Const(tensor.New(3, 2))
	for _, id := range []int{-1, 3} {
		func() {
			defer func() {
				if recover() == nil {
					t.Fatalf("id %d: no panic", id)
				}
			}()
			(*Tape)(nil).Embedding(w, []int{0, id})
		}()
	}
}

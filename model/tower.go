package model

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/meta"
	"github.com/metacnn/metacnn/nn"
	"github.com/metacnn/metacnn/tensor"
)

// metaTower makes the shared metadata vector:
//
//	[dense [N, K] | embedding_0(IDs[0]) | ... | missing indicator [N, 1]] -> MLP -> [N, Out]
//
// The indicator column is present only with modality dropout. Its
// parameters are named embeddings.<i>.weight and mlp.<j>.{weight,bias}
// (Linear, activation, Dropout per hidden layer, as an nn.Sequential).
type metaTower struct {
	dense      int
	slots      []meta.IDSlot
	embeddings []*nn.Embedding
	indicator  bool
	in         int            // width of the MLP's input
	mlp        *nn.Sequential // nil without hidden layers
	out        int
}

// embeddingDim returns the width of the embedding of slot s.
func embeddingDim(s meta.IDSlot, fallback int) int {
	switch {
	case s.Dim > 0:
		return s.Dim
	case fallback > 0:
		return fallback
	}
	// fastai's rule of thumb for categorical embeddings.
	return min(50, max(1, int(math.Round(1.6*math.Pow(float64(s.Size), 0.56)))))
}

func newMetaTower(rng *rand.Rand, spec TowerSpec, dense int, slots []meta.IDSlot, indicator bool) (*metaTower, error) {
	t := &metaTower{dense: dense, slots: append([]meta.IDSlot(nil), slots...), indicator: indicator, in: dense}
	for i, s := range slots {
		if s.Size <= 0 {
			return nil, fmt.Errorf("metadata id column %d (%q) has %d ids, want at least 1", i, s.Column, s.Size)
		}
		e := nn.NewEmbedding(rng, s.Size, embeddingDim(s, spec.EmbeddingDim))
		t.embeddings = append(t.embeddings, e)
		t.in += e.Dim
	}
	if indicator {
		t.in++
	}
	t.out = t.in
	if len(spec.Hidden) > 0 {
		t.mlp = mlp(rng, t.in, spec.Hidden, spec.Activation, spec.Dropout, 0)
		t.out = spec.Hidden[len(spec.Hidden)-1]
	}
	return t, nil
}

// mlp builds Linear, activation, Dropout for each hidden width, then a
// final Linear to out when out > 0.
func mlp(rng *rand.Rand, in int, hidden []int, act nn.ActivationKind, dropout float64, out int) *nn.Sequential {
	s := nn.NewSequential()
	for _, h := range hidden {
		s.Layers = append(s.Layers, nn.NewLinear(rng, in, h, true), nn.NewActivation(act), nn.NewDropout(rng, dropout))
		in = h
	}
	if out > 0 {
		s.Layers = append(s.Layers, nn.NewLinear(rng, in, out, true))
	}
	return s
}

// forward returns the metadata vector [N, out]. missing, when non-nil,
// marks rows ([N]) whose input is replaced by zeros and the indicator 1.
func (t *metaTower) forward(tp *autograd.Tape, in Inputs, n int, missing []bool) *autograd.Var {
	var parts []*autograd.Var
	if t.dense > 0 {
		if in.Meta == nil || in.Meta.Value.Rank() != 2 || in.Meta.Value.Dim(0) != n || in.Meta.Value.Dim(1) != t.dense {
			var got any = "nil"
			if in.Meta != nil {
				got = in.Meta.Shape()
			}
			panic(fmt.Sprintf("model: metadata has shape %v, want [%d, %d]", got, n, t.dense))
		}
		parts = append(parts, in.Meta)
	}
	if len(in.IDs) != len(t.slots) {
		panic(fmt.Sprintf("model: %d id columns, want %d (%v)", len(in.IDs), len(t.slots), t.slots))
	}
	for i, e := range t.embeddings {
		if len(in.IDs[i]) != n {
			panic(fmt.Sprintf("model: id column %d (%q) has %d ids, want %d", i, t.slots[i].Column, len(in.IDs[i]), n))
		}
		parts = append(parts, e.Forward(tp, in.IDs[i]))
	}
	var x *autograd.Var
	if len(parts) == 1 {
		x = parts[0]
	} else {
		x = tp.Concat(1, parts...)
	}
	if missing != nil {
		keep := tensor.New(n, 1)
		for i, m := range missing {
			if !m {
				keep.Data()[i] = 1
			}
		}
		x = tp.Mul(x, autograd.Const(keep))
		if t.indicator {
			ind := tensor.New(n, 1)
			for i, m := range missing {
				if m {
					ind.Data()[i] = 1
				}
			}
			x = tp.Concat(1, x, autograd.Const(ind))
		}
	} else if t.indicator {
		x = tp.Concat(1, x, autograd.Const(tensor.New(n, 1)))
	}
	if t.mlp != nil {
		x = t.mlp.Forward(tp, x)
	}
	return x
}

func (t *metaTower) params() []nn.Param {
	var ps []nn.Param
	for i, e := range t.embeddings {
		ps = append(ps, nn.Prefixed(fmt.Sprintf("embeddings.%d", i), e.Params())...)
	}
	if t.mlp != nil {
		ps = append(ps, nn.Prefixed("mlp", t.mlp.Params())...)
	}
	return ps
}

func (t *metaTower) setTraining(b bool) {
	if t.mlp != nil {
		t.mlp.SetTraining(b)
	}
}

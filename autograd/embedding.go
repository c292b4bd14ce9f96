package autograd

import (
	"fmt"

	"github.com/metacnn/metacnn/tensor"
)

// Embedding looks up rows of weight, as torch.nn.functional.embedding does:
// weight is [num, dim] and the result is [len(ids), dim], row i being
// weight[ids[i]]. Repeated ids accumulate their gradients (scatter-add). An
// id outside [0, num) is a programmer error and panics; callers validate
// user data before it reaches the engine.
func (tp *Tape) Embedding(weight *Var, ids []int) *Var {
	ws := weight.Shape()
	if len(ws) != 2 {
		panic(fmt.Sprintf("autograd.Embedding: weight %v, want [num, dim]", ws))
	}
	num, dim := ws[0], ws[1]
	for i, id := range ids {
		if id < 0 || id >= num {
			panic(fmt.Sprintf("autograd.Embedding: id %d at position %d out of range [0, %d)", id, i, num))
		}
	}
	ids = append([]int(nil), ids...) // the caller may reuse its slice before backward
	wd := weight.Data()
	out := tensor.New(len(ids), dim)
	o := out.Data()
	for i, id := range ids {
		copy(o[i*dim:(i+1)*dim], wd[id*dim:(id+1)*dim])
	}
	return tp.result(out, func(g *tensor.Tensor) {
		gd := g.Data()
		gw := weight.grad()
		for i, id := range ids {
			dst := gw[id*dim : (id+1)*dim]
			for j, v := range gd[i*dim : (i+1)*dim] {
				dst[j] += v
			}
		}
	}, weight)
}

package optim_test

import (
	"fmt"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/optim"
	"github.com/metacnn/metacnn/tensor"
)

func Example() {
	w := autograd.Param(tensor.FromSlice([]float32{1, -1}, 2))
	b := autograd.Param(tensor.FromSlice([]float32{0.5}, 1))

	// Decay the weights but not the bias, and give the bias twice the rate.
	opt, err := optim.NewAdamW([]optim.Group{
		{Params: []*autograd.Var{w}},
		{Params: []*autograd.Var{b}, LR: 0.2, WeightDecay: new(0.0)},
	}, optim.AdamConfig{LR: 0.1})
	if err != nil {
		fmt.Println(err)
		return
	}
	sched, err := optim.NewStepLR(opt, 1, 0.5)
	if err != nil {
		fmt.Println(err)
		return
	}

	for range 2 {
		opt.ZeroGrad()
		// A real loop gets these from Tape.Backward.
		w.Grad = tensor.FromSlice([]float32{0.5, -0.5}, 2)
		b.Grad = tensor.FromSlice([]float32{1}, 1)
		optim.ClipGradNorm([]*autograd.Var{w, b}, 10)
		opt.Step()
		sched.Step()
	}
	// w: 1 -> 0.999 (decay) -> 0.899 (step of lr) -> 0.8985505 -> 0.8485505.
	fmt.Printf("w %.4f  b %.4f  lrs %v\n", w.Data(), b.Data(), opt.GroupLRs())
	// Output:
	// w [0.8486 -0.8486]  b [0.2000]  lrs [0.025 0.05]
}

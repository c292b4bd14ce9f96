package nn_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/nn"
	"github.com/metacnn/metacnn/tensor"
)

// Example builds a small image classifier, lists its parameters under their
// PyTorch state_dict names and runs a batch through it.
func Example() {
	rng := rand.New(rand.NewPCG(1, 1))
	model := nn.NewSequential(
		nn.NewConv2D(rng, nn.Conv2DConfig{In: 3, Out: 8, Kernel: [2]int{3, 3}, Padding: [2]int{1, 1}}),
		nn.NewBatchNorm2D(8),
		nn.NewActivation(nn.ReLU),
		nn.NewMaxPool2D(2),
		nn.Flatten{},
		nn.NewLinear(rng, 8*4*4, 10, true),
	)
	for _, p := range model.Params() {
		kind := "param"
		if p.Buffer {
			kind = "buffer"
		}
		fmt.Println(p.Name, p.Var.Shape(), kind)
	}

	model.SetTraining(false)
	x := autograd.Const(tensor.New(2, 3, 8, 8)) // [batch, channels, height, width]
	y := model.Forward(nil, x)                  // a nil tape: inference only
	fmt.Println("output", y.Shape())
	// Output:
	// 0.weight [8 3 3 3] param
	// 0.bias [8] param
	// 1.weight [8] param
	// 1.bias [8] param
	// 1.running_mean [8] buffer
	// 1.running_var [8] buffer
	// 1.num_batches_tracked [] buffer
	// 5.weight [10 128] param
	// 5.bias [10] param
	// output [2 10]
}

// LoadStateDict refuses a state dict that does not fit the model and says
// why, leaving the model as it was.
func ExampleLoadStateDict() {
	rng := rand.New(rand.NewPCG(1, 1))
	model := nn.NewSequential(nn.NewLinear(rng, 4, 2, true), nn.NewActivation(nn.Tanh), nn.NewLinear(rng, 2, 1, true))
	sd := nn.StateDict(nn.NewSequential(nn.NewLinear(rng, 4, 3, true), nn.NewActivation(nn.Tanh), nn.NewLinear(rng, 3, 1, false)))
	fmt.Println(nn.LoadStateDict(model, sd))
	// Output:
	// state dict does not match the model: "0.weight" has shape [3 4], model expects [2 4]; "0.bias" has shape [3], model expects [2]; "2.weight" has shape [1 3], model expects [1 2]; missing "2.bias" (shape [1])
}

func ExampleParseActivation() {
	k, err := nn.ParseActivation("gelu")
	fmt.Println(k, err)
	_, err = nn.ParseActivation("swish")
	fmt.Println(err)
	// Output:
	// gelu <nil>
	// unknown activation "swish" (want one of [relu leaky_relu gelu silu sigmoid tanh])
}

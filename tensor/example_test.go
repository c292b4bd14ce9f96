package tensor_test

import (
	"fmt"

	"github.com/metacnn/metacnn/tensor"
)

// Reshape returns a view: writes through it reach the original.
func ExampleTensor_Reshape() {
	x := tensor.FromSlice([]float32{0, 1, 2, 3, 4, 5}, 2, 3)
	v := x.Reshape(3, -1)
	v.Set(50, 2, 1)
	fmt.Println(v.Shape(), x.At(1, 2))
	// Output: [3 2] 50
}

// Permute reorders axes and copies, here NCHW to NHWC.
func ExampleTensor_Permute() {
	x := tensor.FromSlice([]float32{1, 2, 3, 4, 10, 20, 30, 40}, 1, 2, 2, 2) // [N, C, H, W]
	y := x.Permute(0, 2, 3, 1)                                               // [N, H, W, C]
	fmt.Println(y.Shape(), y.Data())
	// Output: [1 2 2 2] [1 10 2 20 3 30 4 40]
}

func ExampleBroadcastShapes() {
	s, err := tensor.BroadcastShapes([]int{8, 1, 6}, []int{7, 1})
	fmt.Println(s, err)
	_, err = tensor.BroadcastShapes([]int{2, 3}, []int{4})
	fmt.Println(err)
	// Output:
	// [8 7 6] <nil>
	// shapes [2 3] and [4] do not broadcast (axis 1: 3 vs 4)
}

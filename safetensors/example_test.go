package safetensors_test

import (
	"bytes"
	"fmt"

	"github.com/metacnn/metacnn/safetensors"
	"github.com/metacnn/metacnn/tensor"
)

func Example() {
	var buf bytes.Buffer
	entries := []safetensors.Entry{
		safetensors.F32("fc.weight", tensor.FromSlice([]float32{0.5, -1, 2, 4}, 2, 2)),
		safetensors.I64("bn.num_batches_tracked", []int64{100}), // a scalar
	}
	if err := safetensors.Encode(&buf, entries, map[string]string{"format": "pt"}); err != nil {
		fmt.Println(err)
		return
	}

	f, err := safetensors.Decode(buf.Bytes())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.Names(), f.Metadata["format"])
	w, _ := f.Float32("fc.weight")
	fmt.Println(w.Shape(), w.Data())
	n, shape, _ := f.Int64("bn.num_batches_tracked")
	fmt.Println(n, shape)
	_, err = f.Float32("fc.bias")
	fmt.Println(err)
	// Output:
	// [bn.num_batches_tracked fc.weight] pt
	// [2 2] [0.5 -1 2 4]
	// [100] []
	// safetensors: no tensor named "fc.bias"
}

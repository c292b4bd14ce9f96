package meta_test

import (
	"fmt"
	"strings"

	"github.com/metacnn/metacnn/meta"
)

func Example() {
	cfg, err := meta.ParseConfig(strings.NewReader(`
columns:
  - name: camera
    type: categorical
  - name: temperature
    type: numeric
    missing: error
`))
	if err != nil {
		panic(err)
	}
	schema, err := meta.NewSchema(cfg.Columns)
	if err != nil {
		panic(err)
	}
	train := []map[string]string{
		{"camera": "A", "temperature": "20"},
		{"camera": "B", "temperature": "24"},
	}
	if err := schema.Fit(train); err != nil {
		panic(err)
	}
	enc, warns, err := schema.Encode(map[string]string{"camera": "C", "temperature": "26"})
	if err != nil {
		panic(err)
	}
	fmt.Println(schema.Names())
	fmt.Println(enc.Dense)
	fmt.Println(warns[0])
	_, _, err = schema.Encode(map[string]string{"camera": "A", "temperature": "warm"})
	fmt.Println(err)
	// Output:
	// [camera=<oov> camera=A camera=B camera:missing temperature]
	// [1 0 0 0 2]
	// column "camera": value "C": out-of-vocabulary, encoded as <oov>
	// column "temperature": value "warm": invalid value: not a number
}

package explain_test

import (
	"fmt"

	"github.com/metacnn/metacnn/explain"
	"github.com/metacnn/metacnn/meta"
)

// The values a sweep tries for each kind of column: the known categories,
// and a few numbers around the training mean (± 1 and 2 standard
// deviations) with the row's own value among them.
func ExampleSweepValues() {
	s, _ := meta.NewSchema([]meta.ColumnSpec{
		{Name: "camera", Type: meta.Categorical},
		{Name: "temperature", Type: meta.Numeric},
	})
	_ = s.Fit([]map[string]string{
		{"camera": "C1", "temperature": "18"},
		{"camera": "C2", "temperature": "22"},
	})
	cams, _ := explain.SweepValues(s, "camera", "C2")
	temps, _ := explain.SweepValues(s, "temperature", "21")
	fmt.Println(cams)
	fmt.Println(temps)
	// Output:
	// [C1 C2]
	// [16 18 20 21 22 24]
}

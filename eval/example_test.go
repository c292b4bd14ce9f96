package eval_test

import (
	"fmt"
	"os"

	"github.com/metacnn/metacnn/eval"
)

// Evaluate a binary defect classifier on eight rows and break its metrics
// down by camera.
func ExampleEvaluate() {
	classes := []string{"ok", "defect"}
	labels := []int{0, 0, 1, 1, 0, 1, 0, 1}
	probs := [][]float64{
		{0.9, 0.1}, {0.7, 0.3}, {0.2, 0.8}, {0.6, 0.4},
		{0.8, 0.2}, {0.3, 0.7}, {0.4, 0.6}, {0.1, 0.9},
	}
	keys := []map[string]string{
		{"camera": "C1"}, {"camera": "C1"}, {"camera": "C1"}, {"camera": "C1"},
		{"camera": "C2"}, {"camera": "C2"}, {"camera": "C2"}, {"camera": "C2"},
	}
	p, err := eval.NewPredictions(classes, labels, probs, keys)
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := eval.Evaluate(p, eval.Options{Model: "film", SliceBy: []string{"camera"}, Bootstrap: eval.Bootstrap{Seed: 1}})
	if err != nil {
		fmt.Println(err)
		return
	}
	r.WriteText(os.Stdout)
	// Output:
	// model film: rows 8, classes ok, defect
	//
	// metric                        value            95% CI
	// accuracy                     0.7500  [0.3750, 1.0000]
	// balanced accuracy            0.7500  [0.3667, 1.0000]
	// macro F1                     0.7500  [0.3651, 1.0000]
	// ROC-AUC (positive "defect")  0.9375
	// PR-AUC (positive "defect")   0.9500
	// log loss                     0.4004
	// ECE (15 bins)                0.3000
	//
	// per class
	//   class   precision  recall      f1  support  predicted  ROC-AUC  PR-AUC
	//   ok         0.7500  0.7500  0.7500        4          4   0.9375  0.9500
	//   defect     0.7500  0.7500  0.7500        4          4   0.9375  0.9500
	//
	// confusion matrix (rows: true, columns: predicted)
	//           ok  defect
	//   ok       3       1
	//   defect   1       3
	//
	// reliability (non-empty bins)
	//   confidence bin  count  mean conf  accuracy
	//   (0.533, 0.600]      2     0.6000    0.0000
	//   (0.667, 0.733]      2     0.7000    1.0000
	//   (0.733, 0.800]      2     0.8000    1.0000
	//   (0.867, 0.933]      2     0.9000    1.0000
	//
	// by camera (95% CI)
	//   camera  n                 accuracy        balanced accuracy                 macro F1  ROC-AUC     ECE
	//   C1      4  0.7500 [0.2500, 1.0000]  0.7500 [0.5000, 1.0000]  0.7333 [0.2000, 1.0000]   1.0000  0.3000
	//   C2      4  0.7500 [0.2500, 1.0000]  0.7500 [0.2500, 1.0000]  0.7333 [0.2000, 1.0000]   1.0000  0.3000
}

// Test whether a metadata-fused model beats the image-only one on the same
// rows: McNemar's exact test on which rows each gets right.
func ExampleMcNemarExact() {
	imageOnly := []bool{true, false, false, true, false, true, false, false, true, false}
	film := []bool{true, true, true, true, true, true, false, true, true, true}
	m, err := eval.McNemarExact(imageOnly, film)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("only image-only right: %d, only film right: %d, p = %.4f\n", m.OnlyA, m.OnlyB, m.PValue)
	// Output:
	// only image-only right: 0, only film right: 5, p = 0.0625
}

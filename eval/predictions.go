package eval

import (
	"fmt"
	"math"
)

// ProbSumTolerance is how far a row of probabilities may sum from 1. It
// admits float32 softmax outputs converted to float64.
const ProbSumTolerance = 1e-3

// Predictions is one model's output on N rows of a K-class problem: true
// labels [N], probabilities [N][K] (stored flat, row-major) and optional
// slice keys [N] (metadata column -> value). It is immutable once built;
// build it with NewPredictions or NewPredictionsFlat, which copy their inputs.
type Predictions struct {
	classes []string
	labels  []int
	probs   []float64 // [N*K]
	pred    []int     // argmax per row, lowest index on ties
	keys    []map[string]string
}

// NewPredictions validates and copies one model's output. classes has K ≥ 2
// distinct non-empty names (index = class id); labels [N] are class ids in
// [0, K); probs is [N][K] with finite entries in [0, 1] that sum to 1 within
// ProbSumTolerance per row; keys is nil or [N] (a row's map may be nil or
// lack a column: that row's value is MissingValue). N must be ≥ 1.
// Errors name the offending row and column.
func NewPredictions(classes []string, labels []int, probs [][]float64, keys []map[string]string) (*Predictions, error) {
	if len(probs) != len(labels) {
		return nil, fmt.Errorf("eval: %d probability rows for %d labels", len(probs), len(labels))
	}
	k := len(classes)
	flat := make([]float64, 0, len(labels)*k)
	for i, row := range probs {
		if len(row) != k {
			return nil, fmt.Errorf("eval: probability row %d has %d columns, want %d (one per class)", i, len(row), k)
		}
		flat = append(flat, row...)
	}
	return newPredictions(classes, labels, flat, keys)
}

// NewPredictionsFlat is NewPredictions with probabilities given flat,
// row-major: probs[i*K+k] is the probability of class k for row i, and
// len(probs) must be N*K.
func NewPredictionsFlat(classes []string, labels []int, probs []float64, keys []map[string]string) (*Predictions, error) {
	if len(probs) != len(labels)*len(classes) {
		return nil, fmt.Errorf("eval: %d probabilities for %d rows x %d classes, want %d",
			len(probs), len(labels), len(classes), len(labels)*len(classes))
	}
	return newPredictions(classes, labels, append([]float64(nil), probs...), keys)
}

func newPredictions(classes []string, labels []int, flat []float64, keys []map[string]string) (*Predictions, error) {
	k := len(classes)
	if k < 2 {
		return nil, fmt.Errorf("eval: %d classes, want at least 2", k)
	}
	seen := make(map[string]bool, k)
	for i, c := range classes {
		if c == "" {
			return nil, fmt.Errorf("eval: class %d has an empty name", i)
		}
		if seen[c] {
			return nil, fmt.Errorf("eval: class name %q appears twice", c)
		}
		seen[c] = true
	}
	n := len(labels)
	if n == 0 {
		return nil, fmt.Errorf("eval: no rows")
	}
	if keys != nil && len(keys) != n {
		return nil, fmt.Errorf("eval: %d slice-key rows for %d labels", len(keys), n)
	}
	p := &Predictions{
		classes: append([]string(nil), classes...),
		labels:  append([]int(nil), labels...),
		probs:   flat,
		pred:    make([]int, n),
	}
	for i, y := range labels {
		if y < 0 || y >= k {
			return nil, fmt.Errorf("eval: row %d: label %d outside [0, %d)", i, y, k)
		}
		row := flat[i*k : (i+1)*k]
		sum, best := 0.0, 0
		for c, v := range row {
			if math.IsNaN(v) || v < 0 || v > 1 {
				return nil, fmt.Errorf("eval: row %d: probability of class %q is %v, want a number in [0, 1]", i, classes[c], v)
			}
			sum += v
			if v > row[best] {
				best = c
			}
		}
		if math.Abs(sum-1) > ProbSumTolerance {
			return nil, fmt.Errorf("eval: row %d: probabilities sum to %v, want 1 (±%g)", i, sum, ProbSumTolerance)
		}
		p.pred[i] = best
	}
	if keys != nil {
		p.keys = make([]map[string]string, n)
		for i, m := range keys {
			if m == nil {
				continue
			}
			c := make(map[string]string, len(m))
			for col, v := range m {
				c[col] = v
			}
			p.keys[i] = c
		}
	}
	return p, nil
}

// Len is N, the number of rows.
func (p *Predictions) Len() int { return len(p.labels) }

// NumClasses is K.
func (p *Predictions) NumClasses() int { return len(p.classes) }

// Classes returns a copy of the K class names.
func (p *Predictions) Classes() []string { return append([]string(nil), p.classes...) }

// Label is row i's true class id.
func (p *Predictions) Label(i int) int { return p.labels[i] }

// Predicted is row i's predicted class id: the argmax of its probabilities,
// lowest index on ties.
func (p *Predictions) Predicted(i int) int { return p.pred[i] }

// Correct reports whether row i is predicted correctly.
func (p *Predictions) Correct(i int) bool { return p.pred[i] == p.labels[i] }

// Prob is row i's probability of class c.
func (p *Predictions) Prob(i, c int) float64 { return p.probs[i*len(p.classes)+c] }

// Row returns a copy of row i's K probabilities.
func (p *Predictions) Row(i int) []float64 {
	k := len(p.classes)
	return append([]float64(nil), p.probs[i*k:(i+1)*k]...)
}

// HasKeys reports whether slice keys were given.
func (p *Predictions) HasKeys() bool { return p.keys != nil }

// Key returns row i's value of a slice column, and whether it is present.
func (p *Predictions) Key(i int, column string) (string, bool) {
	if p.keys == nil {
		return "", false
	}
	v, ok := p.keys[i][column]
	return v, ok
}

// OneVsRest returns, for class c, which rows are of that class [N] and the
// score of each row for it (column c of the probabilities) [N]: the input
// of BinaryROCAUC, AveragePrecision, ROCCurve and PRCurve.
func (p *Predictions) OneVsRest(c int) (positive []bool, scores []float64) {
	n, k := len(p.labels), len(p.classes)
	positive = make([]bool, n)
	scores = make([]float64, n)
	for i := range n {
		positive[i] = p.labels[i] == c
		scores[i] = p.probs[i*k+c]
	}
	return positive, scores
}

// Subset returns the predictions of the given rows, in that order (rows may
// repeat). It panics on an index out of range or an empty list.
func (p *Predictions) Subset(rows []int) *Predictions {
	if len(rows) == 0 {
		panic("eval: Subset of no rows")
	}
	k := len(p.classes)
	s := &Predictions{
		classes: p.classes,
		labels:  make([]int, len(rows)),
		probs:   make([]float64, 0, len(rows)*k),
		pred:    make([]int, len(rows)),
	}
	if p.keys != nil {
		s.keys = make([]map[string]string, len(rows))
	}
	for j, i := range rows {
		s.labels[j] = p.labels[i]
		s.pred[j] = p.pred[i]
		s.probs = append(s.probs, p.probs[i*k:(i+1)*k]...)
		if p.keys != nil {
			s.keys[j] = p.keys[i]
		}
	}
	return s
}

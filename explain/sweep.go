package explain

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/metacnn/metacnn/meta"
	"github.com/metacnn/metacnn/model"
	"github.com/metacnn/metacnn/tensor"
)

// MaxSweepValues bounds the values one column is swept over: a categorical
// column with more known categories is swept over the first ones (in the
// schema's order) and the given value.
const MaxSweepValues = 32

// Modulation is the per-channel scale and shift one metadata-driven block
// applies for one metadata row: y = Gamma ⊙ x + Beta.
type Modulation struct {
	// Block names the block (model.Modulation.Name): film.4, film_layer,
	// scale_bias.
	Block string `json:"block"`
	// Kind is film or scalebias.
	Kind string `json:"kind"`
	// Gamma and Beta are [channels]: FiLM's γ and β, or scale+bias's scale
	// and bias, identity offsets included (1 and 0 leave a channel alone).
	Gamma []float32 `json:"gamma"`
	Beta  []float32 `json:"beta"`
}

// Sweep is what changes when one metadata column takes each of Values
// while the rest of the row stays as given.
type Sweep struct {
	Column string `json:"column"`
	// Values are the raw values tried, in order (sorted for numbers).
	Values []string `json:"values"`
	// Given is the index in Values of the row's own value, -1 when the row
	// had none (the column was missing).
	Given int `json:"given"`
	// Blocks holds one entry per modulating block, each with Gamma and
	// Beta [len(Values)][channels]; empty for a model without FiLM or
	// scale+bias blocks.
	Blocks []BlockSweep `json:"blocks,omitempty"`
	// Probs are the class probabilities of the image for each value,
	// [len(Values)][classes].
	Probs [][]float64 `json:"probs"`
}

// BlockSweep is one block's γ and β across a sweep's values.
type BlockSweep struct {
	Block string      `json:"block"`
	Kind  string      `json:"kind"`
	Gamma [][]float32 `json:"gamma"`
	Beta  [][]float32 `json:"beta"`
}

// SweepValues returns the raw values column is swept over, from the
// schema's fitted state, with given (the row's value, "" when missing)
// among them:
//
//   - categorical one-hot or embedding: each category of the vocabulary
//     (at most MaxSweepValues); ordinal: each level; index: each id 0 ..
//     cardinality−1 (at most MaxSweepValues);
//   - boolean: false and true;
//   - numeric, standardised: mean + k·std for k = −2 … 2 (the training
//     statistics, mapped back through log1p and clip when the column uses
//     them); binned: one value inside each bin; raw (no statistics are
//     kept): given + k·s for k = −2 … 2 with s = max(|given|, 1)/2;
//   - cyclical: six points around the period.
//
// Numbers are sorted and deduplicated. Timestamps have no natural set and
// return nil: pass values explicitly (Options.Sweep) to sweep one.
func SweepValues(s *meta.Schema, column, given string) ([]string, error) {
	st, err := s.State()
	if err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	var cs *meta.ColumnState
	for i := range st.Columns {
		if st.Columns[i].Spec.Name == column {
			cs = &st.Columns[i]
		}
	}
	if cs == nil {
		return nil, fmt.Errorf("explain: the model has no metadata column %q (it reads %s)", column, strings.Join(s.Columns(), ", "))
	}
	given = strings.TrimSpace(given)
	sp := cs.Spec
	switch sp.Type {
	case meta.Categorical:
		var vs []string
		switch sp.Encoding {
		case meta.Ordinal:
			vs = slices.Clone(sp.Order)
		case meta.Index:
			for i := range min(sp.Cardinality, MaxSweepValues) {
				vs = append(vs, strconv.Itoa(i))
			}
		default:
			vs = slices.Clone(cs.Vocab[:min(len(cs.Vocab), MaxSweepValues)])
		}
		if given != "" && !slices.Contains(vs, given) {
			vs = append(vs, given)
		}
		return vs, nil
	case meta.Boolean:
		vs := []string{"false", "true"}
		if given != "" && !slices.Contains(vs, given) {
			vs = append(vs, given)
		}
		return vs, nil
	case meta.Timestamp:
		return nil, nil
	}
	var xs []float64
	g, gerr := strconv.ParseFloat(given, 64)
	hasGiven := given != "" && gerr == nil && !math.IsInf(g, 0) && !math.IsNaN(g)
	switch {
	case sp.Type == meta.Cyclical:
		for k := range 6 {
			xs = append(xs, sp.Period*float64(k)/6)
		}
	case sp.Bins > 0:
		xs = binValues(cs.Edges)
	case sp.Scale == meta.Raw:
		c := cs.Fill
		if hasGiven {
			c = g
		}
		step := max(math.Abs(c), 1) / 2
		for k := -2; k <= 2; k++ {
			xs = append(xs, c+float64(k)*step)
		}
	default:
		for k := -2; k <= 2; k++ {
			xs = append(xs, cs.Mean+float64(k)*cs.Std)
		}
	}
	if sp.Type == meta.Numeric {
		for i, x := range xs {
			if sp.Log1p {
				x = math.Expm1(x)
			}
			if sp.Clip != nil {
				x = min(max(x, sp.Clip[0]), sp.Clip[1])
			}
			if sp.Log1p && x <= -1 {
				x = math.Nextafter(-1, 0)
			}
			xs[i] = x
		}
	}
	vs := make([]string, 0, len(xs)+1)
	for _, x := range xs {
		vs = append(vs, formatNumber(x))
	}
	if hasGiven {
		vs = append(vs, given)
	}
	slices.SortStableFunc(vs, func(a, b string) int {
		x, _ := strconv.ParseFloat(a, 64)
		y, _ := strconv.ParseFloat(b, 64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	})
	// Drop values equal to a neighbour, keeping the given one's spelling.
	out := vs[:0]
	for _, v := range vs {
		if n := len(out); n > 0 && sameNumber(out[n-1], v) {
			if v == given {
				out[n-1] = v
			}
			continue
		}
		out = append(out, v)
	}
	return out, nil
}

// binValues returns one value inside each of the len(edges)+1 bins.
func binValues(edges []float64) []float64 {
	if len(edges) == 0 {
		return []float64{0}
	}
	step := 1.0
	if n := len(edges); n > 1 && edges[n-1] > edges[0] {
		step = (edges[n-1] - edges[0]) / float64(n-1) / 2
	}
	xs := []float64{edges[0] - step}
	for i := 1; i < len(edges); i++ {
		xs = append(xs, (edges[i-1]+edges[i])/2)
	}
	return append(xs, edges[len(edges)-1]+step)
}

func formatNumber(x float64) string { return strconv.FormatFloat(x, 'g', 6, 64) }

func sameNumber(a, b string) bool {
	x, err1 := strconv.ParseFloat(a, 64)
	y, err2 := strconv.ParseFloat(b, 64)
	return err1 == nil && err2 == nil && x == y
}

// Modulations returns the γ and β every modulating block of b's network
// applies for row, with image [C, H, W] (the image does not affect them,
// but the network's inputs need one). Nil for a network without FiLM or
// scale+bias blocks.
func Modulations(b *model.Bundle, image *tensor.Tensor, row map[string]string) ([]Modulation, error) {
	net, err := explainable(b)
	if err != nil {
		return nil, err
	}
	in, _, err := b.Inputs(batchOf(image, 1), []map[string]string{row})
	if err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	var out []Modulation
	for _, m := range net.Modulations(in) {
		out = append(out, Modulation{Block: m.Name, Kind: m.Kind.String(),
			Gamma: slices.Clone(m.Scale.Data()), Beta: slices.Clone(m.Shift.Data())})
	}
	return out, nil
}

// SweepColumn varies column over values (SweepValues' when nil) in row,
// the other columns as given, and records each modulating block's γ and β
// and the class probabilities of image [C, H, W]. A value the column
// cannot encode is an error naming it.
func SweepColumn(b *model.Bundle, image *tensor.Tensor, row map[string]string, column string, values []string) (*Sweep, error) {
	net, err := explainable(b)
	if err != nil {
		return nil, err
	}
	if b.Schema == nil || !slices.Contains(b.Schema.Columns(), column) {
		var cols []string
		if b.Schema != nil {
			cols = b.Schema.Columns()
		}
		return nil, fmt.Errorf("explain: the model has no metadata column %q (it reads %v)", column, cols)
	}
	given := strings.TrimSpace(row[column])
	if values == nil {
		if values, err = SweepValues(b.Schema, column, given); err != nil {
			return nil, err
		}
	}
	sw := &Sweep{Column: column, Values: slices.Clone(values), Given: -1}
	if len(values) == 0 {
		return sw, nil
	}
	if given != "" {
		for i, v := range values {
			if v == given || sameNumber(v, given) {
				sw.Given = i
				break
			}
		}
	}
	rows := make([]map[string]string, len(values))
	for i, v := range values {
		r := make(map[string]string, len(row)+1)
		for k, x := range row {
			r[k] = x
		}
		r[column] = v
		rows[i] = r
	}
	in, _, err := b.Inputs(batchOf(image, len(values)), rows)
	if err != nil {
		return nil, fmt.Errorf("explain: sweeping %s: %w", column, err)
	}
	logits := net.Forward(nil, in).Value
	k := logits.Dim(1)
	for i := range values {
		sw.Probs = append(sw.Probs, softmax(logits.Data()[i*k:(i+1)*k]))
	}
	for _, m := range net.Modulations(in) {
		c := m.Scale.Dim(1)
		bs := BlockSweep{Block: m.Name, Kind: m.Kind.String()}
		for i := range values {
			bs.Gamma = append(bs.Gamma, slices.Clone(m.Scale.Data()[i*c:(i+1)*c]))
			bs.Beta = append(bs.Beta, slices.Clone(m.Shift.Data()[i*c:(i+1)*c]))
		}
		sw.Blocks = append(sw.Blocks, bs)
	}
	return sw, nil
}

func explainable(b *model.Bundle) (model.Explainable, error) {
	net, ok := b.Net.(model.Explainable)
	if !ok {
		return nil, fmt.Errorf("explain: a %T cannot be explained: want a network from model.Build or model.NewSeed", b.Net)
	}
	return net, nil
}

// batchOf repeats image [C, H, W] n times: [n, C, H, W].
func batchOf(image *tensor.Tensor, n int) *tensor.Tensor {
	s := image.Shape()
	out := tensor.New(append([]int{n}, s...)...)
	l := image.Len()
	for i := range n {
		copy(out.Data()[i*l:(i+1)*l], image.Data())
	}
	return out
}

// softmax returns the probabilities of logits, computed in float64.
func softmax(logits []float32) []float64 {
	m := math.Inf(-1)
	for _, v := range logits {
		m = max(m, float64(v))
	}
	p := make([]float64, len(logits))
	var s float64
	for i, v := range logits {
		p[i] = math.Exp(float64(v) - m)
		s += p[i]
	}
	for i := range p {
		p[i] /= s
	}
	return p
}

package data

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
)

// SplitMethod is how rows are divided. The zero value is unset and means Random.
type SplitMethod int

// Split methods.
const (
	SplitUnset SplitMethod = iota
	Random                 // rows shuffled by seed
	Stratified             // per label, so each split keeps the class proportions
	Grouped                // whole groups of GroupColumn values, no group in two splits
	FromColumn             // the manifest's split column (Row.Split)
)

var splitMethods = newEnum[SplitMethod]("SplitMethod", "split method", []string{"", "random", "stratified", "grouped", "column"}, nil)

func (m SplitMethod) String() string { return splitMethods.String(m) }

// ParseSplitMethod parses "random", "stratified", "grouped" or "column".
func ParseSplitMethod(s string) (SplitMethod, error) { return splitMethods.Parse(s) }

// MarshalText implements encoding.TextMarshaler.
func (m SplitMethod) MarshalText() ([]byte, error) { return splitMethods.Marshal(m) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *SplitMethod) UnmarshalText(b []byte) error { return splitMethods.Unmarshal(m, b) }

// SplitOptions configures SplitRows and KFold.
type SplitOptions struct {
	// Method defaults to Random.
	Method SplitMethod
	// Val and Test are the fractions of rows (Grouped: approximately, whole
	// groups) in the validation and test splits; Train gets the rest.
	// Ignored by FromColumn and KFold.
	Val, Test float64
	// Seed drives the shuffle; the same seed gives the same split.
	Seed uint64
	// GroupColumn is the metadata column whose values are groups (Grouped).
	GroupColumn string
}

// Split holds indices into the rows, each ascending.
type Split struct {
	Train, Val, Test []int
}

// SplitRows divides rows into train, validation and test.
func SplitRows(rows []Row, o SplitOptions) (Split, error) {
	if o.Method == FromColumn {
		var s Split
		for i, r := range rows {
			switch r.Split {
			case "train":
				s.Train = append(s.Train, i)
			case "val":
				s.Val = append(s.Val, i)
			case "test":
				s.Test = append(s.Test, i)
			default:
				return Split{}, fmt.Errorf("data: split from column: row %d has no split value", r.Line)
			}
		}
		return s, nil
	}
	if !(o.Val >= 0 && o.Test >= 0 && o.Val+o.Test < 1) {
		return Split{}, fmt.Errorf("data: split fractions val %g + test %g: want each >= 0 and a sum < 1", o.Val, o.Test)
	}
	units, err := splitUnits(rows, o)
	if err != nil {
		return Split{}, err
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x5eed5p17))
	var s Split
	switch o.Method {
	case Grouped:
		rng.Shuffle(len(units), func(a, b int) { units[a], units[b] = units[b], units[a] })
		n := len(rows)
		nTest, nVal := int(math.Round(float64(n)*o.Test)), int(math.Round(float64(n)*o.Val))
		for _, u := range units {
			switch {
			case len(s.Test) < nTest:
				s.Test = append(s.Test, u...)
			case len(s.Val) < nVal:
				s.Val = append(s.Val, u...)
			default:
				s.Train = append(s.Train, u...)
			}
		}
	default: // Random: one unit holding every row; Stratified: one per class
		for _, u := range units {
			rng.Shuffle(len(u), func(a, b int) { u[a], u[b] = u[b], u[a] })
			nTest, nVal := int(math.Round(float64(len(u))*o.Test)), int(math.Round(float64(len(u))*o.Val))
			s.Test = append(s.Test, u[:nTest]...)
			s.Val = append(s.Val, u[nTest:nTest+nVal]...)
			s.Train = append(s.Train, u[nTest+nVal:]...)
		}
	}
	slices.Sort(s.Train)
	slices.Sort(s.Val)
	slices.Sort(s.Test)
	return s, nil
}

// splitUnits returns the row indices grouped into the units a method keeps
// together: all rows (Random), one class (Stratified) or one group
// (Grouped), in a deterministic order (classes and groups sorted by value).
func splitUnits(rows []Row, o SplitOptions) ([][]int, error) {
	switch o.Method {
	case SplitUnset, Random:
		all := make([]int, len(rows))
		for i := range all {
			all[i] = i
		}
		return [][]int{all}, nil
	case Stratified:
		return groupBy(rows, func(r Row) (string, error) { return r.Label, nil })
	case Grouped:
		if o.GroupColumn == "" {
			return nil, errors.New("data: grouped split needs a group column")
		}
		return groupBy(rows, func(r Row) (string, error) {
			v, ok := r.Meta[o.GroupColumn]
			if !ok || strings.TrimSpace(v) == "" {
				return "", fmt.Errorf("data: grouped split: row %d: column %q is empty", r.Line, o.GroupColumn)
			}
			return strings.TrimSpace(v), nil
		})
	}
	return nil, fmt.Errorf("data: split method %v does not apply here", o.Method)
}

func groupBy(rows []Row, key func(Row) (string, error)) ([][]int, error) {
	idx := map[string][]int{}
	for i, r := range rows {
		k, err := key(r)
		if err != nil {
			return nil, err
		}
		idx[k] = append(idx[k], i)
	}
	keys := make([]string, 0, len(idx))
	for k := range idx {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([][]int, len(keys))
	for i, k := range keys {
		out[i] = idx[k]
	}
	return out, nil
}

// KFold divides rows into k folds and returns k splits: split j validates
// on fold j and trains on the others (Test is empty). Method Random,
// Stratified (each fold keeps the class proportions) or Grouped (no group
// in two folds; with k equal to the number of groups this is
// leave-one-group-out) apply; Val and Test are ignored.
func KFold(rows []Row, k int, o SplitOptions) ([]Split, error) {
	if k < 2 {
		return nil, fmt.Errorf("data: k-fold needs k >= 2, got %d", k)
	}
	units, err := splitUnits(rows, o)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0xf01d))
	fold := make([]int, len(rows))
	switch o.Method {
	case Grouped:
		if len(units) < k {
			return nil, fmt.Errorf("data: k-fold with k = %d needs at least %d groups in %q, found %d", k, k, o.GroupColumn, len(units))
		}
		rng.Shuffle(len(units), func(a, b int) { units[a], units[b] = units[b], units[a] })
		// Largest groups first, each to the currently smallest fold.
		sort.SliceStable(units, func(a, b int) bool { return len(units[a]) > len(units[b]) })
		sizes := make([]int, k)
		for _, u := range units {
			f := 0
			for j := range sizes {
				if sizes[j] < sizes[f] {
					f = j
				}
			}
			sizes[f] += len(u)
			for _, i := range u {
				fold[i] = f
			}
		}
	default:
		if len(rows) < k {
			return nil, fmt.Errorf("data: k-fold with k = %d needs at least %d rows, found %d", k, k, len(rows))
		}
		next := 0 // continue the round-robin across classes to balance fold sizes
		for _, u := range units {
			rng.Shuffle(len(u), func(a, b int) { u[a], u[b] = u[b], u[a] })
			for _, i := range u {
				fold[i] = next % k
				next++
			}
		}
	}
	out := make([]Split, k)
	for i, f := range fold {
		for j := range out {
			if j == f {
				out[j].Val = append(out[j].Val, i)
			} else {
				out[j].Train = append(out[j].Train, i)
			}
		}
	}
	return out, nil
}

// Subset returns the rows at the given indices.
func Subset(rows []Row, idx []int) []Row {
	out := make([]Row, len(idx))
	for i, j := range idx {
		out[i] = rows[j]
	}
	return out
}

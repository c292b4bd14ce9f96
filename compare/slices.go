package compare

import (
	"math"
	"slices"
	"strconv"
)

// sliceKeys returns each row's slice value per column: the raw value, or
// for a numeric column with more than MaxSliceValues distinct values the
// range of its quantile bin ("18.2..24.0"). A row lacking the column has no
// key for it (eval's MissingValue slice).
func sliceKeys(metas []map[string]string, columns []string) []map[string]string {
	keys := make([]map[string]string, len(metas))
	for i := range keys {
		keys[i] = map[string]string{}
	}
	for _, col := range columns {
		bin := binner(metas, col)
		for i, m := range metas {
			v, ok := m[col]
			if !ok {
				continue
			}
			if bin != nil {
				v = bin(v)
			}
			keys[i][col] = v
		}
	}
	return keys
}

// binner returns the function that maps a value of col to its bin's name,
// or nil when the column's values are the slices themselves.
func binner(metas []map[string]string, col string) func(string) string {
	distinct := map[string]bool{}
	var xs []float64
	for _, m := range metas {
		v, ok := m[col]
		if !ok {
			continue
		}
		distinct[v] = true
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
		xs = append(xs, x)
	}
	if len(distinct) <= MaxSliceValues {
		return nil
	}
	slices.Sort(xs)
	// Upper edges: bin b holds values ≤ edges[b] (the last one everything).
	var edges []float64
	for b := 1; b < SliceBins; b++ {
		e := xs[max(0, b*len(xs)/SliceBins-1)]
		if len(edges) == 0 || e > edges[len(edges)-1] {
			edges = append(edges, e)
		}
	}
	idx := func(x float64) int {
		b, _ := slices.BinarySearch(edges, x)
		return b // first edge ≥ x; len(edges) for the top bin
	}
	lo := make([]float64, len(edges)+1)
	hi := make([]float64, len(edges)+1)
	for i := range lo {
		lo[i], hi[i] = math.Inf(1), math.Inf(-1)
	}
	for _, x := range xs {
		b := idx(x)
		lo[b], hi[b] = min(lo[b], x), max(hi[b], x)
	}
	return func(v string) string {
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return v
		}
		b := idx(x)
		return fmtRange(lo[b], hi[b])
	}
}

// fmtRange names a bin: whole numbers as they are, others to one decimal.
func fmtRange(lo, hi float64) string {
	prec := 1
	if lo == math.Trunc(lo) && hi == math.Trunc(hi) {
		prec = 0
	}
	return strconv.FormatFloat(lo, 'f', prec, 64) + ".." + strconv.FormatFloat(hi, 'f', prec, 64)
}

// valueOrder sorts slice values: numerically by their (first) number when
// every value starts with one, else as strings; eval.MissingValue last.
func valueOrder(vals []string) {
	num := func(s string) (float64, bool) {
		end := len(s)
		for i := 1; i < len(s); i++ {
			if s[i] == '.' && i+1 < len(s) && s[i+1] == '.' {
				end = i
				break
			}
		}
		x, err := strconv.ParseFloat(s[:end], 64)
		return x, err == nil
	}
	numeric := true
	for _, v := range vals {
		if _, ok := num(v); !ok && v != missingValue {
			numeric = false
		}
	}
	slices.SortStableFunc(vals, func(a, b string) int {
		if (a == missingValue) != (b == missingValue) {
			if a == missingValue {
				return 1
			}
			return -1
		}
		if numeric {
			x, _ := num(a)
			y, _ := num(b)
			if x < y {
				return -1
			}
			if x > y {
				return 1
			}
		}
		if a < b {
			return -1
		}
		if a > b {
			return 1
		}
		return 0
	})
}

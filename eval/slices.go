package eval

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
)

// MissingValue is the slice value of rows that lack the column.
const MissingValue = "(missing)"

// Slice holds the metrics of the rows whose slice key Column equals Value.
type Slice struct {
	Column  string    `json:"column"`
	Value   string    `json:"value"`
	Count   int       `json:"count"`   // rows in the slice (= Metrics.N)
	Metrics Metrics   `json:"metrics"` // every metric, on the slice's rows only
	CI      Intervals `json:"ci"`      // bootstrap intervals within the slice
}

// SliceMetrics computes, for each column and each of its values, the
// metrics of the rows with that value and bootstrap intervals for accuracy,
// balanced accuracy and macro F1 (cfg as in Bootstrap; zero Resamples means
// DefaultResamples). Slices come out column by column in the given order;
// within a column, values sort numerically when all parse as numbers, else
// as strings, with MissingValue last. It fails when p has no slice keys,
// when a column is repeated or when no row has the column (a likely typo).
func SliceMetrics(p *Predictions, columns []string, calibrationBins int, cfg Bootstrap) ([]Slice, error) {
	if len(columns) == 0 {
		return nil, nil
	}
	if !p.HasKeys() {
		return nil, fmt.Errorf("eval: slices by %q requested, but the predictions carry no slice keys", columns)
	}
	cfg, err := cfg.withDefaults(DefaultResamples)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []Slice
	for _, col := range columns {
		if seen[col] {
			return nil, fmt.Errorf("eval: slice column %q given twice", col)
		}
		seen[col] = true
		groups := map[string][]int{}
		found := false
		for i := range p.Len() {
			v, ok := p.Key(i, col)
			if ok {
				found = true
			} else {
				v = MissingValue
			}
			groups[v] = append(groups[v], i)
		}
		if !found {
			return nil, fmt.Errorf("eval: slice column %q is in no row", col)
		}
		for _, v := range sortValues(groups) {
			rows := groups[v]
			m := ComputeMetrics(p.Subset(rows), calibrationBins)
			out = append(out, Slice{
				Column:  col,
				Value:   v,
				Count:   len(rows),
				Metrics: m,
				CI:      bootstrapIntervals(p, rows, statsOf(m), cfg, "slice\x00"+col+"\x00"+v),
			})
		}
	}
	return out, nil
}

func sortValues(groups map[string][]int) []string {
	vals := make([]string, 0, len(groups))
	numeric := true
	for v := range groups {
		if v == MissingValue {
			continue
		}
		vals = append(vals, v)
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			numeric = false
		}
	}
	slices.SortFunc(vals, func(a, b string) int {
		if numeric {
			x, _ := strconv.ParseFloat(a, 64)
			y, _ := strconv.ParseFloat(b, 64)
			if c := cmp.Compare(x, y); c != 0 {
				return c
			}
		}
		return cmp.Compare(a, b)
	})
	if _, ok := groups[MissingValue]; ok {
		vals = append(vals, MissingValue)
	}
	return vals
}

package eval

import (
	"math"
	"slices"
	"testing"
)

func sliceTablePreds(t testing.TB) *Predictions {
	t.Helper()
	st := sliceTable
	keys := make([]map[string]string, len(st.labels))
	for i := range keys {
		keys[i] = map[string]string{"camera": st.camera[i]}
		if st.operator[i] != "" {
			keys[i]["operator"] = st.operator[i]
		}
	}
	return mustPreds(t, []string{"a", "b", "c"}, st.labels, st.probs, keys)
}

// TestSlicesAgainstSklearn checks per-slice counts and metrics on a
// hand-made 14-row table against sklearn on each subset (sliceTable, from
// testdata/gen.py): values in numeric order for operator, a row without
// operator in the "(missing)" slice.
func TestSlicesAgainstSklearn(t *testing.T) {
	p := sliceTablePreds(t)
	got, err := SliceMetrics(p, []string{"camera", "operator"}, 0, Bootstrap{Resamples: 200, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := sliceTable.want
	if len(got) != len(want) {
		t.Fatalf("%d slices, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		name := w.column + "=" + w.value
		if g.Column != w.column || g.Value != w.value || g.Count != w.count || g.Metrics.N != w.count {
			t.Errorf("slice %d = %s=%s (n %d), want %s (n %d)", i, g.Column, g.Value, g.Count, name, w.count)
			continue
		}
		checkF(t, name+" accuracy", g.Metrics.Accuracy, w.accuracy)
		checkF(t, name+" balanced accuracy", g.Metrics.BalancedAccuracy, w.balanced)
		checkF(t, name+" macro F1", g.Metrics.MacroF1, w.macroF1)
		checkF(t, name+" ROC-AUC", float64(g.Metrics.ROCAUC), w.rocAUC)
		checkF(t, name+" log loss", g.Metrics.LogLoss, w.logLoss)
		checkF(t, name+" ECE", g.Metrics.Calibration.ECE, w.ece)
		for _, iv := range []Interval{g.CI.Accuracy, g.CI.BalancedAccuracy, g.CI.MacroF1} {
			if !(iv.Low <= iv.High) || iv.Low < 0 || iv.High > 1 {
				t.Errorf("%s: interval %+v", name, iv)
			}
		}
		checkF(t, name+" CI estimate", g.CI.Accuracy.Estimate, w.accuracy)
	}

	if _, err := SliceMetrics(p, []string{"camra"}, 0, Bootstrap{}); err == nil {
		t.Error("a column in no row was accepted")
	}
	if _, err := SliceMetrics(p, []string{"camera", "camera"}, 0, Bootstrap{}); err == nil {
		t.Error("a repeated column was accepted")
	}
	noKeys := mustPreds(t, []string{"a", "b", "c"}, sliceTable.labels, sliceTable.probs, nil)
	if _, err := SliceMetrics(noKeys, []string{"camera"}, 0, Bootstrap{}); err == nil {
		t.Error("slices of predictions without keys were accepted")
	}
}

// naiveStats computes accuracy, balanced accuracy and macro F1 of rows
// straight from their definitions (sklearn's), independently of the
// confusion-matrix code the bootstrap uses.
func naiveStats(p *Predictions, rows []int) [3]float64 {
	k := p.NumClasses()
	correct := 0
	tp, support, predicted := make([]int, k), make([]int, k), make([]int, k)
	for _, i := range rows {
		y, q := p.Label(i), p.Predicted(i)
		support[y]++
		predicted[q]++
		if y == q {
			correct++
			tp[y]++
		}
	}
	var rec, f1 []float64
	for c := range k {
		if support[c] > 0 {
			rec = append(rec, float64(tp[c])/float64(support[c]))
		}
		if support[c] > 0 || predicted[c] > 0 {
			var pr, rc float64
			if predicted[c] > 0 {
				pr = float64(tp[c]) / float64(predicted[c])
			}
			if support[c] > 0 {
				rc = float64(tp[c]) / float64(support[c])
			}
			f := 0.0
			if pr+rc > 0 {
				f = 2 * pr * rc / (pr + rc)
			}
			f1 = append(f1, f)
		}
	}
	mean := func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += x
		}
		return s / float64(len(v))
	}
	return [3]float64{float64(correct) / float64(len(rows)), mean(rec), mean(f1)}
}

// naiveQuantile is numpy.quantile's linear method written out.
func naiveQuantile(v []float64, q float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	h := q * float64(len(s)-1)
	lo := math.Floor(h)
	hi := math.Min(lo+1, float64(len(s)-1))
	return s[int(lo)] + (h-lo)*(s[int(hi)]-s[int(lo)])
}

// TestBootstrapMatchesNaive replays the generator stream of a slice and of
// the overall interval, recomputes each resample's statistics from their
// definitions and checks the fast path gives the same intervals.
func TestBootstrapMatchesNaive(t *testing.T) {
	p := sliceTablePreds(t)
	cfg := Bootstrap{Resamples: 300, Level: 0.9, Seed: 42}
	r, err := Evaluate(p, Options{SliceBy: []string{"camera"}, Bootstrap: cfg})
	if err != nil {
		t.Fatal(err)
	}
	check := func(name, stream string, rows []int, got Intervals) {
		rng := newRNG(cfg.Seed, stream)
		var stats [3][]float64
		draw := make([]int, len(rows))
		for range cfg.Resamples {
			for j := range draw {
				draw[j] = rows[rng.IntN(len(rows))]
			}
			s := naiveStats(p, draw)
			for m := range 3 {
				stats[m] = append(stats[m], s[m])
			}
		}
		for m, iv := range []Interval{got.Accuracy, got.BalancedAccuracy, got.MacroF1} {
			checkF(t, name+" low", float64(iv.Low), naiveQuantile(stats[m], 0.05))
			checkF(t, name+" high", float64(iv.High), naiveQuantile(stats[m], 0.95))
		}
	}
	all := make([]int, p.Len())
	for i := range all {
		all[i] = i
	}
	check("overall", "overall", all, r.OverallCI)
	for _, s := range r.Slices {
		var rows []int
		for i := range p.Len() {
			if v, _ := p.Key(i, "camera"); v == s.Value {
				rows = append(rows, i)
			}
		}
		check("camera="+s.Value, "slice\x00camera\x00"+s.Value, rows, s.CI)
	}
}

func TestBootstrapSeedAndDisable(t *testing.T) {
	p := sliceTablePreds(t)
	run := func(b Bootstrap, by ...string) *Report {
		r, err := Evaluate(p, Options{SliceBy: by, Bootstrap: b})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a, b := run(Bootstrap{Seed: 7}, "camera"), run(Bootstrap{Seed: 7}, "camera", "operator")
	if a.Bootstrap.Resamples != DefaultResamples || a.Bootstrap.Level != DefaultLevel {
		t.Errorf("defaults not applied: %+v", a.Bootstrap)
	}
	if a.OverallCI != b.OverallCI || a.Slices[0].CI != b.Slices[0].CI {
		t.Error("the same seed gave different intervals, or a slice's interval depends on other slices")
	}
	if c := run(Bootstrap{Seed: 8}); c.OverallCI == a.OverallCI {
		t.Error("a different seed gave identical intervals")
	}
	off := run(Bootstrap{Resamples: -1}, "camera")
	if off.OverallCI.Accuracy.Low.Defined() || off.Slices[0].CI.MacroF1.High.Defined() {
		t.Error("disabled bootstrap still gave intervals")
	}
	if off.OverallCI.Accuracy.Estimate != off.Overall.Accuracy {
		t.Error("disabled bootstrap lost the estimate")
	}
	if _, err := Evaluate(p, Options{Bootstrap: Bootstrap{Level: 1.5}}); err == nil {
		t.Error("level 1.5 accepted")
	}
}

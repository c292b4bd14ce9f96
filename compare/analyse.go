package compare

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/metacnn/metacnn/eval"
	"github.com/metacnn/metacnn/fusion"
)

func newRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x636f6d70617265)) }

// analyse turns the scored runs ([fusion][seed], none first) into the
// result.
func analyse(opts Options, es *evalSet, scores [][]*runScores, columns []string) (*Result, error) {
	r := &Result{
		Version: Version, Split: es.split, N: len(es.rows), Classes: es.classes, Columns: columns,
		Epochs: opts.Epochs, Resamples: opts.Resamples, Repeats: opts.Repeats, Alpha: Alpha,
	}
	for _, rs := range scores[0] {
		r.Seeds = append(r.Seeds, rs.seed)
	}
	if r.Epochs == 0 {
		r.Epochs = opts.Config.WithDefaults().Train.Epochs
	}
	if r.Epochs == 0 { // a step budget: report the epochs the runs took
		for _, runs := range scores {
			for _, rs := range runs {
				r.Epochs = max(r.Epochs, rs.summary.Epochs)
			}
		}
	}
	k := len(es.classes)
	baseSlices, err := sliceStats(scores[0], columns)
	if err != nil {
		return nil, err
	}
	var pvals []float64
	for fi, kind := range opts.Fusions {
		runs := scores[fi]
		fr := FusionResult{Fusion: kind.String()}
		var acc, bal, f1, auc, ll []float64
		for _, rs := range runs {
			m := eval.ComputeMetrics(rs.intact, 0)
			acc, bal, f1 = append(acc, m.Accuracy), append(bal, m.BalancedAccuracy), append(f1, m.MacroF1)
			auc, ll = append(auc, float64(m.ROCAUC)), append(ll, m.LogLoss)
			fr.Runs = append(fr.Runs, RunResult{
				Seed: rs.seed, Epochs: rs.summary.Epochs, StoppedEarly: rs.summary.StoppedEarly,
				TrainSeconds: rs.summary.Seconds, ImagesPerSec: rs.summary.ImagesPerSec, Metrics: m,
			})
		}
		fr.Metrics = MetricStats{Accuracy: stat(acc), BalancedAccuracy: stat(bal), MacroF1: stat(f1), ROCAUC: stat(auc), LogLoss: stat(ll)}
		if fi == 0 {
			fr.Slices = baseSlices
			for i := range fr.Slices {
				fr.Slices[i].DeltaBalancedAccuracy, fr.Slices[i].DeltaAccuracy = eval.NaN(), eval.NaN()
			}
			r.Fusions = append(r.Fusions, fr)
			continue
		}
		if fr.Slices, err = sliceStats(runs, columns); err != nil {
			return nil, err
		}
		for i := range fr.Slices {
			s := &fr.Slices[i]
			b := baseSlices[i] // same rows, same keys: the same slices in the same order
			s.DeltaBalancedAccuracy = s.BalancedAccuracy.Mean - b.BalancedAccuracy.Mean
			s.DeltaAccuracy = s.Accuracy.Mean - b.Accuracy.Mean
		}

		// Paired comparison with image only, seed by seed.
		cmp := &Comparison{}
		var diffs []float64
		pairs := make([]seedPair, len(runs))
		for s, rs := range runs {
			base := scores[0][s].intact
			diffs = append(diffs, bal[s]-balancedAccuracy(base, nil))
			pd, err := eval.ComparePaired(fusion.KindNone.String(), base, kind.String(), rs.intact,
				eval.Bootstrap{Resamples: opts.Resamples, Seed: uint64(s)})
			if err != nil {
				return nil, err
			}
			cmp.Paired = append(cmp.Paired, pd)
			pairs[s] = seedPair{labels: es.labels, base: predicted(base), fuse: predicted(rs.intact)}
		}
		cmp.BalancedAccuracyDiff = stat(diffs)
		lo, hi, p := pairedBootstrap(pairs, k, opts.Resamples, eval.DefaultLevel, uint64(fi))
		cmp.Low, cmp.High, cmp.PValue = eval.Float(lo), eval.Float(hi), p
		fr.VsImageOnly = cmp
		pvals = append(pvals, p)

		// Shuffled-metadata control.
		var cb, ca []float64
		for _, rs := range runs {
			m := eval.ComputeMetrics(rs.shuffled, 0)
			cb, ca = append(cb, m.BalancedAccuracy), append(ca, m.Accuracy)
		}
		ctl := &Control{BalancedAccuracy: stat(cb), Accuracy: stat(ca)}
		ctl.DropFromIntact = float64(fr.Metrics.BalancedAccuracy.Mean - ctl.BalancedAccuracy.Mean)
		ctl.VsImageOnly = float64(ctl.BalancedAccuracy.Mean - r.Fusions[0].Metrics.BalancedAccuracy.Mean)
		fr.ShuffledControl = ctl

		// Permutation importance.
		for _, col := range columns {
			var drops []float64
			for s, rs := range runs {
				var sum float64
				for _, v := range rs.importance[col] {
					sum += bal[s] - v
				}
				drops = append(drops, sum/float64(len(rs.importance[col])))
			}
			fr.Importance = append(fr.Importance, Importance{Column: col, Drop: stat(drops)})
		}
		r.Fusions = append(r.Fusions, fr)
	}
	adj := holm(pvals)
	for i := range adj {
		c := r.Fusions[i+1].VsImageOnly
		c.PValueHolm = adj[i]
		c.Significant = adj[i] < Alpha && float64(c.BalancedAccuracyDiff.Mean) > 0
	}
	r.Verdict = verdict(r)
	r.Best = r.Verdict.Fusion
	return r, nil
}

func predicted(p *eval.Predictions) []int {
	out := make([]int, p.Len())
	for i := range out {
		out[i] = p.Predicted(i)
	}
	return out
}

// sliceStats computes every slice's metrics per seed and summarises them.
func sliceStats(runs []*runScores, columns []string) ([]SliceStat, error) {
	var out []SliceStat
	for s, rs := range runs {
		sl, err := eval.SliceMetrics(rs.intact, columns, 0, eval.Bootstrap{Resamples: -1})
		if err != nil {
			return nil, err
		}
		if s == 0 {
			out = make([]SliceStat, len(sl))
			for i, x := range sl {
				out[i] = SliceStat{Column: x.Column, Value: x.Value, Count: x.Count}
			}
			out = orderSlices(out, columns)
		}
		at := map[[2]string]int{}
		for i, x := range out {
			at[[2]string{x.Column, x.Value}] = i
		}
		for _, x := range sl {
			i := at[[2]string{x.Column, x.Value}]
			out[i].BalancedAccuracy.Values = append(out[i].BalancedAccuracy.Values, eval.Float(x.Metrics.BalancedAccuracy))
			out[i].Accuracy.Values = append(out[i].Accuracy.Values, eval.Float(x.Metrics.Accuracy))
		}
	}
	for i := range out {
		out[i].BalancedAccuracy = stat(floats(out[i].BalancedAccuracy.Values))
		out[i].Accuracy = stat(floats(out[i].Accuracy.Values))
	}
	return out, nil
}

// orderSlices sorts the values within each column (see valueOrder).
func orderSlices(sl []SliceStat, columns []string) []SliceStat {
	var out []SliceStat
	for _, col := range columns {
		var vals []string
		byVal := map[string]SliceStat{}
		for _, s := range sl {
			if s.Column == col {
				vals = append(vals, s.Value)
				byVal[s.Value] = s
			}
		}
		valueOrder(vals)
		for _, v := range vals {
			out = append(out, byVal[v])
		}
	}
	return out
}

func floats(xs []eval.Float) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(x)
	}
	return out
}

// verdict picks the metadata fusion with the best mean balanced accuracy
// and says whether its gain over image only is significant.
func verdict(r *Result) Verdict {
	best := -1
	for i := 1; i < len(r.Fusions); i++ {
		if best < 0 || r.Fusions[i].Metrics.BalancedAccuracy.Mean > r.Fusions[best].Metrics.BalancedAccuracy.Mean {
			best = i
		}
	}
	f := r.Fusions[best]
	c := f.VsImageOnly
	v := Verdict{Fusion: f.Fusion, Gain: 100 * float64(c.BalancedAccuracyDiff.Mean), PValue: c.PValueHolm, Significant: c.Significant}
	if !v.Significant {
		v.Line = fmt.Sprintf("no significant gain from metadata (best: %s, %+.1f balanced-accuracy points over image-only, %s)",
			f.Fusion, v.Gain, pText(v.PValue))
		return v
	}
	v.Line = fmt.Sprintf("%s: %+.1f balanced-accuracy points over image-only (%s)", f.Fusion, v.Gain, pText(v.PValue))
	var top *SliceStat
	for i := range f.Slices {
		s := &f.Slices[i]
		d := float64(s.DeltaBalancedAccuracy)
		if s.Count < MinSliceRows || math.IsNaN(d) || d <= 0 {
			continue
		}
		if top == nil || d > float64(top.DeltaBalancedAccuracy) {
			top = s
		}
	}
	if top != nil {
		v.Slice = &SliceGain{Column: top.Column, Value: top.Value, Count: top.Count, Gain: 100 * float64(top.DeltaBalancedAccuracy)}
		v.Line += fmt.Sprintf("; largest gain on %s=%s (%+.1f)", top.Column, top.Value, v.Slice.Gain)
	}
	return v
}

// pText formats a p-value for the verdict.
func pText(p float64) string {
	switch {
	case p < 0.001:
		return "p < 0.001"
	case p < 0.01:
		return fmt.Sprintf("p = %.3f", p)
	}
	return fmt.Sprintf("p = %.2f", p)
}

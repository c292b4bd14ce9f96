package eval

import (
	"fmt"
	"math"
	"slices"
)

// McNemar is McNemar's exact test on two models' per-row correctness over
// the same rows. Under the null hypothesis that both models err equally
// often, each discordant row is equally likely to favour either model, so
// OnlyA ~ Binomial(OnlyA+OnlyB, ½); PValue is the two-sided exact binomial
// p-value min(1, 2·P[X ≤ min(OnlyA, OnlyB)]), equal to
// scipy.stats.binomtest(OnlyA, OnlyA+OnlyB, 0.5).pvalue, and 1 when there
// are no discordant rows.
type McNemar struct {
	N           int     `json:"n"`
	BothCorrect int     `json:"both_correct"`
	OnlyA       int     `json:"only_a_correct"` // A right, B wrong
	OnlyB       int     `json:"only_b_correct"` // A wrong, B right
	BothWrong   int     `json:"both_wrong"`
	PValue      float64 `json:"p_value"`
}

// McNemarExact runs McNemar's exact test on per-row correctness [N] of
// models A and B.
func McNemarExact(aCorrect, bCorrect []bool) (McNemar, error) {
	if len(aCorrect) != len(bCorrect) {
		return McNemar{}, fmt.Errorf("eval: McNemar on %d and %d rows, want the same rows", len(aCorrect), len(bCorrect))
	}
	t := McNemar{N: len(aCorrect)}
	for i, a := range aCorrect {
		switch b := bCorrect[i]; {
		case a && b:
			t.BothCorrect++
		case a:
			t.OnlyA++
		case b:
			t.OnlyB++
		default:
			t.BothWrong++
		}
	}
	t.PValue = McNemarP(t.OnlyA, t.OnlyB)
	return t, nil
}

// McNemarP is the exact two-sided McNemar p-value for discordant counts b
// and c: min(1, 2·Σ_{i≤min(b,c)} C(b+c, i)/2^(b+c)), 1 when b = c.
func McNemarP(b, c int) float64 {
	if b < 0 || c < 0 {
		panic(fmt.Sprintf("eval: McNemarP(%d, %d): negative count", b, c))
	}
	n, m := b+c, min(b, c)
	if 2*m == n {
		return 1
	}
	// log of the largest term, C(n, m)/2^n.
	var logTop float64
	if n <= 1000 {
		t := 1.0
		for j := 1; j <= m; j++ {
			t = t * float64(n-m+j) / float64(j)
		}
		logTop = math.Log(t) - float64(n)*math.Ln2
	} else {
		a, _ := math.Lgamma(float64(n + 1))
		x, _ := math.Lgamma(float64(m + 1))
		y, _ := math.Lgamma(float64(n - m + 1))
		logTop = a - x - y - float64(n)*math.Ln2
	}
	// Terms below m, relative to the top one: C(n,i-1)/C(n,i) = i/(n-i+1).
	sum, t := 1.0, 1.0
	for i := m; i > 0; i-- {
		t *= float64(i) / float64(n-i+1)
		sum += t
		if t < 1e-18*sum {
			break
		}
	}
	return min(1, 2*math.Exp(logTop)*sum)
}

// PairedDiff is the difference B − A of one metric between two models on
// the same rows, with a paired bootstrap interval and p-value: each
// resample draws the same row indices for both models. PValue is the
// smallest α at which the percentile interval excludes 0:
// min(1, 2·min(1+#{δ* ≤ 0}, 1+#{δ* ≥ 0})/(B+1)) over the B resampled
// differences δ*. Low, High and PValue are null when the bootstrap is
// disabled.
type PairedDiff struct {
	A      float64 `json:"a"`
	B      float64 `json:"b"`
	Diff   float64 `json:"diff"` // B − A
	Low    Float   `json:"low"`
	High   Float   `json:"high"`
	PValue Float   `json:"p_value"`
}

// Paired compares models A and B on the same test rows.
type Paired struct {
	A                string     `json:"a"` // model names, as given
	B                string     `json:"b"`
	N                int        `json:"n"`
	McNemar          McNemar    `json:"mcnemar"`
	Bootstrap        Bootstrap  `json:"bootstrap"`
	BalancedAccuracy PairedDiff `json:"balanced_accuracy"`
	Accuracy         PairedDiff `json:"accuracy"`
	MacroF1          PairedDiff `json:"macro_f1"`
}

// ComparePaired compares two models' predictions on the same rows (same
// classes in the same order, same N, same true label per row): McNemar's
// exact test and paired bootstrap differences (B − A) of balanced accuracy,
// accuracy and macro F1. Zero cfg.Resamples means DefaultPairedResamples.
func ComparePaired(nameA string, a *Predictions, nameB string, b *Predictions, cfg Bootstrap) (Paired, error) {
	if !slices.Equal(a.classes, b.classes) {
		return Paired{}, fmt.Errorf("eval: models %q and %q have different classes: %q and %q", nameA, nameB, a.classes, b.classes)
	}
	if a.Len() != b.Len() {
		return Paired{}, fmt.Errorf("eval: models %q and %q scored %d and %d rows, want the same rows", nameA, nameB, a.Len(), b.Len())
	}
	for i := range a.labels {
		if a.labels[i] != b.labels[i] {
			return Paired{}, fmt.Errorf("eval: row %d has label %q for %q but %q for %q: not the same rows",
				i, a.classes[a.labels[i]], nameA, b.classes[b.labels[i]], nameB)
		}
	}
	cfg, err := cfg.withDefaults(DefaultPairedResamples)
	if err != nil {
		return Paired{}, err
	}
	n, k := a.Len(), a.NumClasses()
	ac, bc := make([]bool, n), make([]bool, n)
	for i := range n {
		ac[i], bc[i] = a.Correct(i), b.Correct(i)
	}
	mc, _ := McNemarExact(ac, bc)
	cellsA, cellsB := confusionCells(a, nil), confusionCells(b, nil)
	cmA, cmB := make([]int, k*k), make([]int, k*k)
	for i := range n {
		cmA[cellsA[i]]++
		cmB[cellsB[i]]++
	}
	sa, sb := confusionStats(cmA, k), confusionStats(cmB, k)
	out := Paired{
		A: nameA, B: nameB, N: n, McNemar: mc, Bootstrap: cfg,
		BalancedAccuracy: pairedPoint(sa.balanced, sb.balanced),
		Accuracy:         pairedPoint(sa.accuracy, sb.accuracy),
		MacroF1:          pairedPoint(sa.macroF1, sb.macroF1),
	}
	if cfg.Resamples <= 0 {
		return out, nil
	}
	rng := newRNG(cfg.Seed, "paired")
	dBal := make([]float64, cfg.Resamples)
	dAcc := make([]float64, cfg.Resamples)
	dF1 := make([]float64, cfg.Resamples)
	for r := range cfg.Resamples {
		clear(cmA)
		clear(cmB)
		for range n {
			i := rng.IntN(n)
			cmA[cellsA[i]]++
			cmB[cellsB[i]]++
		}
		ra, rb := confusionStats(cmA, k), confusionStats(cmB, k)
		dBal[r] = rb.balanced - ra.balanced
		dAcc[r] = rb.accuracy - ra.accuracy
		dF1[r] = rb.macroF1 - ra.macroF1
	}
	pairedBootstrap(&out.BalancedAccuracy, dBal, cfg.Level)
	pairedBootstrap(&out.Accuracy, dAcc, cfg.Level)
	pairedBootstrap(&out.MacroF1, dF1, cfg.Level)
	return out, nil
}

func pairedPoint(a, b float64) PairedDiff {
	return PairedDiff{A: a, B: b, Diff: b - a, Low: NaN(), High: NaN(), PValue: NaN()}
}

func pairedBootstrap(d *PairedDiff, deltas []float64, level float64) {
	le, ge := 0, 0
	for _, v := range deltas {
		if v <= 0 {
			le++
		}
		if v >= 0 {
			ge++
		}
	}
	iv := percentileInterval(d.Diff, deltas, level)
	d.Low, d.High = iv.Low, iv.High
	d.PValue = Float(min(1, 2*float64(min(le, ge)+1)/float64(len(deltas)+1)))
}

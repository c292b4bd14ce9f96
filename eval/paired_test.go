package eval

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestMcNemarP checks the exact two-sided p-value against
// scipy.stats.binomtest(b, b+c, 0.5).pvalue (mcnemarCases, from
// testdata/gen.py) and two hand computations:
//
//	b=1, c=7: 2·(C(8,0)+C(8,1))/2^8 = 2·9/256 = 0.0703125
//	b=0, c=5: 2·C(5,0)/2^5 = 0.0625
//
// n = b+c above 1000 takes the log-gamma branch.
func TestMcNemarP(t *testing.T) {
	checkF(t, "hand 1,7", McNemarP(1, 7), 0.0703125)
	checkF(t, "hand 0,5", McNemarP(0, 5), 0.0625)
	for _, c := range mcnemarCases {
		got := McNemarP(c.b, c.c)
		// Relative 1e-9: the log-gamma branch loses a few digits at n ~ 4000.
		if math.Abs(got-c.p) > 1e-9*c.p+1e-300 {
			t.Errorf("McNemarP(%d, %d) = %v, want %v (scipy)", c.b, c.c, got, c.p)
		}
	}
}

func TestMcNemarExactCounts(t *testing.T) {
	a := []bool{true, true, false, false, true, true, true}
	b := []bool{true, false, true, false, false, false, true}
	m, err := McNemarExact(a, b)
	if err != nil {
		t.Fatal(err)
	}
	want := McNemar{N: 7, BothCorrect: 2, OnlyA: 3, OnlyB: 1, BothWrong: 1, PValue: 0.625} // 2·(1+4)/16
	if m != want {
		t.Errorf("got %+v, want %+v", m, want)
	}
	if _, err := McNemarExact(a, b[:3]); err == nil {
		t.Error("different lengths accepted")
	}
}

// pairedFixture makes two models on the same 300 binary rows: A is right
// on 70% of rows, B on 85%, with independent errors.
func pairedFixture(t testing.TB) (a, b *Predictions) {
	rng := rand.New(rand.NewPCG(3, 4))
	n := 300
	labels := make([]int, n)
	pa, pb := make([][]float64, n), make([][]float64, n)
	row := func(y int, right bool) []float64 {
		q := 0.5 + 0.5*rng.Float64()
		if !right {
			q = 1 - q
		}
		if q == 0.5 {
			q = 0.6
		}
		if y == 1 {
			return []float64{1 - q, q}
		}
		return []float64{q, 1 - q}
	}
	for i := range n {
		labels[i] = rng.IntN(2)
		pa[i] = row(labels[i], rng.Float64() < 0.7)
		pb[i] = row(labels[i], rng.Float64() < 0.85)
	}
	cls := []string{"ok", "defect"}
	return mustPreds(t, cls, labels, pa, nil), mustPreds(t, cls, labels, pb, nil)
}

func TestComparePaired(t *testing.T) {
	a, b := pairedFixture(t)
	cfg := Bootstrap{Resamples: 2000, Seed: 5}
	r, err := ComparePaired("image-only", a, "film", b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ma, mb := ComputeMetrics(a, 0), ComputeMetrics(b, 0)
	checkF(t, "A balanced accuracy", r.BalancedAccuracy.A, ma.BalancedAccuracy)
	checkF(t, "diff", r.BalancedAccuracy.Diff, mb.BalancedAccuracy-ma.BalancedAccuracy)
	checkF(t, "accuracy diff", r.Accuracy.Diff, mb.Accuracy-ma.Accuracy)
	if r.N != 300 || r.McNemar.N != 300 || r.A != "image-only" || r.B != "film" {
		t.Errorf("header %+v", r)
	}
	if !(r.BalancedAccuracy.Low > 0) || !(float64(r.BalancedAccuracy.PValue) < 0.01) || !(r.McNemar.PValue < 0.01) {
		t.Errorf("a 15-point gain on 300 rows is not significant: %+v", r)
	}

	// Replay the stream: the same resamples computed naively.
	rng := newRNG(cfg.Seed, "paired")
	deltas := make([]float64, cfg.Resamples)
	draw := make([]int, a.Len())
	le, ge := 0, 0
	for i := range deltas {
		for j := range draw {
			draw[j] = rng.IntN(a.Len())
		}
		deltas[i] = naiveStats(b, draw)[1] - naiveStats(a, draw)[1]
		if deltas[i] <= 0 {
			le++
		}
		if deltas[i] >= 0 {
			ge++
		}
	}
	checkF(t, "low", float64(r.BalancedAccuracy.Low), naiveQuantile(deltas, 0.025))
	checkF(t, "high", float64(r.BalancedAccuracy.High), naiveQuantile(deltas, 0.975))
	checkF(t, "p", float64(r.BalancedAccuracy.PValue), math.Min(1, 2*float64(min(le, ge)+1)/float64(cfg.Resamples+1)))

	// A model against itself: no difference, p = 1.
	same, err := ComparePaired("a", a, "a", a, Bootstrap{Resamples: 200})
	if err != nil {
		t.Fatal(err)
	}
	if same.BalancedAccuracy.Diff != 0 || same.BalancedAccuracy.Low != 0 || same.BalancedAccuracy.High != 0 ||
		same.BalancedAccuracy.PValue != 1 || same.McNemar.PValue != 1 {
		t.Errorf("model against itself: %+v", same)
	}
	if def, _ := ComparePaired("a", a, "b", b, Bootstrap{}); def.Bootstrap.Resamples != DefaultPairedResamples {
		t.Errorf("default paired resamples %d", def.Bootstrap.Resamples)
	}

	// Different rows are refused.
	labels := make([]int, a.Len())
	probs := make([][]float64, a.Len())
	for i := range labels {
		labels[i] = a.Label(i)
		probs[i] = a.Row(i)
	}
	labels[4] = 1 - labels[4]
	other := mustPreds(t, a.Classes(), labels, probs, nil)
	if _, err := ComparePaired("a", a, "other", other, Bootstrap{}); err == nil {
		t.Error("different labels accepted")
	}
	if _, err := ComparePaired("a", a, "short", a.Subset([]int{0, 1}), Bootstrap{}); err == nil {
		t.Error("different row counts accepted")
	}
}

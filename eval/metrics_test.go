package eval

import (
	"errors"
	"math"
	"strings"
	"testing"
)

const tol = 1e-12

func near(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= tol*max(1, math.Abs(b))
}

func checkF(t *testing.T, what string, got, want float64) {
	t.Helper()
	if !near(got, want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func mustPreds(t testing.TB, classes []string, labels []int, probs [][]float64, keys []map[string]string) *Predictions {
	t.Helper()
	p, err := NewPredictions(classes, labels, probs, keys)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestMetricsAgainstSklearn checks every metric against scikit-learn 1.2.1
// (metricCases, from testdata/gen.py): tied scores, a class never predicted,
// a class absent from y_true, probabilities 0 and 1.
func TestMetricsAgainstSklearn(t *testing.T) {
	for _, c := range metricCases {
		t.Run(c.name, func(t *testing.T) {
			p := mustPreds(t, c.classes, c.labels, c.probs, nil)
			m := ComputeMetrics(p, 0)
			checkF(t, "accuracy", m.Accuracy, c.accuracy)
			checkF(t, "balanced accuracy", m.BalancedAccuracy, c.balanced)
			checkF(t, "macro F1", m.MacroF1, c.macroF1)
			checkF(t, "ROC-AUC", float64(m.ROCAUC), c.rocAUC)
			checkF(t, "PR-AUC", float64(m.PRAUC), c.prAUC)
			checkF(t, "log loss", m.LogLoss, c.logLoss)
			checkF(t, "ECE", m.Calibration.ECE, c.ece)
			if m.N != len(c.labels) {
				t.Errorf("N = %d, want %d", m.N, len(c.labels))
			}
			for k, cls := range m.PerClass {
				name := c.classes[k]
				if cls.Class != name {
					t.Errorf("class %d named %q, want %q", k, cls.Class, name)
				}
				checkF(t, name+" precision", cls.Precision, c.precision[k])
				checkF(t, name+" recall", cls.Recall, c.recall[k])
				checkF(t, name+" f1", cls.F1, c.f1[k])
				checkF(t, name+" ROC-AUC", float64(cls.ROCAUC), c.classROC[k])
				checkF(t, name+" PR-AUC", float64(cls.PRAUC), c.classAP[k])
				if cls.Support != c.support[k] {
					t.Errorf("%s support = %d, want %d", name, cls.Support, c.support[k])
				}
				predicted := 0
				for _, row := range c.confusion {
					predicted += row[k]
				}
				if cls.Predicted != predicted {
					t.Errorf("%s predicted = %d, want %d", name, cls.Predicted, predicted)
				}
				for j := range c.classes {
					if m.Confusion[k][j] != c.confusion[k][j] {
						t.Errorf("confusion[%d][%d] = %d, want %d", k, j, m.Confusion[k][j], c.confusion[k][j])
					}
				}
				if (c.support[k] == 0) != strings.Contains(strings.Join(m.Warnings, "\n"), "class \""+name+"\" has no true rows") {
					t.Errorf("class %q with support %d: warnings %q", name, c.support[k], m.Warnings)
				}
			}

			// The flat constructor gives the same metrics.
			var flat []float64
			for _, row := range c.probs {
				flat = append(flat, row...)
			}
			pf, err := NewPredictionsFlat(c.classes, c.labels, flat, nil)
			if err != nil {
				t.Fatal(err)
			}
			mf := ComputeMetrics(pf, 0)
			if mf.Accuracy != m.Accuracy || mf.LogLoss != m.LogLoss || !near(float64(mf.ROCAUC), float64(m.ROCAUC)) {
				t.Errorf("flat predictions give different metrics")
			}
		})
	}
}

// TestCurvesAgainstSklearn checks ROCCurve and PRCurve on the tied binary
// case against sklearn's roc_curve(drop_intermediate=False) and
// precision_recall_curve (binaryCurves, from testdata/gen.py).
func TestCurvesAgainstSklearn(t *testing.T) {
	c := metricCases[0]
	p := mustPreds(t, c.classes, c.labels, c.probs, nil)
	pos, scores := p.OneVsRest(1)
	fpr, tpr, thr, err := ROCCurve(pos, scores)
	if err != nil {
		t.Fatal(err)
	}
	want := binaryCurves
	checkSlice(t, "fpr", fpr, want.fpr)
	checkSlice(t, "tpr", tpr, want.tpr)
	if !math.IsInf(thr[0], 1) {
		t.Errorf("first ROC threshold %v, want +Inf", thr[0])
	}
	checkSlice(t, "ROC thresholds", thr[1:], want.rocThr)
	prec, rec, pthr, err := PRCurve(pos, scores)
	if err != nil {
		t.Fatal(err)
	}
	checkSlice(t, "precision", prec, want.precision)
	checkSlice(t, "recall", rec, want.recall)
	checkSlice(t, "PR thresholds", pthr, want.prThr)
}

func checkSlice(t *testing.T, what string, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s has %d points, want %d: %v vs %v", what, len(got), len(want), got, want)
		return
	}
	for i := range got {
		if !near(got[i], want[i]) {
			t.Errorf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

// TestRankingByHand checks AUC and AP on a tiny tied case computed by hand.
func TestRankingByHand(t *testing.T) {
	// Scores (positive?): 0.9(+) 0.5(+) 0.5(-) 0.1(-).
	// ROC points (fpr, tpr) per distinct threshold: (0,0), 0.9 → (0,½),
	// 0.5 → (½,1), 0.1 → (1,1). Trapezoids: 0 + ½·¾ + ½·1 = 0.875
	// (= Mann-Whitney: 4 pairs, 3 wins and one tie counted ½).
	// AP: 0.9 → R=½, P=1; 0.5 → R=1, P=⅔; 0.1 → no new recall:
	// ½·1 + ½·⅔ = ⅚.
	pos := []bool{true, true, false, false}
	sc := []float64{0.9, 0.5, 0.5, 0.1}
	auc, err := BinaryROCAUC(pos, sc)
	if err != nil {
		t.Fatal(err)
	}
	checkF(t, "AUC", auc, 0.875)
	ap, err := AveragePrecision(pos, sc)
	if err != nil {
		t.Fatal(err)
	}
	checkF(t, "AP", ap, 5.0/6)

	if _, err := BinaryROCAUC([]bool{true, true}, []float64{0.2, 0.3}); !errors.Is(err, ErrUndefined) {
		t.Errorf("AUC with only positives: err %v, want ErrUndefined", err)
	}
	if _, err := AveragePrecision([]bool{false, false}, []float64{0.2, 0.3}); !errors.Is(err, ErrUndefined) {
		t.Errorf("AP with no positives: err %v, want ErrUndefined", err)
	}
	if _, err := BinaryROCAUC([]bool{true, false}, []float64{math.NaN(), 0.3}); err == nil || errors.Is(err, ErrUndefined) {
		t.Errorf("NaN score: err %v, want an input error", err)
	}
}

// TestECEByHand checks calibration on five binary rows, by hand (M = 15,
// bin b = ceil(15c) − 1):
//
//	conf 0.90 correct  bin 13 (15·0.90 = 13.5)
//	conf 0.92 wrong    bin 13 (13.8)
//	conf 0.85 wrong    bin 12 (12.75)
//	conf 0.70 correct  bin 10 (10.5)
//	conf 0.55 wrong    bin  8 (8.25)
//
// bin 13: mean conf 0.91, accuracy 0.5, gap 0.41; gaps 0.85, 0.30, 0.55.
// ECE = (2·0.41 + 0.85 + 0.30 + 0.55)/5 = 0.504; MCE = 0.85.
func TestECEByHand(t *testing.T) {
	p := mustPreds(t, []string{"a", "b"}, []int{0, 0, 1, 1, 0}, [][]float64{
		{0.9, 0.1}, {0.08, 0.92}, {0.85, 0.15}, {0.3, 0.7}, {0.45, 0.55},
	}, nil)
	c := Calibrate(p, 0)
	checkF(t, "ECE", c.ECE, 0.504)
	checkF(t, "MCE", c.MCE, 0.85)
	if c.Bins != 15 || len(c.Reliability) != 15 {
		t.Fatalf("bins %d, %d entries, want 15", c.Bins, len(c.Reliability))
	}
	b := c.Reliability[13]
	if b.Count != 2 || !near(float64(b.Confidence), 0.91) || !near(float64(b.Accuracy), 0.5) {
		t.Errorf("bin 13 = %+v, want count 2, confidence 0.91, accuracy 0.5", b)
	}
	checkF(t, "bin 13 lower", b.Lower, 13.0/15)
	checkF(t, "bin 13 upper", b.Upper, 14.0/15)
	counts := 0
	for i, b := range c.Reliability {
		counts += b.Count
		if b.Count == 0 && (b.Confidence.Defined() || b.Accuracy.Defined()) {
			t.Errorf("empty bin %d has values %+v", i, b)
		}
	}
	if counts != 5 {
		t.Errorf("bins hold %d rows, want 5", counts)
	}
	// Confidence 1 falls in the last bin, not past it.
	one := Calibrate(mustPreds(t, []string{"a", "b"}, []int{0}, [][]float64{{1, 0}}, nil), 15)
	if one.Reliability[14].Count != 1 || one.ECE != 0 {
		t.Errorf("confidence 1: %+v", one)
	}
}

func TestPredictionsValidation(t *testing.T) {
	two := []string{"a", "b"}
	for _, c := range []struct {
		name    string
		classes []string
		labels  []int
		probs   [][]float64
		keys    []map[string]string
		want    string
	}{
		{"one class", []string{"a"}, []int{0}, [][]float64{{1}}, nil, "at least 2"},
		{"duplicate class", []string{"a", "a"}, []int{0}, [][]float64{{1, 0}}, nil, "twice"},
		{"no rows", two, nil, nil, nil, "no rows"},
		{"label range", two, []int{0, 2}, [][]float64{{1, 0}, {1, 0}}, nil, "row 1: label 2"},
		{"row width", two, []int{0}, [][]float64{{1, 0, 0}}, nil, "row 0 has 3 columns"},
		{"NaN", two, []int{0}, [][]float64{{math.NaN(), 1}}, nil, "row 0: probability of class \"a\""},
		{"sum", two, []int{0, 1}, [][]float64{{0.5, 0.5}, {0.5, 0.6}}, nil, "row 1: probabilities sum to"},
		{"row count", two, []int{0}, [][]float64{{1, 0}, {1, 0}}, nil, "2 probability rows for 1 labels"},
		{"keys", two, []int{0}, [][]float64{{1, 0}}, []map[string]string{{}, {}}, "2 slice-key rows"},
	} {
		_, err := NewPredictions(c.classes, c.labels, c.probs, c.keys)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want one containing %q", c.name, err, c.want)
		}
	}
	if _, err := NewPredictionsFlat(two, []int{0}, []float64{1}, nil); err == nil {
		t.Error("flat probabilities of the wrong length accepted")
	}
	// Argmax ties go to the lowest index, as numpy.argmax.
	p := mustPreds(t, []string{"a", "b", "c"}, []int{1}, [][]float64{{0.2, 0.4, 0.4}}, nil)
	if p.Predicted(0) != 1 || !p.Correct(0) {
		t.Errorf("tie: predicted %d, want 1", p.Predicted(0))
	}
}

package eval

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// ErrUndefined marks a metric that is undefined for the given rows, such as
// ROC-AUC when y_true holds one class only. Errors wrapping it say why.
var ErrUndefined = errors.New("eval: metric undefined")

// binaryCurve sorts rows by score, decreasing, and returns for each distinct
// score t (decreasing) the cumulative counts of positives (tps) and
// negatives (fps) with score ≥ t: sklearn's _binary_clf_curve.
func binaryCurve(positive []bool, scores []float64) (tps, fps []int, thresholds []float64, err error) {
	if len(positive) != len(scores) {
		return nil, nil, nil, fmt.Errorf("eval: %d labels for %d scores", len(positive), len(scores))
	}
	if len(scores) == 0 {
		return nil, nil, nil, fmt.Errorf("%w: no rows", ErrUndefined)
	}
	order := make([]int, len(scores))
	for i, s := range scores {
		if math.IsNaN(s) {
			return nil, nil, nil, fmt.Errorf("eval: score %d is NaN", i)
		}
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		switch {
		case scores[a] > scores[b]:
			return -1
		case scores[a] < scores[b]:
			return 1
		}
		return 0
	})
	tp, fp := 0, 0
	for j, i := range order {
		if positive[i] {
			tp++
		} else {
			fp++
		}
		if j+1 < len(order) && scores[order[j+1]] == scores[i] {
			continue // same threshold: one step for all tied rows
		}
		tps = append(tps, tp)
		fps = append(fps, fp)
		thresholds = append(thresholds, scores[i])
	}
	return tps, fps, thresholds, nil
}

// BinaryROCAUC is the area under the ROC curve for scores [N] and whether
// each row is positive [N]: the trapezoid rule over the curve's points at
// distinct thresholds, so tied scores contribute one diagonal segment (equal
// to the Mann-Whitney U statistic with ties counted ½), as sklearn
// roc_auc_score. It wraps ErrUndefined when all rows are of one kind.
func BinaryROCAUC(positive []bool, scores []float64) (float64, error) {
	tps, fps, _, err := binaryCurve(positive, scores)
	if err != nil {
		return math.NaN(), err
	}
	p, n := tps[len(tps)-1], fps[len(fps)-1]
	if p == 0 || n == 0 {
		return math.NaN(), fmt.Errorf("%w: ROC-AUC needs positive and negative rows, got %d and %d", ErrUndefined, p, n)
	}
	// Twice the area in units of 1/(p·n), summed exactly in integers.
	var area2 int64
	prevT, prevF := 0, 0
	for j := range tps {
		area2 += int64(fps[j]-prevF) * int64(tps[j]+prevT)
		prevT, prevF = tps[j], fps[j]
	}
	return float64(area2) / (2 * float64(p) * float64(n)), nil
}

// AveragePrecision is the area under the precision-recall curve as sklearn
// average_precision_score defines it: Σ_n (R_n − R_{n−1}) P_n over distinct
// thresholds in decreasing order, R_0 = 0, P_n = TP_n/(TP_n+FP_n), no
// interpolation. Inputs as BinaryROCAUC. It wraps ErrUndefined when no row
// is positive (sklearn warns and returns 0 there).
func AveragePrecision(positive []bool, scores []float64) (float64, error) {
	tps, fps, _, err := binaryCurve(positive, scores)
	if err != nil {
		return math.NaN(), err
	}
	p := tps[len(tps)-1]
	if p == 0 {
		return math.NaN(), fmt.Errorf("%w: PR-AUC needs positive rows, got none", ErrUndefined)
	}
	ap, prev := 0.0, 0
	for j := range tps {
		if tps[j] == prev {
			continue
		}
		ap += float64(tps[j]-prev) / float64(p) * (float64(tps[j]) / float64(tps[j]+fps[j]))
		prev = tps[j]
	}
	return ap, nil
}

// ROCCurve returns the ROC curve's points, one per distinct threshold in
// decreasing order, preceded by (0, 0) at threshold +Inf: as sklearn
// roc_curve with drop_intermediate=False (sklearn ≥ 1.3 also uses +Inf).
// fpr, tpr and thresholds have the same length.
func ROCCurve(positive []bool, scores []float64) (fpr, tpr, thresholds []float64, err error) {
	tps, fps, thr, err := binaryCurve(positive, scores)
	if err != nil {
		return nil, nil, nil, err
	}
	p, n := tps[len(tps)-1], fps[len(fps)-1]
	if p == 0 || n == 0 {
		return nil, nil, nil, fmt.Errorf("%w: ROC curve needs positive and negative rows, got %d and %d", ErrUndefined, p, n)
	}
	fpr = append(make([]float64, 0, len(tps)+1), 0)
	tpr = append(make([]float64, 0, len(tps)+1), 0)
	thresholds = append(make([]float64, 0, len(tps)+1), math.Inf(1))
	for j := range tps {
		fpr = append(fpr, float64(fps[j])/float64(n))
		tpr = append(tpr, float64(tps[j])/float64(p))
		thresholds = append(thresholds, thr[j])
	}
	return fpr, tpr, thresholds, nil
}

// PRCurve returns the precision-recall curve in sklearn
// precision_recall_curve's order: thresholds increasing (one per distinct
// score), precision[i] and recall[i] at thresholds[i], then a final point
// precision 1, recall 0 with no threshold, so len(precision) =
// len(recall) = len(thresholds)+1. Precision is 0 where nothing is
// predicted positive.
func PRCurve(positive []bool, scores []float64) (precision, recall, thresholds []float64, err error) {
	tps, fps, thr, err := binaryCurve(positive, scores)
	if err != nil {
		return nil, nil, nil, err
	}
	p := tps[len(tps)-1]
	if p == 0 {
		return nil, nil, nil, fmt.Errorf("%w: PR curve needs positive rows, got none", ErrUndefined)
	}
	m := len(tps)
	precision = make([]float64, 0, m+1)
	recall = make([]float64, 0, m+1)
	thresholds = make([]float64, 0, m)
	for j := m - 1; j >= 0; j-- {
		precision = append(precision, float64(tps[j])/float64(tps[j]+fps[j]))
		recall = append(recall, float64(tps[j])/float64(p))
		thresholds = append(thresholds, thr[j])
	}
	precision = append(precision, 1)
	recall = append(recall, 0)
	return precision, recall, thresholds, nil
}

package eval

import (
	"fmt"
	"math"
)

// ClassMetrics are one class's one-vs-rest metrics.
type ClassMetrics struct {
	Class     string  `json:"class"`
	Precision float64 `json:"precision"` // TP/(TP+FP); 0 when the class is never predicted
	Recall    float64 `json:"recall"`    // TP/(TP+FN); 0 when the class has no true rows
	F1        float64 `json:"f1"`        // 2TP/(2TP+FP+FN); 0 when that is 0/0
	Support   int     `json:"support"`   // rows whose true class this is
	Predicted int     `json:"predicted"` // rows predicted as this class
	ROCAUC    Float   `json:"roc_auc"`   // one-vs-rest, column c as the score; null if undefined
	PRAUC     Float   `json:"pr_auc"`    // average precision, one-vs-rest; null if undefined
}

// AUC averaging, the value of Metrics.AUCAverage.
const (
	AUCBinary   = "binary"    // K = 2: the second class is positive
	AUCMacroOvR = "macro-ovr" // K > 2: macro mean of one-vs-rest AUCs
)

// Metrics are the metrics of one set of predictions (all rows, or one
// slice). Definitions are in the package documentation.
type Metrics struct {
	N                int            `json:"n"`
	Accuracy         float64        `json:"accuracy"`
	BalancedAccuracy float64        `json:"balanced_accuracy"`
	MacroF1          float64        `json:"macro_f1"`
	ROCAUC           Float          `json:"roc_auc"`     // binary or macro one-vs-rest; null if undefined
	PRAUC            Float          `json:"pr_auc"`      // average precision, same averaging
	AUCAverage       string         `json:"auc_average"` // AUCBinary or AUCMacroOvR
	LogLoss          float64        `json:"log_loss"`
	PerClass         []ClassMetrics `json:"per_class"` // [K], class order
	Confusion        [][]int        `json:"confusion"` // [K][K], [true][predicted]
	Calibration      Calibration    `json:"calibration"`
	Warnings         []string       `json:"warnings,omitempty"` // undefined or zeroed values, and why
}

// ComputeMetrics computes every metric of p. calibrationBins ≤ 0 means
// DefaultCalibrationBins.
func ComputeMetrics(p *Predictions, calibrationBins int) Metrics {
	k, n := p.NumClasses(), p.Len()
	cm := make([]int, k*k)
	for i, y := range p.labels {
		cm[y*k+p.pred[i]]++
	}
	s := confusionStats(cm, k)
	m := Metrics{
		N:                n,
		Accuracy:         s.accuracy,
		BalancedAccuracy: s.balanced,
		MacroF1:          s.macroF1,
		LogLoss:          logLoss(p),
		PerClass:         make([]ClassMetrics, k),
		Confusion:        make([][]int, k),
		Calibration:      Calibrate(p, calibrationBins),
	}
	for t := range k {
		m.Confusion[t] = append([]int(nil), cm[t*k:(t+1)*k]...)
	}
	warn := func(format string, args ...any) { m.Warnings = append(m.Warnings, fmt.Sprintf(format, args...)) }
	var rocSum, apSum float64
	var rocN, apN int
	for c := range k {
		tp, support, predicted := cm[c*k+c], 0, 0
		for j := range k {
			support += cm[c*k+j]
			predicted += cm[j*k+c]
		}
		cls := ClassMetrics{Class: p.classes[c], Support: support, Predicted: predicted, F1: ratio(2*tp, support+predicted)}
		cls.Precision = ratio(tp, predicted)
		cls.Recall = ratio(tp, support)
		if predicted == 0 {
			warn("class %q is never predicted: precision set to 0", p.classes[c])
		}
		pos, scores := p.OneVsRest(c)
		roc, rocErr := BinaryROCAUC(pos, scores)
		ap, apErr := AveragePrecision(pos, scores)
		switch {
		case support == 0:
			warn("class %q has no true rows: recall set to 0, ROC-AUC and PR-AUC undefined", p.classes[c])
		case rocErr != nil:
			warn("class %q: ROC-AUC undefined (%v)", p.classes[c], trimUndefined(rocErr))
		}
		if rocErr == nil {
			rocSum += roc
			rocN++
		}
		if apErr == nil {
			apSum += ap
			apN++
		}
		cls.ROCAUC, cls.PRAUC = Float(roc), Float(ap)
		m.PerClass[c] = cls
	}
	if k == 2 {
		m.AUCAverage = AUCBinary
		m.ROCAUC, m.PRAUC = m.PerClass[1].ROCAUC, m.PerClass[1].PRAUC
	} else {
		m.AUCAverage = AUCMacroOvR
		m.ROCAUC, m.PRAUC = NaN(), NaN()
		if rocN > 0 {
			m.ROCAUC = Float(rocSum / float64(rocN))
		}
		if apN > 0 {
			m.PRAUC = Float(apSum / float64(apN))
		}
		if rocN > 0 && rocN < k {
			warn("macro ROC-AUC averages the %d of %d classes where it is defined", rocN, k)
		}
		if apN > 0 && apN < k {
			warn("macro PR-AUC averages the %d of %d classes where it is defined", apN, k)
		}
	}
	return m
}

func trimUndefined(err error) string {
	s := err.Error()
	const prefix = "eval: metric undefined: "
	if len(s) > len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):]
	}
	return s
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

type cmStats struct{ accuracy, balanced, macroF1 float64 }

// confusionStats derives accuracy, balanced accuracy and macro F1 from a
// flat [K*K] confusion matrix ([true*K+predicted]) holding at least one row.
// The bootstrap calls it once per resample, so it allocates nothing.
func confusionStats(cm []int, k int) cmStats {
	var n, correct, present, active int
	var recallSum, f1Sum float64
	for c := range k {
		row, col := 0, 0
		for j := range k {
			row += cm[c*k+j]
			col += cm[j*k+c]
		}
		tp := cm[c*k+c]
		n += row
		correct += tp
		if row > 0 {
			recallSum += float64(tp) / float64(row)
			present++
		}
		if row > 0 || col > 0 {
			// 2TP+FP+FN = row + col.
			f1Sum += 2 * float64(tp) / float64(row+col)
			active++
		}
	}
	if n == 0 {
		return cmStats{math.NaN(), math.NaN(), math.NaN()}
	}
	return cmStats{
		accuracy: float64(correct) / float64(n),
		balanced: recallSum / float64(present),
		macroF1:  f1Sum / float64(active),
	}
}

// logLossEps is sklearn log_loss's eps="auto" for float64 input.
const logLossEps = 2.220446049250313e-16

// logLoss is −mean log p[true] with each row clipped to [ε, 1−ε] and
// renormalised, as sklearn 1.2 log_loss.
func logLoss(p *Predictions) float64 {
	k := p.NumClasses()
	clip := func(v float64) float64 { return min(max(v, logLossEps), 1-logLossEps) }
	sum := 0.0
	for i, y := range p.labels {
		row := p.probs[i*k : (i+1)*k]
		z := 0.0
		for _, v := range row {
			z += clip(v)
		}
		sum += math.Log(clip(row[y]) / z)
	}
	return -sum / float64(p.Len())
}

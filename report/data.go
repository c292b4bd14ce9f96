package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/metacnn/metacnn/eval"
)

// MaxCurvePoints bounds the points kept per curve by CurvesOf: a curve over
// N rows has up to N+1 points, which add nothing visible beyond a few
// thousand and make the plots slow to draw.
const MaxCurvePoints = 2000

// Curve is one ROC or precision-recall curve. For ROC, X is the false
// positive rate and Y the true positive rate; for PR, X is recall and Y
// precision, with points in increasing recall. X and Y have the same length.
type Curve struct {
	// Label names the curve in a legend, e.g. the positive class.
	Label string
	X, Y  []float64
	// Area is the curve's summary (ROC-AUC or average precision), NaN when
	// unknown; it is shown in the legend.
	Area float64
}

// Curves are the ranking curves of one set of predictions: for a binary
// problem one curve each, with the second class positive; for K > 2 one
// per class, one-vs-rest. A class whose curve is undefined (no positive or
// no negative row) is left out and named in Notes.
type Curves struct {
	ROC, PR []Curve
	Notes   []string
}

// CurvesOf computes the ROC and PR curves of p as eval.ROCCurve and
// eval.PRCurve define them, thinned to at most MaxCurvePoints points each.
func CurvesOf(p *eval.Predictions) Curves {
	var cs Curves
	classes := p.Classes()
	targets := []int{1}
	if len(classes) > 2 {
		targets = targets[:0]
		for c := range classes {
			targets = append(targets, c)
		}
	}
	for _, c := range targets {
		pos, scores := p.OneVsRest(c)
		label := classes[c]
		if len(classes) > 2 {
			label += " vs rest"
		}
		if fpr, tpr, _, err := eval.ROCCurve(pos, scores); err == nil {
			auc, _ := eval.BinaryROCAUC(pos, scores)
			x, y := thin(fpr, tpr, MaxCurvePoints)
			cs.ROC = append(cs.ROC, Curve{Label: label, X: x, Y: y, Area: auc})
		} else {
			cs.Notes = append(cs.Notes, fmt.Sprintf("ROC curve of %s: %v", label, err))
		}
		if prec, rec, _, err := eval.PRCurve(pos, scores); err == nil {
			ap, _ := eval.AveragePrecision(pos, scores)
			// eval.PRCurve runs from high recall to (0, 1); plots read left
			// to right.
			n := len(rec)
			x, y := make([]float64, n), make([]float64, n)
			for i := range n {
				x[i], y[i] = rec[n-1-i], prec[n-1-i]
			}
			x, y = thin(x, y, MaxCurvePoints)
			cs.PR = append(cs.PR, Curve{Label: label, X: x, Y: y, Area: ap})
		} else {
			cs.Notes = append(cs.Notes, fmt.Sprintf("PR curve of %s: %v", label, err))
		}
	}
	return cs
}

// thin keeps at most max points of a curve, evenly spaced by index, always
// keeping the first and the last.
func thin(x, y []float64, max int) ([]float64, []float64) {
	n := len(x)
	if n <= max || max < 2 {
		return x, y
	}
	tx, ty := make([]float64, 0, max), make([]float64, 0, max)
	for k := range max {
		i := int(math.Round(float64(k) * float64(n-1) / float64(max-1)))
		tx, ty = append(tx, x[i]), append(ty, y[i])
	}
	return tx, ty
}

// Epoch is one epoch of a training history. Validation figures are NaN
// when the run had no validation data.
type Epoch struct {
	Epoch                                     int // 1-based
	TrainLoss, TrainAccuracy                  float64
	ValLoss, ValAccuracy, ValBalancedAccuracy float64
}

// epochJSON is how the train package writes an epoch into a model's
// training summary (train.EpochStats).
type epochJSON struct {
	Epoch               int      `json:"epoch"`
	TrainLoss           *float64 `json:"train_loss"`
	TrainAccuracy       *float64 `json:"train_accuracy"`
	ValLoss             *float64 `json:"val_loss"`
	ValAccuracy         *float64 `json:"val_accuracy"`
	ValBalancedAccuracy *float64 `json:"val_balanced_accuracy"`
}

// HistoryFromTraining reads the epoch history from a model's training
// summary (model.Bundle.Training, as `metacnn train` writes it: a "history"
// list of objects with epoch, train_loss, train_accuracy, val_loss,
// val_accuracy, val_balanced_accuracy). A summary without a history (an
// imported model, say) gives nil and no error; a history of another shape
// is an error.
func HistoryFromTraining(training map[string]any) ([]Epoch, error) {
	h, ok := training["history"]
	if !ok || h == nil {
		return nil, nil
	}
	js, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("report: training history: %w", err)
	}
	var raw []epochJSON
	if err := json.Unmarshal(js, &raw); err != nil {
		return nil, fmt.Errorf("report: training history is not a list of epochs: %w", err)
	}
	out := make([]Epoch, len(raw))
	for i, e := range raw {
		if e.Epoch <= 0 {
			return nil, fmt.Errorf("report: training history entry %d has epoch %d, want >= 1", i, e.Epoch)
		}
		out[i] = Epoch{Epoch: e.Epoch, TrainLoss: orNaN(e.TrainLoss), TrainAccuracy: orNaN(e.TrainAccuracy),
			ValLoss: orNaN(e.ValLoss), ValAccuracy: orNaN(e.ValAccuracy), ValBalancedAccuracy: orNaN(e.ValBalancedAccuracy)}
	}
	return out, nil
}

func orNaN(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// Bars is one series of per-group values for PlotSliceBars: one value per
// group, and optionally an interval around it (Low and High nil, or one
// entry per group with NaN where a group has none).
type Bars struct {
	Name      string
	Values    []float64
	Low, High []float64
}

func (b Bars) check(groups int) error {
	if len(b.Values) != groups {
		return fmt.Errorf("report: bar series %q has %d values for %d groups", b.Name, len(b.Values), groups)
	}
	if (b.Low == nil) != (b.High == nil) {
		return errors.New("report: bar series " + b.Name + " has only one interval bound")
	}
	if b.Low != nil && (len(b.Low) != groups || len(b.High) != groups) {
		return fmt.Errorf("report: bar series %q has %d/%d interval bounds for %d groups", b.Name, len(b.Low), len(b.High), groups)
	}
	return nil
}

// SliceBars returns the groups (slice values, in report order) of one
// slice column of r and their balanced accuracy with its bootstrap
// interval, as one series named name. ok is false when r has no slices by
// column.
func SliceBars(r *eval.Report, column, name string) (groups []string, b Bars, ok bool) {
	b.Name = name
	for _, s := range r.Slices {
		if s.Column != column {
			continue
		}
		groups = append(groups, s.Value)
		iv := s.CI.BalancedAccuracy
		b.Values = append(b.Values, iv.Estimate)
		b.Low = append(b.Low, float64(iv.Low))
		b.High = append(b.High, float64(iv.High))
	}
	return groups, b, len(groups) > 0
}

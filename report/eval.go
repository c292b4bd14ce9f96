package report

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"

	"github.com/metacnn/metacnn/eval"
)

// File names WriteEval writes into its directory (with AddEval's prefix
// before each PNG name). Slice plots are named slice-<i>-<column>.png.
const (
	IndexFile       = "index.html"
	EvalJSONFile    = "eval.json"
	ConfusionFile   = "confusion.png"
	ROCFile         = "roc.png"
	PRFile          = "pr.png"
	ReliabilityFile = "reliability.png"
	LearningFile    = "learning-curves.png"
)

// WriteEval writes the report of one evaluation into dir (created if
// needed): index.html, eval.json (r as JSON) and the plots: confusion
// matrix, ROC and PR curves, reliability diagram, per-slice balanced
// accuracy with bootstrap intervals (one plot per slice column), and
// learning curves when history is not empty. curves come from CurvesOf on
// the predictions r was computed from; history from HistoryFromTraining
// (nil for none). It returns the path of index.html.
func WriteEval(dir string, r *eval.Report, curves Curves, history []Epoch) (string, error) {
	title := "Evaluation"
	if r.Model != "" {
		title += ": " + r.Model
	}
	p := NewPage(title)
	if err := p.AddEval("", r, curves, history); err != nil {
		return "", err
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	p.Heading("Data")
	if err := p.Attach(EvalJSONFile, "All figures as JSON ("+EvalJSONFile+")", append(js, '\n')); err != nil {
		return "", err
	}
	return p.Write(dir, IndexFile)
}

// AddEval adds the sections of one evaluation to p: summary with
// confidence intervals, per-class metrics, the plots, per-slice tables and
// plots, learning curves and warnings. prefix is put before every figure
// file name, so several evaluations fit on one page (e.g. "film-").
func (p *Page) AddEval(prefix string, r *eval.Report, curves Curves, history []Epoch) error {
	if prefix != "" {
		if err := checkFileName(prefix + "x"); err != nil {
			return fmt.Errorf("report: figure prefix %q: only letters, digits, '.', '-' and '_' are allowed", prefix)
		}
	}
	m := r.Overall
	p.Text(fmt.Sprintf("%d rows, %d classes (%s). Intervals: %g%% percentile bootstrap, %s, seed %d.",
		r.N, len(r.Classes), strings.Join(r.Classes, ", "), 100*r.Bootstrap.Level, resamples(r.Bootstrap), r.Bootstrap.Seed))

	p.Heading("Summary")
	auc := "macro one-vs-rest"
	if m.AUCAverage == eval.AUCBinary && len(r.Classes) > 1 {
		auc = fmt.Sprintf("positive class %s", r.Classes[1])
	}
	level := fmt.Sprintf("%g%% CI", 100*r.Bootstrap.Level)
	p.Table(Table{Header: []string{"metric", "value", level}, Rows: [][]string{
		{"accuracy", f4(m.Accuracy), ci(r.OverallCI.Accuracy)},
		{"balanced accuracy", f4(m.BalancedAccuracy), ci(r.OverallCI.BalancedAccuracy)},
		{"macro F1", f4(m.MacroF1), ci(r.OverallCI.MacroF1)},
		{"ROC-AUC (" + auc + ")", f4(float64(m.ROCAUC)), ""},
		{"PR-AUC (" + auc + ")", f4(float64(m.PRAUC)), ""},
		{"log loss", f4(m.LogLoss), ""},
		{fmt.Sprintf("ECE (%d bins)", m.Calibration.Bins), f4(m.Calibration.ECE), ""},
	}})
	pc := Table{Caption: "Per class", Header: []string{"class", "precision", "recall", "F1", "support", "predicted", "ROC-AUC", "PR-AUC"}}
	for _, c := range m.PerClass {
		pc.Rows = append(pc.Rows, []string{c.Class, f4(c.Precision), f4(c.Recall), f4(c.F1), fmt.Sprint(c.Support),
			fmt.Sprint(c.Predicted), f4(float64(c.ROCAUC)), f4(float64(c.PRAUC))})
	}
	p.Table(pc)

	p.Heading("Plots")
	conf, err := PlotConfusion("confusion matrix", r.Classes, m.Confusion)
	if err != nil {
		return err
	}
	rel, err := PlotReliability("reliability", m.Calibration)
	if err != nil {
		return err
	}
	figs := []Figure{{Name: prefix + ConfusionFile, Caption: "Confusion matrix: counts, and the share of each true class's rows (colour).", Plots: one(conf)}}
	if len(curves.ROC) > 0 {
		roc, err := PlotROC("ROC", curves.ROC)
		if err != nil {
			return err
		}
		figs = append(figs, Figure{Name: prefix + ROCFile, Caption: "ROC curves (" + curveKind(r) + ").", Plots: one(roc)})
	}
	if len(curves.PR) > 0 {
		pr, err := PlotPR("precision-recall", curves.PR)
		if err != nil {
			return err
		}
		figs = append(figs, Figure{Name: prefix + PRFile, Caption: "Precision-recall curves (" + curveKind(r) + "); AP is average precision.", Plots: one(pr)})
	}
	figs = append(figs, Figure{Name: prefix + ReliabilityFile,
		Caption: "Reliability diagram: accuracy per confidence bin against the bin's mean confidence; a calibrated model follows the diagonal.", Plots: one(rel)})
	if err := p.Figures(figs...); err != nil {
		return err
	}
	p.List(curves.Notes)

	if len(r.Slices) > 0 {
		p.Heading("Slices")
	}
	for i, col := range sliceColumns(r) {
		p.Subheading("by " + col)
		t := Table{Header: []string{col, "n", "accuracy", "balanced accuracy", level, "macro F1", "ROC-AUC", "ECE"}}
		for _, s := range r.Slices {
			if s.Column != col {
				continue
			}
			t.Rows = append(t.Rows, []string{s.Value, fmt.Sprint(s.Count), f4(s.CI.Accuracy.Estimate), f4(s.CI.BalancedAccuracy.Estimate),
				ci(s.CI.BalancedAccuracy), f4(s.CI.MacroF1.Estimate), f4(float64(s.Metrics.ROCAUC)), f4(s.Metrics.Calibration.ECE)})
		}
		groups, bars, _ := SliceBars(r, col, "")
		bp, err := PlotSliceBars("balanced accuracy by "+col, "balanced accuracy", groups, []Bars{bars}, m.BalancedAccuracy)
		if err != nil {
			return err
		}
		f := Figure{Name: fmt.Sprintf("%sslice-%d-%s.png", prefix, i+1, FileName(col)),
			Caption: fmt.Sprintf("Balanced accuracy per value of %s, with %s error bars; dashed: overall.", col, level), Plots: one(bp)}
		if n := len(groups); n > 8 {
			f.Width = min(3*DefaultPlotWidth, DefaultPlotWidth*vg.Length(n)/8)
		}
		if err := p.Figures(f); err != nil {
			return err
		}
		p.Table(t)
	}

	if len(history) > 0 {
		p.Heading("Training")
		loss, metric, err := PlotLearningCurves(history)
		if err != nil {
			return err
		}
		if err := p.Figures(Figure{Name: prefix + LearningFile, Caption: fmt.Sprintf("Learning curves over %d epochs, from the model's training summary.", len(history)),
			Plots: []*plot.Plot{loss, metric}}); err != nil {
			return err
		}
	}

	if warns := r.Warnings(); len(warns) > 0 {
		p.Heading("Warnings")
		p.List(warns)
	}
	return nil
}

func one(p *plot.Plot) []*plot.Plot { return []*plot.Plot{p} }

func curveKind(r *eval.Report) string {
	if len(r.Classes) == 2 {
		return "positive class " + r.Classes[1]
	}
	return "one-vs-rest per class"
}

func resamples(b eval.Bootstrap) string {
	if b.Resamples < 0 {
		return "disabled"
	}
	return fmt.Sprintf("%d resamples", b.Resamples)
}

func sliceColumns(r *eval.Report) []string {
	var cols []string
	for _, s := range r.Slices {
		if len(cols) == 0 || cols[len(cols)-1] != s.Column {
			cols = append(cols, s.Column)
		}
	}
	return cols
}

func f4(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	return fmt.Sprintf("%.4f", v)
}

func ci(iv eval.Interval) string {
	if !iv.Low.Defined() || !iv.High.Defined() {
		return ""
	}
	return fmt.Sprintf("[%.4f, %.4f]", float64(iv.Low), float64(iv.High))
}

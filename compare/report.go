package compare

import (
	"fmt"
	"math"
	"strings"

	"gonum.org/v1/plot"

	"github.com/metacnn/metacnn/report"
)

// File names WriteReport writes into its directory, besides one
// slices-<i>-<column>.png per metadata column.
const (
	ReportFile     = "index.html"
	JSONFile       = "compare.json"
	MetricsFigure  = "balanced-accuracy.png"
	ImportanceFile = "importance.png"
)

// WriteReport writes the comparison's HTML report into dir (created if
// needed) with the report package: the verdict, the metrics table, the
// controls, permutation importance and per-slice gains, with PNG plots, and
// compare.json attached. It returns the path of the page.
func (r *Result) WriteReport(dir string) (string, error) {
	p := report.NewPage("Does the metadata help?")
	p.Text(r.Verdict.Line)
	p.Text(fmt.Sprintf("%d %s rows, %d seed(s), %d epochs; metrics are the mean ± std over seeds. "+
		"p-values: paired bootstrap over rows of the seed-mean difference in balanced accuracy (%d resamples), "+
		"Holm-adjusted over the metadata fusions; significant below %g.", r.N, r.Split, len(r.Seeds), r.Epochs, r.Resamples, r.Alpha))

	p.Heading("Metrics")
	t := report.Table{Header: []string{"fusion", "balanced accuracy", "accuracy", "macro F1", "ROC-AUC", "log loss",
		"Δ bal. acc. (points)", "95% interval", "p (Holm)", "shuffled-metadata control"}}
	fusions := make([]string, len(r.Fusions))
	means, lows, highs := make([]float64, len(r.Fusions)), make([]float64, len(r.Fusions)), make([]float64, len(r.Fusions))
	for i, f := range r.Fusions {
		m := f.Metrics
		row := []string{f.Fusion, pm(m.BalancedAccuracy), pm(m.Accuracy), pm(m.MacroF1), pm(m.ROCAUC), pm(m.LogLoss)}
		if c := f.VsImageOnly; c != nil {
			row = append(row, fmt.Sprintf("%+.1f", 100*float64(c.BalancedAccuracyDiff.Mean)),
				fmt.Sprintf("[%+.1f, %+.1f]", 100*float64(c.Low), 100*float64(c.High)), pShort(c.PValueHolm))
		} else {
			row = append(row, "baseline", "", "")
		}
		if c := f.ShuffledControl; c != nil {
			row = append(row, pm(c.BalancedAccuracy))
		} else {
			row = append(row, "")
		}
		t.Rows = append(t.Rows, row)
		fusions[i] = f.Fusion
		mean, std := float64(m.BalancedAccuracy.Mean), float64(m.BalancedAccuracy.Std)
		means[i], lows[i], highs[i] = mean, mean-std, mean+std
	}
	p.Table(t)
	p.Text("The control scores each metadata model with the metadata rows shuffled across the evaluation rows: " +
		"a model that uses its metadata should fall to about the image-only score.")
	bal, err := report.PlotSliceBars("Balanced accuracy (mean ± std over seeds)", "balanced accuracy", fusions,
		[]report.Bars{{Name: "", Values: means, Low: lows, High: highs}}, means[0])
	if err != nil {
		return "", err
	}
	meta := r.Fusions[1:]
	var imps []report.Bars
	for _, f := range meta {
		b := report.Bars{Name: f.Fusion}
		for _, im := range f.Importance {
			b.Values = append(b.Values, 100*float64(im.Drop.Mean))
		}
		imps = append(imps, b)
	}
	imp, err := report.PlotSliceBars("Permutation importance", "drop in balanced-accuracy points", r.Columns, imps, math.NaN())
	if err != nil {
		return "", err
	}
	if err := p.Figures(
		report.Figure{Name: MetricsFigure, Caption: "Balanced accuracy per fusion; the line is image only.", Plots: []*plot.Plot{bal}},
		report.Figure{Name: ImportanceFile, Caption: "Drop in balanced accuracy when one metadata column is shuffled across rows.", Plots: []*plot.Plot{imp}},
	); err != nil {
		return "", err
	}

	p.Heading("Slices")
	p.Text("Balanced accuracy per slice (mean over seeds) and, in brackets, the difference from image only in points. " +
		"Numeric columns with many values are cut into quantile bins.")
	st := report.Table{Header: append([]string{"slice", "n"}, fusions...)}
	for i, s := range r.Fusions[0].Slices {
		row := []string{s.Column + "=" + s.Value, fmt.Sprint(s.Count), f3(float64(s.BalancedAccuracy.Mean))}
		for _, f := range meta {
			fs := f.Slices[i]
			row = append(row, fmt.Sprintf("%s (%+.1f)", f3(float64(fs.BalancedAccuracy.Mean)), 100*float64(fs.DeltaBalancedAccuracy)))
		}
		st.Rows = append(st.Rows, row)
	}
	p.Table(st)
	var figs []report.Figure
	for ci, col := range r.Columns {
		var groups []string
		series := make([]report.Bars, len(meta))
		for mi, f := range meta {
			series[mi].Name = f.Fusion
			for _, s := range f.Slices {
				if s.Column != col {
					continue
				}
				if mi == 0 {
					groups = append(groups, s.Value)
				}
				series[mi].Values = append(series[mi].Values, 100*float64(s.DeltaBalancedAccuracy))
			}
		}
		if len(groups) == 0 {
			continue
		}
		pl, err := report.PlotSliceBars("Gain over image only by "+col, "balanced-accuracy points", groups, series, math.NaN())
		if err != nil {
			return "", err
		}
		figs = append(figs, report.Figure{
			Name:    fmt.Sprintf("slices-%d-%s.png", ci+1, report.FileName(col)),
			Caption: "Difference in balanced accuracy from image only, per " + col + " value.",
			Plots:   []*plot.Plot{pl},
		})
	}
	if err := p.Figures(figs...); err != nil {
		return "", err
	}

	p.Heading("Runs")
	rt := report.Table{Header: []string{"fusion", "seed", "epochs", "train seconds", "img/s", "balanced accuracy", "McNemar p vs none"}}
	for _, f := range r.Fusions {
		for s, run := range f.Runs {
			mc := ""
			if f.VsImageOnly != nil {
				mc = pShort(f.VsImageOnly.Paired[s].McNemar.PValue)
			}
			rt.Rows = append(rt.Rows, []string{f.Fusion, fmt.Sprint(run.Seed), fmt.Sprint(run.Epochs),
				fmt.Sprintf("%.1f", run.TrainSeconds), fmt.Sprintf("%.0f", run.ImagesPerSec), f3(run.Metrics.BalancedAccuracy), mc})
		}
	}
	p.Table(rt)
	var text strings.Builder
	if err := r.WriteText(&text); err != nil {
		return "", err
	}
	p.Pre(text.String())
	js, err := r.marshal()
	if err != nil {
		return "", err
	}
	p.Heading("Data")
	if err := p.Attach(JSONFile, "Every number as JSON ("+JSONFile+")", js); err != nil {
		return "", err
	}
	return p.Write(dir, ReportFile)
}

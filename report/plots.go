package report

import (
	"errors"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/brewer"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/metacnn/metacnn/eval"
)

var (
	grey      = color.Gray{Y: 150}
	dashes    = []vg.Length{vg.Points(4), vg.Points(3)}
	lineWidth = vg.Points(1.5)
)

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	return p
}

// unitAxes fixes both axes to [0, 1] with a grid, for curves of rates.
func unitAxes(p *plot.Plot) {
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1.02
	p.Add(plotter.NewGrid())
}

// diagonal is the dashed y = x reference line.
func diagonal() (*plotter.Line, error) {
	l, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	if err != nil {
		return nil, err
	}
	l.Color, l.Dashes = grey, dashes
	return l, nil
}

// PlotConfusion draws a confusion matrix ([true][predicted] counts, K×K,
// as eval.Metrics.Confusion) as a heat map: each cell is coloured by the
// fraction of its true class's rows (so classes of different sizes compare)
// and labelled with its count and that fraction. True classes run top to
// bottom, predicted classes left to right.
func PlotConfusion(title string, classes []string, confusion [][]int) (*plot.Plot, error) {
	k := len(classes)
	if k == 0 || len(confusion) != k {
		return nil, fmt.Errorf("report: confusion matrix has %d rows for %d classes", len(confusion), k)
	}
	g := confusionGrid{k: k, frac: make([]float64, k*k)}
	labels := plotter.XYLabels{}
	for i, row := range confusion {
		if len(row) != k {
			return nil, fmt.Errorf("report: confusion matrix row %d has %d columns, want %d", i, len(row), k)
		}
		total := 0
		for _, v := range row {
			total += v
		}
		for j, v := range row {
			f := math.NaN()
			if total > 0 {
				f = float64(v) / float64(total)
			}
			g.frac[i*k+j] = f
			s := fmt.Sprint(v)
			if total > 0 {
				s += fmt.Sprintf("\n%.0f%%", 100*f)
			}
			labels.XYs = append(labels.XYs, plotter.XY{X: float64(j), Y: float64(k - 1 - i)})
			labels.Labels = append(labels.Labels, s)
		}
	}
	pal, err := brewer.GetPalette(brewer.TypeSequential, "Blues", 9)
	if err != nil {
		return nil, err
	}
	hm := plotter.NewHeatMap(g, pal)
	hm.Min, hm.Max = 0, 1
	hm.NaN = color.White
	p := newPlot(title, "predicted class", "true class")
	p.Add(hm)
	lb, err := plotter.NewLabels(labels)
	if err != nil {
		return nil, err
	}
	for i := range lb.TextStyle {
		lb.TextStyle[i].XAlign, lb.TextStyle[i].YAlign = draw.XCenter, draw.YCenter
		if f := g.frac[i]; f > 0.55 {
			lb.TextStyle[i].Color = color.White
		}
	}
	p.Add(lb)
	xt, yt := make([]plot.Tick, k), make([]plot.Tick, k)
	for i, c := range classes {
		xt[i] = plot.Tick{Value: float64(i), Label: c}
		yt[i] = plot.Tick{Value: float64(k - 1 - i), Label: c}
	}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.ConstantTicks(xt), plot.ConstantTicks(yt)
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = -0.5, float64(k)-0.5, -0.5, float64(k)-0.5
	if k > 6 {
		rotate(p)
	}
	return p, nil
}

// confusionGrid is the heat map's grid: column j is predicted class j,
// row r is true class k-1-r (so the first class is on top).
type confusionGrid struct {
	k    int
	frac []float64
}

func (g confusionGrid) Dims() (c, r int)   { return g.k, g.k }
func (g confusionGrid) Z(c, r int) float64 { return g.frac[(g.k-1-r)*g.k+c] }
func (g confusionGrid) X(c int) float64    { return float64(c) }
func (g confusionGrid) Y(r int) float64    { return float64(r) }

func rotate(p *plot.Plot) {
	p.X.Tick.Label.Rotation = math.Pi / 4
	p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XRight, draw.YCenter
}

// PlotROC draws ROC curves (X false positive rate, Y true positive rate)
// with the chance diagonal; each curve's area is in the legend.
func PlotROC(title string, curves []Curve) (*plot.Plot, error) {
	p := newPlot(title, "false positive rate", "true positive rate")
	unitAxes(p)
	d, err := diagonal()
	if err != nil {
		return nil, err
	}
	p.Add(d)
	if err := addCurves(p, curves, "AUC", plotter.NoStep); err != nil {
		return nil, err
	}
	p.Legend.Left, p.Legend.Top = false, false
	return p, nil
}

// PlotPR draws precision-recall curves (X recall, Y precision) as steps, as
// average precision integrates them; each curve's average precision is in
// the legend.
func PlotPR(title string, curves []Curve) (*plot.Plot, error) {
	p := newPlot(title, "recall", "precision")
	unitAxes(p)
	if err := addCurves(p, curves, "AP", plotter.PreStep); err != nil {
		return nil, err
	}
	p.Legend.Left, p.Legend.Top = true, false
	return p, nil
}

func addCurves(p *plot.Plot, curves []Curve, area string, step plotter.StepKind) error {
	for i, c := range curves {
		if len(c.X) != len(c.Y) || len(c.X) == 0 {
			return fmt.Errorf("report: curve %q has %d x and %d y values", c.Label, len(c.X), len(c.Y))
		}
		xys := make(plotter.XYs, len(c.X))
		for j := range c.X {
			xys[j] = plotter.XY{X: c.X[j], Y: c.Y[j]}
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return fmt.Errorf("report: curve %q: %w", c.Label, err)
		}
		l.StepStyle = step
		l.Color, l.Width = plotutil.Color(i), lineWidth
		p.Add(l)
		name := c.Label
		if !math.IsNaN(c.Area) {
			name = fmt.Sprintf("%s (%s %.3f)", c.Label, area, c.Area)
		}
		p.Legend.Add(name, l)
	}
	return nil
}

// PlotReliability draws a reliability diagram from eval's calibration
// data: per confidence bin, a bar up to the bin's accuracy, its mean
// confidence as a point, and the diagonal of perfect calibration. Empty
// bins are left blank.
func PlotReliability(title string, c eval.Calibration) (*plot.Plot, error) {
	p := newPlot(title, "confidence (max probability)", "accuracy")
	unitAxes(p)
	var conf plotter.XYs
	for _, b := range c.Reliability {
		if b.Count == 0 || !b.Accuracy.Defined() {
			continue
		}
		acc := float64(b.Accuracy)
		bar, err := plotter.NewPolygon(plotter.XYs{{X: b.Lower, Y: 0}, {X: b.Upper, Y: 0}, {X: b.Upper, Y: acc}, {X: b.Lower, Y: acc}})
		if err != nil {
			return nil, err
		}
		bar.Color = color.RGBA{R: 107, G: 174, B: 214, A: 255}
		bar.LineStyle.Color = color.RGBA{R: 33, G: 113, B: 181, A: 255}
		p.Add(bar)
		if len(conf) == 0 {
			p.Legend.Add("accuracy", bar)
		}
		if b.Confidence.Defined() {
			conf = append(conf, plotter.XY{X: float64(b.Confidence), Y: acc})
		}
	}
	d, err := diagonal()
	if err != nil {
		return nil, err
	}
	p.Add(d)
	p.Legend.Add("perfect calibration", d)
	if len(conf) > 0 {
		s, err := plotter.NewScatter(conf)
		if err != nil {
			return nil, err
		}
		s.Color, s.Shape = color.RGBA{R: 203, G: 24, B: 29, A: 255}, draw.CircleGlyph{}
		p.Add(s)
		p.Legend.Add("mean confidence", s)
	}
	p.Legend.Left, p.Legend.Top = true, true
	if c.Bins > 0 {
		p.Title.Text = fmt.Sprintf("%s (ECE %.3f, %d bins)", title, c.ECE, c.Bins)
	}
	return p, nil
}

// PlotSliceBars draws grouped bars: for each group (slice value) one bar
// per series, with its interval as an error bar where one is given, and a
// dashed reference line at ref (e.g. the overall value) unless ref is NaN.
// Bars start at 0, so differences (which may be negative) draw as well as
// scores.
func PlotSliceBars(title, ylabel string, groups []string, series []Bars, ref float64) (*plot.Plot, error) {
	if len(groups) == 0 || len(series) == 0 {
		return nil, errors.New("report: slice bars need at least one group and one series")
	}
	for _, s := range series {
		if err := s.check(len(groups)); err != nil {
			return nil, err
		}
	}
	p := newPlot(title, "", ylabel)
	p.Add(plotter.NewGrid())
	ns := len(series)
	width := 0.8 / float64(ns)
	lo, hi := 0.0, 0.0
	for si, s := range series {
		var errXY plotter.XYs
		var errs plotter.YErrors
		for g, v := range s.Values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			x := float64(g) + (float64(si)-float64(ns-1)/2)*width
			bar, err := plotter.NewPolygon(plotter.XYs{{X: x - width/2, Y: 0}, {X: x + width/2, Y: 0}, {X: x + width/2, Y: v}, {X: x - width/2, Y: v}})
			if err != nil {
				return nil, err
			}
			bar.Color = plotutil.Color(si + 2) // blue first
			bar.LineStyle.Width = 0
			p.Add(bar)
			if g == firstFinite(s.Values) && (ns > 1 || s.Name != "") {
				p.Legend.Add(s.Name, bar)
			}
			lo, hi = math.Min(lo, v), math.Max(hi, v)
			if s.Low != nil && !math.IsNaN(s.Low[g]) && !math.IsNaN(s.High[g]) {
				errXY = append(errXY, plotter.XY{X: x, Y: v})
				errs = append(errs, struct{ Low, High float64 }{v - s.Low[g], s.High[g] - v})
				lo, hi = math.Min(lo, s.Low[g]), math.Max(hi, s.High[g])
			}
		}
		if len(errXY) > 0 {
			eb, err := plotter.NewYErrorBars(struct {
				plotter.XYs
				plotter.YErrors
			}{errXY, errs})
			if err != nil {
				return nil, err
			}
			eb.Width = vg.Points(1)
			p.Add(eb)
		}
	}
	if !math.IsNaN(ref) && !math.IsInf(ref, 0) {
		l, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: ref}, {X: float64(len(groups)) - 0.5, Y: ref}})
		if err != nil {
			return nil, err
		}
		l.Color, l.Dashes = grey, dashes
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("overall %.3f", ref), l)
		lo, hi = math.Min(lo, ref), math.Max(hi, ref)
	}
	ticks := make([]plot.Tick, len(groups))
	for i, g := range groups {
		ticks[i] = plot.Tick{Value: float64(i), Label: g}
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Min, p.X.Max = -0.5, float64(len(groups))-0.5
	if lo >= 0 && hi <= 1 {
		p.Y.Min, p.Y.Max = 0, 1.05 // scores: keep the whole scale, so small gaps look small
	} else {
		pad := 0.05 * (hi - lo)
		p.Y.Min, p.Y.Max = lo-pad, hi+pad
	}
	if len(groups) > 6 {
		rotate(p)
	}
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	return p, nil
}

func firstFinite(v []float64) int {
	for i, x := range v {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			return i
		}
	}
	return -1
}

// PlotLearningCurves draws a training history as two plots: loss per epoch
// (train and validation) and accuracy per epoch (train, validation and
// validation balanced accuracy). Series that are NaN throughout (no
// validation data) are left out. It fails on an empty history.
func PlotLearningCurves(history []Epoch) (loss, metric *plot.Plot, err error) {
	if len(history) == 0 {
		return nil, nil, errors.New("report: empty training history")
	}
	loss = newPlot("loss per epoch", "epoch", "cross-entropy")
	metric = newPlot("accuracy per epoch", "epoch", "accuracy")
	loss.Add(plotter.NewGrid())
	metric.Add(plotter.NewGrid())
	type series struct {
		p    *plot.Plot
		name string
		get  func(Epoch) float64
		i    int
	}
	for _, s := range []series{
		{loss, "train", func(e Epoch) float64 { return e.TrainLoss }, 0},
		{loss, "validation", func(e Epoch) float64 { return e.ValLoss }, 1},
		{metric, "train accuracy", func(e Epoch) float64 { return e.TrainAccuracy }, 0},
		{metric, "validation accuracy", func(e Epoch) float64 { return e.ValAccuracy }, 1},
		{metric, "validation balanced accuracy", func(e Epoch) float64 { return e.ValBalancedAccuracy }, 2},
	} {
		var xys plotter.XYs
		for _, e := range history {
			if v := s.get(e); !math.IsNaN(v) && !math.IsInf(v, 0) {
				xys = append(xys, plotter.XY{X: float64(e.Epoch), Y: v})
			}
		}
		if len(xys) == 0 {
			continue
		}
		l, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, nil, err
		}
		l.Color, l.Width = plotutil.Color(s.i), lineWidth
		pts.Color, pts.Shape, pts.Radius = plotutil.Color(s.i), draw.CircleGlyph{}, vg.Points(2)
		s.p.Add(l, pts)
		s.p.Legend.Add(s.name, l, pts)
	}
	loss.Legend.Top = true
	metric.Legend.Top, metric.Legend.Left = false, false
	if len(history) < 10 {
		ticks := make([]plot.Tick, len(history))
		for i, e := range history {
			ticks[i] = plot.Tick{Value: float64(e.Epoch), Label: fmt.Sprint(e.Epoch)}
		}
		loss.X.Tick.Marker, metric.X.Tick.Marker = plot.ConstantTicks(ticks), plot.ConstantTicks(ticks)
	}
	if len(history) == 1 {
		e := float64(history[0].Epoch)
		loss.X.Min, loss.X.Max, metric.X.Min, metric.X.Max = e-1, e+1, e-1, e+1
	}
	return loss, metric, nil
}

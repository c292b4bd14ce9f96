package compare

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"text/tabwriter"
)

// WriteText writes the tables (WriteTables) and, last, the verdict line.
func (r *Result) WriteText(w io.Writer) error {
	if err := r.WriteTables(w); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, r.Verdict.Line)
	return err
}

// WriteTables writes the summary table, permutation importance, the
// per-slice table and the control, without the verdict.
func (r *Result) WriteTables(w io.Writer) error {
	bw := bufio.NewWriter(w)
	r.writeSummary(bw)
	fmt.Fprintln(bw)
	r.writeDetails(bw)
	return bw.Flush()
}

func (r *Result) writeSummary(w io.Writer) {
	fmt.Fprintf(w, "%d %s rows, %d seed%s, %d epochs; mean ± std over seeds\n", r.N, r.Split, len(r.Seeds), plural(len(r.Seeds)), r.Epochs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "fusion\tbal. accuracy\taccuracy\tmacro F1\tROC-AUC\tlog loss\tΔ bal. acc. (points)\tp (Holm)\tshuffled-meta control")
	for _, f := range r.Fusions {
		m := f.Metrics
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s", f.Fusion, pm(m.BalancedAccuracy), pm(m.Accuracy), pm(m.MacroF1), pm(m.ROCAUC), pm(m.LogLoss))
		if c := f.VsImageOnly; c != nil {
			fmt.Fprintf(tw, "\t%+.1f [%+.1f, %+.1f]\t%s", 100*float64(c.BalancedAccuracyDiff.Mean), 100*float64(c.Low), 100*float64(c.High), pShort(c.PValueHolm))
		} else {
			fmt.Fprint(tw, "\t(baseline)\t")
		}
		if c := f.ShuffledControl; c != nil {
			fmt.Fprintf(tw, "\t%s", pm(c.BalancedAccuracy))
		} else {
			fmt.Fprint(tw, "\t")
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}

func (r *Result) writeDetails(w io.Writer) {
	if len(r.Fusions) < 2 {
		return
	}
	fmt.Fprintln(w, "permutation importance: drop in balanced-accuracy points when one column is shuffled across rows")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "fusion\t")
	for _, c := range r.Columns {
		fmt.Fprintf(tw, "%s\t", c)
	}
	fmt.Fprintln(tw)
	for _, f := range r.Fusions[1:] {
		fmt.Fprintf(tw, "%s\t", f.Fusion)
		for _, im := range f.Importance {
			fmt.Fprintf(tw, "%+.1f\t", 100*float64(im.Drop.Mean))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	fmt.Fprintln(w)

	fmt.Fprintln(w, "balanced accuracy per slice (mean over seeds), and points over image only")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "slice\tn\t")
	for _, f := range r.Fusions {
		fmt.Fprintf(tw, "%s\t", f.Fusion)
	}
	fmt.Fprintln(tw)
	for i, s := range r.Fusions[0].Slices {
		fmt.Fprintf(tw, "%s=%s\t%d\t%s\t", s.Column, s.Value, s.Count, f3(float64(s.BalancedAccuracy.Mean)))
		for _, f := range r.Fusions[1:] {
			fs := f.Slices[i]
			fmt.Fprintf(tw, "%s (%+.1f)\t", f3(float64(fs.BalancedAccuracy.Mean)), 100*float64(fs.DeltaBalancedAccuracy))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	fmt.Fprintln(w)
	if b := r.Fusion(r.Best); b != nil && b.ShuffledControl != nil {
		c := b.ShuffledControl
		fmt.Fprintf(w, "control: %s with the metadata shuffled across rows scores %s balanced accuracy (%+.1f points from intact, %+.1f from image only)\n",
			b.Fusion, f3(float64(c.BalancedAccuracy.Mean)), -100*c.DropFromIntact, 100*c.VsImageOnly)
	}
}

func pm(s Stat) string {
	if math.IsNaN(float64(s.Mean)) {
		return "n/a"
	}
	return fmt.Sprintf("%.3f ± %.3f", float64(s.Mean), float64(s.Std))
}

func f3(x float64) string {
	if math.IsNaN(x) {
		return "n/a"
	}
	return fmt.Sprintf("%.3f", x)
}

func pShort(p float64) string {
	if p < 0.001 {
		return "<0.001"
	}
	return fmt.Sprintf("%.3f", p)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

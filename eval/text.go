package eval

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// table renders rows as aligned columns separated by two spaces: the first
// column left-aligned, the others right-aligned (they hold numbers).
type table struct{ rows [][]string }

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w *bufio.Writer, indent string) {
	var width []int
	for _, r := range t.rows {
		for j, c := range r {
			if j >= len(width) {
				width = append(width, 0)
			}
			width[j] = max(width[j], utf8.RuneCountInString(c))
		}
	}
	for _, r := range t.rows {
		var b strings.Builder
		b.WriteString(indent)
		for j, c := range r {
			pad := strings.Repeat(" ", width[j]-utf8.RuneCountInString(c))
			switch {
			case j == 0:
				b.WriteString(c)
				if len(r) > 1 {
					b.WriteString(pad)
				}
			default:
				b.WriteString("  ")
				b.WriteString(pad)
				b.WriteString(c)
			}
		}
		w.WriteString(strings.TrimRight(b.String(), " "))
		w.WriteByte('\n')
	}
}

func f4(v float64) string {
	if !Float(v).Defined() {
		return "n/a"
	}
	return fmt.Sprintf("%.4f", v)
}

func ci(iv Interval) string {
	if !iv.Low.Defined() || !iv.High.Defined() {
		return ""
	}
	return fmt.Sprintf("[%.4f, %.4f]", float64(iv.Low), float64(iv.High))
}

func withCI(iv Interval) string {
	if s := ci(iv); s != "" {
		return f4(iv.Estimate) + " " + s
	}
	return f4(iv.Estimate)
}

// WriteText renders the report as aligned plain-text tables: summary with
// intervals, per-class metrics, confusion matrix, reliability bins, slices
// and warnings.
func (r *Report) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	m := r.Overall
	head := fmt.Sprintf("rows %d, classes %s", r.N, strings.Join(r.Classes, ", "))
	if r.Model != "" {
		head = "model " + r.Model + ": " + head
	}
	bw.WriteString(head + "\n\n")

	level := fmt.Sprintf("%g%% CI", 100*r.Bootstrap.Level)
	auc := "macro one-vs-rest"
	if m.AUCAverage == AUCBinary {
		auc = fmt.Sprintf("positive %q", r.Classes[1])
	}
	var t table
	t.add("metric", "value", level)
	t.add("accuracy", f4(m.Accuracy), ci(r.OverallCI.Accuracy))
	t.add("balanced accuracy", f4(m.BalancedAccuracy), ci(r.OverallCI.BalancedAccuracy))
	t.add("macro F1", f4(m.MacroF1), ci(r.OverallCI.MacroF1))
	t.add("ROC-AUC ("+auc+")", f4(float64(m.ROCAUC)), "")
	t.add("PR-AUC ("+auc+")", f4(float64(m.PRAUC)), "")
	t.add("log loss", f4(m.LogLoss), "")
	t.add(fmt.Sprintf("ECE (%d bins)", m.Calibration.Bins), f4(m.Calibration.ECE), "")
	t.write(bw, "")

	bw.WriteString("\nper class\n")
	t = table{}
	t.add("class", "precision", "recall", "f1", "support", "predicted", "ROC-AUC", "PR-AUC")
	for _, c := range m.PerClass {
		t.add(c.Class, f4(c.Precision), f4(c.Recall), f4(c.F1), fmt.Sprint(c.Support), fmt.Sprint(c.Predicted),
			f4(float64(c.ROCAUC)), f4(float64(c.PRAUC)))
	}
	t.write(bw, "  ")

	bw.WriteString("\nconfusion matrix (rows: true, columns: predicted)\n")
	t = table{}
	t.add(append([]string{""}, r.Classes...)...)
	for i, row := range m.Confusion {
		cells := []string{r.Classes[i]}
		for _, v := range row {
			cells = append(cells, fmt.Sprint(v))
		}
		t.add(cells...)
	}
	t.write(bw, "  ")

	bw.WriteString("\nreliability (non-empty bins)\n")
	t = table{}
	t.add("confidence bin", "count", "mean conf", "accuracy")
	for _, b := range m.Calibration.Reliability {
		if b.Count > 0 {
			t.add(fmt.Sprintf("(%.3f, %.3f]", b.Lower, b.Upper), fmt.Sprint(b.Count),
				f4(float64(b.Confidence)), f4(float64(b.Accuracy)))
		}
	}
	t.write(bw, "  ")

	for i := 0; i < len(r.Slices); {
		col := r.Slices[i].Column
		fmt.Fprintf(bw, "\nby %s (%s)\n", col, level)
		t = table{}
		t.add(col, "n", "accuracy", "balanced accuracy", "macro F1", "ROC-AUC", "ECE")
		for ; i < len(r.Slices) && r.Slices[i].Column == col; i++ {
			s := r.Slices[i]
			t.add(s.Value, fmt.Sprint(s.Count), withCI(s.CI.Accuracy), withCI(s.CI.BalancedAccuracy),
				withCI(s.CI.MacroF1), f4(float64(s.Metrics.ROCAUC)), f4(s.Metrics.Calibration.ECE))
		}
		t.write(bw, "  ")
	}

	if warns := r.Warnings(); len(warns) > 0 {
		bw.WriteString("\nwarnings\n")
		for _, w := range warns {
			bw.WriteString("  - " + w + "\n")
		}
	}
	return bw.Flush()
}

// WriteText renders the comparison as one table per metric difference and
// McNemar's test.
func (p Paired) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%s vs %s on %d rows (difference = %s − %s)\n", p.B, p.A, p.N, p.B, p.A)
	var t table
	t.add("metric", p.A, p.B, "difference", fmt.Sprintf("%g%% CI", 100*p.Bootstrap.Level), "p")
	for _, row := range []struct {
		name string
		d    PairedDiff
	}{{"balanced accuracy", p.BalancedAccuracy}, {"accuracy", p.Accuracy}, {"macro F1", p.MacroF1}} {
		t.add(row.name, f4(row.d.A), f4(row.d.B), fmt.Sprintf("%+.4f", row.d.Diff),
			ci(Interval{Low: row.d.Low, High: row.d.High}), pValue(float64(row.d.PValue)))
	}
	t.add("McNemar exact", "", "", "", fmt.Sprintf("%d vs %d discordant", p.McNemar.OnlyA, p.McNemar.OnlyB),
		pValue(p.McNemar.PValue))
	t.write(bw, "  ")
	return bw.Flush()
}

func pValue(v float64) string {
	switch {
	case !Float(v).Defined():
		return "n/a"
	case v < 0.001:
		return "< 0.001"
	}
	return fmt.Sprintf("%.3f", v)
}

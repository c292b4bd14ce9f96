package eval

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func sliceReport(t *testing.T) *Report {
	t.Helper()
	r, err := Evaluate(sliceTablePreds(t), Options{Model: "film", SliceBy: []string{"camera", "operator"},
		Bootstrap: Bootstrap{Resamples: 200, Seed: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestReportJSON pins the field names of the JSON document and checks that
// undefined values become null and the report reads back.
func TestReportJSON(t *testing.T) {
	r := sliceReport(t)
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	keys := func(m any) []string {
		var k []string
		for key := range m.(map[string]any) {
			k = append(k, key)
		}
		slices.Sort(k)
		return k
	}
	want := map[string][]string{
		"report":      {"bootstrap", "classes", "model", "n", "overall", "overall_ci", "slices", "version"},
		"bootstrap":   {"level", "resamples", "seed"},
		"metrics":     {"accuracy", "auc_average", "balanced_accuracy", "calibration", "confusion", "log_loss", "macro_f1", "n", "per_class", "pr_auc", "roc_auc"},
		"per_class":   {"class", "f1", "pr_auc", "precision", "predicted", "recall", "roc_auc", "support"},
		"calibration": {"bins", "ece", "mce", "reliability"},
		"bin":         {"accuracy", "confidence", "count", "lower", "upper"},
		"ci":          {"accuracy", "balanced_accuracy", "macro_f1"},
		"interval":    {"estimate", "high", "low"},
		"slice":       {"ci", "column", "count", "metrics", "value"},
	}
	overall := doc["overall"].(map[string]any)
	cal := overall["calibration"].(map[string]any)
	slice0 := doc["slices"].([]any)[0].(map[string]any)
	got := map[string][]string{
		"report":      keys(doc),
		"bootstrap":   keys(doc["bootstrap"]),
		"metrics":     keys(overall),
		"per_class":   keys(overall["per_class"].([]any)[0]),
		"calibration": keys(cal),
		"bin":         keys(cal["reliability"].([]any)[0]),
		"ci":          keys(doc["overall_ci"]),
		"interval":    keys(doc["overall_ci"].(map[string]any)["accuracy"]),
		"slice":       keys(slice0),
	}
	for name, w := range want {
		if !slices.Equal(got[name], w) {
			t.Errorf("%s keys %q, want %q", name, got[name], w)
		}
	}
	// The one-row "(missing)" operator slice has undefined AUCs: null.
	last := doc["slices"].([]any)[len(r.Slices)-1].(map[string]any)
	if last["value"] != MissingValue {
		t.Fatalf("last slice %v, want the missing-operator slice", last["value"])
	}
	m := last["metrics"].(map[string]any)
	if m["roc_auc"] != nil || m["warnings"] == nil {
		t.Errorf("undefined ROC-AUC written as %v, warnings %v", m["roc_auc"], m["warnings"])
	}
	if doc["version"] != float64(ReportVersion) {
		t.Errorf("version %v", doc["version"])
	}

	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Overall.Accuracy != r.Overall.Accuracy || back.OverallCI != r.OverallCI ||
		back.Slices[len(back.Slices)-1].Metrics.ROCAUC.Defined() || len(back.Slices) != len(r.Slices) {
		t.Error("report does not read back as written")
	}
}

// TestWriteText checks the text tables: sections present and each table's
// numeric columns right-aligned (all rows of a table end at the same column
// when their last cell is filled).
func TestWriteText(t *testing.T) {
	r := sliceReport(t)
	var buf bytes.Buffer
	if err := r.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, s := range []string{
		"model film: rows 14, classes a, b, c",
		"balanced accuracy", "95% CI", "per class", "confusion matrix (rows: true, columns: predicted)",
		"reliability", "by camera (95% CI)", "by operator (95% CI)", "(missing)", "warnings",
		"ROC-AUC (macro one-vs-rest)",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("text lacks %q:\n%s", s, out)
		}
	}
	// Per-class rows: same length (right-aligned, last column always set).
	lines := strings.Split(out, "\n")
	i := slices.Index(lines, "per class")
	width := len(lines[i+1])
	for _, l := range lines[i+2 : i+5] {
		if len(l) != width {
			t.Errorf("per-class row %q not aligned with header %q", l, lines[i+1])
		}
	}

	a, b := pairedFixture(t)
	pr, err := ComparePaired("image-only", a, "film", b, Bootstrap{Resamples: 200})
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := pr.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"film vs image-only on 300 rows", "balanced accuracy", "McNemar exact", "< 0.001"} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("paired text lacks %q:\n%s", s, buf.String())
		}
	}
}

func TestFloatJSON(t *testing.T) {
	b, _ := json.Marshal([]Float{1.5, NaN(), Float(inf)})
	if string(b) != "[1.5,null,null]" {
		t.Errorf("got %s", b)
	}
	var back []Float
	if err := json.Unmarshal(b, &back); err != nil || back[0] != 1.5 || back[1].Defined() {
		t.Errorf("read back %v, %v", back, err)
	}
}

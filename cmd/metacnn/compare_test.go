package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCompareUsageErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"compare", "--out", dir}, "--config is required"},
		{[]string{"compare", "--config", "c.yaml"}, "--out is required"},
		{[]string{"compare", "--config", "c.yaml", "--out", dir, "--seeds", "0"}, "--seeds 0"},
		{[]string{"compare", "--config", "c.yaml", "--out", dir, "--epochs", "-1"}, "--epochs -1"},
		{[]string{"compare", "--config", "c.yaml", "--out", dir, "--fusions", "none,bogus"}, "unknown fusion kind"},
		{[]string{"compare", "--config", "c.yaml", "--out", dir, "--fusions", "film,film"}, "listed twice"},
		{[]string{"compare", "--config", "c.yaml", "--out", dir, "--fusions", "none"}, "at least one metadata fusion"},
		{[]string{"compare", "--config", "c.yaml", "--out", file}, "is a file"},
		{[]string{"compare", "--config", "c.yaml", "--out", dir, "extra"}, "takes no arguments"},
		{[]string{"compare", "--bogus"}, "unknown flag"},
		{[]string{"demo", "--workers", "-1"}, "--workers -1"},
		{[]string{"demo", "--out", file}, "is a file"},
		{[]string{"demo", "--quick", "extra"}, "takes no arguments"},
	} {
		code, _, errOut := run(t, tc.args...)
		if code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, errOut, exitUsage, tc.want)
		}
	}
}

func TestCompareMissingConfig(t *testing.T) {
	code, _, errOut := run(t, "compare", "--config", filepath.Join(t.TempDir(), "none.yaml"), "--out", t.TempDir())
	if code != exitFailure || !strings.Contains(errOut, "none.yaml") {
		t.Errorf("exit %d, stderr %q; want exit 1 naming the file", code, errOut)
	}
}

// TestDemoQuick runs the demo end to end at its quick size, then compare
// on the config the demo wrote.
func TestDemoQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end demo run; skipped with -short")
	}
	dir := filepath.Join(t.TempDir(), "demo")
	start := time.Now()
	code, out, errOut := run(t, "demo", "--quick", "--out", dir)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	t.Logf("demo --quick took %s\n%s", time.Since(start).Round(time.Millisecond), out)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "no significant gain from metadata") && !strings.Contains(last, "balanced-accuracy points over image-only (p") {
		t.Errorf("the last line is not a verdict: %q", last)
	}
	for _, want := range []string{"fusion", "none", "concat", "scalebias", "film", "permutation importance", "camera=cam1",
		"report:  " + filepath.Join(dir, "index.html")} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	for _, want := range []string{"generating the inspection dataset: 400/400 (100%)", "[1/4] training none", "[4/4] film", "epoch 2/2"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("progress on stderr lacks %q:\n%s", want, errOut)
		}
	}
	for _, f := range []string{"config.yaml", "index.html", "compare.json", "data/train.csv", "data/test.csv"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	var doc struct {
		Fusions []struct {
			Fusion  string                                `json:"fusion"`
			Metrics map[string]map[string]json.RawMessage `json:"metrics"`
		} `json:"fusions"`
		Verdict struct{ Line string } `json:"verdict"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "compare.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Fusions) != 4 || doc.Verdict.Line != last {
		t.Errorf("compare.json: %d fusions, verdict %q; want 4 and %q", len(doc.Fusions), doc.Verdict.Line, last)
	}
	for _, f := range doc.Fusions {
		if _, ok := f.Metrics["balanced_accuracy"]["std"]; !ok {
			t.Errorf("compare.json: %s lacks balanced_accuracy.std", f.Fusion)
		}
	}

	// compare on the demo's config, two fusions, one epoch.
	out2 := filepath.Join(t.TempDir(), "cmp")
	code, out, errOut = run(t, "compare", "--config", filepath.Join(dir, "config.yaml"), "--fusions", "concat",
		"--seeds", "1", "--epochs", "1", "--resamples", "199", "--out", out2)
	if code != 0 {
		t.Fatalf("compare: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "report: "+filepath.Join(out2, "index.html")) || !strings.Contains(errOut, "[2/2] concat") {
		t.Errorf("compare output:\n%s\nstderr:\n%s", out, errOut)
	}
	if _, err := os.Stat(filepath.Join(out2, "compare.json")); err != nil {
		t.Error(err)
	}
}

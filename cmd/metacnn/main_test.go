package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/synth"
)

// run executes a command line in-process and returns its exit code, stdout
// and stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := execute(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{usageErrorf("bad --n"), 2},
		{fmt.Errorf("datagen: %w", usageErrorf("bad --n")), 2},
		{asUsage(errors.New("unknown flag: --x")), 2},
		{errors.New("disk full"), 1},
		{context.Canceled, 1},
	} {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
	if asUsage(nil) != nil {
		t.Error("asUsage(nil) is not nil")
	}
}

func TestDatagenInspection(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ds")
	code, out, errOut := run(t, "datagen", "inspection", "--out", dir, "--n", "40", "--seed", "3", "--workers", "2")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"generated 40 images (seed 3)", "scratch", "total", filepath.Join(dir, "all.csv")} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	// Not a terminal: plain progress lines, ending at 100%.
	if !strings.Contains(errOut, "generating: 40/40 (100%)") {
		t.Errorf("stderr lacks the final progress line:\n%s", errOut)
	}
	m, err := data.ReadManifest(filepath.Join(dir, "all.csv"), data.ManifestOptions{SplitColumn: "split", Required: synth.MetaColumns})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Rows) != 40 {
		t.Fatalf("all.csv: %d rows, want 40", len(m.Rows))
	}
	for _, r := range m.Rows {
		if _, err := os.Stat(r.File); err != nil {
			t.Fatalf("row %d: %v", r.Line, err)
		}
	}
	// The same seed through the library gives the same images.
	img, err := os.ReadFile(m.Rows[0].File)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := synth.Generate(context.Background(), synth.Options{N: 20, Seed: 3, Out: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	lib, err := os.ReadFile(filepath.Join(sum.Dir, synth.ImagePath(0)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(img, lib) {
		t.Error("the CLI and synth.Generate wrote different images for the same seed")
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"datagen", "inspection"},                                  // --out missing
		{"datagen", "inspection", "--out", dir, "--n", "5"},        // too few images
		{"datagen", "inspection", "--out", dir, "--n", "many"},     // not a number
		{"datagen", "inspection", "--out", dir, "--seed", "-1"},    // not a uint64
		{"datagen", "inspection", "--out", dir, "--workers", "-2"}, // negative
		{"datagen", "inspection", "--out", dir, "extra"},           // positional argument
		{"datagen", "inspection", "--out", dir, "--bogus"},         // unknown flag
		{"datagen"},              // no dataset
		{"datagen", "inspecton"}, // unknown dataset
		{"bogus"},                // unknown command
		{"--bogus"},              // unknown root flag
		{"version", "extra"},     // positional argument
	} {
		code, out, errOut := run(t, args...)
		if code != 2 {
			t.Errorf("%q: exit %d, want 2\nstdout: %s\nstderr: %s", args, code, out, errOut)
			continue
		}
		if !strings.Contains(errOut, "--help' for usage") {
			t.Errorf("%q: stderr does not point to --help:\n%s", args, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "all.csv")); err == nil {
		t.Error("a usage error still generated a dataset")
	}
	_, _, errOut := run(t, "datagen", "inspecton")
	if !strings.Contains(errOut, "did you mean inspection") {
		t.Errorf("no suggestion for a misspelt dataset:\n%s", errOut)
	}
}

func TestRunFailureExits1(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := run(t, "datagen", "inspection", "--out", file, "--n", "20")
	if code != 1 {
		t.Fatalf("--out naming a file: exit %d, want 1\n%s", code, errOut)
	}
	if !strings.HasPrefix(errOut, "metacnn: ") || strings.Contains(errOut, "for usage") {
		t.Errorf("failure message:\n%s", errOut)
	}
}

func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"metadata", "does my metadata help", "datagen", "Exit status"}},
		{nil, []string{"does my metadata help"}},
		{[]string{"help", "datagen"}, []string{"inspection"}},
		{[]string{"datagen", "--help"}, []string{"inspection"}},
		{[]string{"datagen", "inspection", "--help"}, []string{"--out", "--seed", "--workers", "op3", "truth.csv"}},
	} {
		code, out, errOut := run(t, tc.args...)
		if code != 0 {
			t.Errorf("%q: exit %d\n%s", tc.args, code, errOut)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%q: help lacks %q:\n%s", tc.args, w, out)
			}
		}
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, _ := run(t, args...)
		if code != 0 || !strings.HasPrefix(out, "metacnn ") || !strings.Contains(out, "go1") {
			t.Errorf("%q: exit %d, output %q", args, code, out)
		}
	}
}

func TestInterruptedRunExits1(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errOut bytes.Buffer
	code := execute(ctx, []string{"datagen", "inspection", "--out", t.TempDir(), "--n", "200"}, &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "interrupted") {
		t.Errorf("exit %d, stderr %q; want 1 and 'interrupted'", code, errOut.String())
	}
}

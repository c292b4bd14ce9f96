package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestBenchJSON runs a tiny benchmark of every seed architecture and checks
// the JSON report is complete. CI times nothing: only the shape of the
// output is checked.
func TestBenchJSON(t *testing.T) {
	for _, arch := range []string{"seed-concat", "seed-scalebias", "seed-film"} {
		code, out, errOut := run(t, "bench", "--arch", arch, "--batch", "2", "--steps", "1", "--warmup", "1", "--json")
		if code != 0 {
			t.Fatalf("%s: exit %d\nstderr:\n%s", arch, code, errOut)
		}
		var r benchResult
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%s: %v in %q", arch, err, out)
		}
		if r.Arch != arch || r.Batch != 2 || r.Steps != 1 || r.Threads < 1 || r.Kernel == "" ||
			r.TrainImgPerSec <= 0 || r.InferImgPerSec <= 0 || r.InferBatch1Ms <= 0 {
			t.Errorf("%s: incomplete result %+v", arch, r)
		}
	}
}

func TestBenchText(t *testing.T) {
	code, out, errOut := run(t, "bench", "--batch", "1", "--steps", "1", "--warmup", "0")
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, errOut)
	}
	for _, want := range []string{"seed-film batch 1", "train", "inference", "batch 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestBenchUsageErrors checks that bad options exit 2 before any work.
func TestBenchUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "--arch", "resnet"},
		{"bench", "--batch", "0"},
		{"bench", "--steps", "0"},
		{"bench", "--warmup", "-1"},
		{"bench", "extra"},
		{"bench", "--nope"},
	} {
		code, _, errOut := run(t, args...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2\nstderr:\n%s", args, code, errOut)
		}
	}
}

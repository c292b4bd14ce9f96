package train

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// stepsConfig is tinyConfig with a step budget of 1.5 epochs: 40 training
// rows in batches of 4 make 10 batches per epoch, so 15 steps.
func stepsConfig() string {
	return strings.NewReplacer("epochs: 3", "steps: 15", "batch_size: 8", "batch_size: 4").Replace(tinyConfig)
}

// logEvents parses a JSON-lines training log.
func logEvents(t *testing.T, log *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(log.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// TestStepBudget: a budget of 1.5 epochs trains exactly that many steps in
// 2 epochs, the second cut short and then validated, logged and
// checkpointed as the last; the cosine schedule ends at the budget; a
// resumed run with a larger budget extends it.
func TestStepBudget(t *testing.T) {
	dir := t.TempDir()
	writeDataset(t, dir, 50, 1)
	cfg := loadConfig(t, dir, stepsConfig())
	if cfg.WithDefaults().Train.Epochs != 0 {
		t.Fatalf("train.epochs defaulted to %d beside train.steps", cfg.WithDefaults().Train.Epochs)
	}
	ckpt := filepath.Join(dir, "s.ckpt")
	var log bytes.Buffer
	var last Progress
	var batches []int
	res, err := Run(context.Background(), Options{Config: cfg, Checkpoint: ckpt, Log: &log, Progress: func(p Progress) {
		if p.EpochDone == nil {
			last = p
			if p.Batch == 1 {
				batches = append(batches, p.Batches)
			}
		}
		if p.Epochs != 2 {
			t.Errorf("progress says %d epochs, want 2", p.Epochs)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Summary
	if s.Steps != 15 || s.Epochs != 2 || len(s.History) != 2 || s.History[0].Step != 10 || s.History[1].Step != 15 {
		t.Fatalf("summary: %d steps, %d epochs, history %+v; want 15 steps in 2 epochs (10 + 5)", s.Steps, s.Epochs, s.History)
	}
	if s.History[1].ValLoss == nil {
		t.Error("the cut last epoch was not validated")
	}
	if fmt.Sprint(batches) != "[10 5]" {
		t.Errorf("progress batches per epoch %v, want [10 5]", batches)
	}
	if last.Step != 15 || last.ETA != 0 || math.Abs(last.LR) > 1e-12 {
		t.Errorf("last step's progress %+v: want step 15, no ETA left, the cosine schedule at min_lr 0", last)
	}
	var ends, epochs int
	for _, m := range logEvents(t, &log) {
		switch m["event"] {
		case "start":
			if m["steps"] != 15.0 || m["epochs"] != 2.0 {
				t.Errorf("start event %v, want steps 15, epochs 2", m)
			}
		case "epoch":
			epochs++
		case "end":
			ends++
			if m["steps"] != 15.0 || m["epochs"] != 2.0 {
				t.Errorf("end event %v, want steps 15, epochs 2", m)
			}
		}
	}
	if ends != 1 || epochs != 2 {
		t.Errorf("log: %d end, %d epoch events; want 1 and 2", ends, epochs)
	}
	ck, err := ReadCheckpoint(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Position != (Position{Epoch: 2, Step: 15}) || ck.Config.Train.Steps != 15 || ck.Config.Train.Epochs != 0 {
		t.Errorf("checkpoint at %+v with steps %d, epochs %d; want epoch 2 step 15, steps 15", ck.Position, ck.Config.Train.Steps, ck.Config.Train.Epochs)
	}

	// The finished run, resumed with a larger budget, trains on to it.
	more, err := Resume(context.Background(), ckpt, Options{Config: cfg, Steps: 25})
	if err != nil {
		t.Fatal(err)
	}
	if more.Summary.Steps != 25 || more.Summary.Epochs != 3 || more.Summary.History[2].Step != 25 {
		t.Errorf("extended run: %d steps, %d epochs; want 25 in 3", more.Summary.Steps, more.Summary.Epochs)
	}
	if _, err := Run(context.Background(), Options{Config: cfg, Steps: 3, Epochs: 2}); err == nil {
		t.Error("Options with both Epochs and Steps: no error")
	}
}

// TestStepBudgetResumeIsBitExact: a run with a step budget interrupted
// anywhere (inside an epoch, at an epoch's end, inside the cut last epoch,
// after its last step but before its validation) resumes to the
// uninterrupted run's weights and history, bit for bit.
func TestStepBudgetResumeIsBitExact(t *testing.T) {
	dir := t.TempDir()
	writeDataset(t, dir, 50, 1)
	cfg := loadConfig(t, dir, stepsConfig())
	ctx := context.Background()
	a, err := Run(ctx, Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if a.Summary.Steps != 15 || a.Summary.Epochs != 2 {
		t.Fatalf("summary %+v, want 15 steps in 2 epochs", a.Summary)
	}
	for _, stopAt := range []int64{7, 10, 13, 15} {
		t.Run(fmt.Sprintf("stop after step %d", stopAt), func(t *testing.T) {
			ckpt := filepath.Join(t.TempDir(), "b.ckpt")
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			_, err := Run(cctx, Options{Config: cfg, Checkpoint: ckpt, Progress: func(p Progress) {
				if p.Step == stopAt && (p.EpochDone != nil) == (stopAt == 10) {
					cancel()
				}
			}})
			var ie *InterruptedError
			if !errors.As(err, &ie) || ie.Position.Step != stopAt {
				t.Fatalf("error %v, want an interruption at step %d", err, stopAt)
			}
			var log bytes.Buffer
			b, err := Resume(ctx, ckpt, Options{Config: cfg, Log: &log, Workers: 1})
			if err != nil {
				t.Fatal(err)
			}
			if b.Summary.Steps != 15 || b.Summary.Epochs != 2 {
				t.Fatalf("resumed summary: %d steps, %d epochs; want 15 in 2", b.Summary.Steps, b.Summary.Epochs)
			}
			sameWeights(t, "resumed vs uninterrupted", a.Network, b.Network)
			ha, hb := a.Summary.History, b.Summary.History
			if len(ha) != len(hb) {
				t.Fatalf("history lengths %d vs %d", len(ha), len(hb))
			}
			for i := range ha {
				if ha[i].Step != hb[i].Step || *ha[i].ValLoss != *hb[i].ValLoss || *ha[i].ValAccuracy != *hb[i].ValAccuracy || ha[i].LR != hb[i].LR {
					t.Errorf("epoch %d: step %d vs %d, val loss %v vs %v, accuracy %v vs %v, lr %v vs %v", i+1, ha[i].Step, hb[i].Step,
						*ha[i].ValLoss, *hb[i].ValLoss, *ha[i].ValAccuracy, *hb[i].ValAccuracy, ha[i].LR, hb[i].LR)
				}
			}
			if !strings.Contains(log.String(), `"steps":15`) {
				t.Errorf("resumed log lacks the budget:\n%s", log.String())
			}
		})
	}
}

// TestWarmupLongerThanBudget: a cosine warm-up longer than the step budget
// is refused, naming the keys.
func TestWarmupLongerThanBudget(t *testing.T) {
	dir := t.TempDir()
	writeDataset(t, dir, 50, 1)
	cfg := loadConfig(t, dir, stepsConfig()) // warm-up 0.5 epochs: 5 steps
	_, err := Run(context.Background(), Options{Config: cfg, Steps: 4})
	if err == nil || !strings.Contains(err.Error(), "train.schedule.warmup_epochs") || !strings.Contains(err.Error(), "run of 4 steps (train.steps or --steps)") {
		t.Fatalf("err = %v", err)
	}
}

func TestBudgetEpochs(t *testing.T) {
	for _, tc := range []struct {
		budget int64
		pos    Position
		want   int
	}{
		{15, Position{}, 2},
		{10, Position{}, 1},
		{1, Position{}, 1},
		{15, Position{Epoch: 1, Batch: 3, Step: 13}, 2},
		{15, Position{Epoch: 1, Batch: 5, Step: 15}, 2},                  // trained, not yet validated
		{15, Position{Epoch: 1, Batch: 5, Step: 15, TrainDone: true}, 2}, // validating
		{25, Position{Epoch: 2, Step: 15}, 3},                            // extending a finished run
		{26, Position{Epoch: 2, Step: 15}, 4},
		{25, Position{Epoch: 1, Batch: 5, Step: 15, TrainDone: true}, 3},
		{12, Position{Epoch: 2, Step: 15}, 2}, // already past a smaller budget
	} {
		if got := budgetEpochs(tc.budget, tc.pos, 10); got != tc.want {
			t.Errorf("budgetEpochs(%d, %+v, 10) = %d, want %d", tc.budget, tc.pos, got, tc.want)
		}
	}
}

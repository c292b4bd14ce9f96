//go:build unix

package main

import (
	"bytes"
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// signalOn sends this process a real SIGINT once a line containing marker
// is written (the train command's progress line for an epoch).
type signalOn struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker string
	sent   bool
}

func (s *signalOn) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.Write(p)
	if !s.sent && strings.Contains(s.buf.String(), s.marker) {
		s.sent = true
		syscall.Kill(os.Getpid(), syscall.SIGINT)
	}
	return len(p), nil
}

// TestTrainSIGINT delivers a real SIGINT during training, through the same
// signal.NotifyContext that main uses: the command saves a checkpoint, says
// how to resume, exits 1 without writing the model, and the checkpoint
// resumes to completion.
func TestTrainSIGINT(t *testing.T) {
	dir, cfgPath := initTinyConfig(t)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	out := filepath.Join(dir, "m.mcnn")
	errw := &signalOn{marker: "epoch 1/3:"}
	var stdout bytes.Buffer
	code := execute(ctx, []string{"train", "--config", cfgPath, "--out", out}, &stdout, errw)
	stop()
	if !errw.sent {
		t.Fatalf("no epoch line was written:\n%s", errw.buf.String())
	}
	if code != 1 || !strings.Contains(errw.buf.String(), "interrupted") || !strings.Contains(errw.buf.String(), "resume with: metacnn train") {
		t.Fatalf("exit %d\n%s", code, errw.buf.String())
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("an interrupted run wrote the model file")
	}
	if code, so, se := run(t, "train", "--config", cfgPath, "--out", out, "--resume", filepath.Join(dir, "m.ckpt")); code != 0 {
		t.Fatalf("resume: exit %d\n%s\n%s", code, so, se)
	}
	if _, err := os.Stat(out); err != nil {
		t.Error(err)
	}
}

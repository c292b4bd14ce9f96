//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the server's logger and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeCommand runs `metacnn serve` in-process: it answers, reloads on
// SIGHUP (keeping the old model when the new file is corrupt), requires the
// API key, and exits 0 when its context (SIGTERM in main) ends.
func TestServeCommand(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "m.mcnn")
	serveTestModel(t, m, 1)
	keyFile := filepath.Join(dir, "key")
	os.WriteFile(keyFile, []byte("k3y\n"), 0o600)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	exit := make(chan int, 1)
	go func() {
		exit <- execute(ctx, []string{"serve", "--model", m, "--addr", addr, "--api-key-file", keyFile, "--log-format", "json"}, &stdout, &stderr)
	}()
	base := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case code := <-exit:
			t.Fatalf("serve exited %d before it was ready:\n%s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 20 s:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	get := func(path string, key string) (int, []byte) {
		req, _ := http.NewRequest("GET", base+path, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	sha := func() string {
		code, b := get("/v1/model", "k3y")
		var info struct {
			WeightsSHA256 string `json:"weights_sha256"`
		}
		if code != 200 || json.Unmarshal(b, &info) != nil {
			t.Fatalf("/v1/model: %d %s", code, b)
		}
		return info.WeightsSHA256
	}
	if code, _ := get("/v1/model", ""); code != 401 {
		t.Errorf("/v1/model without the key: %d, want 401", code)
	}
	var img bytes.Buffer
	png.Encode(&img, image.NewRGBA(image.Rect(0, 0, 56, 56)))
	body := fmt.Sprintf(`{"image": %q, "metadata": {"m1": 0.1, "m2": 0.2}}`, base64.StdEncoding.EncodeToString(img.Bytes()))
	req, _ := http.NewRequest("POST", base+"/v1/predict", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", "k3y")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(pb, []byte(`"label"`)) {
		t.Fatalf("predict: %d %s", resp.StatusCode, pb)
	}

	// SIGHUP with a corrupt file keeps the old model; with a good one swaps.
	sha0 := sha()
	hup := func(wantLog string) {
		t.Helper()
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		for end := time.Now().Add(10 * time.Second); !strings.Contains(stderr.String(), wantLog); {
			if time.Now().After(end) {
				t.Fatalf("no %q in the log after SIGHUP:\n%s", wantLog, stderr.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	os.WriteFile(m, []byte("garbage"), 0o644)
	hup("model reload failed")
	if got := sha(); got != sha0 {
		t.Errorf("after a failed reload the sha is %s, was %s", got, sha0)
	}
	serveTestModel(t, m, 2)
	hup("model reloaded")
	if got := sha(); got == sha0 {
		t.Error("after a good reload the sha is unchanged")
	}

	cancel()
	select {
	case code := <-exit:
		if code != 0 {
			t.Errorf("exit %d after shutdown:\n%s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop within 20 s of its context ending")
	}
	for _, want := range []string{`"msg":"serving"`, `"msg":"shutting down: finishing accepted requests"`, `"msg":"shut down"`, `"level":"ERROR"`} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, stderr.String())
		}
	}
}

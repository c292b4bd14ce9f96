package serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/metacnn/metacnn/model"
)

func TestMicroBatching(t *testing.T) {
	const clients = 16
	s, ts := start(t, seedFiLM(t, 1), Config{MaxBatch: clients, MaxWait: 200 * time.Millisecond})
	body := []byte(fmt.Sprintf(`{"image": %q, "metadata": {"m1": 1, "m2": 2}}`, b64(pngImage(t, 56, 56, 1))))
	var wg sync.WaitGroup
	var ok atomic.Int64
	gate := make(chan struct{})
	for range clients {
		wg.Go(func() {
			<-gate
			resp, err := http.Post(ts.URL+"/v1/predict", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				ok.Add(1)
			}
		})
	}
	close(gate)
	wg.Wait()
	passes := s.ForwardPasses()
	t.Logf("%d concurrent requests took %d forward passes", clients, passes)
	if ok.Load() != clients {
		t.Fatalf("%d of %d requests succeeded", ok.Load(), clients)
	}
	// Unbatched, it would take 16 passes; the requests arrive within a few
	// milliseconds of each other, well inside MaxWait.
	if passes > clients/4 {
		t.Errorf("%d forward passes for %d concurrent requests: not batching", passes, clients)
	}

	// Alone, a request is not held back waiting for company.
	before := s.ForwardPasses()
	t0 := time.Now()
	if code, _, out := do(t, "POST", ts.URL+"/v1/predict", "application/json", body); code != 200 {
		t.Fatalf("status %d: %s", code, out)
	}
	if d := time.Since(t0); d > 150*time.Millisecond {
		t.Errorf("an idle request took %v: it waited for MaxWait (200ms)", d)
	}
	if s.ForwardPasses() != before+1 {
		t.Errorf("one request, %d forward passes", s.ForwardPasses()-before)
	}
}

// TestShutdownUnderLoad cancels Run while clients keep sending: every
// request the server accepted must be answered, and answered 200.
func TestShutdownUnderLoad(t *testing.T) {
	s, err := New(seedFiLM(t, 1), Config{Logger: quietLogger(), MaxBatch: 8})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(ctx, ln) }()
	url := "http://" + ln.Addr().String() + "/v1/predict"
	body := []byte(fmt.Sprintf(`{"image": %q, "metadata": {"m1": 1, "m2": 2}}`, b64(pngImage(t, 56, 56, 1))))

	var got200, gotOther, transport atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			client := &http.Client{Transport: &http.Transport{}}
			defer client.CloseIdleConnections()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Post(url, "application/json", bytes.NewReader(body))
				if err != nil {
					// Refused or closed before the server read the request:
					// never accepted.
					transport.Add(1)
					time.Sleep(time.Millisecond)
					continue
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Errorf("a response body was cut: %v", err)
				}
				if resp.StatusCode == 200 {
					got200.Add(1)
				} else {
					gotOther.Add(1)
					t.Errorf("status %d during shutdown", resp.StatusCode)
				}
			}
		})
	}
	time.Sleep(400 * time.Millisecond)
	cancel()
	if err := <-runErr; err != nil {
		t.Errorf("Run: %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()

	answered := counterValue(t, s, `metacnn_http_requests_total{code="200",route="/v1/predict"}`)
	t.Logf("clients got %d answers (%d not 200), %d connection errors; the server answered %v", got200.Load(), gotOther.Load(), transport.Load(), answered)
	if got200.Load() == 0 {
		t.Fatal("no request succeeded before the shutdown")
	}
	if float64(got200.Load()) != answered {
		t.Errorf("the server answered %v requests, clients received %d: accepted requests were lost", answered, got200.Load())
	}
	if n := s.batch.admitted.Load(); n != 0 {
		t.Errorf("%d instances still in flight after Run returned", n)
	}
}

// counterValue reads one sample from the server's registry.
func counterValue(t *testing.T, s *Server, sample string) float64 {
	t.Helper()
	rec := &bytes.Buffer{}
	w := &recorder{header: http.Header{}, body: rec}
	req, _ := http.NewRequest("GET", "/metrics", nil)
	s.ServeHTTP(w, req)
	for _, line := range strings.Split(rec.String(), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return 0
}

type recorder struct {
	header http.Header
	body   *bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(int)             {}

func TestReloadFailedKeepsOldModel(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.mcnn")
	if err := model.Save(path, seedFiLM(t, 1)); err != nil {
		t.Fatal(err)
	}
	first, err := model.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	s, ts := start(t, first, Config{ModelPath: path, Load: func() (*model.Bundle, error) { return model.Load(path) }})
	body := []byte(fmt.Sprintf(`{"image": %q, "metadata": {"m1": 1, "m2": 2}}`, b64(pngImage(t, 56, 56, 1))))
	predict := func() Prediction {
		code, _, out := do(t, "POST", ts.URL+"/v1/predict", "application/json", body)
		if code != 200 {
			t.Fatalf("status %d: %s", code, out)
		}
		return decodePrediction(t, out)
	}
	sha := func() string {
		_, _, out := do(t, "GET", ts.URL+"/v1/model", "", nil)
		var info modelInfo
		if err := jsonUnmarshal(out, &info); err != nil {
			t.Fatal(err)
		}
		return info.WeightsSHA256
	}
	before, sha0 := predict(), sha()

	// A corrupt file: the reload fails and the old model keeps serving.
	if err := os.WriteFile(path, []byte("not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = s.Reload()
	if err == nil || !strings.Contains(err.Error(), "not a model file") {
		t.Fatalf("Reload of a corrupt file: %v", err)
	}
	if after := predict(); !closeTo(after.Logits, before.Logits, 0) || sha() != sha0 {
		t.Errorf("after a failed reload: logits %v (were %v), sha %s (was %s)", after.Logits, before.Logits, sha(), sha0)
	}
	if v := counterValue(t, s, `metacnn_model_reloads_total{result="failed"}`); v != 1 {
		t.Errorf("failed reloads counted %v, want 1", v)
	}

	// A good new model is swapped in.
	if err := model.Save(path, seedFiLM(t, 2)); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if after := predict(); closeTo(after.Logits, before.Logits, 1e-6) || sha() == sha0 {
		t.Errorf("after a good reload: logits %v unchanged, or sha %s unchanged", after.Logits, sha())
	}

	// A reload while requests are in flight loses none of them.
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 8 {
		wg.Go(func() {
			for range 5 {
				resp, err := http.Post(ts.URL+"/v1/predict", "application/json", bytes.NewReader(body))
				if err != nil || resp.StatusCode != 200 {
					failed.Add(1)
				}
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		})
	}
	for range 3 {
		if err := s.Reload(); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Errorf("%d requests failed across reloads", failed.Load())
	}
}

// TestServerTimeouts checks that Run's server drops a client that sends
// its headers too slowly.
func TestServerTimeouts(t *testing.T) {
	s, err := New(seedFiLM(t, 1), Config{Logger: quietLogger(), ReadHeaderTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, ln) }()
	defer func() { cancel(); <-done }()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n") // and never the blank line
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	t0 := time.Now()
	_, err = io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept a slow client for over 3 s")
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("slow client dropped after %v, want about 100ms", d)
	}
}

package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	// Nearest rank, by hand: of 1..100 ms, p50 is 50 ms, p99 99 ms.
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[float64]time.Duration{50: 50 * time.Millisecond, 95: 95 * time.Millisecond, 99: 99 * time.Millisecond, 100: 100 * time.Millisecond, 0: time.Millisecond} {
		if got := Percentile(d, p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
}

func TestRun(t *testing.T) {
	var n atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%4 == 0 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"error":{"code":"overloaded"}}`, http.StatusTooManyRequests)
			return
		}
		time.Sleep(time.Millisecond)
		w.Write([]byte(`{}`))
	}))
	defer ts.Close()
	r, err := Run(context.Background(), Config{URL: ts.URL, Body: []byte(`{}`), ContentType: "application/json",
		Clients: 4, Instances: 2, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + r.String())
	if r.Succeeded == 0 || r.Errors["429"] == 0 || r.Succeeded+r.Errors["429"]+r.Errors["transport"] != r.Requests {
		t.Errorf("report %+v", r)
	}
	if r.PredictionsPerSec != 2*r.RequestsPerSec || r.P50 < time.Millisecond || r.P99 < r.P50 || r.Max < r.P99 {
		t.Errorf("figures %+v", r)
	}
}

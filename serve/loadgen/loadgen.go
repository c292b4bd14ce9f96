// Package loadgen drives a prediction service with N concurrent clients
// for a fixed time and reports throughput, latency percentiles and
// errors by status code. Each client sends its next request as soon as the
// previous one is answered (a closed loop), so the offered load adapts to
// the server: the figure it measures is the server's capacity at that
// concurrency.
package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Config describes a load test. URL, Body and ContentType are required.
type Config struct {
	// URL is the endpoint, such as http://127.0.0.1:8080/v1/predict.
	URL string
	// Body and ContentType are sent with every POST.
	Body        []byte
	ContentType string
	// Header is added to every request (an API key, say); may be nil.
	Header http.Header
	// Instances is the number of predictions one request asks for (the
	// batch size of a /v1/predict/batch body). 0 means 1.
	Instances int
	// Clients is the number of concurrent clients. 0 means 1.
	Clients int
	// Duration is how long requests are started. 0 means 10 s.
	Duration time.Duration
	// Warmup runs the load this long before measuring. 0 means none.
	Warmup time.Duration
	// Timeout bounds one request. 0 means 30 s.
	Timeout time.Duration
}

// Report is the outcome of a load test.
type Report struct {
	Clients   int           `json:"clients"`
	Instances int           `json:"instances_per_request"`
	Elapsed   time.Duration `json:"elapsed_ns"`
	// Requests counts every request completed in the measured window,
	// Succeeded those answered 200.
	Requests  int `json:"requests"`
	Succeeded int `json:"succeeded"`
	// RequestsPerSec and PredictionsPerSec count successful requests and
	// the predictions they carried.
	RequestsPerSec    float64 `json:"requests_per_sec"`
	PredictionsPerSec float64 `json:"predictions_per_sec"`
	// Latencies of successful requests.
	P50  time.Duration `json:"p50_ns"`
	P95  time.Duration `json:"p95_ns"`
	P99  time.Duration `json:"p99_ns"`
	Max  time.Duration `json:"max_ns"`
	Mean time.Duration `json:"mean_ns"`
	// Errors counts failed requests by HTTP status code, or "transport"
	// for a request that got no response.
	Errors map[string]int `json:"errors"`
	// Messages holds the first few error bodies or transport errors.
	Messages []string `json:"messages,omitempty"`
}

// String formats the report for people.
func (r Report) String() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "clients %d, %d instance(s) per request, %.1f s\n", r.Clients, r.Instances, r.Elapsed.Seconds())
	fmt.Fprintf(&b, "requests %d, succeeded %d: %.1f requests/s, %.1f predictions/s\n", r.Requests, r.Succeeded, r.RequestsPerSec, r.PredictionsPerSec)
	fmt.Fprintf(&b, "latency p50 %s  p95 %s  p99 %s  max %s  mean %s\n", ms(r.P50), ms(r.P95), ms(r.P99), ms(r.Max), ms(r.Mean))
	if len(r.Errors) == 0 {
		b.WriteString("errors: none\n")
	} else {
		b.WriteString("errors:")
		keys := make([]string, 0, len(r.Errors))
		for k := range r.Errors {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, " %s=%d", k, r.Errors[k])
		}
		b.WriteString("\n")
		for _, m := range r.Messages {
			fmt.Fprintf(&b, "  %s\n", m)
		}
	}
	return b.String()
}

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) + "ms" }

// Validate checks the config.
func (c Config) Validate() error {
	switch {
	case c.URL == "":
		return errors.New("loadgen: no URL")
	case c.ContentType == "" || len(c.Body) == 0:
		return errors.New("loadgen: no body or content type")
	case c.Clients < 0 || c.Instances < 0 || c.Duration < 0 || c.Warmup < 0 || c.Timeout < 0:
		return errors.New("loadgen: negative clients, instances, duration, warmup or timeout")
	case c.Clients > 10000:
		return fmt.Errorf("loadgen: %d clients, at most 10000", c.Clients)
	}
	return nil
}

type sample struct {
	at      time.Time // when the request finished
	latency time.Duration
	status  int // 0: transport error
	msg     string
}

// Run runs the load test. It stops early, reporting what it has, when ctx
// ends.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if err := cfg.Validate(); err != nil {
		return Report{}, err
	}
	if cfg.Clients == 0 {
		cfg.Clients = 1
	}
	if cfg.Instances == 0 {
		cfg.Instances = 1
	}
	if cfg.Duration == 0 {
		cfg.Duration = 10 * time.Second
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	tr := &http.Transport{MaxIdleConns: cfg.Clients, MaxIdleConnsPerHost: cfg.Clients, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: cfg.Timeout}

	begin := time.Now()
	measureFrom := begin.Add(cfg.Warmup)
	end := measureFrom.Add(cfg.Duration)
	ctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	per := make([][]sample, cfg.Clients)
	var wg sync.WaitGroup
	for i := range cfg.Clients {
		wg.Go(func() {
			for ctx.Err() == nil {
				s := one(ctx, client, cfg)
				if ctx.Err() != nil && s.status == 0 {
					return // cut off by the end of the run, not a server error
				}
				if s.at.After(measureFrom) && !s.at.After(end) {
					per[i] = append(per[i], s)
				}
			}
		})
	}
	wg.Wait()
	elapsed := min(time.Since(measureFrom), cfg.Duration)
	var all []sample
	for _, p := range per {
		all = append(all, p...)
	}
	return summarise(all, cfg, elapsed), nil
}

func one(ctx context.Context, client *http.Client, cfg Config) sample {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.URL, bytes.NewReader(cfg.Body))
	if err != nil {
		return sample{at: time.Now(), msg: err.Error()}
	}
	req.Header.Set("Content-Type", cfg.ContentType)
	for k, vs := range cfg.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return sample{at: time.Now(), latency: time.Since(t0), msg: err.Error()}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	s := sample{at: time.Now(), latency: time.Since(t0), status: resp.StatusCode}
	if err != nil {
		s.status, s.msg = 0, err.Error()
	} else if resp.StatusCode != http.StatusOK {
		s.msg = fmt.Sprintf("%d: %s", resp.StatusCode, bytes.TrimSpace(body))
	}
	return s
}

func summarise(all []sample, cfg Config, elapsed time.Duration) Report {
	r := Report{Clients: cfg.Clients, Instances: cfg.Instances, Elapsed: elapsed, Requests: len(all), Errors: map[string]int{}}
	var lat []time.Duration
	var sum time.Duration
	for _, s := range all {
		if s.status == http.StatusOK {
			lat = append(lat, s.latency)
			sum += s.latency
			continue
		}
		key := "transport"
		if s.status != 0 {
			key = strconv.Itoa(s.status)
		}
		r.Errors[key]++
		if len(r.Messages) < 5 && s.msg != "" {
			r.Messages = append(r.Messages, truncate(s.msg, 300))
		}
	}
	r.Succeeded = len(lat)
	if secs := elapsed.Seconds(); secs > 0 {
		r.RequestsPerSec = float64(r.Succeeded) / secs
		r.PredictionsPerSec = r.RequestsPerSec * float64(cfg.Instances)
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		r.P50, r.P95, r.P99 = Percentile(lat, 50), Percentile(lat, 95), Percentile(lat, 99)
		r.Max, r.Mean = lat[len(lat)-1], sum/time.Duration(len(lat))
	}
	return r
}

// Percentile returns the p-th percentile (0..100) of sorted by the
// nearest-rank method: the smallest value with at least p% of the values
// at or below it.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

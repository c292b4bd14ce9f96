// Command metacnn-load drives a running `metacnn serve` with N concurrent
// clients for T seconds and reports throughput, p50/p95/p99 latency and
// errors by status code:
//
//	metacnn serve --model film.mcnn &
//	metacnn-load --clients 32 --duration 15s                 # /v1/predict, JSON
//	metacnn-load --clients 1 --duration 5s                   # idle batch-1 latency
//	metacnn-load --batch 8 --clients 8                       # /v1/predict/batch
//
// Without --image it sends a pseudo-random RGB PNG of the model's input
// size, and without --metadata a metadata object with a valid value for
// every column; both are read from the server's GET /v1/model.
// Exit status: 0 on success, 1 when the test could not run or no request
// succeeded, 2 on a usage error.
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/metacnn/metacnn/serve/loadgen"
)

type options struct {
	url        string
	clients    int
	duration   time.Duration
	warmup     time.Duration
	timeout    time.Duration
	image      string
	metadata   string
	batch      int
	multipart  bool
	apiKeyFile string
	json       bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("metacnn-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8080", "the server's base URL")
	fs.IntVar(&o.clients, "clients", 32, "concurrent clients, each sending its next request when the last is answered")
	fs.DurationVar(&o.duration, "duration", 15*time.Second, "how long to measure")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "load before measuring, not counted")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "limit on one request")
	fs.StringVar(&o.image, "image", "", "image file to send (default: a random RGB PNG of the model's input size)")
	fs.StringVar(&o.metadata, "metadata", "", "the metadata JSON object of each instance (default: a valid value per column of the served model)")
	fs.IntVar(&o.batch, "batch", 1, "instances per request; above 1 uses /v1/predict/batch")
	fs.BoolVar(&o.multipart, "multipart", false, "send multipart/form-data instead of JSON (batch 1 only)")
	fs.StringVar(&o.apiKeyFile, "api-key-file", "", "file holding the server's API key")
	fs.BoolVar(&o.json, "json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := o.validate(fs.Args()); err != nil {
		fmt.Fprintln(stderr, "metacnn-load:", err)
		return 2
	}
	cfg, err := o.config()
	if err != nil {
		fmt.Fprintln(stderr, "metacnn-load:", err)
		return 1
	}
	r, err := loadgen.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "metacnn-load:", err)
		return 1
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(r)
	} else {
		fmt.Fprintf(stdout, "%s\n%s", cfg.URL, r)
	}
	if r.Succeeded == 0 {
		fmt.Fprintln(stderr, "metacnn-load: no request succeeded")
		return 1
	}
	return 0
}

func (o options) validate(rest []string) error {
	switch {
	case len(rest) > 0:
		return fmt.Errorf("unexpected arguments %q", rest)
	case o.clients < 1 || o.clients > 10000:
		return fmt.Errorf("--clients %d: want 1 to 10000", o.clients)
	case o.duration <= 0:
		return fmt.Errorf("--duration %v: want > 0", o.duration)
	case o.warmup < 0 || o.timeout <= 0:
		return errors.New("--warmup must be >= 0 and --timeout > 0")
	case o.batch < 1 || o.batch > 4096:
		return fmt.Errorf("--batch %d: want 1 to 4096", o.batch)
	case o.multipart && o.batch != 1:
		return errors.New("--multipart sends one instance per request: use --batch 1")
	case !strings.HasPrefix(o.url, "http://") && !strings.HasPrefix(o.url, "https://"):
		return fmt.Errorf("--url %q: want http://HOST:PORT", o.url)
	}
	if o.metadata != "" {
		var m map[string]any
		if err := json.Unmarshal([]byte(o.metadata), &m); err != nil {
			return fmt.Errorf("--metadata is not a JSON object: %v", err)
		}
	}
	return nil
}

// servedModel is the part of GET /v1/model the defaults are built from.
type servedModel struct {
	Input struct {
		Height int `json:"height"`
		Width  int `json:"width"`
	} `json:"input"`
	Metadata struct {
		Columns []struct {
			Name       string   `json:"name"`
			Type       string   `json:"type"`
			Encoding   string   `json:"encoding"`
			Categories []string `json:"categories"`
			Order      []string `json:"order"`
		} `json:"columns"`
	} `json:"metadata"`
}

// describe fetches GET /v1/model from the server.
func describe(base string, header http.Header, timeout time.Duration) (servedModel, error) {
	var m servedModel
	req, err := http.NewRequest(http.MethodGet, base+"/v1/model", nil)
	if err != nil {
		return m, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := (&http.Client{Timeout: timeout}).Do(req)
	if err != nil {
		return m, fmt.Errorf("describing the served model: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return m, fmt.Errorf("GET %s/v1/model: %s", base, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return m, fmt.Errorf("GET %s/v1/model: %v", base, err)
	}
	return m, nil
}

// defaultMetadata returns a valid value for every column of m: its first
// known category or ordinal level, an id of 0, false, a fixed timestamp, or
// 0 for numbers.
func defaultMetadata(m servedModel) map[string]any {
	meta := map[string]any{}
	for _, c := range m.Metadata.Columns {
		switch {
		case len(c.Categories) > 0:
			meta[c.Name] = c.Categories[0]
		case len(c.Order) > 0:
			meta[c.Name] = c.Order[0]
		case c.Type == "boolean":
			meta[c.Name] = false
		case c.Type == "timestamp":
			meta[c.Name] = "2026-01-01T12:00:00Z"
		default:
			meta[c.Name] = 0
		}
	}
	return meta
}

func (o options) config() (loadgen.Config, error) {
	base := strings.TrimRight(o.url, "/")
	cfg := loadgen.Config{Clients: o.clients, Duration: o.duration, Warmup: o.warmup, Timeout: o.timeout, Instances: o.batch, URL: base + "/v1/predict"}
	if o.apiKeyFile != "" {
		key, err := os.ReadFile(o.apiKeyFile)
		if err != nil {
			return cfg, err
		}
		cfg.Header = http.Header{"Authorization": {"Bearer " + strings.TrimSpace(string(key))}}
	}
	var served servedModel
	if o.image == "" || o.metadata == "" {
		var err error
		if served, err = describe(base, cfg.Header, o.timeout); err != nil {
			return cfg, err
		}
	}
	img, err := o.imageBytes(served.Input.Width, served.Input.Height)
	if err != nil {
		return cfg, err
	}
	meta := defaultMetadata(served)
	if o.metadata != "" {
		meta = nil
		json.Unmarshal([]byte(o.metadata), &meta)
	}
	switch {
	case o.multipart:
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		fw, _ := mw.CreateFormFile("image", "image.png")
		fw.Write(img)
		for k, v := range meta {
			mw.WriteField(k, fmt.Sprint(v))
		}
		mw.Close()
		cfg.Body, cfg.ContentType = buf.Bytes(), mw.FormDataContentType()
	default:
		inst := map[string]any{"image": base64.StdEncoding.EncodeToString(img), "metadata": meta}
		var body any = inst
		if o.batch > 1 {
			insts := make([]any, o.batch)
			for i := range insts {
				insts[i] = inst
			}
			body, cfg.URL = map[string]any{"instances": insts}, base+"/v1/predict/batch"
		}
		cfg.Body, _ = json.Marshal(body)
		cfg.ContentType = "application/json"
	}
	return cfg, nil
}

// imageBytes returns --image's bytes, or a pseudo-random w×h RGB PNG.
func (o options) imageBytes(w, h int) ([]byte, error) {
	if o.image != "" {
		return os.ReadFile(o.image)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	m := image.NewNRGBA(image.Rect(0, 0, max(w, 1), max(h, 1)))
	for i := 0; i < len(m.Pix); i += 4 {
		m.Pix[i], m.Pix[i+1], m.Pix[i+2], m.Pix[i+3] = uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255
	}
	var buf bytes.Buffer
	err := png.Encode(&buf, m)
	return buf.Bytes(), err
}

// Command metacnn-load drives a running `metacnn serve` with N concurrent
// clients for T seconds and reports throughput, p50/p95/p99 latency and
// errors by status code:
//
//	metacnn serve --model film.mcnn &
//	metacnn-load --clients 32 --duration 15s                 # /v1/predict, JSON
//	metacnn-load --clients 1 --duration 5s                   # idle batch-1 latency
//	metacnn-load --batch 8 --clients 8                       # /v1/predict/batch
//
// Without --image it sends a pseudo-random 56x56 RGB PNG (the seed
// presets' input); --metadata is the instance's metadata object.
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
	fs.StringVar(&o.image, "image", "", "image file to send (default: a random 56x56 RGB PNG)")
	fs.StringVar(&o.metadata, "metadata", `{"m1": 0.5, "m2": -1.0}`, "the metadata JSON object of each instance")
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
	var m map[string]any
	if err := json.Unmarshal([]byte(o.metadata), &m); err != nil {
		return fmt.Errorf("--metadata is not a JSON object: %v", err)
	}
	return nil
}

func (o options) config() (loadgen.Config, error) {
	img, err := o.imageBytes()
	if err != nil {
		return loadgen.Config{}, err
	}
	base := strings.TrimRight(o.url, "/")
	cfg := loadgen.Config{Clients: o.clients, Duration: o.duration, Warmup: o.warmup, Timeout: o.timeout, Instances: o.batch, URL: base + "/v1/predict"}
	if o.apiKeyFile != "" {
		key, err := os.ReadFile(o.apiKeyFile)
		if err != nil {
			return cfg, err
		}
		cfg.Header = http.Header{"Authorization": {"Bearer " + strings.TrimSpace(string(key))}}
	}
	var meta map[string]any
	json.Unmarshal([]byte(o.metadata), &meta)
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

func (o options) imageBytes() ([]byte, error) {
	if o.image != "" {
		return os.ReadFile(o.image)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	m := image.NewNRGBA(image.Rect(0, 0, 56, 56))
	for i := 0; i < len(m.Pix); i += 4 {
		m.Pix[i], m.Pix[i+1], m.Pix[i+2], m.Pix[i+3] = uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255
	}
	var buf bytes.Buffer
	err := png.Encode(&buf, m)
	return buf.Bytes(), err
}

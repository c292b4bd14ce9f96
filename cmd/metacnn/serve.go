package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/metacnn/metacnn/model"
	"github.com/metacnn/metacnn/serve"
)

type serveOptions struct {
	model      string
	addr       string
	apiKeyFile string

	maxBatch        int
	maxWait         time.Duration
	maxQueue        int
	maxInstances    int
	maxBodyBytes    int64
	maxPixels       int64
	workers         int
	requestTimeout  time.Duration
	readTimeout     time.Duration
	writeTimeout    time.Duration
	idleTimeout     time.Duration
	shutdownTimeout time.Duration

	logFormat string
	logLevel  string

	stderr io.Writer
	// ready, when set (tests), is called with the listening address once
	// the server accepts connections and SIGHUP is handled.
	ready func(addr string)
}

const maxAPIKeyFileBytes = 4 << 10

func newServeCmd() *cobra.Command {
	var opts serveOptions
	cmd := &cobra.Command{
		Use:   "serve --model model.mcnn [--addr 127.0.0.1:8080]",
		Short: "Serve a model over HTTP",
		Long: `Serve a model file over HTTP until SIGTERM or Ctrl-C:

  POST /v1/predict        {"image": base64, "metadata": {...}}, or multipart/form-data
                          with an "image" file part and one field per metadata column
  POST /v1/predict/batch  {"instances": [{"image": ..., "metadata": {...}}, ...]}
  GET  /v1/model          classes, input shape, metadata schema (types, known
                          categories, missing policies), version, limits
  GET  /healthz, /readyz  liveness and readiness
  GET  /metrics           Prometheus metrics
  GET  /openapi.json      the OpenAPI 3 description

A prediction is {"label", "probs", "logits", "warnings"}; unseen categories
are accepted and reported in warnings. A refused request gets
{"error": {"code", "message", "field"}} with a 4xx status.

Concurrent requests are gathered into micro-batches (--max-batch instances,
waiting at most --max-wait for more) that run as one forward pass. At most
--max-queue instances are in flight; beyond that requests get 429 with
Retry-After. SIGTERM or Ctrl-C stops accepting connections and answers
every request already accepted before exiting. SIGHUP reloads the model
file; if the new file fails to load, the old model keeps serving and the log
says why.

Logs are structured (log/slog) on stderr.`,
		Example: "  metacnn serve --model film.mcnn\n  metacnn serve --model film.mcnn --addr :8080 --api-key-file key.txt --log-format json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.validate(); err != nil {
				return asUsage(err)
			}
			opts.stderr = cmd.ErrOrStderr()
			return runServe(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.model, "model", "", "model file to serve (required)")
	f.StringVar(&opts.addr, "addr", "127.0.0.1:8080", "address to listen on, HOST:PORT")
	f.StringVar(&opts.apiKeyFile, "api-key-file", "", "file holding an API key that /v1/ requests must send (Authorization: Bearer KEY or X-API-Key: KEY)")
	f.IntVar(&opts.maxBatch, "max-batch", serve.DefaultMaxBatch, "most instances in one forward pass (1 turns micro-batching off)")
	f.DurationVar(&opts.maxWait, "max-wait", serve.DefaultMaxWait, "longest a micro-batch waits for more instances")
	f.IntVar(&opts.maxQueue, "max-queue", serve.DefaultMaxQueue, "most instances in flight before requests get 429")
	f.IntVar(&opts.maxInstances, "max-instances", serve.DefaultMaxInstances, "most instances in one batch request")
	f.Int64Var(&opts.maxBodyBytes, "max-body-bytes", serve.DefaultMaxBodyBytes, "largest request body")
	f.Int64Var(&opts.maxPixels, "max-pixels", serve.DefaultMaxPixels, "largest image, width x height, checked before decoding")
	f.IntVar(&opts.workers, "workers", serve.DefaultWorkers, "forward passes run at once (each already uses every core)")
	f.DurationVar(&opts.requestTimeout, "request-timeout", serve.DefaultRequestTimeout, "longest a request waits for its prediction (then 503)")
	f.DurationVar(&opts.readTimeout, "read-timeout", serve.DefaultReadTimeout, "limit on reading a request")
	f.DurationVar(&opts.writeTimeout, "write-timeout", serve.DefaultWriteTimeout, "limit on handling a request and writing its response")
	f.DurationVar(&opts.idleTimeout, "idle-timeout", serve.DefaultIdleTimeout, "limit on an idle keep-alive connection")
	f.DurationVar(&opts.shutdownTimeout, "shutdown-timeout", serve.DefaultShutdownTimeout, "longest to wait for accepted requests on shutdown")
	f.StringVar(&opts.logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&opts.logLevel, "log-level", "info", "log level: debug (a line per request), info, warn or error")
	return cmd
}

func (o serveOptions) validate() error {
	if strings.TrimSpace(o.model) == "" {
		return errors.New("--model is required")
	}
	if _, _, err := net.SplitHostPort(o.addr); err != nil {
		return fmt.Errorf("--addr %q: want HOST:PORT: %v", o.addr, err)
	}
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"--max-batch", int64(o.maxBatch)}, {"--max-queue", int64(o.maxQueue)}, {"--max-instances", int64(o.maxInstances)},
		{"--max-body-bytes", o.maxBodyBytes}, {"--max-pixels", o.maxPixels}, {"--workers", int64(o.workers)},
		{"--max-wait", int64(o.maxWait) + 1}, {"--request-timeout", int64(o.requestTimeout)}, {"--read-timeout", int64(o.readTimeout)},
		{"--write-timeout", int64(o.writeTimeout)}, {"--idle-timeout", int64(o.idleTimeout)}, {"--shutdown-timeout", int64(o.shutdownTimeout)},
	} {
		if f.v <= 0 {
			return fmt.Errorf("%s must be positive", f.name)
		}
	}
	if _, err := parseLogLevel(o.logLevel); err != nil {
		return err
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		return fmt.Errorf("--log-format %q: want text or json", o.logFormat)
	}
	return o.config("", nil).Validate()
}

func parseLogLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

func (o serveOptions) config(apiKey string, log *slog.Logger) serve.Config {
	return serve.Config{
		MaxBodyBytes: o.maxBodyBytes, MaxPixels: o.maxPixels, MaxInstances: o.maxInstances, MaxBatch: o.maxBatch,
		MaxWait: o.maxWait, MaxQueue: o.maxQueue, Workers: o.workers, RequestTimeout: o.requestTimeout,
		ReadTimeout: o.readTimeout, WriteTimeout: o.writeTimeout, IdleTimeout: o.idleTimeout, ShutdownTimeout: o.shutdownTimeout,
		APIKey: apiKey, ModelPath: o.model, Version: versionString(), Logger: log,
		Load: func() (*model.Bundle, error) { return model.Load(o.model) },
	}
}

// readAPIKey reads the key file: its content, trimmed of white space.
func readAPIKey(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("--api-key-file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxAPIKeyFileBytes+1))
	if err != nil {
		return "", fmt.Errorf("--api-key-file: %w", err)
	}
	if len(b) > maxAPIKeyFileBytes {
		return "", fmt.Errorf("--api-key-file %s: over %d bytes; it should hold just the key", path, maxAPIKeyFileBytes)
	}
	key := strings.TrimSpace(string(b))
	if key == "" {
		return "", fmt.Errorf("--api-key-file %s is empty", path)
	}
	return key, nil
}

func runServe(ctx context.Context, opts serveOptions) error {
	level, _ := parseLogLevel(opts.logLevel)
	hopts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(opts.stderr, hopts)
	if opts.logFormat == "json" {
		h = slog.NewJSONHandler(opts.stderr, hopts)
	}
	log := slog.New(h)

	var key string
	if opts.apiKeyFile != "" {
		var err error
		if key, err = readAPIKey(opts.apiKeyFile); err != nil {
			return err
		}
	}
	b, err := model.Load(opts.model)
	if err != nil {
		return err
	}
	srv, err := serve.New(b, opts.config(key, log))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", opts.addr)
	if err != nil {
		srv.Close()
		return fmt.Errorf("serve: %w", err)
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-hup:
				log.Info("SIGHUP: reloading the model", "model", opts.model)
				srv.Reload() // logs the outcome; a failure keeps the old model
			case <-done:
				return
			}
		}
	}()
	if opts.ready != nil {
		opts.ready(ln.Addr().String())
	}
	return srv.Run(ctx, ln)
}

package serve

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/metacnn/metacnn/model"
)

// Defaults for the zero values of Config.
const (
	DefaultMaxBodyBytes    = 8 << 20
	DefaultMaxPixels       = 16_000_000 // 4000 x 4000; about 64 MB of RGBA while decoding
	DefaultMaxInstances    = 64
	DefaultMaxBatch        = 32
	DefaultMaxWait         = 2 * time.Millisecond
	DefaultMaxQueue        = 256
	DefaultWorkers         = 1
	DefaultRequestTimeout  = 30 * time.Second
	DefaultReadTimeout     = 30 * time.Second
	DefaultReadHeader      = 5 * time.Second
	DefaultWriteTimeout    = 60 * time.Second
	DefaultIdleTimeout     = 120 * time.Second
	DefaultShutdownTimeout = 30 * time.Second
	DefaultRetryAfter      = 1 * time.Second
)

// Config configures a Server. Every zero value means the documented
// default; negative values are errors.
type Config struct {
	// MaxBodyBytes bounds a request body; a larger one is refused with 413.
	// 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxPixels bounds width*height of an uploaded image, checked from its
	// header before decoding; a larger one is refused with 413. 0 means
	// DefaultMaxPixels.
	MaxPixels int64
	// MaxInstances bounds the instances of one /v1/predict/batch request;
	// more is refused with 413. 0 means DefaultMaxInstances.
	MaxInstances int
	// MaxBatch bounds a micro-batch: the instances of concurrent requests
	// run in one forward pass. 0 means DefaultMaxBatch; 1 turns batching off.
	MaxBatch int
	// MaxWait is how long a micro-batch waits for more instances once it
	// has one, when others are in flight. 0 means DefaultMaxWait.
	MaxWait time.Duration
	// MaxQueue bounds the instances admitted and not yet answered (being
	// decoded, queued or in a forward pass); a request that would exceed it
	// is refused with 429. It must be at least MaxInstances. 0 means
	// DefaultMaxQueue.
	MaxQueue int
	// Workers is the number of forward passes that may run at once. The
	// engine already spreads one pass over every core, so 1 (the default
	// for 0) is usually fastest.
	Workers int
	// RequestTimeout bounds how long an admitted request waits for its
	// prediction before it is answered 503. 0 means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// RetryAfter is the Retry-After sent with 429. 0 means
	// DefaultRetryAfter; it is rounded up to whole seconds.
	RetryAfter time.Duration

	// Timeouts of the http.Server that Run starts; 0 means the default.
	ReadHeaderTimeout time.Duration // DefaultReadHeader
	ReadTimeout       time.Duration // DefaultReadTimeout
	WriteTimeout      time.Duration // DefaultWriteTimeout
	IdleTimeout       time.Duration // DefaultIdleTimeout
	// ShutdownTimeout bounds how long Run waits for accepted requests to
	// finish once its context ends. 0 means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration

	// APIKey, when not empty, is required on /v1/ routes as
	// "Authorization: Bearer KEY" or "X-API-Key: KEY"; requests without it
	// are refused with 401. The health, metrics and OpenAPI routes stay open.
	APIKey string
	// Load loads the model for Reload (typically model.Load of the served
	// path); nil makes Reload an error.
	Load func() (*model.Bundle, error)
	// ModelPath is shown in /v1/model and the logs; may be empty.
	ModelPath string
	// Version is the server's version, shown in /v1/model; may be empty.
	Version string
	// Logger receives structured logs; nil means slog.Default().
	Logger *slog.Logger
}

// Validate checks the config.
func (c Config) Validate() error {
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"max body bytes", c.MaxBodyBytes}, {"max pixels", c.MaxPixels}, {"max instances", int64(c.MaxInstances)},
		{"max batch", int64(c.MaxBatch)}, {"max wait", int64(c.MaxWait)}, {"max queue", int64(c.MaxQueue)},
		{"workers", int64(c.Workers)}, {"request timeout", int64(c.RequestTimeout)}, {"retry after", int64(c.RetryAfter)},
		{"read header timeout", int64(c.ReadHeaderTimeout)}, {"read timeout", int64(c.ReadTimeout)},
		{"write timeout", int64(c.WriteTimeout)}, {"idle timeout", int64(c.IdleTimeout)},
		{"shutdown timeout", int64(c.ShutdownTimeout)},
	} {
		if f.v < 0 {
			return fmt.Errorf("serve: %s is %d, want >= 0 (0 means the default)", f.name, f.v)
		}
	}
	d := c.withDefaults()
	if d.MaxQueue < d.MaxInstances {
		return fmt.Errorf("serve: max queue %d is below max instances %d: a full batch request could never be admitted", d.MaxQueue, d.MaxInstances)
	}
	if d.MaxBatch > 4096 {
		return errors.New("serve: max batch is over 4096")
	}
	return nil
}

func (c Config) withDefaults() Config {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	defD := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxPixels == 0 {
		c.MaxPixels = DefaultMaxPixels
	}
	def(&c.MaxInstances, DefaultMaxInstances)
	def(&c.MaxBatch, DefaultMaxBatch)
	def(&c.MaxQueue, DefaultMaxQueue)
	def(&c.Workers, DefaultWorkers)
	defD(&c.MaxWait, DefaultMaxWait)
	defD(&c.RequestTimeout, DefaultRequestTimeout)
	defD(&c.RetryAfter, DefaultRetryAfter)
	defD(&c.ReadHeaderTimeout, DefaultReadHeader)
	defD(&c.ReadTimeout, DefaultReadTimeout)
	defD(&c.WriteTimeout, DefaultWriteTimeout)
	defD(&c.IdleTimeout, DefaultIdleTimeout)
	defD(&c.ShutdownTimeout, DefaultShutdownTimeout)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

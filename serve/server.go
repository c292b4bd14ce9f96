package serve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/metacnn/metacnn/meta"
	"github.com/metacnn/metacnn/model"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// OpenAPI is the OpenAPI 3 description of the API, served at /openapi.json.
//
//go:embed openapi.json
var OpenAPI []byte

// Server is the prediction service for one model at a time. Build it with
// New, serve it with Run (or use it as an http.Handler), swap its model
// with Reload, and Close it when done with it as a handler.
type Server struct {
	cfg     Config
	log     *slog.Logger
	model   atomic.Pointer[loaded]
	batch   *batcher
	metrics *metrics
	routes  []route
	keyHash [sha256.Size]byte

	reloadMu sync.Mutex
	draining atomic.Bool
	closed   atomic.Bool
}

// route is one endpoint. Name is the path, used as the metrics label.
type route struct {
	method, path string
	auth         bool // needs the API key when one is set
	h            func(w http.ResponseWriter, r *http.Request) *apiError
}

// New returns a server for b. It starts the micro-batching workers; Run
// or Close stops them.
func New(b *model.Bundle, cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Server{cfg: cfg, log: cfg.Logger}
	m, err := newLoaded(b, cfg, time.Now())
	if err != nil {
		return nil, err
	}
	s.model.Store(m)
	if cfg.APIKey != "" {
		s.keyHash = sha256.Sum256([]byte(cfg.APIKey))
	}
	s.metrics = newMetrics(
		func() float64 { return float64(len(s.batch.queue)) },
		func() float64 { return float64(s.batch.admitted.Load()) })
	s.batch = newBatcher(cfg, s.log, s.metrics)
	s.routes = []route{
		{http.MethodPost, "/v1/predict", true, s.handlePredict},
		{http.MethodPost, "/v1/predict/batch", true, s.handleBatch},
		{http.MethodGet, "/v1/model", true, s.handleModel},
		{http.MethodGet, "/healthz", false, s.handleHealth},
		{http.MethodGet, "/readyz", false, s.handleReady},
		{http.MethodGet, "/metrics", false, s.handleMetrics(promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))},
		{http.MethodGet, "/openapi.json", false, s.handleOpenAPI},
	}
	return s, nil
}

// Routes lists the served endpoints as "METHOD /path".
func (s *Server) Routes() []string {
	out := make([]string, len(s.routes))
	for i, r := range s.routes {
		out[i] = r.method + " " + r.path
	}
	return out
}

// Run serves HTTP on ln until ctx ends, then shuts down gracefully: the
// listener closes, /readyz turns 503, every request already accepted is
// answered (within Config.ShutdownTimeout), and the batching workers stop.
// It returns nil after a clean shutdown.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	m := s.model.Load()
	s.log.Info("serving", "addr", ln.Addr().String(), "model", s.cfg.ModelPath, "arch", m.info.Arch,
		"weights_sha256", m.b.WeightsSHA256, "max_batch", s.cfg.MaxBatch, "max_wait", s.cfg.MaxWait,
		"max_queue", s.cfg.MaxQueue, "auth", s.cfg.APIKey != "")
	select {
	case err := <-errc:
		s.Close()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.draining.Store(true)
	s.log.Info("shutting down: finishing accepted requests", "timeout", s.cfg.ShutdownTimeout, "in_flight", s.batch.admitted.Load())
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	<-errc
	s.Close()
	if err != nil {
		return fmt.Errorf("serve: shutdown: requests still running after %v: %w", s.cfg.ShutdownTimeout, err)
	}
	s.log.Info("shut down")
	return nil
}

// Close stops the batching workers after running every queued instance.
// Requests that arrive afterwards get 503. Run calls it.
func (s *Server) Close() {
	s.draining.Store(true)
	s.closed.Store(true)
	s.batch.close()
}

// Reload loads the model again with Config.Load and swaps it in
// atomically: requests already admitted finish on the model they started
// with. On failure the old model keeps serving, and the error says why.
func (s *Server) Reload() error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	old := s.model.Load()
	fail := func(err error) error {
		s.metrics.reloads.WithLabelValues("failed").Inc()
		s.log.Error("model reload failed; still serving the previous model", "model", s.cfg.ModelPath,
			"weights_sha256", old.b.WeightsSHA256, "err", err)
		return fmt.Errorf("serve: reload: %w", err)
	}
	if s.cfg.Load == nil {
		return fail(errors.New("no loader configured"))
	}
	b, err := s.cfg.Load()
	if err != nil {
		return fail(err)
	}
	m, err := newLoaded(b, s.cfg, time.Now())
	if err != nil {
		return fail(err)
	}
	s.model.Store(m)
	s.metrics.reloads.WithLabelValues("ok").Inc()
	s.log.Info("model reloaded", "model", s.cfg.ModelPath, "arch", m.info.Arch,
		"weights_sha256", b.WeightsSHA256, "previous_sha256", old.b.WeightsSHA256)
	return nil
}

// ForwardPasses is the number of forward passes run so far.
func (s *Server) ForwardPasses() int64 { return s.batch.passes.Load() }

// ServeHTTP routes a request, checks the API key, and records metrics and
// a log line for it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &statusWriter{ResponseWriter: w}
	label := "other"
	var aerr *apiError
	var allowed []string
	var rt *route
	for i := range s.routes {
		if s.routes[i].path == r.URL.Path {
			label = r.URL.Path
			allowed = append(allowed, s.routes[i].method)
			if s.routes[i].method == r.Method || (r.Method == http.MethodHead && s.routes[i].method == http.MethodGet) {
				rt = &s.routes[i]
			}
		}
	}
	switch {
	case rt == nil && allowed == nil:
		aerr = errorf(http.StatusNotFound, CodeNotFound, "", "no route %s; see /openapi.json", trunc(r.URL.Path))
	case rt == nil:
		rw.Header().Set("Allow", strings.Join(allowed, ", "))
		aerr = errorf(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "", "%s %s: want %s", trunc(r.Method), r.URL.Path, strings.Join(allowed, " or "))
	case rt.auth && !s.authorized(r):
		rw.Header().Set("WWW-Authenticate", `Bearer realm="metacnn"`)
		aerr = errorf(http.StatusUnauthorized, CodeUnauthorized, "Authorization", "missing or wrong API key; send \"Authorization: Bearer KEY\" or \"X-API-Key: KEY\"")
	default:
		aerr = rt.h(rw, r)
	}
	if aerr != nil {
		s.writeError(rw, aerr)
	}
	d := time.Since(start)
	code := strconv.Itoa(rw.code())
	s.metrics.requests.WithLabelValues(label, code).Inc()
	s.metrics.latency.WithLabelValues(label, code).Observe(d.Seconds())
	lvl := slog.LevelDebug
	attrs := []slog.Attr{slog.String("method", r.Method), slog.String("route", label), slog.Int("status", rw.code()),
		slog.Duration("duration", d), slog.String("remote", r.RemoteAddr)}
	if aerr != nil {
		s.metrics.rejected.WithLabelValues(string(aerr.Code)).Inc()
		lvl = slog.LevelInfo
		if aerr.Status >= 500 {
			lvl = slog.LevelError
		}
		attrs = append(attrs, slog.String("code", string(aerr.Code)), slog.String("field", aerr.Field), slog.String("error", aerr.Message))
	}
	s.log.LogAttrs(r.Context(), lvl, "request", attrs...)
}

func (s *Server) authorized(r *http.Request) bool {
	if s.cfg.APIKey == "" {
		return true
	}
	key := r.Header.Get("X-API-Key")
	if a := r.Header.Get("Authorization"); key == "" && len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		key = strings.TrimSpace(a[7:])
	}
	if key == "" {
		return false
	}
	// Hashing first makes the comparison constant-time in the key's length too.
	h := sha256.Sum256([]byte(key))
	return subtle.ConstantTimeCompare(h[:], s.keyHash[:]) == 1
}

// statusWriter records the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) writeError(w http.ResponseWriter, e *apiError) {
	if e.Code == CodeOverloaded {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(s.cfg.RetryAfter.Seconds()))))
	}
	writeJSON(w, e.Status, errorBody{Error: e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"encoding the response failed","field":""}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// statusClientClosed is recorded (nginx's convention) for a request whose
// client went away before its answer; nobody receives it.
const statusClientClosed = 499

// Prediction is the answer for one instance; the keys are those of the
// predict command's output, without "path".
type Prediction struct {
	// Label is the class with the largest logit.
	Label string `json:"label"`
	// Probs is the softmax probability of each class.
	Probs map[string]float64 `json:"probs"`
	// Logits are the raw outputs, in the model's class order.
	Logits []float32 `json:"logits"`
	// Warnings are the encoding fallbacks taken: unseen categories and
	// filled missing values. Empty, never null.
	Warnings []string `json:"warnings"`

	order []string // class order for Probs in MarshalJSON; nil: sorted keys
}

// MarshalJSON writes probs in the model's class order, as the predict
// command does (a Go map would sort the keys).
func (p Prediction) MarshalJSON() ([]byte, error) {
	type plain Prediction
	if p.order == nil {
		return json.Marshal(plain(p))
	}
	var probs bytes.Buffer
	probs.WriteByte('{')
	for i, c := range p.order {
		if i > 0 {
			probs.WriteByte(',')
		}
		k, _ := json.Marshal(c)
		probs.Write(k)
		probs.WriteByte(':')
		probs.WriteString(strconv.FormatFloat(p.Probs[c], 'g', -1, 64))
	}
	probs.WriteByte('}')
	return json.Marshal(struct {
		Label    string          `json:"label"`
		Probs    json.RawMessage `json:"probs"`
		Logits   []float32       `json:"logits"`
		Warnings []string        `json:"warnings"`
	}{p.Label, probs.Bytes(), p.Logits, p.Warnings})
}

// BatchResponse is the body of a /v1/predict/batch answer.
type BatchResponse struct {
	Predictions []Prediction `json:"predictions"`
}

func (s *Server) handlePredict(w http.ResponseWriter, r *http.Request) *apiError {
	kind, boundary, aerr := mediaKind(r, true)
	if aerr != nil {
		return aerr
	}
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	var in instance
	if kind == kindMultipart {
		in, aerr = parseMultipart(body, boundary, s.cfg.MaxBodyBytes)
	} else {
		var b []byte
		if b, aerr = readBody(body, s.cfg.MaxBodyBytes); aerr == nil {
			in, aerr = parsePredictJSON(b)
		}
	}
	if aerr != nil {
		return aerr
	}
	preds, aerr := s.predict(r.Context(), []instance{in})
	if aerr != nil {
		return aerr
	}
	writeJSON(w, http.StatusOK, preds[0])
	return nil
}

func (s *Server) handleBatch(w http.ResponseWriter, r *http.Request) *apiError {
	if _, _, aerr := mediaKind(r, false); aerr != nil {
		return aerr
	}
	b, aerr := readBody(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes), s.cfg.MaxBodyBytes)
	if aerr != nil {
		return aerr
	}
	ins, aerr := parseBatchJSON(b, s.cfg.MaxInstances)
	if aerr != nil {
		return aerr
	}
	preds, aerr := s.predict(r.Context(), ins)
	if aerr != nil {
		return aerr
	}
	writeJSON(w, http.StatusOK, BatchResponse{Predictions: preds})
	return nil
}

// predict admits, validates, decodes and queues the instances, and waits
// for their forward passes. Either every instance is answered or the
// request is refused as a whole.
func (s *Server) predict(ctx context.Context, ins []instance) ([]Prediction, *apiError) {
	if s.closed.Load() {
		return nil, errorf(http.StatusServiceUnavailable, CodeShuttingDown, "", "the server is shutting down")
	}
	n := len(ins)
	if !s.batch.admit(n) {
		return nil, errorf(http.StatusTooManyRequests, CodeOverloaded, "", "the server is at capacity (%d instances in flight); retry later", cap(s.batch.queue))
	}
	defer s.batch.release(n)
	m := s.model.Load()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	items := make([]*item, n)
	for i, in := range ins {
		row, aerr := m.checkRow(in)
		if aerr != nil {
			return nil, aerr
		}
		img, aerr := m.decodeImage(in)
		if aerr != nil {
			return nil, aerr
		}
		items[i] = &item{ctx: ctx, m: m, image: img, row: row, done: make(chan result, 1)}
	}
	if err := s.batch.enqueue(items); err != nil {
		return nil, errorf(http.StatusServiceUnavailable, CodeShuttingDown, "", "the server is shutting down")
	}
	preds := make([]Prediction, n)
	for i, it := range items {
		var res result
		select {
		case res = <-it.done:
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, errorf(http.StatusServiceUnavailable, CodeTimeout, "", "no prediction within %v", s.cfg.RequestTimeout)
			}
			// The client has gone; nobody reads the answer.
			return nil, errorf(statusClientClosed, CodeClientClosed, "", "the client closed the request")
		}
		if res.err != nil {
			s.log.Error("forward pass failed", "err", res.err)
			return nil, errorf(http.StatusInternalServerError, CodeInternal, "", "the forward pass failed")
		}
		if preds[i], res.err = s.prediction(m, res); res.err != nil {
			s.log.Error("the model gave non-finite logits", "err", res.err)
			return nil, errorf(http.StatusInternalServerError, CodeInternal, "", "the model gave non-finite logits")
		}
	}
	return preds, nil
}

// prediction turns a forward pass into the answer, or an error when the
// logits are not finite (a broken model: JSON cannot carry NaN).
func (s *Server) prediction(m *loaded, res result) (Prediction, error) {
	cls := m.b.Classes
	best := 0
	for i, v := range res.logits {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return Prediction{}, fmt.Errorf("serve: logit %d is %v", i, v)
		}
		if v > res.logits[best] {
			best = i
		}
	}
	mx := float64(res.logits[best])
	ps := make([]float64, len(res.logits))
	var sum float64
	for i, v := range res.logits {
		ps[i] = math.Exp(float64(v) - mx)
		sum += ps[i]
	}
	p := Prediction{Label: cls[best], Probs: make(map[string]float64, len(cls)), Logits: res.logits, Warnings: []string{}, order: cls}
	for i, c := range cls {
		p.Probs[c] = ps[i] / sum
	}
	s.metrics.predictions.WithLabelValues(p.Label).Inc()
	for _, w := range res.warns {
		p.Warnings = append(p.Warnings, w.String())
		switch w.Kind {
		case meta.WarnOOV:
			s.metrics.unseen.WithLabelValues(w.Column).Inc()
		case meta.WarnMissing:
			s.metrics.missing.WithLabelValues(w.Column).Inc()
		}
	}
	return p, nil
}

func (s *Server) handleModel(w http.ResponseWriter, _ *http.Request) *apiError {
	writeJSON(w, http.StatusOK, s.model.Load().info)
	return nil
}

func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) *apiError {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) handleReady(w http.ResponseWriter, _ *http.Request) *apiError {
	if s.draining.Load() {
		return errorf(http.StatusServiceUnavailable, CodeShuttingDown, "", "the server is shutting down")
	}
	m := s.model.Load()
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "weights_sha256": m.b.WeightsSHA256})
	return nil
}

func (s *Server) handleMetrics(h http.Handler) func(http.ResponseWriter, *http.Request) *apiError {
	return func(w http.ResponseWriter, r *http.Request) *apiError {
		h.ServeHTTP(w, r)
		return nil
	}
}

func (s *Server) handleOpenAPI(w http.ResponseWriter, _ *http.Request) *apiError {
	w.Header().Set("Content-Type", "application/json")
	w.Write(OpenAPI)
	return nil
}

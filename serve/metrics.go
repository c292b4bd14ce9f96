package serve

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the server's Prometheus collectors, in a registry of their
// own so that several servers (tests) can live in one process.
type metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec   // route, code
	latency     *prometheus.HistogramVec // route, code
	batchSize   prometheus.Histogram
	forward     prometheus.Histogram
	predictions *prometheus.CounterVec // class
	unseen      *prometheus.CounterVec // column
	missing     *prometheus.CounterVec // column
	rejected    *prometheus.CounterVec // error code
	reloads     *prometheus.CounterVec // result
}

func newMetrics(queueDepth, inFlight func() float64) *metrics {
	const ns = "metacnn"
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "http_requests_total",
			Help: "HTTP requests answered, by route and status code."}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "http_request_duration_seconds",
			Help:    "Time from a request's arrival to its response, by route and status code.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"route", "code"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "batch_size",
			Help: "Instances per forward pass (micro-batch size).", Buckets: prometheus.ExponentialBuckets(1, 2, 13)}),
		forward: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "forward_duration_seconds",
			Help: "Time of one forward pass, metadata encoding included.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
		predictions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "predictions_total",
			Help: "Predictions answered, by predicted class."}, []string{"class"}),
		unseen: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "metadata_unseen_category_total",
			Help: "Categorical metadata values outside the model's vocabulary, encoded as out-of-vocabulary, by column."}, []string{"column"}),
		missing: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "metadata_missing_total",
			Help: "Missing metadata values filled by the column's policy, by column."}, []string{"column"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "rejected_requests_total",
			Help: "Requests refused, by error code."}, []string{"code"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "model_reloads_total",
			Help: "Model reloads, by result (ok or failed)."}, []string{"result"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.batchSize, m.forward, m.predictions, m.unseen, m.missing, m.rejected, m.reloads,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "queue_depth",
			Help: "Instances waiting for a forward pass."}, queueDepth),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "in_flight_instances",
			Help: "Instances admitted and not yet answered (decoding, queued or in a forward pass)."}, inFlight),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

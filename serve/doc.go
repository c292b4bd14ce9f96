// Package serve is metacnn's HTTP prediction service: it answers
// predictions for one model file (model.Bundle), image plus metadata per
// instance, and is built to stay predictable under load and to refuse bad
// input with a precise error instead of falling over.
//
// # API
//
//	POST /v1/predict        one instance: JSON {"image": base64, "metadata": {...}}
//	                        or multipart/form-data with an "image" file part and
//	                        metadata as form fields
//	POST /v1/predict/batch  JSON {"instances": [{"image": ..., "metadata": {...}}, ...]}
//	GET  /v1/model          classes, input shape, image preprocessing, metadata
//	                        schema (column types, missing policies, known
//	                        categories), format version and checksum
//	GET  /healthz           200 while the process runs
//	GET  /readyz            200 while a model is loaded and the server is not
//	                        shutting down, else 503
//	GET  /metrics           Prometheus metrics
//	GET  /openapi.json      the OpenAPI 3 description of all of the above
//
// A prediction is {"label", "probs", "logits", "warnings"}: the arg-max
// class, the softmax probability of each class by name, the raw logits in
// class order, and the encoding fallbacks taken for the instance (unseen
// categories, filled missing values). Metadata values may be JSON strings,
// numbers or booleans; null or an absent column is a missing value, handled
// as the model's schema says (an error for a column whose policy is error,
// a filled value and a warning for policy indicator).
//
// Every refused request gets {"error": {"code", "message", "field"}} with a
// 4xx status (codes are the ErrorCode constants), except 503 while shutting
// down or when a request waited longer than Config.RequestTimeout.
//
// # Under load
//
// Admission is bounded: at most Config.MaxQueue instances may be in flight
// (decoding, queued or in a forward pass); beyond that a request is refused
// at once with 429 and Retry-After. Admitted instances from concurrent
// requests are gathered into micro-batches of at most Config.MaxBatch,
// waiting at most Config.MaxWait for more to arrive (and not at all when no
// other instance is in flight), and each micro-batch is one forward pass
// (model.Bundle.Predict). Run shuts down gracefully when its context ends:
// /readyz turns 503, the listener closes, and every request already accepted
// is answered before Run returns. Reload swaps the model atomically; a model
// that fails to load leaves the old one serving.
package serve

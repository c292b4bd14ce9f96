package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/model"
	"github.com/metacnn/metacnn/tensor"
)

// directLogits runs Bundle.Predict on one PNG and row, bypassing the
// service: the reference the service's answers are checked against.
func directLogits(t *testing.T, b *model.Bundle, img []byte, row map[string]string) []float32 {
	t.Helper()
	x := tensor.New(1, b.Input[0], b.Input[1], b.Input[2])
	if err := data.DecodeImage(img, b.Image, x.Data()); err != nil {
		t.Fatal(err)
	}
	logits, _, err := b.Predict(x, []map[string]string{row})
	if err != nil {
		t.Fatal(err)
	}
	return logits.Data()
}

func closeTo(a, b []float32, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > tol {
			return false
		}
	}
	return true
}

func TestPredictJSONAndMultipart(t *testing.T) {
	b := seedFiLM(t, 1)
	_, ts := start(t, b, Config{})
	img := pngImage(t, 56, 56, 1)
	want := directLogits(t, b, img, map[string]string{"m1": "0.5", "m2": "-1.25"})

	// Numbers, numeric strings: the same raw values for the encoder.
	body := fmt.Sprintf(`{"image": %q, "metadata": {"m1": 0.5, "m2": "-1.25"}}`, b64(img))
	code, hdr, out := do(t, "POST", ts.URL+"/v1/predict", "application/json; charset=utf-8", []byte(body))
	if code != 200 || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, Content-Type %q: %s", code, hdr.Get("Content-Type"), out)
	}
	var keys map[string]json.RawMessage
	json.Unmarshal(out, &keys)
	if got := slices.Sorted(func(yield func(string) bool) {
		for k := range keys {
			if !yield(k) {
				return
			}
		}
	}); !slices.Equal(got, []string{"label", "logits", "probs", "warnings"}) {
		t.Errorf("keys %v, want label, logits, probs, warnings", got)
	}
	p := decodePrediction(t, out)
	// Batch of one in both: the same computation, so equal to float32 rounding.
	if !closeTo(p.Logits, want, 1e-5) {
		t.Errorf("logits %v, Bundle.Predict gives %v", p.Logits, want)
	}
	checkProbs(t, p, b.Classes)
	if len(p.Warnings) != 0 || string(keys["warnings"]) != "[]" {
		t.Errorf("warnings %s, want []", keys["warnings"])
	}

	ct, mp := multipartBody(t, img, "m1", "0.5", "m2", "-1.25")
	code, _, out = do(t, "POST", ts.URL+"/v1/predict", ct, mp)
	if code != 200 {
		t.Fatalf("multipart: status %d: %s", code, out)
	}
	if q := decodePrediction(t, out); !closeTo(q.Logits, p.Logits, 0) || q.Label != p.Label {
		t.Errorf("multipart gives %v, JSON %v", q, p)
	}

	// URL-safe base64 without padding and a data URL are accepted.
	for _, enc := range []string{strings.TrimRight(strings.NewReplacer("+", "-", "/", "_").Replace(b64(img)), "="), "data:image/png;base64," + b64(img)} {
		body := fmt.Sprintf(`{"image": %q, "metadata": {"m1": 0.5, "m2": -1.25}}`, enc)
		if code, _, out := do(t, "POST", ts.URL+"/v1/predict", "application/json", []byte(body)); code != 200 {
			t.Errorf("base64 variant: status %d: %s", code, out)
		} else if q := decodePrediction(t, out); !closeTo(q.Logits, p.Logits, 0) {
			t.Errorf("base64 variant gives %v, want %v", q.Logits, p.Logits)
		}
	}
}

func checkProbs(t *testing.T, p Prediction, classes []string) {
	t.Helper()
	sum, best := 0.0, ""
	for _, c := range classes {
		v, ok := p.Probs[c]
		if !ok || v < 0 || v > 1 {
			t.Errorf("probs[%q] = %v, %v", c, v, ok)
		}
		sum += v
		if best == "" || v > p.Probs[best] {
			best = c
		}
	}
	if math.Abs(sum-1) > 1e-9 || len(p.Probs) != len(classes) {
		t.Errorf("probs %v: %d classes summing to %v", p.Probs, len(p.Probs), sum)
	}
	if p.Label != best {
		t.Errorf("label %q, the most probable class is %q", p.Label, best)
	}
}

func TestPredictBatch(t *testing.T) {
	b := seedFiLM(t, 2)
	_, ts := start(t, b, Config{})
	var inst []map[string]any
	var want [][]float32
	for i := range 5 {
		img := pngImage(t, 56, 56, uint64(10+i))
		m1, m2 := float64(i)-2, 0.25*float64(i)
		inst = append(inst, map[string]any{"image": b64(img), "metadata": map[string]any{"m1": m1, "m2": m2}})
		want = append(want, directLogits(t, b, img, map[string]string{"m1": fmt.Sprint(m1), "m2": fmt.Sprint(m2)}))
	}
	code, _, out := do(t, "POST", ts.URL+"/v1/predict/batch", "application/json", mustJSON(t, map[string]any{"instances": inst}))
	if code != 200 {
		t.Fatalf("status %d: %s", code, out)
	}
	var resp BatchResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Predictions) != len(inst) {
		t.Fatalf("%d predictions for %d instances", len(resp.Predictions), len(inst))
	}
	for i, p := range resp.Predictions {
		// A batch of 5 against batches of 1: the engine may sum in another
		// order, so agree to float32 accumulation error.
		if !closeTo(p.Logits, want[i], 1e-4) {
			t.Errorf("instance %d: logits %v, Bundle.Predict alone gives %v", i, p.Logits, want[i])
		}
		checkProbs(t, p, b.Classes)
	}
}

func TestMetadataWarningsAndConversion(t *testing.T) {
	b := specModel(t, 0)
	_, ts := start(t, b, Config{})
	img := pngImage(t, 8, 8, 3)
	for _, tc := range []struct {
		name string
		meta string
		want []string // substrings of the warnings, in order
	}{
		{"known values", `{"camera": "cam1", "line": "a", "temperature": 21.5, "flash": true}`, nil},
		{"unseen category", `{"camera": "cam9", "line": "a", "temperature": 21.5, "flash": false}`, []string{`"camera": value "cam9": out-of-vocabulary`}},
		{"number as category", `{"camera": 7, "line": "b", "temperature": "20", "flash": "yes"}`, []string{`"camera": value "7": out-of-vocabulary`}},
		{"missing indicator columns", `{"line": "c", "temperature": null}`, []string{`"camera": missing`, `"temperature": missing`, `"flash": missing`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := fmt.Sprintf(`{"image": %q, "metadata": %s}`, b64(img), tc.meta)
			code, _, out := do(t, "POST", ts.URL+"/v1/predict", "application/json", []byte(body))
			if code != 200 {
				t.Fatalf("status %d: %s", code, out)
			}
			p := decodePrediction(t, out)
			checkProbs(t, p, b.Classes)
			// probs in the model's class order, as the predict command writes them.
			if i, j, k := bytes.Index(out, []byte(`"ok":`)), bytes.Index(out, []byte(`"spot":`)), bytes.Index(out, []byte(`"scratch":`)); !(0 <= i && i < j && j < k) {
				t.Errorf("probs not in class order (ok, spot, scratch): %s", out)
			}
			if len(p.Warnings) != len(tc.want) {
				t.Fatalf("warnings %q, want %d", p.Warnings, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(p.Warnings[i], w) {
					t.Errorf("warning %d = %q, want it to contain %q", i, p.Warnings[i], w)
				}
			}
		})
	}
}

func TestModelInfo(t *testing.T) {
	b := specModel(t, 0.2)
	_, ts := start(t, b, Config{ModelPath: "m.mcnn", Version: "v-test", MaxInstances: 9})
	code, _, out := do(t, "GET", ts.URL+"/v1/model", "", nil)
	if code != 200 {
		t.Fatalf("status %d: %s", code, out)
	}
	var info modelInfo
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&info); err != nil {
		t.Fatal(err)
	}
	if info.Arch != "spec" || info.Path != "m.mcnn" || info.ServerVersion != "v-test" || !slices.Equal(info.Classes, []string{"ok", "spot", "scratch"}) {
		t.Errorf("info %+v", info)
	}
	if info.Input.Shape != [3]int{3, 8, 8} || info.Image.Width != 8 || info.Limits.MaxInstances != 9 || !info.Metadata.MayOmit {
		t.Errorf("input %+v image %+v limits %+v may_omit %v", info.Input, info.Image, info.Limits, info.Metadata.MayOmit)
	}
	want := []columnInfo{
		{Name: "camera", Type: "categorical", Missing: "indicator", Encoding: "onehot", Categories: []string{"cam1", "cam2"}},
		{Name: "line", Type: "categorical", Missing: "error", Required: true, Encoding: "onehot", Categories: []string{"a", "b", "c"}},
		{Name: "temperature", Type: "numeric", Missing: "indicator", Scale: "standard"},
		{Name: "flash", Type: "boolean", Missing: "indicator"},
	}
	if got, _ := json.Marshal(info.Metadata.Columns); string(got) != string(mustJSON(t, want)) {
		t.Errorf("columns\n%s\nwant\n%s", got, mustJSON(t, want))
	}

	// The seed preset: raw numeric m1, m2, both required.
	_, ts2 := start(t, seedFiLM(t, 1), Config{})
	_, _, out = do(t, "GET", ts2.URL+"/v1/model", "", nil)
	json.Unmarshal(out, &info)
	if info.Arch != model.SeedFiLM || len(info.Metadata.Columns) != 2 || !info.Metadata.Columns[1].Required || info.Metadata.Columns[1].Scale != "raw" || info.Metadata.MayOmit {
		t.Errorf("seed-film info %+v", info)
	}
}

func TestModalityDropoutMayOmitMetadata(t *testing.T) {
	_, ts := start(t, specModel(t, 0.2), Config{})
	body := fmt.Sprintf(`{"image": %q}`, b64(pngImage(t, 8, 8, 4)))
	if code, _, out := do(t, "POST", ts.URL+"/v1/predict", "application/json", []byte(body)); code != 200 {
		t.Fatalf("no metadata, modality dropout: status %d: %s", code, out)
	}
	// An empty object is metadata given, with its required line missing.
	body = fmt.Sprintf(`{"image": %q, "metadata": {}}`, b64(pngImage(t, 8, 8, 4)))
	code, _, out := do(t, "POST", ts.URL+"/v1/predict", "application/json", []byte(body))
	if e := decodeError(t, out); code != 400 || e.Code != CodeMissingField || e.Field != "metadata.line" {
		t.Errorf("status %d, error %+v", code, e)
	}
}

func TestHealthReadyAndClose(t *testing.T) {
	s, ts := start(t, seedFiLM(t, 1), Config{})
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, _, out := do(t, "GET", ts.URL+p, "", nil); code != 200 {
			t.Errorf("%s: status %d: %s", p, code, out)
		}
	}
	s.Close()
	if code, _, _ := do(t, "GET", ts.URL+"/readyz", "", nil); code != 503 {
		t.Errorf("readyz after Close: status %d, want 503", code)
	}
	if code, _, _ := do(t, "GET", ts.URL+"/healthz", "", nil); code != 200 {
		t.Errorf("healthz after Close: status %d, want 200", code)
	}
	body := fmt.Sprintf(`{"image": %q, "metadata": {"m1": 1, "m2": 2}}`, b64(pngImage(t, 56, 56, 1)))
	code, _, out := do(t, "POST", ts.URL+"/v1/predict", "application/json", []byte(body))
	if e := decodeError(t, out); code != 503 || e.Code != CodeShuttingDown {
		t.Errorf("predict after Close: status %d, %+v", code, e)
	}
}

func TestMetrics(t *testing.T) {
	b := specModel(t, 0)
	_, ts := start(t, b, Config{})
	img := b64(pngImage(t, 8, 8, 5))
	for _, m := range []string{
		`{"camera": "cam1", "line": "a", "temperature": 20, "flash": true}`,
		`{"camera": "cam7", "line": "a", "flash": true}`,
		`{"camera": "cam1", "line": "zzz", "temperature": 20, "flash": true}`, // unseen line: also a warning
		`{"line": "a", "temperature": [1]}`,                                   // refused
	} {
		do(t, "POST", ts.URL+"/v1/predict", "application/json", fmt.Appendf(nil, `{"image": %q, "metadata": %s}`, img, m))
	}
	code, _, out := do(t, "GET", ts.URL+"/metrics", "", nil)
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	text := string(out)
	for _, want := range []string{
		`metacnn_http_requests_total{code="200",route="/v1/predict"} 3`,
		`metacnn_http_requests_total{code="400",route="/v1/predict"} 1`,
		`metacnn_http_request_duration_seconds_count{code="200",route="/v1/predict"} 3`,
		`metacnn_batch_size_count 3`,
		`metacnn_forward_duration_seconds_count 3`,
		`metacnn_queue_depth 0`,
		`metacnn_in_flight_instances 0`,
		`metacnn_metadata_unseen_category_total{column="camera"} 1`,
		`metacnn_metadata_unseen_category_total{column="line"} 1`,
		`metacnn_metadata_missing_total{column="temperature"} 1`,
		`metacnn_rejected_requests_total{code="invalid_type"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	var preds float64
	for _, c := range b.Classes {
		var v float64
		if i := strings.Index(text, fmt.Sprintf(`metacnn_predictions_total{class=%q} `, c)); i >= 0 {
			fmt.Sscan(text[i+len(fmt.Sprintf(`metacnn_predictions_total{class=%q} `, c)):], &v)
		}
		preds += v
	}
	if preds != 3 {
		t.Errorf("per-class predictions sum to %v, want 3", preds)
	}
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	s, ts := start(t, seedFiLM(t, 1), Config{})
	code, _, out := do(t, "GET", ts.URL+"/openapi.json", "", nil)
	if code != 200 || !bytes.Equal(out, OpenAPI) {
		t.Fatalf("status %d, %d bytes, want the embedded document", code, len(out))
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi %q, want 3.x", doc.OpenAPI)
	}
	served := map[string]bool{}
	for _, r := range s.Routes() {
		served[r] = true
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			r := strings.ToUpper(method) + " " + path
			documented[r] = true
			if !served[r] {
				t.Errorf("the OpenAPI document has %s, the server does not", r)
			}
			// Every documented route answers something other than 404/405.
			code, _, _ := do(t, strings.ToUpper(method), ts.URL+path, "", nil)
			if code == 404 || code == 405 {
				t.Errorf("%s: status %d", r, code)
			}
		}
	}
	for r := range served {
		if !documented[r] {
			t.Errorf("the server has %s, the OpenAPI document does not", r)
		}
	}
	// Every error code the server sends is in the document's enum.
	for _, c := range []ErrorCode{CodeUnauthorized, CodeNotFound, CodeMethodNotAllowed, CodeUnsupportedType, CodeBodyTooLarge,
		CodeImageTooLarge, CodeBatchTooLarge, CodeMalformedJSON, CodeMalformedForm, CodeMissingImage, CodeInvalidImage,
		CodeUnknownField, CodeInvalidType, CodeInvalidValue, CodeMissingField, CodeEmptyBatch, CodeOverloaded,
		CodeShuttingDown, CodeTimeout, CodeClientClosed, CodeInternal} {
		if !bytes.Contains(OpenAPI, []byte(`"`+string(c)+`"`)) {
			t.Errorf("error code %s is not in the OpenAPI document", c)
		}
	}
}

func TestAPIKey(t *testing.T) {
	_, ts := start(t, seedFiLM(t, 1), Config{APIKey: "s3cret"})
	for _, tc := range []struct {
		name   string
		header []string
		path   string
		want   int
	}{
		{"no key", nil, "/v1/model", 401},
		{"wrong key", []string{"Authorization", "Bearer nope"}, "/v1/model", 401},
		{"prefix of the key", []string{"X-API-Key", "s3cre"}, "/v1/model", 401},
		{"bearer", []string{"Authorization", "Bearer s3cret"}, "/v1/model", 200},
		{"x-api-key", []string{"X-API-Key", "s3cret"}, "/v1/model", 200},
		{"health is open", nil, "/healthz", 200},
		{"metrics are open", nil, "/metrics", 200},
	} {
		code, hdr, out := do(t, "GET", ts.URL+tc.path, "", nil, tc.header...)
		if code != tc.want {
			t.Errorf("%s: status %d, want %d: %s", tc.name, code, tc.want, out)
		}
		if code == 401 {
			if e := decodeError(t, out); e.Code != CodeUnauthorized || hdr.Get("WWW-Authenticate") == "" {
				t.Errorf("%s: %+v, WWW-Authenticate %q", tc.name, e, hdr.Get("WWW-Authenticate"))
			}
		}
	}
	code, _, _ := do(t, "POST", ts.URL+"/v1/predict", "application/json", []byte(`{}`))
	if code != 401 {
		t.Errorf("predict without key: status %d, want 401 before the body is looked at", code)
	}
}

var _ = http.StatusOK

package serve

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestErrors checks every way a request is refused: the status, the error
// code and the field named.
func TestErrors(t *testing.T) {
	seed := seedFiLM(t, 1)
	_, ts := start(t, seed, Config{MaxBodyBytes: 64 << 10, MaxPixels: 60 * 60, MaxInstances: 2, MaxQueue: 8})
	_, spec := start(t, specModel(t, 0), Config{})
	img := b64(pngImage(t, 56, 56, 1))
	big := b64(pngImage(t, 64, 64, 1)) // 4096 pixels: over the 3600 limit
	good := func(meta string) string { return fmt.Sprintf(`{"image": %q, "metadata": %s}`, img, meta) }
	mpCT, mpNoImage := multipartBody(t, nil, "m1", "1", "m2", "2")
	mpCT2, mpExtra := multipartBody(t, pngImage(t, 56, 56, 1), "m1", "1", "m2", "2", "m3", "3")
	mpCT3, mpBad := multipartBody(t, []byte("this is not an image"), "m1", "1", "m2", "2")
	mpCT4, mpHuge := multipartBody(t, bytes.Repeat([]byte("x"), 70<<10), "m1", "1", "m2", "2")
	for _, tc := range []struct {
		name        string
		url         string // path, on the seed-film server unless it starts with "spec:"
		method      string
		contentType string
		body        string
		status      int
		code        ErrorCode
		field       string
	}{
		{"unknown metadata column", "/v1/predict", "POST", "application/json", good(`{"m1": 1, "m2": 2, "m3": 3}`), 400, CodeUnknownField, "metadata.m3"},
		{"object value", "/v1/predict", "POST", "application/json", good(`{"m1": {"v": 1}, "m2": 2}`), 400, CodeInvalidType, "metadata.m1"},
		{"array value", "/v1/predict", "POST", "application/json", good(`{"m1": 1, "m2": [2]}`), 400, CodeInvalidType, "metadata.m2"},
		{"not a number", "/v1/predict", "POST", "application/json", good(`{"m1": "warm", "m2": 2}`), 400, CodeInvalidValue, "metadata.m1"},
		{"boolean for a number", "/v1/predict", "POST", "application/json", good(`{"m1": true, "m2": 2}`), 400, CodeInvalidValue, "metadata.m1"},
		{"missing required column", "/v1/predict", "POST", "application/json", good(`{"m1": 1}`), 400, CodeMissingField, "metadata.m2"},
		{"null required column", "/v1/predict", "POST", "application/json", good(`{"m1": 1, "m2": null}`), 400, CodeMissingField, "metadata.m2"},
		{"no metadata", "/v1/predict", "POST", "application/json", fmt.Sprintf(`{"image": %q}`, img), 400, CodeMissingField, "metadata.m1"},
		{"metadata not an object", "/v1/predict", "POST", "application/json", fmt.Sprintf(`{"image": %q, "metadata": [1, 2]}`, img), 400, CodeMalformedJSON, "metadata"},
		{"duplicate metadata key", "/v1/predict", "POST", "application/json", good(`{"m1": 1, "m1": 2, "m2": 2}`), 400, CodeMalformedJSON, "metadata.m1"},
		{"required categorical missing", "spec:/v1/predict", "POST", "application/json", fmt.Sprintf(`{"image": %q, "metadata": {"camera": "cam1"}}`, b64(pngImage(t, 8, 8, 1))), 400, CodeMissingField, "metadata.line"},
		{"bad boolean", "spec:/v1/predict", "POST", "application/json", fmt.Sprintf(`{"image": %q, "metadata": {"line": "a", "flash": "maybe"}}`, b64(pngImage(t, 8, 8, 1))), 400, CodeInvalidValue, "metadata.flash"},
		{"undecodable image", "/v1/predict", "POST", "application/json", fmt.Sprintf(`{"image": %q, "metadata": {"m1": 1, "m2": 2}}`, b64([]byte("this is not an image"))), 400, CodeInvalidImage, "image"},
		{"truncated PNG", "/v1/predict", "POST", "application/json", fmt.Sprintf(`{"image": %q, "metadata": {"m1": 1, "m2": 2}}`, b64(pngImage(t, 56, 56, 1)[:200])), 400, CodeInvalidImage, "image"},
		{"not base64", "/v1/predict", "POST", "application/json", `{"image": "***", "metadata": {"m1": 1, "m2": 2}}`, 400, CodeInvalidImage, "image"},
		{"image not a string", "/v1/predict", "POST", "application/json", `{"image": 12, "metadata": {"m1": 1, "m2": 2}}`, 400, CodeInvalidType, "image"},
		{"no image", "/v1/predict", "POST", "application/json", `{"metadata": {"m1": 1, "m2": 2}}`, 400, CodeMissingImage, "image"},
		{"image over the pixel limit", "/v1/predict", "POST", "application/json", fmt.Sprintf(`{"image": %q, "metadata": {"m1": 1, "m2": 2}}`, big), 413, CodeImageTooLarge, "image"},
		{"body over the size limit", "/v1/predict", "POST", "application/json", fmt.Sprintf(`{"image": %q, "metadata": {"m1": 1, "m2": 2}}`, strings.Repeat("A", 70<<10)), 413, CodeBodyTooLarge, ""},
		{"multipart over the size limit", "/v1/predict", "POST", mpCT4, string(mpHuge), 413, CodeBodyTooLarge, ""},
		{"text/plain", "/v1/predict", "POST", "text/plain", good(`{"m1": 1, "m2": 2}`), 415, CodeUnsupportedType, "Content-Type"},
		{"no content type", "/v1/predict", "POST", "", good(`{"m1": 1, "m2": 2}`), 415, CodeUnsupportedType, "Content-Type"},
		{"latin-1 JSON", "/v1/predict", "POST", "application/json; charset=latin1", good(`{"m1": 1, "m2": 2}`), 415, CodeUnsupportedType, "Content-Type"},
		{"multipart batch", "/v1/predict/batch", "POST", mpCT, string(mpNoImage), 415, CodeUnsupportedType, "Content-Type"},
		{"malformed JSON", "/v1/predict", "POST", "application/json", `{"image": "abc", "metadata": {`, 400, CodeMalformedJSON, "metadata"},
		{"malformed JSON at the top", "/v1/predict", "POST", "application/json", `{"image": "abc",}`, 400, CodeMalformedJSON, ""},
		{"empty body", "/v1/predict", "POST", "application/json", ``, 400, CodeMalformedJSON, ""},
		{"trailing data", "/v1/predict", "POST", "application/json", good(`{"m1": 1, "m2": 2}`) + `{}`, 400, CodeMalformedJSON, ""},
		{"not an object", "/v1/predict", "POST", "application/json", `[1, 2]`, 400, CodeMalformedJSON, ""},
		{"unknown key", "/v1/predict", "POST", "application/json", fmt.Sprintf(`{"image": %q, "meta": {}}`, img), 400, CodeUnknownField, "meta"},
		{"multipart without image", "/v1/predict", "POST", mpCT, string(mpNoImage), 400, CodeMissingImage, "image"},
		{"multipart unknown column", "/v1/predict", "POST", mpCT2, string(mpExtra), 400, CodeUnknownField, "metadata.m3"},
		{"multipart bad image", "/v1/predict", "POST", mpCT3, string(mpBad), 400, CodeInvalidImage, "image"},
		{"multipart garbage", "/v1/predict", "POST", "multipart/form-data; boundary=xyz", "no parts here", 400, CodeMalformedForm, ""},
		{"batch too large", "/v1/predict/batch", "POST", "application/json", fmt.Sprintf(`{"instances": [%s, %s, %s]}`, good(`{"m1": 1, "m2": 2}`), good(`{"m1": 1, "m2": 2}`), good(`{"m1": 1, "m2": 2}`)), 413, CodeBatchTooLarge, "instances"},
		{"empty batch", "/v1/predict/batch", "POST", "application/json", `{"instances": []}`, 400, CodeEmptyBatch, "instances"},
		{"batch without instances", "/v1/predict/batch", "POST", "application/json", `{}`, 400, CodeEmptyBatch, "instances"},
		{"batch with a bad instance", "/v1/predict/batch", "POST", "application/json", fmt.Sprintf(`{"instances": [%s, %s]}`, good(`{"m1": 1, "m2": 2}`), good(`{"m1": 1, "m2": "x"}`)), 400, CodeInvalidValue, "instances[1].metadata.m2"},
		{"batch instance not an object", "/v1/predict/batch", "POST", "application/json", `{"instances": [7]}`, 400, CodeMalformedJSON, "instances[0]"},
		{"batch unknown key", "/v1/predict/batch", "POST", "application/json", `{"instances": [], "x": 1}`, 400, CodeUnknownField, "x"},
		{"unknown route", "/v2/predict", "POST", "application/json", `{}`, 404, CodeNotFound, ""},
		{"wrong method", "/v1/predict", "GET", "", ``, 405, CodeMethodNotAllowed, ""},
		{"wrong method on model", "/v1/model", "DELETE", "", ``, 405, CodeMethodNotAllowed, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := ts.URL + tc.url
			if p, ok := strings.CutPrefix(tc.url, "spec:"); ok {
				url = spec.URL + p
			}
			code, hdr, out := do(t, tc.method, url, tc.contentType, []byte(tc.body))
			if code != tc.status {
				t.Fatalf("status %d, want %d: %s", code, tc.status, out)
			}
			e := decodeError(t, out)
			if e.Code != tc.code || e.Field != tc.field || e.Message == "" {
				t.Errorf("error %+v, want code %s field %q", e, tc.code, tc.field)
			}
			if hdr.Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type %q", hdr.Get("Content-Type"))
			}
			if code == 405 && hdr.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
}

func TestOverloaded(t *testing.T) {
	s, ts := start(t, seedFiLM(t, 1), Config{MaxQueue: 4, MaxInstances: 4, RetryAfter: 1500 * time.Millisecond})
	// Fill the queue as four in-flight instances would.
	if !s.batch.admit(4) {
		t.Fatal("could not admit 4 into an empty queue of 4")
	}
	body := fmt.Sprintf(`{"image": %q, "metadata": {"m1": 1, "m2": 2}}`, b64(pngImage(t, 56, 56, 1)))
	code, hdr, out := do(t, "POST", ts.URL+"/v1/predict", "application/json", []byte(body))
	if e := decodeError(t, out); code != 429 || e.Code != CodeOverloaded {
		t.Fatalf("status %d, %+v", code, e)
	}
	if got := hdr.Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After %q, want 2 (1.5 s rounded up)", got)
	}
	s.batch.release(4)
	if code, _, out := do(t, "POST", ts.URL+"/v1/predict", "application/json", []byte(body)); code != 200 {
		t.Errorf("after the queue drained: status %d: %s", code, out)
	}
	if n := s.batch.admitted.Load(); n != 0 {
		t.Errorf("%d instances still admitted after every request ended", n)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{{MaxBatch: -1}, {MaxWait: -1}, {MaxQueue: 8, MaxInstances: 9}, {MaxBatch: 5000}} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	if _, err := New(seedFiLM(t, 1), Config{MaxQueue: 1, MaxInstances: 2}); err == nil || !strings.Contains(err.Error(), "max queue") {
		t.Errorf("New with a queue below max instances: %v", err)
	}
}

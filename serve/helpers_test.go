package serve

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/fusion"
	"github.com/metacnn/metacnn/meta"
	"github.com/metacnn/metacnn/model"
)

// quietLogger discards logs; set SERVE_TEST_LOG to see them.
func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// seedFiLM builds the seed-film preset (metadata m1, m2; 56x56 RGB) with
// weights drawn from seed.
func seedFiLM(t testing.TB, seed uint64) *model.Bundle {
	t.Helper()
	net, err := model.NewSeed(model.SeedFiLM, rand.New(rand.NewPCG(seed, 1)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := model.NewBundle(net, nil, data.ImageOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// specModel builds a tiny spec network (one conv stage of width 4 on 8x8
// images, concat fusion, 3 classes) whose schema has every kind of column
// the service must handle: a one-hot categorical (camera, missing policy
// indicator), a required categorical (line, policy error), a standardised
// numeric (temperature, indicator) and a boolean (flash, indicator).
func specModel(t testing.TB, modalityDropout float64) *model.Bundle {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 7))
	schema, err := meta.NewSchema([]meta.ColumnSpec{
		{Name: "camera", Type: meta.Categorical},
		{Name: "line", Type: meta.Categorical, Missing: meta.MissingError},
		{Name: "temperature", Type: meta.Numeric},
		{Name: "flash", Type: meta.Boolean},
	})
	if err != nil {
		t.Fatal(err)
	}
	rows := make([]map[string]string, 40)
	for i := range rows {
		rows[i] = map[string]string{
			"camera":      []string{"cam1", "cam2"}[i%2],
			"line":        []string{"a", "b", "c"}[i%3],
			"temperature": fmt.Sprint(20 + i%7),
			"flash":       fmt.Sprint(i%2 == 0),
		}
	}
	if err := schema.Fit(rows); err != nil {
		t.Fatal(err)
	}
	spec := model.Spec{
		Backbone:        model.BackboneSpec{Widths: []int{4}},
		Fusion:          []model.FusionSpec{{Kind: fusion.KindConcat}},
		MetaTower:       model.TowerSpec{Hidden: []int{4}},
		Head:            model.HeadSpec{Hidden: []int{}},
		ModalityDropout: modalityDropout,
	}
	net, err := model.Build(spec, [3]int{3, 8, 8}, schema.Width(), schema.IDSlots(), 3, rng)
	if err != nil {
		t.Fatal(err)
	}
	b, err := model.NewBundle(net, schema, data.ImageOptions{Width: 8, Height: 8}, []string{"ok", "spot", "scratch"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pngImage encodes a w x h RGB PNG of pseudo-random pixels.
func pngImage(t testing.TB, w, h int, seed uint64) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 2))
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// start serves s with httptest and closes both at the end of the test.
func start(t testing.TB, b *model.Bundle, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	s, err := New(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() { ts.Close(); s.Close() })
	return s, ts
}

// do sends a request and returns the status, headers and body.
func do(t testing.TB, method, url, contentType string, body []byte, header ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, out
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// multipartBody builds a multipart/form-data body with an image file part
// (when img is not nil) and the given fields.
func multipartBody(t testing.TB, img []byte, fields ...string) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if img != nil {
		fw, err := mw.CreateFormFile("image", "part.png")
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(img)
	}
	for i := 0; i+1 < len(fields); i += 2 {
		if err := mw.WriteField(fields[i], fields[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), buf.Bytes()
}

func decodePrediction(t testing.TB, body []byte) Prediction {
	t.Helper()
	var p Prediction
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	return p
}

func decodeError(t testing.TB, body []byte) apiError {
	t.Helper()
	var e struct {
		Error *apiError `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Error == nil {
		t.Fatalf("not an error body: %s (%v)", body, err)
	}
	return *e.Error
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

package serve

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// FuzzDecodeRequest feeds arbitrary bodies to every request decoder and
// the metadata check: they must never panic, every refusal must be a 4xx
// with a code, and every accepted instance must have an image.
func FuzzDecodeRequest(f *testing.F) {
	img := b64([]byte("\x89PNG\r\n\x1a\n"))
	for _, s := range []string{
		fmt.Sprintf(`{"image": %q, "metadata": {"m1": 1, "m2": "2"}}`, img),
		fmt.Sprintf(`{"instances": [{"image": %q, "metadata": {"m1": 1e400, "m2": true}}]}`, img),
		fmt.Sprintf(`{"image": %q, "metadata": {"camera": null, "line": "a", "flash": [1], "x": {}}}`, img),
		`{"image": "data:image/png;base64,AAAA", "metadata": {"m1": 1, "m1": 2}}`,
		`{"instances": [{"image": "A-_B"}, 3, null]}`,
		"--xyz\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n\r\nPNG\r\n--xyz\r\nContent-Disposition: form-data; name=\"m1\"\r\n\r\n1\r\n--xyz--\r\n",
		`[`, `{}`, `null`, `"x"`, `{"image": ""}`,
	} {
		f.Add([]byte(s))
	}
	cfg := Config{}.withDefaults()
	seed, err := newLoaded(seedFiLM(f, 1), cfg, time.Time{})
	if err != nil {
		f.Fatal(err)
	}
	spec, err := newLoaded(specModel(f, 0.1), cfg, time.Time{})
	if err != nil {
		f.Fatal(err)
	}
	check := func(t *testing.T, what string, aerr *apiError) {
		if aerr != nil && (aerr.Status < 400 || aerr.Status > 499 || aerr.Code == "" || aerr.Message == "") {
			t.Fatalf("%s: bad refusal %+v", what, aerr)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var ins []instance
		in, aerr := parsePredictJSON(body)
		check(t, "predict", aerr)
		if aerr == nil {
			ins = append(ins, in)
		}
		batch, aerr := parseBatchJSON(body, 8)
		check(t, "batch", aerr)
		if aerr == nil && (len(batch) == 0 || len(batch) > 8) {
			t.Fatalf("batch of %d accepted", len(batch))
		}
		ins = append(ins, batch...)
		in, aerr = parseMultipart(bytes.NewReader(body), "xyz", 1<<20)
		check(t, "multipart", aerr)
		if aerr == nil {
			ins = append(ins, in)
		}
		for _, in := range ins {
			if len(in.image) == 0 {
				t.Fatal("an instance without an image was accepted")
			}
			for _, m := range []*loaded{seed, spec} {
				_, aerr := m.checkRow(in)
				check(t, "checkRow", aerr)
				if aerr == nil && len(in.image) < 64 {
					_, aerr = m.decodeImage(in)
					check(t, "decodeImage", aerr)
				}
			}
		}
	})
}

// BenchmarkDecode measures the per-request work outside the forward pass:
// parsing a /v1/predict JSON body (a 56x56 PNG), checking its metadata and
// decoding its image.
func BenchmarkDecode(b *testing.B) {
	m, err := newLoaded(seedFiLM(b, 1), Config{}.withDefaults(), time.Time{})
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(fmt.Sprintf(`{"image": %q, "metadata": {"m1": 0.5, "m2": -1}}`, b64(pngImage(b, 56, 56, 1))))
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		in, aerr := parsePredictJSON(body)
		if aerr != nil {
			b.Fatal(aerr)
		}
		if _, aerr := m.checkRow(in); aerr != nil {
			b.Fatal(aerr)
		}
		if _, aerr := m.decodeImage(in); aerr != nil {
			b.Fatal(aerr)
		}
	}
}

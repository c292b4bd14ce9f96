package serve

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits on the parts of a request that Config does not set.
const (
	maxFieldBytes = 64 << 10 // one multipart metadata field
	maxFormParts  = 1024     // parts of one multipart body
	maxFieldName  = 256      // a metadata column name
)

// instance is one decoded instance: the encoded image bytes and the raw
// metadata row, before the image is decoded or the row checked.
type instance struct {
	image []byte
	// row is column -> raw value; nil with hasMeta false when the request
	// gave no metadata at all.
	row     map[string]string
	hasMeta bool
	// field prefixes the names of this instance's fields in errors:
	// "" for /v1/predict, "instances[3]." for a batch.
	field string
}

// Content kinds a route accepts.
const (
	kindJSON = iota
	kindMultipart
)

// mediaKind checks the Content-Type header.
func mediaKind(r *http.Request, allowMultipart bool) (int, string, *apiError) {
	want := "application/json"
	if allowMultipart {
		want += " or multipart/form-data"
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return 0, "", errorf(http.StatusUnsupportedMediaType, CodeUnsupportedType, "Content-Type", "no Content-Type; want %s", want)
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return 0, "", errorf(http.StatusUnsupportedMediaType, CodeUnsupportedType, "Content-Type", "invalid Content-Type %q: %v; want %s", trunc(ct), err, want)
	}
	switch {
	case mt == "application/json":
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
			return 0, "", errorf(http.StatusUnsupportedMediaType, CodeUnsupportedType, "Content-Type", "charset %q; JSON must be UTF-8", trunc(cs))
		}
		return kindJSON, "", nil
	case mt == "multipart/form-data" && allowMultipart:
		if params["boundary"] == "" {
			return 0, "", errorf(http.StatusUnsupportedMediaType, CodeUnsupportedType, "Content-Type", "multipart/form-data without a boundary")
		}
		return kindMultipart, params["boundary"], nil
	}
	return 0, "", errorf(http.StatusUnsupportedMediaType, CodeUnsupportedType, "Content-Type", "Content-Type %s; want %s", trunc(mt), want)
}

// readBody reads the whole (already size-limited) body.
func readBody(body io.Reader, limit int64) ([]byte, *apiError) {
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, bodyError(err, limit)
	}
	return b, nil
}

func bodyError(err error, limit int64) *apiError {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errorf(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "", "request body is over the limit of %d bytes", limit)
	}
	return badRequest(CodeMalformedJSON, "", "reading the request body: %v", err)
}

// parsePredictJSON decodes the body of POST /v1/predict:
// {"image": base64, "metadata": {...}}.
func parsePredictJSON(body []byte) (instance, *apiError) {
	if aerr := notEmpty(body); aerr != nil {
		return instance{}, aerr
	}
	return parseInstance(body, "")
}

// parseBatchJSON decodes the body of POST /v1/predict/batch:
// {"instances": [...]}, at most maxInstances of them.
func parseBatchJSON(body []byte, maxInstances int) ([]instance, *apiError) {
	if aerr := notEmpty(body); aerr != nil {
		return nil, aerr
	}
	obj, aerr := object(body, "")
	if aerr != nil {
		return nil, aerr
	}
	for _, k := range sortedKeys(obj) {
		if k != "instances" {
			return nil, badRequest(CodeUnknownField, k, "unknown key %q; a batch is {\"instances\": [...]}", trunc(k))
		}
	}
	ir, ok := obj["instances"]
	if !ok || isNull(ir) {
		return nil, badRequest(CodeEmptyBatch, "instances", "no instances; a batch is {\"instances\": [{\"image\": ..., \"metadata\": {...}}, ...]}")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(ir, &items); err != nil {
		return nil, badRequest(CodeMalformedJSON, "instances", "instances must be an array of objects")
	}
	switch {
	case len(items) == 0:
		return nil, badRequest(CodeEmptyBatch, "instances", "instances is empty")
	case len(items) > maxInstances:
		return nil, errorf(http.StatusRequestEntityTooLarge, CodeBatchTooLarge, "instances", "%d instances, the limit is %d per request", len(items), maxInstances)
	}
	out := make([]instance, len(items))
	for i, it := range items {
		in, aerr := parseInstance(it, fmt.Sprintf("instances[%d].", i))
		if aerr != nil {
			return nil, aerr
		}
		out[i] = in
	}
	return out, nil
}

func notEmpty(body []byte) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest(CodeMalformedJSON, "", "the request body is empty; want a JSON object")
	}
	return nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// object decodes one JSON object, and nothing after it, into its members,
// refusing duplicate keys (which encoding/json would silently resolve to
// the last one). It reads the input once.
func object(raw []byte, field string) (map[string]json.RawMessage, *apiError) {
	at := strings.TrimSuffix(field, ".")
	what := "the request"
	if at != "" {
		what = at
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, badRequest(CodeMalformedJSON, at, "%s must be a JSON object", what)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return nil, badRequest(CodeMalformedJSON, at, "invalid JSON: %v", err)
	}
	out := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, badRequest(CodeMalformedJSON, at, "invalid JSON: %v", err)
		}
		k, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, badRequest(CodeMalformedJSON, field+k, "invalid JSON: %v", err)
		}
		if _, dup := out[k]; dup {
			return nil, badRequest(CodeMalformedJSON, field+k, "key %q is given twice", trunc(k))
		}
		out[k] = v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, badRequest(CodeMalformedJSON, at, "invalid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badRequest(CodeMalformedJSON, at, "invalid JSON: data after the object")
	}
	return out, nil
}

// stringValue returns the JSON string raw (already validated by the
// decoder) without a second scan when it holds no escapes, as base64 never
// does.
func stringValue(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' && bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1]), true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// parseInstance decodes {"image": base64, "metadata": {...}}.
func parseInstance(raw json.RawMessage, field string) (instance, *apiError) {
	obj, aerr := object(raw, field)
	if aerr != nil {
		return instance{}, aerr
	}
	in := instance{field: field}
	for _, k := range sortedKeys(obj) {
		v := obj[k]
		switch k {
		case "image":
			if isNull(v) {
				continue
			}
			s, ok := stringValue(v)
			if !ok {
				return instance{}, badRequest(CodeInvalidType, field+"image", "image must be a base64 string")
			}
			img, aerr := decodeBase64(s, field+"image")
			if aerr != nil {
				return instance{}, aerr
			}
			in.image = img
		case "metadata":
			if isNull(v) {
				continue
			}
			m, aerr := object(v, field+"metadata.")
			if aerr != nil {
				return instance{}, aerr
			}
			in.hasMeta = true
			in.row = make(map[string]string, len(m))
			for _, col := range sortedKeys(m) {
				s, present, aerr := metaValue(m[col], field+"metadata."+col)
				if aerr != nil {
					return instance{}, aerr
				}
				if present {
					in.row[col] = s
				}
			}
		default:
			return instance{}, badRequest(CodeUnknownField, field+k, "unknown key %q; an instance is {\"image\": base64, \"metadata\": {...}}", trunc(k))
		}
	}
	if len(in.image) == 0 {
		return instance{}, badRequest(CodeMissingImage, field+"image", "no image; send it base64-encoded as \"image\"")
	}
	return in, nil
}

// metaValue converts a JSON metadata value to the raw string form the
// encoder reads (as in a manifest cell): strings as they are, numbers as
// written, booleans as true/false. null is a missing value (present
// false); objects and arrays are errors.
func metaValue(raw json.RawMessage, field string) (s string, present bool, aerr *apiError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", false, badRequest(CodeMalformedJSON, field, "empty value")
	}
	switch raw[0] {
	case 'n':
		return "", false, nil
	case 't', 'f':
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return "", false, badRequest(CodeMalformedJSON, field, "invalid JSON value")
		}
		return strconv.FormatBool(b), true, nil
	case '"':
		s, ok := stringValue(raw)
		if !ok {
			return "", false, badRequest(CodeMalformedJSON, field, "invalid JSON string")
		}
		return s, true, nil
	case '{', '[':
		return "", false, badRequest(CodeInvalidType, field, "a metadata value must be a string, number or boolean, not an %s", map[byte]string{'{': "object", '[': "array"}[raw[0]])
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return "", false, badRequest(CodeMalformedJSON, field, "invalid JSON value")
	}
	return n.String(), true, nil
}

// decodeBase64 accepts standard or URL-safe base64, padded or not, and an
// optional data URL prefix ("data:image/png;base64,").
func decodeBase64(s, field string) ([]byte, *apiError) {
	if strings.HasPrefix(s, "data:") {
		i := strings.Index(s, ";base64,")
		if i < 0 {
			return nil, badRequest(CodeInvalidImage, field, "a data URL image must be base64 (data:...;base64,...)")
		}
		s = s[i+len(";base64,"):]
	}
	s = strings.TrimRight(s, "=")
	enc := base64.RawStdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.RawURLEncoding
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, badRequest(CodeInvalidImage, field, "image is not valid base64: %v", err)
	}
	return b, nil
}

// parseMultipart decodes a multipart/form-data body: an "image" file part
// and one form field per metadata column.
func parseMultipart(body io.Reader, boundary string, limit int64) (instance, *apiError) {
	mr := multipart.NewReader(body, boundary)
	in := instance{row: map[string]string{}}
	for parts := 0; ; parts++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return instance{}, formError(err, limit)
		}
		if parts >= maxFormParts {
			return instance{}, badRequest(CodeMalformedForm, "", "more than %d parts", maxFormParts)
		}
		name := p.FormName()
		switch {
		case name == "":
			return instance{}, badRequest(CodeMalformedForm, "", "part %d has no form name", parts)
		case name == "image":
			if in.image != nil {
				return instance{}, badRequest(CodeMalformedForm, "image", "the image is given twice")
			}
			b, err := io.ReadAll(p)
			if err != nil {
				return instance{}, formError(err, limit)
			}
			if b == nil {
				b = []byte{}
			}
			in.image = b
		case p.FileName() != "":
			return instance{}, badRequest(CodeUnknownField, trunc(name), "unexpected file part %q; the only file is \"image\"", trunc(name))
		default:
			field := "metadata." + trunc(name)
			if len(name) > maxFieldName || !utf8.ValidString(name) {
				return instance{}, badRequest(CodeUnknownField, field, "invalid form field name")
			}
			b, err := io.ReadAll(io.LimitReader(p, maxFieldBytes+1))
			if err != nil {
				return instance{}, formError(err, limit)
			}
			if len(b) > maxFieldBytes {
				return instance{}, badRequest(CodeInvalidValue, field, "value is over %d bytes", maxFieldBytes)
			}
			if !utf8.Valid(b) {
				return instance{}, badRequest(CodeInvalidValue, field, "value is not UTF-8")
			}
			if _, dup := in.row[name]; dup {
				return instance{}, badRequest(CodeInvalidValue, field, "given twice")
			}
			in.row[name] = string(b)
		}
	}
	in.hasMeta = len(in.row) > 0
	if !in.hasMeta {
		in.row = nil
	}
	if len(in.image) == 0 {
		return instance{}, badRequest(CodeMissingImage, "image", "no image; send it as a file part named \"image\"")
	}
	return in, nil
}

func formError(err error, limit int64) *apiError {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errorf(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "", "request body is over the limit of %d bytes", limit)
	}
	return badRequest(CodeMalformedForm, "", "invalid multipart body: %v", err)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// trunc shortens a client-supplied string quoted back in an error.
func trunc(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "..."
}

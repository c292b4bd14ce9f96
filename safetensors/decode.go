package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/metacnn/metacnn/tensor"
)

// Limits on what Decode accepts.
const (
	// MaxHeaderSize is the largest JSON header accepted, as in the reference
	// implementation (100 MB).
	MaxHeaderSize = 100_000_000
	// MaxRank is the most dimensions a tensor may have. The format sets no
	// limit; this one keeps a hostile header from making Decode allocate
	// far more than its own size.
	MaxRank = 64
)

// metadataKey is the reserved header key holding the string metadata.
const metadataKey = "__metadata__"

// Entry is one named tensor: its element type, shape and raw little-endian,
// row-major bytes. A scalar has an empty shape.
type Entry struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// File is a decoded safetensors file.
type File struct {
	// Metadata is the header's "__metadata__" object; nil when absent.
	Metadata map[string]string

	entries map[string]Entry
}

// ReadFile reads and decodes the safetensors file at path. Errors name the
// path.
func ReadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	f, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Decode parses a safetensors file held in data and validates it fully: the
// header length (at most MaxHeaderSize and within data), the header JSON
// (UTF-8, an object, no duplicate or unknown keys), every tensor's dtype,
// shape (at most MaxRank non-negative dimensions whose product, times the
// dtype size, does not overflow) and data_offsets (two values, in bounds, of
// exactly the tensor's byte size), and that the tensors tile the data buffer
// from its first byte to its last with no gap or overlap.
//
// The entries' Data slices share memory with data; neither may be modified
// while the File is in use.
func Decode(data []byte) (*File, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("safetensors: %d bytes is too short to hold the 8-byte header length", len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n > MaxHeaderSize {
		return nil, fmt.Errorf("safetensors: header length %d exceeds the limit of %d bytes", n, MaxHeaderSize)
	}
	if n > uint64(len(data)-8) {
		return nil, fmt.Errorf("safetensors: header length %d exceeds the %d bytes that follow it", n, len(data)-8)
	}
	header, buf := data[8:8+n], data[8+n:]
	if len(header) == 0 || header[0] != '{' {
		return nil, errors.New("safetensors: header does not start with '{'")
	}
	if !utf8.Valid(header) {
		return nil, errors.New("safetensors: header is not valid UTF-8")
	}
	f, infos, err := parseHeader(header)
	if err != nil {
		return nil, err
	}
	if err := checkLayout(infos, uint64(len(buf))); err != nil {
		return nil, err
	}
	f.entries = make(map[string]Entry, len(infos))
	for _, in := range infos {
		f.entries[in.name] = Entry{Name: in.name, DType: in.dtype, Shape: in.shape, Data: buf[in.begin:in.end:in.end]}
	}
	return f, nil
}

// Names returns the tensor names in sorted order.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.entries))
	for name := range f.entries {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Entry returns the named tensor's raw entry. Its Data must not be modified.
func (f *File) Entry(name string) (Entry, bool) {
	e, ok := f.entries[name]
	if !ok {
		return Entry{}, false
	}
	e.Shape = slices.Clone(e.Shape)
	return e, true
}

// Float32 returns the named tensor converted to a new float32 tensor of its
// shape. Floating types convert with rounding to nearest (F64) or exactly
// (F16, BF16, F8); integer types convert as float32(value); BOOL gives 0 or 1.
func (f *File) Float32(name string) (*tensor.Tensor, error) {
	e, ok := f.entries[name]
	if !ok {
		return nil, fmt.Errorf("safetensors: no tensor named %q", name)
	}
	t := tensor.New(e.Shape...)
	if err := toFloat32(e, t.Data()); err != nil {
		return nil, err
	}
	return t, nil
}

// Int64 returns the named tensor's values and shape. It accepts the integer
// dtypes (I64, I32, I16, I8, U64, U32, U16, U8) and BOOL; U64 values above
// math.MaxInt64 and BOOL bytes other than 0 and 1 are errors.
func (f *File) Int64(name string) ([]int64, []int, error) {
	e, ok := f.entries[name]
	if !ok {
		return nil, nil, fmt.Errorf("safetensors: no tensor named %q", name)
	}
	if !e.DType.isInteger() {
		return nil, nil, fmt.Errorf("safetensors: tensor %q: dtype %s is not an integer type", name, e.DType)
	}
	vals := make([]int64, tensor.NumElements(e.Shape))
	if err := toInt64(e, vals); err != nil {
		return nil, nil, err
	}
	return vals, slices.Clone(e.Shape), nil
}

// info is one tensor's header record before its bytes are attached.
type info struct {
	name       string
	dtype      DType
	shape      []int
	begin, end uint64
	nbytes     uint64
}

func parseHeader(header []byte) (*File, []info, error) {
	dec := json.NewDecoder(bytes.NewReader(header))
	dec.UseNumber()
	f := &File{}
	var infos []info
	seen := map[string]bool{}
	err := readObject(dec, func(key string) error {
		if seen[key] {
			return fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		if key == metadataKey {
			md, err := parseMetadata(dec)
			if err != nil {
				return fmt.Errorf("%s: %w", metadataKey, err)
			}
			f.Metadata = md
			return nil
		}
		in, err := parseInfo(dec, key)
		if err != nil {
			return fmt.Errorf("tensor %q: %w", key, err)
		}
		infos = append(infos, in)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: header: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, errors.New("safetensors: header: unexpected data after the JSON object")
	}
	return f, infos, nil
}

// readObject reads a JSON object from dec, calling field for each key with
// the decoder positioned at the key's value; field must consume the value.
func readObject(dec *json.Decoder, field func(key string) error) error {
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("expected an object key, got %v", tok)
		}
		if err := field(key); err != nil {
			return err
		}
	}
	return expectDelim(dec, '}')
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("expected '%c', got %s", rune(want), describe(tok))
	}
	return nil
}

func describe(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		return "'" + v.String() + "'"
	case string:
		return "string " + strconv.Quote(v)
	case json.Number:
		return "number " + v.String()
	case nil:
		return "null"
	}
	return fmt.Sprintf("%v", tok)
}

func parseMetadata(dec *json.Decoder) (map[string]string, error) {
	if !dec.More() {
		return nil, errors.New("missing value")
	}
	// null is accepted, as the reference implementation does.
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, err
	}
	if string(raw) == "null" {
		return nil, nil
	}
	inner := json.NewDecoder(bytes.NewReader(raw))
	inner.UseNumber()
	md := map[string]string{}
	err := readObject(inner, func(key string) error {
		if _, dup := md[key]; dup {
			return fmt.Errorf("duplicate key %q", key)
		}
		tok, err := inner.Token()
		if err != nil {
			return err
		}
		s, ok := tok.(string)
		if !ok {
			return fmt.Errorf("key %q: value is %s, want a string", key, describe(tok))
		}
		md[key] = s
		return nil
	})
	return md, err
}

func parseInfo(dec *json.Decoder, name string) (info, error) {
	in := info{name: name}
	var haveDType, haveShape, haveOffsets bool
	err := readObject(dec, func(key string) error {
		switch key {
		case "dtype":
			if haveDType {
				return errors.New("duplicate key \"dtype\"")
			}
			haveDType = true
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			s, ok := tok.(string)
			if !ok {
				return fmt.Errorf("dtype is %s, want a string", describe(tok))
			}
			in.dtype = DType(s)
			if in.dtype.Size() == 0 {
				return fmt.Errorf("unknown dtype %q", s)
			}
		case "shape":
			if haveShape {
				return errors.New("duplicate key \"shape\"")
			}
			haveShape = true
			in.shape = []int{}
			return readUints(dec, "shape", MaxRank, func(v uint64) error {
				if v > math.MaxInt {
					return fmt.Errorf("shape dimension %d is too large", v)
				}
				in.shape = append(in.shape, int(v))
				return nil
			})
		case "data_offsets":
			if haveOffsets {
				return errors.New("duplicate key \"data_offsets\"")
			}
			haveOffsets = true
			var offs []uint64
			err := readUints(dec, "data_offsets", 2, func(v uint64) error {
				offs = append(offs, v)
				return nil
			})
			if err != nil {
				return err
			}
			if len(offs) != 2 {
				return fmt.Errorf("data_offsets has %d values, want 2 [begin, end]", len(offs))
			}
			in.begin, in.end = offs[0], offs[1]
		default:
			return fmt.Errorf("unknown key %q", key)
		}
		return nil
	})
	if err != nil {
		return in, err
	}
	switch {
	case !haveDType:
		return in, errors.New("missing dtype")
	case !haveShape:
		return in, errors.New("missing shape")
	case !haveOffsets:
		return in, errors.New("missing data_offsets")
	}
	numel, ok := product(in.shape)
	if !ok {
		return in, fmt.Errorf("shape %v: element count overflows", in.shape)
	}
	size := uint64(in.dtype.Size())
	if numel > math.MaxUint64/size {
		return in, fmt.Errorf("shape %v: byte size overflows", in.shape)
	}
	in.nbytes = numel * size
	if in.begin > in.end {
		return in, fmt.Errorf("data_offsets [%d, %d]: begin is after end", in.begin, in.end)
	}
	if got := in.end - in.begin; got != in.nbytes {
		return in, fmt.Errorf("data_offsets [%d, %d] span %d bytes, but %s %v needs %d", in.begin, in.end, got, in.dtype, in.shape, in.nbytes)
	}
	return in, nil
}

// readUints reads a JSON array of non-negative integers, calling add for
// each; arrays longer than limit are rejected before they are read whole.
func readUints(dec *json.Decoder, what string, limit int, add func(uint64) error) error {
	if err := expectDelim(dec, '['); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	for i := 0; dec.More(); i++ {
		if i == limit {
			return fmt.Errorf("%s has more than %d values", what, limit)
		}
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		num, ok := tok.(json.Number)
		if !ok {
			return fmt.Errorf("%s[%d] is %s, want a non-negative integer", what, i, describe(tok))
		}
		v, err := strconv.ParseUint(num.String(), 10, 64)
		if err != nil {
			return fmt.Errorf("%s[%d] = %s is not a non-negative 64-bit integer", what, i, num)
		}
		if err := add(v); err != nil {
			return err
		}
	}
	return expectDelim(dec, ']')
}

// product returns the number of elements of shape, false on overflow (a
// zero dimension makes the product zero whatever the others are).
func product(shape []int) (uint64, bool) {
	if slices.Contains(shape, 0) {
		return 0, true
	}
	n := uint64(1)
	for _, d := range shape {
		if uint64(d) > math.MaxInt/n {
			return 0, false
		}
		n *= uint64(d)
	}
	return n, true
}

// checkLayout verifies that the tensors tile the buffer [0, size) exactly,
// in offset order, as the reference implementation requires.
func checkLayout(infos []info, size uint64) error {
	order := slices.Clone(infos)
	slices.SortFunc(order, func(a, b info) int {
		if c := cmp.Compare(a.begin, b.begin); c != 0 {
			return c
		}
		return cmp.Compare(a.end, b.end)
	})
	var next uint64
	prev := ""
	for _, in := range order {
		if in.end > size {
			return fmt.Errorf("safetensors: tensor %q: data_offsets [%d, %d] run past the end of the %d-byte data buffer", in.name, in.begin, in.end, size)
		}
		if in.begin != next {
			where := "the start of the data buffer"
			if prev != "" {
				where = fmt.Sprintf("tensor %q", prev)
			}
			kind := "a gap"
			if in.begin < next {
				kind = "an overlap"
			}
			return fmt.Errorf("safetensors: tensor %q: data_offsets [%d, %d] leave %s after %s (expected begin %d)", in.name, in.begin, in.end, kind, where, next)
		}
		next = in.end
		prev = in.name
	}
	if next != size {
		return fmt.Errorf("safetensors: data buffer has %d bytes but the tensors cover %d", size, next)
	}
	return nil
}

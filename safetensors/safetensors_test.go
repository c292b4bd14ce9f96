package safetensors

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/metacnn/metacnn/tensor"
)

// raw builds a file from a header string (not padded) and a data buffer.
func raw(header string, buf []byte) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	out = append(out, header...)
	return append(out, buf...)
}

func mustDecode(t *testing.T, data []byte) *File {
	t.Helper()
	f, err := Decode(data)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return f
}

func TestRoundTrip(t *testing.T) {
	w := tensor.FromSlice([]float32{1, -2.5, 3e-8, float32(math.Inf(1)), 0, 6}, 2, 3)
	entries := []Entry{
		F32("z.weight", w),
		I64("ids", []int64{-1, 0, math.MaxInt64}, 3),
		I64("count", []int64{42}), // scalar
		F32("empty", tensor.New(0, 4)),
		{Name: "half", DType: DTypeF16, Shape: []int{2}, Data: []byte{0x00, 0x3c, 0x00, 0xc0}}, // 1, -2
	}
	md := map[string]string{"format": "pt", "note": "quote \" backslash \\ newline \n tab \t \x01 é"}
	var buf bytes.Buffer
	if err := Encode(&buf, entries, md); err != nil {
		t.Fatal(err)
	}
	f := mustDecode(t, buf.Bytes())
	if !reflect.DeepEqual(f.Metadata, md) {
		t.Errorf("metadata = %q, want %q", f.Metadata, md)
	}
	if got, want := f.Names(), []string{"count", "empty", "half", "ids", "z.weight"}; !slices.Equal(got, want) {
		t.Errorf("Names = %v, want %v", got, want)
	}
	for _, e := range entries {
		got, ok := f.Entry(e.Name)
		if !ok {
			t.Fatalf("entry %q missing", e.Name)
		}
		if got.DType != e.DType || !slices.Equal(got.Shape, e.Shape) || !bytes.Equal(got.Data, e.Data) {
			t.Errorf("entry %q = %+v, want %+v", e.Name, got, e)
		}
	}
	wt, err := f.Float32("z.weight")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(wt.Shape(), []int{2, 3}) || !slices.Equal(wt.Data(), w.Data()) {
		t.Errorf("z.weight = %v, want %v", wt, w)
	}
	ids, shape, err := f.Int64("ids")
	if err != nil || !slices.Equal(ids, []int64{-1, 0, math.MaxInt64}) || !slices.Equal(shape, []int{3}) {
		t.Errorf("Int64(ids) = %v %v %v", ids, shape, err)
	}
	count, shape, err := f.Int64("count")
	if err != nil || !slices.Equal(count, []int64{42}) || len(shape) != 0 {
		t.Errorf("Int64(count) = %v %v %v", count, shape, err)
	}
	h, err := f.Float32("half")
	if err != nil || !slices.Equal(h.Data(), []float32{1, -2}) {
		t.Errorf("Float32(half) = %v %v", h, err)
	}
	e, err := f.Float32("empty")
	if err != nil || !slices.Equal(e.Shape(), []int{0, 4}) {
		t.Errorf("Float32(empty) = %v %v", e, err)
	}

	// Entry order does not matter: the output is sorted by name.
	var again bytes.Buffer
	slices.Reverse(entries)
	if err := Encode(&again, entries, md); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), buf.Bytes()) {
		t.Error("Encode output depends on the order of its entries")
	}
}

// TestGoldenLayout checks Encode byte for byte against a file worked out by
// hand from the format description.
func TestGoldenLayout(t *testing.T) {
	// The header JSON, 132 bytes:
	//   {"__metadata__":{"k":"v"},                               26 bytes
	//   "a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},    53 bytes
	//   "b":{"dtype":"I64","shape":[],"data_offsets":[8,16]}}    53 bytes
	// padded with 4 spaces to 136 = 0x88, the next multiple of 8.
	header := `{"__metadata__":{"k":"v"},` +
		`"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},` +
		`"b":{"dtype":"I64","shape":[],"data_offsets":[8,16]}}` + "    "
	var want []byte
	want = append(want, 0x88, 0, 0, 0, 0, 0, 0, 0) // header length 136, little-endian uint64
	want = append(want, header...)
	want = append(want,
		0x00, 0x00, 0x80, 0x3f, // a[0] = 1.0f  = 0x3f800000
		0x00, 0x00, 0x00, 0xc0, // a[1] = -2.0f = 0xc0000000
		0x07, 0, 0, 0, 0, 0, 0, 0, // b = int64 7
	)
	if len(want) != 8+136+16 {
		t.Fatalf("hand-built file has %d bytes, want 160", len(want))
	}
	var buf bytes.Buffer
	entries := []Entry{
		I64("b", []int64{7}),
		F32("a", tensor.FromSlice([]float32{1, -2}, 2)),
	}
	if err := Encode(&buf, entries, map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("Encode =\n%q\nwant\n%q", buf.Bytes(), want)
	}
	f := mustDecode(t, want)
	a, err := f.Float32("a")
	if err != nil || !slices.Equal(a.Data(), []float32{1, -2}) {
		t.Errorf("a = %v, %v", a, err)
	}
}

func TestEmptyFile(t *testing.T) {
	var buf bytes.Buffer
	if err := Encode(&buf, nil, nil); err != nil {
		t.Fatal(err)
	}
	// "{}" padded to 8 bytes.
	if want := raw("{}      ", nil); !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("Encode(nil) = %q, want %q", buf.Bytes(), want)
	}
	f := mustDecode(t, buf.Bytes())
	if len(f.Names()) != 0 || f.Metadata != nil {
		t.Errorf("decoded %v %v, want nothing", f.Names(), f.Metadata)
	}
}

func TestDecodeErrors(t *testing.T) {
	f32x2 := `{"dtype":"F32","shape":[2],"data_offsets":[0,8]}`
	eight := make([]byte, 8)
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"too short", []byte{1, 2, 3}, "too short"},
		{"header over 100MB", binary.LittleEndian.AppendUint64(nil, 100_000_001), "exceeds the limit"},
		{"header longer than file", append(binary.LittleEndian.AppendUint64(nil, 50), "{}"...), "exceeds the 2 bytes"},
		{"header length near 2^64", binary.LittleEndian.AppendUint64(nil, math.MaxUint64), "exceeds the limit"},
		{"empty header", raw("", nil), "does not start with '{'"},
		{"not an object", raw(`[]`, nil), "does not start with '{'"},
		{"bad json", raw(`{"a":`, nil), "safetensors: header"},
		{"invalid utf8", raw("{\"\xff\":1}", nil), "UTF-8"},
		{"trailing garbage", raw(`{}x`, nil), "after the JSON object"},
		{"second object", raw(`{}{}`, nil), "after the JSON object"},
		{"duplicate name", raw(`{"a":`+f32x2+`,"a":`+f32x2+`}`, eight), `duplicate key "a"`},
		{"unknown dtype", raw(`{"a":{"dtype":"F128","shape":[2],"data_offsets":[0,8]}}`, eight), `tensor "a": unknown dtype "F128"`},
		{"dtype not string", raw(`{"a":{"dtype":4,"shape":[2],"data_offsets":[0,8]}}`, eight), `tensor "a": dtype is number 4`},
		{"missing dtype", raw(`{"a":{"shape":[2],"data_offsets":[0,8]}}`, eight), `tensor "a": missing dtype`},
		{"missing shape", raw(`{"a":{"dtype":"F32","data_offsets":[0,8]}}`, eight), `tensor "a": missing shape`},
		{"missing offsets", raw(`{"a":{"dtype":"F32","shape":[2]}}`, eight), `tensor "a": missing data_offsets`},
		{"unknown key", raw(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}}`, eight), `tensor "a": unknown key "x"`},
		{"case matters", raw(`{"a":{"DTYPE":"F32","shape":[2],"data_offsets":[0,8]}}`, eight), `tensor "a": unknown key "DTYPE"`},
		{"duplicate field", raw(`{"a":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, eight), `tensor "a": duplicate key "dtype"`},
		{"info not object", raw(`{"a":[1]}`, nil), `tensor "a": expected '{'`},
		{"negative dim", raw(`{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, eight), `tensor "a": shape[0] = -2 is not a non-negative`},
		{"fractional dim", raw(`{"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}`, eight), `tensor "a": shape[0] = 2.5`},
		{"huge dim", raw(`{"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,8]}}`, eight), `tensor "a": shape[0]`},
		{"shape overflow", raw(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, eight), `tensor "a": shape [4294967296 4294967296]: element count overflows`},
		{"byte size overflow", raw(`{"a":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,8]}}`, eight), `tensor "a": shape [4611686018427387904]: byte size overflows`},
		{"rank too large", raw(`{"a":{"dtype":"F32","shape":[`+strings.Repeat("1,", 64)+`1],"data_offsets":[0,4]}}`, eight[:4]), `tensor "a": shape has more than 64 values`},
		{"shape not array", raw(`{"a":{"dtype":"F32","shape":2,"data_offsets":[0,8]}}`, eight), `tensor "a": shape: expected '['`},
		{"one offset", raw(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[8]}}`, eight), `tensor "a": data_offsets has 1 values, want 2`},
		{"three offsets", raw(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8,8]}}`, eight), `tensor "a": data_offsets has more than 2 values`},
		{"negative offset", raw(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}`, eight), `tensor "a": data_offsets[0] = -8`},
		{"begin after end", raw(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}`, eight), `tensor "a": data_offsets [8, 0]: begin is after end`},
		{"size mismatch", raw(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, eight), `tensor "a": data_offsets [0, 8] span 8 bytes, but F32 [3] needs 12`},
		{"out of bounds", raw(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, eight), `tensor "a": data_offsets [0, 16] run past the end of the 8-byte data buffer`},
		{"gap at start", raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, eight), `tensor "a": data_offsets [4, 8] leave a gap after the start of the data buffer`},
		{"gap between", raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[2],"data_offsets":[6,8]}}`, eight), `tensor "b": data_offsets [6, 8] leave a gap after tensor "a"`},
		{"overlap", raw(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, eight), `tensor "b": data_offsets [4, 8] leave an overlap after tensor "a"`},
		{"trailing bytes", raw(`{"a":`+f32x2+`}`, make([]byte, 12)), "data buffer has 12 bytes but the tensors cover 8"},
		{"metadata not strings", raw(`{"__metadata__":{"k":1}}`, nil), `__metadata__: key "k": value is number 1, want a string`},
		{"metadata not object", raw(`{"__metadata__":"x"}`, nil), `__metadata__: expected '{'`},
		{"metadata duplicate", raw(`{"__metadata__":{"k":"a","k":"b"}}`, nil), `__metadata__: duplicate key "k"`},
		{"two metadata", raw(`{"__metadata__":{},"__metadata__":{}}`, nil), `duplicate key "__metadata__"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.data)
			if err == nil {
				t.Fatalf("Decode succeeded, want error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestDecodeAccepts(t *testing.T) {
	// Zero-size tensors may share an offset; null metadata is allowed; the
	// header may end in padding spaces.
	data := raw(`{"__metadata__":null,"e":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},`+
		`"f":{"dtype":"U8","shape":[2,0],"data_offsets":[0,0]},"g":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}   `, []byte{9})
	f := mustDecode(t, data)
	if got := f.Names(); !slices.Equal(got, []string{"e", "f", "g"}) {
		t.Errorf("Names = %v", got)
	}
	if f.Metadata != nil {
		t.Errorf("Metadata = %v, want nil", f.Metadata)
	}
}

func TestEncodeErrors(t *testing.T) {
	tests := []struct {
		name    string
		entries []Entry
		want    string
	}{
		{"duplicate", []Entry{I64("a", []int64{1}), I64("a", []int64{2})}, `duplicate tensor name "a"`},
		{"reserved", []Entry{I64("__metadata__", []int64{1})}, `"__metadata__" is reserved`},
		{"unknown dtype", []Entry{{Name: "a", DType: "F128", Data: make([]byte, 16)}}, `tensor "a": unknown dtype "F128"`},
		{"negative dim", []Entry{{Name: "a", DType: DTypeU8, Shape: []int{-1}}}, `tensor "a": negative dimension`},
		{"short data", []Entry{{Name: "a", DType: DTypeF32, Shape: []int{2}, Data: make([]byte, 7)}}, `tensor "a": 7 data bytes, but F32 [2] needs 8`},
		{"bad utf8", []Entry{{Name: "\xff", DType: DTypeU8, Shape: []int{}, Data: []byte{0}}}, "not valid UTF-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Encode(&buf, tc.entries, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Encode error = %v, want one containing %q", err, tc.want)
			}
			if buf.Len() != 0 {
				t.Errorf("Encode wrote %d bytes before failing", buf.Len())
			}
		})
	}
}

func TestI64PanicsOnShapeMismatch(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("I64 with 3 values and shape [2] did not panic")
		}
	}()
	I64("x", []int64{1, 2, 3}, 2)
}

func TestConversions(t *testing.T) {
	le := binary.LittleEndian
	f16 := []uint16{0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x7c00, 0xfc00, 0x0400}
	f16Want := []float32{1, -2, 65504, 0x1p-24, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), 0x1p-14}
	var f16Data []byte
	for _, h := range f16 {
		f16Data = le.AppendUint16(f16Data, h)
	}
	// bf16 is the top half of a float32: 0x3f80 = 1, 0xc049 = -3.140625.
	bf16Data := []byte{0x80, 0x3f, 0x49, 0xc0}
	f64Data := le.AppendUint64(le.AppendUint64(nil, math.Float64bits(0.1)), math.Float64bits(-1e300))
	// float8_e4m3fn: 0x38 = 1.0 (exp 7, bias 7), 0x7e = 448 (the largest),
	// 0x01 = 2^-9 (smallest subnormal), 0xc0 = -2, 0x7f = NaN.
	e4m3 := []byte{0x38, 0x7e, 0x01, 0xc0}
	// float8_e5m2: 0x3c = 1.0, 0x7b = 57344 (the largest), 0x01 = 2^-16, 0x7c = +Inf.
	e5m2 := []byte{0x3c, 0x7b, 0x01, 0x7c}
	i32 := le.AppendUint32(le.AppendUint32(nil, uint32(0xffffffff)), 16777217)
	tests := []struct {
		e    Entry
		want []float32
	}{
		{Entry{"f16", DTypeF16, []int{8}, f16Data}, f16Want},
		{Entry{"bf16", DTypeBF16, []int{2}, bf16Data}, []float32{1, -3.140625}},
		{Entry{"f64", DTypeF64, []int{2}, f64Data}, []float32{0.1, float32(math.Inf(-1))}},
		{Entry{"e4m3", DTypeF8E4M3, []int{4}, e4m3}, []float32{1, 448, 0x1p-9, -2}},
		{Entry{"e5m2", DTypeF8E5M2, []int{4}, e5m2}, []float32{1, 57344, 0x1p-16, float32(math.Inf(1))}},
		{Entry{"i32", DTypeI32, []int{2}, i32}, []float32{-1, 16777216}}, // 2^24+1 rounds to even
		{Entry{"u16", DTypeU16, []int{1}, []byte{0xff, 0xff}}, []float32{65535}},
		{Entry{"i8", DTypeI8, []int{2}, []byte{0x80, 0x7f}}, []float32{-128, 127}},
		{Entry{"bool", DTypeBool, []int{2}, []byte{1, 0}}, []float32{1, 0}},
	}
	var entries []Entry
	for _, tc := range tests {
		entries = append(entries, tc.e)
	}
	entries = append(entries,
		Entry{"nan8", DTypeF8E4M3, []int{}, []byte{0x7f}},
		Entry{"badbool", DTypeBool, []int{1}, []byte{2}},
		Entry{"bigu64", DTypeU64, []int{1}, le.AppendUint64(nil, math.MaxUint64)},
	)
	var buf bytes.Buffer
	if err := Encode(&buf, entries, nil); err != nil {
		t.Fatal(err)
	}
	f := mustDecode(t, buf.Bytes())
	for _, tc := range tests {
		got, err := f.Float32(tc.e.Name)
		if err != nil {
			t.Errorf("%s: %v", tc.e.Name, err)
			continue
		}
		for i, w := range tc.want {
			g := got.Data()[i]
			if math.Float32bits(g) != math.Float32bits(w) {
				t.Errorf("%s[%d] = %g, want %g", tc.e.Name, i, g, w)
			}
		}
	}
	if v, err := f.Float32("nan8"); err != nil || !math.IsNaN(float64(v.Item())) {
		t.Errorf("e4m3 0x7f = %v %v, want NaN", v, err)
	}
	errTests := []struct {
		name, want string
		call       func() error
	}{
		{"missing Float32", `no tensor named "nope"`, func() error { _, err := f.Float32("nope"); return err }},
		{"missing Int64", `no tensor named "nope"`, func() error { _, _, err := f.Int64("nope"); return err }},
		{"Int64 of float", `tensor "f16": dtype F16 is not an integer type`, func() error { _, _, err := f.Int64("f16"); return err }},
		{"bad bool", `tensor "badbool": BOOL byte 2 at index 0`, func() error { _, _, err := f.Int64("badbool"); return err }},
		{"bad bool as float", `tensor "badbool": BOOL byte 2`, func() error { _, err := f.Float32("badbool"); return err }},
		{"big u64", `tensor "bigu64": U64 value 18446744073709551615 at index 0 does not fit`, func() error { _, _, err := f.Int64("bigu64"); return err }},
	}
	for _, tc := range errTests {
		if err := tc.call(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestWriteFileReadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "w.safetensors")
	entries := []Entry{F32("w", tensor.FromSlice([]float32{1, 2, 3}, 3))}
	for range 2 { // the second write replaces the first
		if err := WriteFile(path, entries, map[string]string{"format": "pt"}); err != nil {
			t.Fatal(err)
		}
	}
	f, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if w, err := f.Float32("w"); err != nil || !slices.Equal(w.Data(), []float32{1, 2, 3}) {
		t.Errorf("w = %v %v", w, err)
	}
	// A failing write leaves neither a temporary file nor a changed target.
	if err := WriteFile(path, []Entry{{Name: "bad", DType: "X"}}, nil); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("WriteFile with a bad entry: error %v, want one naming %s", err, path)
	}
	if names, _ := os.ReadDir(dir); len(names) != 1 {
		t.Errorf("directory holds %d files after writes, want 1", len(names))
	}
	if _, err := ReadFile(path); err != nil {
		t.Errorf("target damaged by a failed write: %v", err)
	}

	if _, err := ReadFile(filepath.Join(dir, "missing.safetensors")); err == nil || !strings.Contains(err.Error(), "missing.safetensors") {
		t.Errorf("ReadFile(missing) error %v, want one naming the file", err)
	}
	bad := filepath.Join(dir, "bad.safetensors")
	if err := os.WriteFile(bad, []byte("nonsense!"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("ReadFile(corrupt) error %v, want one naming %s", err, bad)
	}
	if err := WriteFile(filepath.Join(dir, "no", "such", "dir.safetensors"), entries, nil); err == nil {
		t.Error("WriteFile into a missing directory succeeded")
	}
}

// TestReferenceFiles decodes files laid out like the reference
// implementation's output; testdata/gen.py made them from PyTorch 1.13
// tensors.
func TestReferenceFiles(t *testing.T) {
	f, err := ReadFile(filepath.Join("testdata", "reference.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.Metadata, map[string]string{"format": "pt"}) {
		t.Errorf("metadata = %v", f.Metadata)
	}
	want := []string{"bf", "bn.num_batches_tracked", "conv.weight", "empty", "fc.bias", "half", "i16", "i8", "ids", "mask", "u8"}
	if got := f.Names(); !slices.Equal(got, want) {
		t.Fatalf("Names = %v, want %v", got, want)
	}
	floats := []struct {
		name  string
		dtype DType
		shape []int
		want  []float32
	}{
		{"conv.weight", DTypeF32, []int{2, 1, 2, 2}, []float32{-1, -0.75, -0.5, -0.25, 0, 0.25, 0.5, 0.75}},
		{"fc.bias", DTypeF64, []int{3}, []float32{0.1, -2.5, 1e10}},
		{"half", DTypeF16, []int{2, 2}, []float32{1.5, -0x1p-10, 65504, 0x1p-24}},
		{"bf", DTypeBF16, []int{3}, []float32{1, -3.140625, 0x1p100}},
		{"empty", DTypeF32, []int{0, 3}, []float32{}},
	}
	for _, tc := range floats {
		e, _ := f.Entry(tc.name)
		if e.DType != tc.dtype {
			t.Errorf("%s: dtype %s, want %s", tc.name, e.DType, tc.dtype)
		}
		got, err := f.Float32(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Shape(), tc.shape) || !slices.Equal(got.Data(), tc.want) {
			t.Errorf("%s = %v %v, want %v %v", tc.name, got.Shape(), got.Data(), tc.shape, tc.want)
		}
	}
	ints := []struct {
		name  string
		dtype DType
		shape []int
		want  []int64
	}{
		{"bn.num_batches_tracked", DTypeI64, []int{}, []int64{7}},
		{"ids", DTypeI32, []int{4}, []int64{math.MinInt32, -1, 0, math.MaxInt32}},
		{"i16", DTypeI16, []int{2}, []int64{-32768, 32767}},
		{"i8", DTypeI8, []int{3}, []int64{-128, 0, 127}},
		{"u8", DTypeU8, []int{2}, []int64{0, 255}},
		{"mask", DTypeBool, []int{2, 2}, []int64{1, 0, 0, 1}},
	}
	for _, tc := range ints {
		e, _ := f.Entry(tc.name)
		if e.DType != tc.dtype {
			t.Errorf("%s: dtype %s, want %s", tc.name, e.DType, tc.dtype)
		}
		got, shape, err := f.Int64(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(shape, tc.shape) || !slices.Equal(got, tc.want) {
			t.Errorf("%s = %v %v, want %v %v", tc.name, shape, got, tc.shape, tc.want)
		}
	}

	// With F32 tensors only, the reference order is name order, so Encode
	// must reproduce the reference file exactly.
	ref, err := os.ReadFile(filepath.Join("testdata", "reference_f32.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	f32 := mustDecode(t, ref)
	var entries []Entry
	for _, name := range f32.Names() {
		e, _ := f32.Entry(name)
		entries = append(entries, e)
	}
	var buf bytes.Buffer
	if err := Encode(&buf, entries, f32.Metadata); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), ref) {
		t.Errorf("Encode =\n%q\nreference\n%q", buf.Bytes(), ref)
	}
}

func FuzzDecode(f *testing.F) {
	var golden bytes.Buffer
	if err := Encode(&golden, []Entry{
		F32("a", tensor.FromSlice([]float32{1, -2}, 2)),
		I64("b", []int64{7}),
		{Name: "h", DType: DTypeF16, Shape: []int{1, 1}, Data: []byte{0, 0x3c}},
	}, map[string]string{"k": "v"}); err != nil {
		f.Fatal(err)
	}
	f.Add(golden.Bytes())
	for _, name := range []string{"reference.safetensors", "reference_f32.safetensors"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add(raw(`{}`, nil))
	f.Add(raw(`{"a":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}}`, []byte{1, 3}))
	f.Add(raw(`{"a":{"dtype":"F8_E4M3","shape":[1,1],"data_offsets":[0,1]},"__metadata__":null}`, []byte{0x7f}))
	f.Add(raw(`{"a":{"dtype":"U64","shape":[1],"data_offsets":[0,8]}}`, bytes.Repeat([]byte{0xff}, 8)))
	f.Add(raw(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Decode(data)
		if err != nil {
			return
		}
		// Whatever decodes must convert without panicking and survive a
		// round trip through Encode.
		var entries []Entry
		for _, name := range file.Names() {
			e, _ := file.Entry(name)
			entries = append(entries, e)
			file.Float32(name)
			file.Int64(name)
		}
		var buf bytes.Buffer
		if err := Encode(&buf, entries, file.Metadata); err != nil {
			t.Fatalf("re-encoding a decoded file: %v", err)
		}
		again, err := Decode(buf.Bytes())
		if err != nil {
			t.Fatalf("decoding a re-encoded file: %v", err)
		}
		if !slices.Equal(again.Names(), file.Names()) {
			t.Fatalf("names changed: %v -> %v", file.Names(), again.Names())
		}
		for _, e := range entries {
			g, _ := again.Entry(e.Name)
			if g.DType != e.DType || !slices.Equal(g.Shape, e.Shape) || !bytes.Equal(g.Data, e.Data) {
				t.Fatalf("entry %q changed in a round trip", e.Name)
			}
		}
	})
}

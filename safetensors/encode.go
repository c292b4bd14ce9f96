package safetensors

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/metacnn/metacnn/tensor"
)

// F32 returns an F32 entry holding a copy of t's values and shape.
func F32(name string, t *tensor.Tensor) Entry {
	vals := t.Data()
	data := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(v))
	}
	return Entry{Name: name, DType: DTypeF32, Shape: slices.Clone(t.Shape()), Data: data}
}

// I64 returns an I64 entry holding values with the given shape; no shape
// means a scalar, so a 1-D tensor needs its length spelled out:
// I64("ids", v, len(v)). It panics when len(values) does not equal the
// product of shape.
func I64(name string, values []int64, shape ...int) Entry {
	if n := tensor.NumElements(shape); n != len(values) {
		panic(fmt.Sprintf("safetensors.I64(%q): %d values do not fill shape %v (%d elements)", name, len(values), shape, n))
	}
	data := make([]byte, 8*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint64(data[8*i:], uint64(v))
	}
	return Entry{Name: name, DType: DTypeI64, Shape: slices.Clone(shape), Data: data}
}

// Encode writes entries and metadata (nil or empty: no "__metadata__") in
// the safetensors format. Tensors are ordered by name in both the header and
// the data buffer. The header is compact JSON with "__metadata__" first and
// each tensor's keys in the order dtype, shape, data_offsets, padded with
// spaces to a multiple of 8 bytes, as the reference implementation writes
// it. Entries are validated (known dtype, non-negative shape, Data of
// exactly the shape's byte size, unique valid UTF-8 names other than
// "__metadata__") before anything is written.
func Encode(w io.Writer, entries []Entry, metadata map[string]string) error {
	sorted, header, err := prepare(entries, metadata)
	if err != nil {
		return err
	}
	return write(w, sorted, header)
}

// prepare validates entries and metadata and returns the entries sorted by
// name with the padded header that describes them.
func prepare(entries []Entry, metadata map[string]string) ([]Entry, []byte, error) {
	sorted := slices.Clone(entries)
	slices.SortFunc(sorted, func(a, b Entry) int { return cmp.Compare(a.Name, b.Name) })
	for i, e := range sorted {
		if err := validateEntry(e); err != nil {
			return nil, nil, err
		}
		if i > 0 && sorted[i-1].Name == e.Name {
			return nil, nil, fmt.Errorf("safetensors: duplicate tensor name %q", e.Name)
		}
	}
	for k, v := range metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, nil, fmt.Errorf("safetensors: metadata key %q: key or value is not valid UTF-8", k)
		}
	}
	return sorted, buildHeader(sorted, metadata), nil
}

// write writes the length prefix, the header and the entries' data.
func write(w io.Writer, sorted []Entry, header []byte) error {
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(header)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	if _, err := w.Write(header); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	for _, e := range sorted {
		if _, err := w.Write(e.Data); err != nil {
			return fmt.Errorf("safetensors: tensor %q: %w", e.Name, err)
		}
	}
	return nil
}

// WriteFile encodes entries and metadata into path atomically: it writes a
// temporary file in the same directory, syncs it and renames it over path,
// so readers see either the old file or the complete new one. A failed
// write leaves no temporary file behind.
func WriteFile(path string, entries []Entry, metadata map[string]string) error {
	sorted, header, err := prepare(entries, metadata)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("safetensors: write %s: %w", path, err)
	}
	if err := writeAndClose(f, sorted, header); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("safetensors: write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("safetensors: write %s: %w", path, err)
	}
	// Make the rename itself durable; not every platform can sync a directory.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// writeAndClose writes the file into f, syncs and closes it; f is closed on
// every path.
func writeAndClose(f *os.File, sorted []Entry, header []byte) error {
	bw := bufio.NewWriterSize(f, 1<<20)
	err := write(bw, sorted, header)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		// CreateTemp makes the file 0600; give it the usual mode of a data file.
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func validateEntry(e Entry) error {
	switch {
	case e.Name == metadataKey:
		return fmt.Errorf("safetensors: tensor name %q is reserved for metadata", e.Name)
	case !utf8.ValidString(e.Name):
		return fmt.Errorf("safetensors: tensor name %q is not valid UTF-8", e.Name)
	case e.DType.Size() == 0:
		return fmt.Errorf("safetensors: tensor %q: unknown dtype %q", e.Name, e.DType)
	case len(e.Shape) > MaxRank:
		return fmt.Errorf("safetensors: tensor %q: rank %d exceeds %d", e.Name, len(e.Shape), MaxRank)
	}
	for _, d := range e.Shape {
		if d < 0 {
			return fmt.Errorf("safetensors: tensor %q: negative dimension in shape %v", e.Name, e.Shape)
		}
	}
	n, ok := product(e.Shape)
	if !ok || n > math.MaxUint64/uint64(e.DType.Size()) {
		return fmt.Errorf("safetensors: tensor %q: shape %v is too large", e.Name, e.Shape)
	}
	if want := n * uint64(e.DType.Size()); uint64(len(e.Data)) != want {
		return fmt.Errorf("safetensors: tensor %q: %d data bytes, but %s %v needs %d", e.Name, len(e.Data), e.DType, e.Shape, want)
	}
	return nil
}

// buildHeader renders the JSON header for entries (already sorted and
// validated), padded with spaces to a multiple of 8 bytes.
func buildHeader(entries []Entry, metadata map[string]string) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	comma := func() {
		if !first {
			b.WriteByte(',')
		}
		first = false
	}
	if len(metadata) > 0 {
		comma()
		writeString(&b, metadataKey)
		b.WriteString(":{")
		keys := make([]string, 0, len(metadata))
		for k := range metadata {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(&b, k)
			b.WriteByte(':')
			writeString(&b, metadata[k])
		}
		b.WriteByte('}')
	}
	var off uint64
	for _, e := range entries {
		comma()
		writeString(&b, e.Name)
		b.WriteString(`:{"dtype":`)
		writeString(&b, string(e.DType))
		b.WriteString(`,"shape":[`)
		for i, d := range e.Shape {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(d))
		}
		end := off + uint64(len(e.Data))
		fmt.Fprintf(&b, `],"data_offsets":[%d,%d]}`, off, end)
		off = end
	}
	b.WriteByte('}')
	for b.Len()%8 != 0 {
		b.WriteByte(' ')
	}
	return b.Bytes()
}

// writeString writes s as a JSON string the way serde_json does: only '"',
// '\\' and control characters are escaped, the common ones by their short
// forms, the rest as \u00xx.
func writeString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 {
				b.WriteString(`\u00`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xf])
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
}

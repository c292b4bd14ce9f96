package data

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// parquetBatch is the number of rows read at a time.
const parquetBatch = 256

// Limits on what a Parquet manifest's metadata may claim. The library
// allocates page buffers from the sizes in page headers before reading
// them, so a corrupt header of a few bytes could ask for gigabytes;
// checkParquetPages holds every claim to these bounds first.
const (
	// MaxParquetPageBytes bounds one page, compressed or not (writers use
	// pages of about 1 MiB).
	MaxParquetPageBytes = 64 << 20
	// MaxParquetRowGroupRows bounds the rows of one row group.
	MaxParquetRowGroupRows = 1 << 24
)

// readParquet reads a Parquet manifest. The schema must be flat: one
// column per field, none repeated or nested. Each value becomes the string
// a CSV cell would hold (see parquetFormatter); nulls are missing values,
// as JSON nulls are. Row numbers are 1-based record indices.
func (p *parser) readParquet(r io.Reader) (err error) {
	ra, size, err := readerAt(r)
	if err != nil {
		return fmt.Errorf("data: %s: %w", p.m.Source, err)
	}
	// The decoder is not ours; a malformed file must not crash the run.
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("data: %s: invalid Parquet file: decoder failed: %v", p.m.Source, v)
		}
	}()
	if err := checkParquetFooter(ra, size); err != nil {
		return fmt.Errorf("data: %s: invalid Parquet file: %w", p.m.Source, err)
	}
	// Page indexes and bloom filters are not needed to read every row, and
	// their lengths would be more claims to check.
	f, err := parquet.OpenFile(ra, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return fmt.Errorf("data: %s: invalid Parquet file: %w", p.m.Source, err)
	}
	if err := checkParquetPages(ra, size, f.Metadata()); err != nil {
		return fmt.Errorf("data: %s: invalid Parquet file: %w", p.m.Source, err)
	}
	fields := f.Schema().Fields()
	if len(fields) == 0 {
		return fmt.Errorf("data: %s: Parquet schema has no columns", p.m.Source)
	}
	header := make([]string, len(fields))
	formatters := make([]func(parquet.Value) (string, error), len(fields))
	byName := map[string]int{}
	for i, fd := range fields {
		name := fd.Name()
		switch {
		case !fd.Leaf():
			return fmt.Errorf("data: %s: Parquet column %q is a group (nested); a manifest needs flat columns", p.m.Source, truncate(name))
		case fd.Repeated():
			return fmt.Errorf("data: %s: Parquet column %q is repeated (a list); a manifest needs one value per row", p.m.Source, truncate(name))
		}
		if _, dup := byName[name]; dup {
			return fmt.Errorf("data: %s: Parquet column %q appears twice", p.m.Source, truncate(name))
		}
		byName[name] = i
		header[i] = name
		if formatters[i], err = parquetFormatter(fd.Type()); err != nil {
			return fmt.Errorf("data: %s: Parquet column %q: %w", p.m.Source, truncate(name), err)
		}
	}
	// Values carry their leaf column index, which for a flat schema is the
	// field's position among the leaf columns.
	leaf := make([]int, len(fields))
	for c, path := range f.Schema().Columns() {
		if len(path) != 1 {
			return fmt.Errorf("data: %s: Parquet column %q is nested", p.m.Source, truncate(fmt.Sprint(path)))
		}
		leaf[c] = byName[path[0]]
	}
	p.m.Header = header
	if err := p.checkHeader(header, true); err != nil {
		return err
	}
	line := 0
	buf := make([]parquet.Row, parquetBatch)
	for _, rg := range f.RowGroups() {
		stop, err := p.readRowGroup(rg, buf, header, leaf, formatters, &line)
		if err != nil || stop {
			return err
		}
	}
	return nil
}

func (p *parser) readRowGroup(rg parquet.RowGroup, buf []parquet.Row, header []string, leaf []int, formatters []func(parquet.Value) (string, error), line *int) (stop bool, err error) {
	rows := rg.Rows()
	defer rows.Close()
	for {
		n, rerr := rows.ReadRows(buf)
		for _, row := range buf[:n] {
			*line++
			fields := make(map[string]string, len(header))
			var bad *BadRow
			for _, v := range row {
				c := v.Column()
				if c < 0 || c >= len(leaf) {
					return false, fmt.Errorf("data: %s: row %d: invalid Parquet file: value of column %d in a %d-column schema", p.m.Source, *line, c, len(leaf))
				}
				if v.IsNull() {
					continue // missing, as a JSON null
				}
				i := leaf[c]
				s, ferr := formatters[i](v)
				if ferr != nil && bad == nil {
					bad = &BadRow{Row: *line, Column: header[i], Kind: KindBadValue, Reason: ferr.Error()}
				}
				fields[header[i]] = s
			}
			if bad != nil {
				p.m.Report.Total++
				if p.bad(*bad) {
					return true, nil
				}
				continue
			}
			if p.add(*line, fields) {
				return true, nil
			}
		}
		if errors.Is(rerr, io.EOF) {
			return false, nil
		}
		if rerr != nil {
			return false, fmt.Errorf("data: %s: after row %d: invalid Parquet file: %w", p.m.Source, *line, rerr)
		}
	}
}

// checkParquetFooter checks the magic bytes and that the footer length
// fits in the file, which the library trusts when it allocates the footer.
func checkParquetFooter(ra io.ReaderAt, size int64) error {
	if size < 12 {
		return fmt.Errorf("%d bytes is too short for a Parquet file", size)
	}
	var head, tail [4]byte
	var footer [8]byte
	if _, err := ra.ReadAt(head[:], 0); err != nil {
		return err
	}
	if _, err := ra.ReadAt(footer[:], size-8); err != nil {
		return err
	}
	copy(tail[:], footer[4:])
	if string(head[:]) != "PAR1" || string(tail[:]) != "PAR1" {
		return fmt.Errorf("not a Parquet file (magic bytes %q ... %q, want PAR1 ... PAR1; encrypted footers are not supported)", head[:], tail[:])
	}
	if n := int64(binary.LittleEndian.Uint32(footer[:4])); n > size-12 {
		return fmt.Errorf("footer of %d bytes in a file of %d bytes", n, size)
	}
	return nil
}

// checkParquetPages walks the page headers of every column chunk and checks
// that each page lies within its chunk, the chunk within the file, and the
// sizes and value counts within the limits above.
func checkParquetPages(ra io.ReaderAt, size int64, md *format.FileMetaData) error {
	var proto thrift.CompactProtocol
	for g, rg := range md.RowGroups {
		if rg.NumRows < 0 || rg.NumRows > MaxParquetRowGroupRows {
			return fmt.Errorf("row group %d claims %d rows (limit %d)", g, rg.NumRows, MaxParquetRowGroupRows)
		}
		for c, cc := range rg.Columns {
			if cc.FilePath != "" {
				return fmt.Errorf("row group %d column %d is in another file (%q)", g, c, truncate(cc.FilePath))
			}
			cm := &cc.MetaData
			start := cm.DataPageOffset
			if cm.DictionaryPageOffset > 0 && cm.DictionaryPageOffset < start {
				start = cm.DictionaryPageOffset
			}
			n := cm.TotalCompressedSize
			if start < 4 || n < 0 || start > size || n > size-start {
				return fmt.Errorf("row group %d column %d: chunk at %d of %d bytes is outside the file of %d bytes", g, c, start, n, size)
			}
			off, left := start, n
			for left > 0 {
				h, hn, err := readPageHeader(ra, &proto, off, left)
				if err != nil {
					return fmt.Errorf("row group %d column %d: page header at %d: %w", g, c, off, err)
				}
				off, left = off+hn, left-hn
				if h.CompressedPageSize < 0 || int64(h.CompressedPageSize) > left || h.CompressedPageSize > MaxParquetPageBytes ||
					h.UncompressedPageSize < 0 || h.UncompressedPageSize > MaxParquetPageBytes {
					return fmt.Errorf("row group %d column %d: page of %d bytes (%d uncompressed) with %d bytes left in the chunk (limit %d)",
						g, c, h.CompressedPageSize, h.UncompressedPageSize, left, MaxParquetPageBytes)
				}
				var values int32
				if v, ok := h.DataPageHeader.Get(); ok {
					values = v.NumValues
				}
				if v, ok := h.DataPageHeaderV2.Get(); ok {
					values = v.NumValues
				}
				if v, ok := h.DictionaryPageHeader.Get(); ok {
					values = v.NumValues
				}
				if values < 0 || int64(values) > max(rg.NumRows, int64(h.UncompressedPageSize)) {
					return fmt.Errorf("row group %d column %d: page claims %d values in a row group of %d rows", g, c, values, rg.NumRows)
				}
				off += int64(h.CompressedPageSize)
				left -= int64(h.CompressedPageSize)
			}
		}
	}
	return nil
}

// MaxParquetPageHeaderBytes bounds one page header (with its statistics).
const MaxParquetPageHeaderBytes = 1 << 20

// readPageHeader decodes the page header at off, of at most left bytes,
// from memory, so that no length in it can make the decoder allocate more
// than the bytes at hand. It returns the header and its encoded size.
func readPageHeader(ra io.ReaderAt, proto *thrift.CompactProtocol, off, left int64) (*format.PageHeader, int64, error) {
	for n := min(left, 4<<10); ; n = min(left, 16*n, MaxParquetPageHeaderBytes) {
		buf := make([]byte, n)
		if _, err := ra.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
			return nil, 0, err
		}
		r := proto.NewReaderFromBytes(buf)
		h := new(format.PageHeader)
		err := thrift.NewDecoder(r).Decode(h)
		if err == nil {
			return h, int64(r.BytesRead()), nil
		}
		if n == left || n == MaxParquetPageHeaderBytes || !(errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)) {
			return nil, 0, err
		}
	}
}

// readerAt gives random access to r: directly for files and other
// seekable ReaderAts, otherwise by reading it whole.
func readerAt(r io.Reader) (io.ReaderAt, int64, error) {
	if ra, ok := r.(io.ReaderAt); ok {
		if s, ok := r.(io.Seeker); ok {
			size, err := s.Seek(0, io.SeekEnd)
			if err == nil {
				return ra, size, nil
			}
		}
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, 0, err
	}
	return bytes.NewReader(b), int64(len(b)), nil
}

// parquetFormatter returns how a column's values become manifest strings:
//
//   - strings, enums, JSON and plain byte arrays: the bytes as text;
//   - integers: decimal (unsigned when the logical type says so);
//   - floats: the shortest decimal that reads back to the same value;
//   - booleans: true or false;
//   - DECIMAL: the scaled decimal, e.g. 12.34;
//   - DATE: 2006-01-02; TIME: 15:04:05.999999999;
//   - TIMESTAMP and INT96 timestamps: RFC 3339 in UTC (a timestamp not
//     adjusted to UTC is read as UTC);
//   - UUID: the canonical 36-character form; FLOAT16: as a float.
//
// Other logical types (BSON, variant, geometry) are an error.
func parquetFormatter(t parquet.Type) (func(parquet.Value) (string, error), error) {
	kind := t.Kind()
	var lt format.LogicalTypeValue
	if l := t.LogicalType(); l != nil {
		lt = l.Value
	}
	switch l := lt.(type) {
	case nil, *format.StringType, *format.EnumType, *format.JsonType:
	case *format.IntType:
		if !l.IsSigned {
			switch kind {
			case parquet.Int32:
				return func(v parquet.Value) (string, error) { return strconv.FormatUint(uint64(uint32(v.Int32())), 10), nil }, nil
			case parquet.Int64:
				return func(v parquet.Value) (string, error) { return strconv.FormatUint(uint64(v.Int64()), 10), nil }, nil
			}
		}
	case *format.DecimalType:
		scale := int(l.Scale)
		return func(v parquet.Value) (string, error) {
			var n big.Int
			switch kind {
			case parquet.Int32:
				n.SetInt64(int64(v.Int32()))
			case parquet.Int64:
				n.SetInt64(v.Int64())
			default:
				b := v.ByteArray() // big-endian two's complement
				n.SetBytes(b)
				if len(b) > 0 && b[0]&0x80 != 0 {
					n.Sub(&n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
				}
			}
			return formatDecimal(&n, scale), nil
		}, nil
	case *format.DateType:
		return func(v parquet.Value) (string, error) {
			return time.Unix(int64(v.Int32())*86400, 0).UTC().Format(time.DateOnly), nil
		}, nil
	case *format.TimeType:
		unit := timeUnit(&l.Unit)
		return func(v parquet.Value) (string, error) {
			n := v.Int64()
			if kind == parquet.Int32 {
				n = int64(v.Int32())
			}
			return time.Time{}.Add(time.Duration(n) * unit).Format("15:04:05.999999999"), nil
		}, nil
	case *format.TimestampType:
		unit := timeUnit(&l.Unit)
		return func(v parquet.Value) (string, error) {
			n := v.Int64()
			var ts time.Time
			switch unit {
			case time.Millisecond:
				ts = time.UnixMilli(n)
			case time.Microsecond:
				ts = time.UnixMicro(n)
			default:
				ts = time.Unix(0, n)
			}
			return ts.UTC().Format(time.RFC3339Nano), nil
		}, nil
	case *format.UUIDType:
		return func(v parquet.Value) (string, error) {
			u, err := uuid.FromBytes(v.ByteArray())
			if err != nil {
				return "", fmt.Errorf("invalid UUID: %v", err)
			}
			return u.String(), nil
		}, nil
	case *format.Float16Type:
		return func(v parquet.Value) (string, error) {
			b := v.ByteArray()
			if len(b) != 2 {
				return "", fmt.Errorf("FLOAT16 value of %d bytes", len(b))
			}
			return strconv.FormatFloat(float64(half(uint16(b[0])|uint16(b[1])<<8)), 'g', -1, 32), nil
		}, nil
	default:
		return nil, fmt.Errorf("logical type %s cannot be a manifest value (want strings, numbers, booleans, dates or timestamps)", lt)
	}
	switch kind {
	case parquet.Boolean:
		return func(v parquet.Value) (string, error) { return strconv.FormatBool(v.Boolean()), nil }, nil
	case parquet.Int32:
		return func(v parquet.Value) (string, error) { return strconv.FormatInt(int64(v.Int32()), 10), nil }, nil
	case parquet.Int64:
		return func(v parquet.Value) (string, error) { return strconv.FormatInt(v.Int64(), 10), nil }, nil
	case parquet.Int96:
		// Legacy (Impala, Spark) timestamps: nanoseconds of the day in the
		// low 64 bits, Julian day in the high 32.
		return func(v parquet.Value) (string, error) {
			i := v.Int96()
			nanos := int64(uint64(i[1])<<32 | uint64(i[0]))
			days := int64(i[2]) - 2440588 // Julian day of 1970-01-01
			return time.Unix(days*86400, nanos).UTC().Format(time.RFC3339Nano), nil
		}, nil
	case parquet.Float:
		return func(v parquet.Value) (string, error) {
			return strconv.FormatFloat(float64(v.Float()), 'g', -1, 32), nil
		}, nil
	case parquet.Double:
		return func(v parquet.Value) (string, error) { return strconv.FormatFloat(v.Double(), 'g', -1, 64), nil }, nil
	case parquet.ByteArray, parquet.FixedLenByteArray:
		return func(v parquet.Value) (string, error) { return string(v.ByteArray()), nil }, nil
	}
	return nil, fmt.Errorf("unsupported physical type %s", kind)
}

func timeUnit(u *format.TimeUnit) time.Duration {
	switch u.Value.(type) {
	case *format.MilliSeconds:
		return time.Millisecond
	case *format.MicroSeconds:
		return time.Microsecond
	}
	return time.Nanosecond
}

// formatDecimal writes unscaled * 10^-scale in plain decimal notation.
func formatDecimal(n *big.Int, scale int) string {
	if scale <= 0 {
		s := n.String()
		if n.Sign() != 0 && scale < 0 {
			s += string(bytes.Repeat([]byte{'0'}, -scale))
		}
		return s
	}
	neg := n.Sign() < 0
	digits := new(big.Int).Abs(n).String()
	if len(digits) <= scale {
		digits = string(bytes.Repeat([]byte{'0'}, scale-len(digits)+1)) + digits
	}
	s := digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	if neg {
		s = "-" + s
	}
	return s
}

// half converts an IEEE 754 binary16 value to float32.
func half(h uint16) float32 {
	sign := float32(1)
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	frac := float64(h & 0x3ff)
	switch exp {
	case 0:
		return sign * float32(math.Ldexp(frac, -24))
	case 0x1f:
		if frac != 0 {
			return float32(math.NaN())
		}
		return sign * float32(math.Inf(1))
	}
	return sign * float32(math.Ldexp(1024+frac, exp-25))
}

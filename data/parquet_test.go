package data

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/color"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/metacnn/metacnn/meta"
)

// parquetRecord is the row type of the test manifests, written with the
// library's own writer.
type parquetRecord struct {
	Path        string    `parquet:"path,optional"`
	Label       int64     `parquet:"label"`
	Camera      *string   `parquet:"camera,optional"`
	Temperature float64   `parquet:"temperature"`
	Gain        float32   `parquet:"gain"`
	Flash       bool      `parquet:"flash"`
	Taken       time.Time `parquet:"taken,timestamp(millisecond)"`
	Split       string    `parquet:"split"`
}

func writeParquet[T any](t testing.TB, path string, rows []T, opts ...parquet.WriterOption) {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[T](&buf, opts...)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, buf.Bytes())
}

// TestReadParquet writes a manifest with parquet-go and reads it back:
// values come out as the strings a CSV would hold, nulls are missing, row
// numbers are 1-based record indices across row groups, and the rest of
// the pipeline (Load with a schema, image checks) works unchanged.
func TestReadParquet(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.png"), solid(t, 2, 2, color.RGBA{R: 9, A: 255}))
	cam := "B, with comma"
	taken := time.Date(2024, 3, 5, 14, 30, 0, 250e6, time.UTC)
	recs := []parquetRecord{
		{Path: "a.png", Label: 1, Camera: &cam, Temperature: 21.5, Gain: 0.1, Flash: true, Taken: taken, Split: "train"},
		{Path: "a.png", Label: 0, Temperature: -300, Gain: 2, Taken: taken.Add(time.Hour), Split: "Validation"},
		{Path: "a.png", Label: 1, Camera: &cam, Temperature: 1e-7, Taken: taken, Split: "test"},
	}
	path := filepath.Join(dir, "m.parquet")
	// Two rows per row group, so rows span groups.
	writeParquet(t, path, recs, parquet.MaxRowsPerRowGroup(2))

	m, err := ReadManifest(path, ManifestOptions{SplitColumn: "split"})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Rows) != 3 || m.Report.Total != 3 || m.Report.Kept != 3 {
		t.Fatalf("rows %d report %+v", len(m.Rows), m.Report)
	}
	want := []string{"path", "label", "camera", "temperature", "gain", "flash", "taken", "split"}
	if strings.Join(m.Header, ",") != strings.Join(want, ",") {
		t.Errorf("header %v, want %v", m.Header, want)
	}
	r := m.Rows[0]
	if r.Line != 1 || r.File != filepath.Join(dir, "a.png") || r.Label != "1" || r.Split != "train" {
		t.Errorf("row 0 = %+v", r)
	}
	// float32 0.1 prints as 0.1 (shortest float32 form), not 0.10000000149.
	for k, v := range map[string]string{"camera": cam, "temperature": "21.5", "gain": "0.1", "flash": "true", "taken": "2024-03-05T14:30:00.25Z"} {
		if r.Meta[k] != v {
			t.Errorf("row 0 %s = %q, want %q", k, r.Meta[k], v)
		}
	}
	if _, ok := m.Rows[1].Meta["camera"]; ok {
		t.Error("null camera should be missing")
	}
	if m.Rows[1].Line != 2 || m.Rows[1].Split != "val" || m.Rows[1].Meta["temperature"] != "-300" || m.Rows[2].Line != 3 || m.Rows[2].Meta["temperature"] != "1e-07" {
		t.Errorf("rows = %+v", m.Rows)
	}

	s, err := meta.NewSchema([]meta.ColumnSpec{{Name: "camera", Type: meta.Categorical}, {Name: "temperature", Type: meta.Numeric}})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := Load(context.Background(), path, Options{Schema: s})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Rows) != 3 || strings.Join(ds.Classes, ",") != "0,1" {
		t.Errorf("dataset rows %d classes %v", len(ds.Rows), ds.Classes)
	}

	// ParseManifest from a plain reader reads it whole.
	b, _ := os.ReadFile(path)
	m2, err := ParseManifest(strings.NewReader(string(b)), "m.parquet", dir, ManifestOptions{Format: Parquet})
	if err != nil || len(m2.Rows) != 3 {
		t.Fatalf("ParseManifest from a reader: %v", err)
	}
	if f, err := FormatOf("x/M.PARQUET"); err != nil || f != Parquet {
		t.Errorf("FormatOf = %v, %v", f, err)
	}
	if f, err := ParseFormat("parquet"); err != nil || f != Parquet || f.String() != "parquet" {
		t.Errorf("ParseFormat = %v, %v", f, err)
	}
}

// TestParquetBadRows: a null image path is a bad row named by its record
// index, under both policies.
func TestParquetBadRows(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.parquet")
	writeParquet(t, path, []parquetRecord{{Path: "a.png", Split: "train"}, {Path: "", Split: "train"}, {Path: "c.png", Split: "nope"}})
	_, err := ReadManifest(path, ManifestOptions{SplitColumn: "split"})
	var be *BadRowsError
	if !errors.As(err, &be) || len(be.Problems) != 2 || be.Problems[0].Row != 2 || be.Problems[0].Column != "path" ||
		be.Problems[1].Row != 3 || be.Problems[1].Kind != KindBadSplit {
		t.Fatalf("error %v", err)
	}
	if !strings.Contains(err.Error(), "m.parquet: row 2: column \"path\": image path is missing") {
		t.Errorf("message %q", err)
	}
	m, err := ReadManifest(path, ManifestOptions{SplitColumn: "split", OnBadRow: Skip})
	if err != nil || len(m.Rows) != 1 || len(m.Report.Skipped) != 2 || m.Report.Total != 3 {
		t.Fatalf("skip: %v %+v", err, m)
	}
}

type nestedRecord struct {
	Path  string   `parquet:"path"`
	Label string   `parquet:"label"`
	Tags  []string `parquet:"tags,list"`
}

type groupRecord struct {
	Path  string `parquet:"path"`
	Label string `parquet:"label"`
	Where struct {
		Line string `parquet:"line"`
	} `parquet:"where"`
}

type noLabelRecord struct {
	Path string `parquet:"path"`
}

// TestParquetErrors: files that are not Parquet, are truncated, are nested
// or lack a required column are errors naming the file and what is wrong.
func TestParquetErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.parquet")
	writeParquet(t, good, []parquetRecord{{Path: "a.png", Label: 1}})
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		writeFile(t, p, data)
		return p
	}
	nested := filepath.Join(dir, "nested.parquet")
	writeParquet(t, nested, []nestedRecord{{Path: "a.png", Label: "x", Tags: []string{"a"}}})
	group := filepath.Join(dir, "group.parquet")
	writeParquet(t, group, []groupRecord{{Path: "a.png", Label: "x"}})
	nolabel := filepath.Join(dir, "nolabel.parquet")
	writeParquet(t, nolabel, []noLabelRecord{{Path: "a.png"}})
	corrupt := append([]byte(nil), b...)
	for i := 4; i < len(corrupt)/2; i++ {
		corrupt[i] ^= 0x5a
	}
	for _, tc := range []struct {
		name, path, want string
	}{
		{"csv text", write("text.parquet", []byte("path,label\na.png,x\n")), "text.parquet: invalid Parquet file"},
		{"empty", write("empty.parquet", nil), "empty.parquet: invalid Parquet file"},
		{"truncated", write("trunc.parquet", b[:len(b)/2]), "trunc.parquet: invalid Parquet file"},
		{"corrupt pages", write("corrupt.parquet", corrupt), "corrupt.parquet"},
		{"list column", nested, `column "tags"`},
		{"group column", group, `column "where" is a group`},
		{"missing label", nolabel, `row 1 (header): missing required column "label"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadManifest(tc.path, ManifestOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if testing.Verbose() {
				t.Log(err)
			}
		})
	}
}

func TestFormatDecimal(t *testing.T) {
	for _, tc := range []struct {
		n     int64
		scale int
		want  string
	}{{1234, 2, "12.34"}, {-5, 3, "-0.005"}, {0, 2, "0.00"}, {7, 0, "7"}, {12, -2, "1200"}, {-1234, 2, "-12.34"}} {
		if got := formatDecimal(big.NewInt(tc.n), tc.scale); got != tc.want {
			t.Errorf("formatDecimal(%d, %d) = %q, want %q", tc.n, tc.scale, got, tc.want)
		}
	}
	// IEEE 754 binary16: 0x3c00 = 1, 0xc000 = -2, 0x3555 ≈ 0.33325, 0x0001 = 2^-24.
	for h, want := range map[uint16]float32{0x3c00: 1, 0xc000: -2, 0x3555: 0.33325195, 0x0001: 5.9604645e-08} {
		if got := half(h); got != want {
			t.Errorf("half(%#x) = %v, want %v", h, got, want)
		}
	}
}

// FuzzParquetManifest checks that no bytes make the Parquet reader panic
// and that every row read is accounted for.
func FuzzParquetManifest(f *testing.F) {
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[parquetRecord](&buf)
	if _, err := w.Write([]parquetRecord{{Path: "a.png", Label: 1}, {Label: 2}}); err != nil {
		f.Fatal(err)
	}
	if err := w.Close(); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte("PAR1"))
	f.Add([]byte("PAR1\x00\x00\x00\x00PAR1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, policy := range []BadRowPolicy{Stop, Skip} {
			m, err := ParseManifest(bytes.NewReader(b), "fuzz", "/data", ManifestOptions{Format: Parquet, OnBadRow: policy})
			if err != nil {
				continue
			}
			if m.Report.Kept != len(m.Rows) || m.Report.Kept+len(m.Report.Skipped) != m.Report.Total {
				t.Fatalf("report %+v does not account for %d rows", m.Report, len(m.Rows))
			}
		}
	})
}

type pagedRecord struct {
	Path   string  `parquet:"path"`
	Label  string  `parquet:"label,dict"`
	Camera string  `parquet:"camera,dict,zstd"`
	Temp   float64 `parquet:"temperature,snappy"`
}

// TestParquetPagesAndDictionaries: a manifest written with dictionary
// encoding, compression and many small pages in several row groups passes
// the page checks and reads back whole, in order.
func TestParquetPagesAndDictionaries(t *testing.T) {
	const n = 5000
	recs := make([]pagedRecord, n)
	for i := range recs {
		recs[i] = pagedRecord{Path: fmt.Sprintf("img%05d.png", i), Label: fmt.Sprint(i % 3), Camera: string(rune('A' + i%4)), Temp: float64(i) / 4}
	}
	path := filepath.Join(t.TempDir(), "m.parquet")
	writeParquet(t, path, recs, parquet.PageBufferSize(512), parquet.MaxRowsPerRowGroup(1500))
	m, err := ReadManifest(path, ManifestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Rows) != n {
		t.Fatalf("%d rows, want %d", len(m.Rows), n)
	}
	for _, i := range []int{0, 1499, 1500, 4999} {
		r := m.Rows[i]
		if r.Line != i+1 || r.Path != recs[i].Path || r.Label != recs[i].Label || r.Meta["camera"] != recs[i].Camera || r.Meta["temperature"] != fmt.Sprint(recs[i].Temp) {
			t.Errorf("row %d = %+v, want %+v", i, r, recs[i])
		}
	}
}

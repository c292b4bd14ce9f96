package data

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metacnn/metacnn/meta"
)

// solid returns a w x h PNG of one colour.
func solid(t testing.TB, w, h int, c color.RGBA) []byte {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(m.Pix); i += 4 {
		m.Pix[i], m.Pix[i+1], m.Pix[i+2], m.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	return encodePNG(t, m)
}

func testSchema(t testing.TB) *meta.Schema {
	s, err := meta.NewSchema([]meta.ColumnSpec{
		{Name: "camera", Type: meta.Categorical},
		{Name: "temperature", Type: meta.Numeric},
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestReadCSV(t *testing.T) {
	dir := t.TempDir()
	abs := filepath.Join(dir, "abs.png")
	csv := "\uFEFFpath, label ,camera,split\n" +
		"a.png,ok,A,train\n" +
		"\n" + // blank lines are skipped but counted
		"\"sub/b.png\",\"bad\",\"B, with comma\",Validation\n" +
		abs + ",ok,,TEST\n"
	path := filepath.Join(dir, "m.csv")
	writeFile(t, path, []byte(csv))
	m, err := ReadManifest(path, ManifestOptions{SplitColumn: "split"})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Rows) != 3 || m.Report.Total != 3 || m.Report.Kept != 3 {
		t.Fatalf("rows %d, report %+v", len(m.Rows), m.Report)
	}
	r := m.Rows[1]
	if r.Line != 4 || r.Path != "sub/b.png" || r.File != filepath.Join(dir, "sub/b.png") || r.Label != "bad" || r.Split != "val" || r.Meta["camera"] != "B, with comma" {
		t.Errorf("row = %+v", r)
	}
	if m.Rows[0].Line != 2 || m.Rows[2].File != abs || m.Rows[2].Split != "test" {
		t.Errorf("rows = %+v", m.Rows)
	}
	if _, ok := m.Rows[0].Meta["label"]; ok {
		t.Error("label column copied into Meta")
	}
}

func TestReadJSONL(t *testing.T) {
	dir := t.TempDir()
	text := `{"path": "a.png", "label": 1, "temperature": 21.5, "flash": true, "camera": null}` + "\n\n" +
		`{"path": "b.png", "label": "0", "temperature": -3e2}` + "\n"
	path := filepath.Join(dir, "m.jsonl")
	writeFile(t, path, []byte(text))
	m, err := ReadManifest(path, ManifestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := m.Rows[0]
	if r.Label != "1" || r.Meta["temperature"] != "21.5" || r.Meta["flash"] != "true" {
		t.Errorf("row 0 = %+v", r)
	}
	if _, ok := r.Meta["camera"]; ok {
		t.Error("null value should be missing")
	}
	if m.Rows[1].Line != 3 || m.Rows[1].Meta["temperature"] != "-3e2" {
		t.Errorf("row 1 = %+v", m.Rows[1])
	}
	if strings.Join(m.Header, ",") != "path,label,temperature,flash,camera" {
		t.Errorf("header = %v", m.Header)
	}
}

// TestBadRows checks each kind of bad input under both policies: Stop names
// the row and the column (or file), Skip reports the row and keeps the rest.
func TestBadRows(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "ok.png"), solid(t, 4, 4, color.RGBA{1, 2, 3, 255}))
	writeFile(t, filepath.Join(dir, "big.png"), solid(t, 40, 40, color.RGBA{1, 2, 3, 255}))
	full := solid(t, 4, 4, color.RGBA{9, 9, 9, 255})
	writeFile(t, filepath.Join(dir, "trunc.png"), full[:len(full)-20])
	writeFile(t, filepath.Join(dir, "text.png"), []byte("not an image"))
	const head = "path,label,camera,temperature\n"
	const good = "ok.png,ok,A,20\n"
	tests := []struct {
		name   string
		format string // "csv" or "jsonl"
		body   string // the bad row, after one good row (CSV: row 3)
		check  ImageCheck
		row    int
		column string // "" when the problem is not in one column
		text   string // in the message
		kind   string
	}{
		{"missing file", "csv", "nope.png,ok,A,20\n", 0, 3, "path", "not found", KindMissingImage},
		{"corrupt image", "csv", "text.png,ok,A,20\n", 0, 3, "path", "unknown image format", KindBadImage},
		{"truncated image", "csv", "trunc.png,ok,A,20\n", CheckDecode, 3, "path", "cannot be decoded", KindBadImage},
		{"over pixel limit", "csv", "big.png,ok,A,20\n", 0, 3, "path", "1600 pixels, limit 1000", KindLargeImage},
		{"non-numeric", "csv", "ok.png,ok,A,warm\n", 0, 3, "temperature", `"warm"`, KindBadValue},
		{"NaN", "csv", "ok.png,ok,A,NaN\n", 0, 3, "temperature", "not a finite number", KindBadValue},
		{"Inf", "csv", "ok.png,ok,A,+Inf\n", 0, 3, "temperature", "not a finite number", KindBadValue},
		{"unknown label", "csv", "ok.png,maybe,A,20\n", 0, 3, "label", `"maybe" is not one of the classes ok, bad`, KindBadLabel},
		{"empty label", "csv", "ok.png,,A,20\n", 0, 3, "label", "label is missing", KindMissingValue},
		{"empty path", "csv", ",ok,A,20\n", 0, 3, "path", "image path is missing", KindMissingValue},
		{"field count", "csv", "ok.png,ok,A\n", 0, 3, "", "3 fields, the header has 4", KindMalformed},
		{"jsonl missing label", "jsonl", `{"path": "ok.png", "camera": "A", "temperature": 1}`, 0, 2, "label", "label is missing", KindMissingValue},
		{"jsonl invalid", "jsonl", `{"path": "ok.png",`, 0, 2, "", "invalid JSON", KindMalformed},
		{"jsonl nested", "jsonl", `{"path": "ok.png", "label": "ok", "camera": {"a": 1}}`, 0, 2, "camera", "nested JSON value", KindMalformed},
		{"jsonl NaN", "jsonl", `{"path": "ok.png", "label": "ok", "camera": "A", "temperature": "NaN"}`, 0, 2, "temperature", "not a finite number", KindBadValue},
	}
	for _, tt := range tests {
		for _, policy := range []BadRowPolicy{Stop, Skip} {
			t.Run(tt.name+"/"+policy.String(), func(t *testing.T) {
				var text string
				if tt.format == "csv" {
					text = head + good + tt.body
				} else {
					text = `{"path": "ok.png", "label": "ok", "camera": "A", "temperature": 20}` + "\n" + tt.body + "\n"
				}
				path := filepath.Join(t.TempDir(), "m."+tt.format)
				// Image paths are relative to the manifest: use absolute ones here.
				text = strings.ReplaceAll(text, "ok.png", filepath.Join(dir, "ok.png"))
				for _, f := range []string{"big.png", "trunc.png", "text.png", "nope.png"} {
					text = strings.ReplaceAll(text, f, filepath.Join(dir, f))
				}
				writeFile(t, path, []byte(text))
				ds, err := Load(context.Background(), path, Options{
					ManifestOptions: ManifestOptions{OnBadRow: policy},
					Classes:         []string{"ok", "bad"},
					Schema:          testSchema(t),
					Image:           ImageOptions{Width: 4, Height: 4, MaxPixels: 1000},
					Check:           tt.check,
				})
				var got BadRow
				if policy == Stop {
					var be *BadRowsError
					if !errors.As(err, &be) || len(be.Problems) != 1 {
						t.Fatalf("Load: %v, want one bad row", err)
					}
					got = be.Problems[0]
					msg := err.Error()
					wantWhere := fmt.Sprintf("row %d", tt.row)
					if tt.column != "" {
						wantWhere += fmt.Sprintf(": column %q", tt.column)
					}
					if !strings.Contains(msg, path) || !strings.Contains(msg, wantWhere) || !strings.Contains(msg, tt.text) {
						t.Errorf("message %q does not name %s, %s and %q", msg, path, wantWhere, tt.text)
					}
				} else {
					if err != nil {
						t.Fatalf("Load: %v", err)
					}
					if len(ds.Rows) != 1 || ds.Report.Total != 2 || ds.Report.Kept != 1 || len(ds.Report.Skipped) != 1 {
						t.Fatalf("rows %d, report %+v", len(ds.Rows), ds.Report)
					}
					got = ds.Report.Skipped[0]
					if ds.Report.Counts()[tt.kind] != 1 || !strings.Contains(ds.Report.Summary(), "1 skipped") {
						t.Errorf("summary %q", ds.Report.Summary())
					}
				}
				if got.Row != tt.row || got.Column != tt.column || got.Kind != tt.kind || got.Source != path {
					t.Errorf("bad row %+v, want row %d column %q kind %s", got, tt.row, tt.column, tt.kind)
				}
			})
		}
	}
}

func TestManifestErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, file, text, want string
	}{
		{"empty file", "m.csv", "", "empty"},
		{"header only", "m.csv", "path,label,camera\n", "no data rows"},
		{"jsonl blank", "m.jsonl", "\n\n", "no data rows"},
		{"missing label column", "m.csv", "path,camera\na.png,A\n", `row 1 (header): missing required column "label"`},
		{"missing metadata column", "m.csv", "path,label\na.png,ok\n", `missing required column "camera"`},
		{"jsonl missing path", "m.jsonl", `{"file": "a.png", "label": "x"}`, `missing required column "path"`},
		{"duplicate header", "m.csv", "path,label,path\n", `"path" appears twice`},
		{"csv quote", "m.csv", "path,label,camera\n\"a.png,ok,A\n", "row 2: CSV syntax error"},
		{"extension", "m.txt", "path,label\n", "cannot tell the manifest format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name+tt.file)
			writeFile(t, path, []byte(tt.text))
			_, err := Load(context.Background(), path, Options{Schema: func() *meta.Schema {
				s, _ := meta.NewSchema([]meta.ColumnSpec{{Name: "camera", Type: meta.Categorical}})
				return s
			}(), Check: CheckNone})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestStopListsFirstProblems(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("path,label\n")
	for i := 0; i < 30; i++ {
		fmt.Fprintf(&sb, "missing%d.png,x\n", i)
	}
	path := filepath.Join(t.TempDir(), "m.csv")
	writeFile(t, path, []byte(sb.String()))
	_, err := Load(context.Background(), path, Options{ManifestOptions: ManifestOptions{MaxProblems: 5}, Workers: 3})
	var be *BadRowsError
	if !errors.As(err, &be) || len(be.Problems) != 5 || !be.More || be.Problems[0].Row != 2 || be.Problems[4].Row != 6 {
		t.Fatalf("error %v", err)
	}
	// Under skip, every row is skipped, which is an error naming the first.
	_, err = Load(context.Background(), path, Options{ManifestOptions: ManifestOptions{OnBadRow: Skip}})
	if err == nil || !strings.Contains(err.Error(), "every one of the 30 rows was skipped") || !strings.Contains(err.Error(), "row 2") {
		t.Fatalf("error %v", err)
	}
}

func TestDropRowIsReportedUnderStop(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.png"), solid(t, 2, 2, color.RGBA{A: 255}))
	path := filepath.Join(dir, "m.csv")
	writeFile(t, path, []byte("path,label,t\na.png,x,1\na.png,y,\n"))
	s, _ := meta.NewSchema([]meta.ColumnSpec{{Name: "t", Type: meta.Numeric, Missing: meta.DropRow}})
	ds, err := Load(context.Background(), path, Options{Schema: s})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Rows) != 1 || len(ds.Report.Skipped) != 1 || ds.Report.Skipped[0].Kind != KindDropped || ds.Report.Skipped[0].Row != 3 {
		t.Fatalf("rows %d report %+v", len(ds.Rows), ds.Report)
	}
	if ds.Classes[0] != "x" || ds.Rows[0].Class != 0 {
		t.Errorf("classes %v", ds.Classes)
	}
	var sb strings.Builder
	if err := ds.Report.WriteJSONL(&sb); err != nil || !strings.Contains(sb.String(), `"row":3`) {
		t.Errorf("report %q %v", sb.String(), err)
	}
}

// FuzzParseManifest checks that no manifest text makes the parsers panic
// and that every row read is accounted for.
func FuzzParseManifest(f *testing.F) {
	f.Add("path,label,camera\na.png,x,A\nb.png,,B\n", false)
	f.Add("path,label\n\"a\"\"b.png\",x\n", false)
	f.Add("path,label\na,\"x\nb\"\nc,d,e\n", false)
	f.Add(`{"path": "a.png", "label": 1, "c": null}`+"\n{\"path\": [1]}\n", true)
	f.Add(`{"path": "a.png", "label": "x"} {}`+"\n"+`[1,2]`, true)
	f.Fuzz(func(t *testing.T, text string, jsonl bool) {
		for _, policy := range []BadRowPolicy{Stop, Skip} {
			o := ManifestOptions{Format: CSV, OnBadRow: policy}
			if jsonl {
				o.Format = JSONLines
			}
			m, err := ParseManifest(strings.NewReader(text), "fuzz", "/data", o)
			if err != nil {
				continue
			}
			if m.Report.Kept != len(m.Rows) || m.Report.Kept+len(m.Report.Skipped) != m.Report.Total {
				t.Fatalf("report %+v does not account for %d rows", m.Report, len(m.Rows))
			}
			for _, r := range m.Rows {
				if r.Line < 1 || r.Path == "" {
					t.Fatalf("row %+v", r)
				}
			}
		}
	})
}

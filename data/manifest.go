package data

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Format is a manifest file format. The zero value is unset and means: by
// file extension (.csv -> CSV; .jsonl, .ndjson -> JSONLines; .parquet ->
// Parquet).
type Format int

// Manifest formats.
const (
	FormatAuto Format = iota
	CSV
	JSONLines
	Parquet // flat schema; values read as the strings a CSV would hold (see the package doc)
)

var formats = newEnum[Format]("Format", "manifest format", []string{"", "csv", "jsonl", "parquet"}, nil)

func (f Format) String() string { return formats.String(f) }

// ParseFormat parses "csv", "jsonl" or "parquet".
func ParseFormat(s string) (Format, error) { return formats.Parse(s) }

// FormatOf returns the format implied by a file name's extension.
func FormatOf(path string) (Format, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return CSV, nil
	case ".jsonl", ".ndjson":
		return JSONLines, nil
	case ".parquet":
		return Parquet, nil
	}
	return FormatAuto, fmt.Errorf("data: %s: cannot tell the manifest format from the extension (want .csv, .jsonl, .ndjson or .parquet)", path)
}

// Defaults for ManifestOptions.
const (
	DefaultImageColumn = "path"
	DefaultLabelColumn = "label"
	DefaultMaxProblems = 10
	// MaxLineBytes bounds one JSON Lines line or CSV record.
	MaxLineBytes = 1 << 20
)

// ManifestOptions says how to read a manifest. Zero values are defaults.
type ManifestOptions struct {
	// Format defaults to the file extension.
	Format Format
	// ImageColumn holds the image path, relative to the manifest's directory
	// or absolute. Default "path".
	ImageColumn string
	// LabelColumn holds the class label. Default "label". Ignored when
	// Unlabeled.
	LabelColumn string
	// Unlabeled reads manifests without labels (prediction inputs).
	Unlabeled bool
	// SplitColumn, when set, must exist; its values must be train, val or
	// test (aliases: training, valid, validation, dev, testing).
	SplitColumn string
	// Required lists metadata columns a CSV header or Parquet schema must
	// contain (JSON Lines rows lacking one have a missing value instead).
	Required []string
	// OnBadRow defaults to Stop.
	OnBadRow BadRowPolicy
	// MaxProblems bounds how many problems a Stop error lists. Default 10.
	MaxProblems int
}

func (o ManifestOptions) imageColumn() string {
	if o.ImageColumn == "" {
		return DefaultImageColumn
	}
	return o.ImageColumn
}

func (o ManifestOptions) labelColumn() string {
	if o.Unlabeled {
		return ""
	}
	if o.LabelColumn == "" {
		return DefaultLabelColumn
	}
	return o.LabelColumn
}

func (o ManifestOptions) maxProblems() int {
	if o.MaxProblems <= 0 {
		return DefaultMaxProblems
	}
	return o.MaxProblems
}

// Row is one manifest row.
type Row struct {
	// Line is the 1-based row number (see the package doc).
	Line int
	// Path is the image path as written; File is it resolved against the
	// manifest's directory.
	Path, File string
	// Label is the raw label ("" when unlabeled); Class its index in the
	// dataset's classes, -1 when unlabeled or not yet resolved.
	Label string
	Class int
	// Split is "train", "val", "test" or "" (no split column).
	Split string
	// Meta holds every other column, name -> raw value. JSON null values are
	// left out (missing).
	Meta map[string]string
}

// Problem kinds, counted in a Report.
const (
	KindMalformed    = "malformed-row"     // wrong field count, not a JSON object, nested value
	KindMissingValue = "missing-value"     // required value empty or absent
	KindBadValue     = "invalid-value"     // not parseable for its column, NaN/Inf, out of range
	KindBadLabel     = "unknown-label"     // label not in the class list
	KindBadSplit     = "invalid-split"     // split value not train/val/test
	KindMissingImage = "missing-image"     // image file not found
	KindBadImage     = "corrupt-image"     // unreadable or undecodable image
	KindLargeImage   = "image-over-limit"  // over MaxPixels or MaxFileBytes
	KindDropped      = "dropped-drop-row"  // missing value in a drop-row metadata column
	KindStructure    = "invalid-structure" // CSV syntax error
)

// BadRow is one rejected row with its reason.
type BadRow struct {
	Source string `json:"file"`             // manifest file
	Row    int    `json:"row"`              // 1-based row number
	Column string `json:"column,omitempty"` // column at fault, if one is
	Image  string `json:"image,omitempty"`  // image file at fault, if one is
	Kind   string `json:"kind"`             // one of the Kind* constants
	Reason string `json:"reason"`
}

func (b BadRow) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s: row %d", b.Source, b.Row)
	if b.Column != "" {
		fmt.Fprintf(&sb, ": column %q", b.Column)
	}
	if b.Image != "" {
		fmt.Fprintf(&sb, ": image %s", b.Image)
	}
	sb.WriteString(": " + b.Reason)
	return sb.String()
}

// BadRowsError is returned under the Stop policy: the first problems found.
type BadRowsError struct {
	Problems []BadRow
	// More reports that reading stopped at the MaxProblems limit, so there
	// may be more.
	More bool
}

func (e *BadRowsError) Error() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "data: %d bad row", len(e.Problems))
	if len(e.Problems) != 1 {
		sb.WriteString("s")
	}
	if e.More {
		sb.WriteString(" (stopped at the limit; there may be more)")
	}
	sb.WriteString(" (use --on-bad-row=skip to leave them out):")
	for _, p := range e.Problems {
		sb.WriteString("\n  " + p.String())
	}
	return sb.String()
}

// Report accounts for every row read.
type Report struct {
	Source string
	// Total is the number of data rows read; Kept + len(Skipped) == Total.
	Total, Kept int
	// Skipped lists every row left out, in row order.
	Skipped []BadRow
}

// Counts returns the number of skipped rows per Kind.
func (r *Report) Counts() map[string]int {
	m := map[string]int{}
	for _, b := range r.Skipped {
		m[b.Kind]++
	}
	return m
}

// WriteJSONL writes one JSON object per skipped row.
func (r *Report) WriteJSONL(w io.Writer) error {
	enc := json.NewEncoder(w)
	for _, b := range r.Skipped {
		if err := enc.Encode(b); err != nil {
			return err
		}
	}
	return nil
}

// Summary is a one-line account such as "train.csv: 1000 rows, 990 kept,
// 10 skipped (missing-image 7, invalid-value 3)".
func (r *Report) Summary() string {
	s := fmt.Sprintf("%s: %d rows, %d kept, %d skipped", r.Source, r.Total, r.Kept, len(r.Skipped))
	if len(r.Skipped) == 0 {
		return s
	}
	counts := r.Counts()
	kinds := make([]string, 0, len(counts))
	for k := range counts {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s %d", k, counts[k])
	}
	return s + " (" + strings.Join(parts, ", ") + ")"
}

// Manifest is a parsed manifest.
type Manifest struct {
	Source string   // file name used in messages
	Dir    string   // directory relative image paths are resolved against
	Header []string // CSV header, or JSON keys in first-seen order
	Rows   []Row
	Report Report
}

// ReadManifest reads the manifest file at path.
func ReadManifest(path string, opts ManifestOptions) (*Manifest, error) {
	if opts.Format == FormatAuto {
		f, err := FormatOf(path)
		if err != nil {
			return nil, err
		}
		opts.Format = f
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: manifest: %w", err)
	}
	defer f.Close()
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("data: manifest %s: %w", path, err)
	}
	return ParseManifest(f, path, dir, opts)
}

// ParseManifest reads a manifest from r. source names it in messages; dir
// is the directory relative image paths are resolved against. opts.Format
// must be set. Structural problems of a row (wrong field count, invalid
// JSON, empty image path or label, invalid split) are bad rows; a header
// lacking a required column, a CSV syntax error, an unreadable or nested
// Parquet file and an empty manifest are errors whatever the policy. A
// Parquet manifest needs random access: r is used directly when it is an
// io.ReaderAt and io.Seeker (an *os.File), otherwise it is read whole.
func ParseManifest(r io.Reader, source, dir string, opts ManifestOptions) (*Manifest, error) {
	p := &parser{
		m:    &Manifest{Source: source, Dir: dir, Report: Report{Source: source}},
		opts: opts,
	}
	var err error
	switch opts.Format {
	case CSV:
		err = p.readCSV(r)
	case JSONLines:
		err = p.readJSONL(r)
	case Parquet:
		err = p.readParquet(r)
	default:
		return nil, fmt.Errorf("data: %s: manifest format not set", source)
	}
	if err != nil {
		return nil, err
	}
	if p.stopped() {
		return nil, &BadRowsError{Problems: p.problems, More: p.more}
	}
	if p.m.Report.Total == 0 {
		return nil, fmt.Errorf("data: %s: manifest has no data rows", source)
	}
	if len(p.m.Rows) == 0 {
		return nil, fmt.Errorf("data: %s: every one of the %d rows was skipped; first: %s", source, p.m.Report.Total, p.m.Report.Skipped[0])
	}
	return p.m, nil
}

type parser struct {
	m        *Manifest
	opts     ManifestOptions
	problems []BadRow // under Stop
	more     bool
}

func (p *parser) stopped() bool { return len(p.problems) > 0 }

// bad records a bad row. It returns true when reading should stop.
func (p *parser) bad(b BadRow) bool {
	b.Source = p.m.Source
	if p.opts.OnBadRow.skip() {
		p.m.Report.Skipped = append(p.m.Report.Skipped, b)
		return false
	}
	if len(p.problems) >= p.opts.maxProblems() {
		p.more = true
		return true
	}
	p.problems = append(p.problems, b)
	return false
}

// add validates the named fields of one row and appends it.
func (p *parser) add(line int, fields map[string]string) (stop bool) {
	p.m.Report.Total++
	imgCol, labelCol, splitCol := p.opts.imageColumn(), p.opts.labelColumn(), p.opts.SplitColumn
	row := Row{Line: line, Class: -1, Meta: make(map[string]string, len(fields))}
	path, ok := fields[imgCol]
	path = strings.TrimSpace(path)
	if !ok || path == "" {
		return p.bad(BadRow{Row: line, Column: imgCol, Kind: KindMissingValue, Reason: "image path is missing"})
	}
	row.Path = path
	row.File = path
	if !filepath.IsAbs(path) {
		row.File = filepath.Join(p.m.Dir, path)
	}
	if labelCol != "" {
		l, ok := fields[labelCol]
		l = strings.TrimSpace(l)
		if !ok || l == "" {
			return p.bad(BadRow{Row: line, Column: labelCol, Image: row.File, Kind: KindMissingValue, Reason: "label is missing"})
		}
		row.Label = l
	}
	if splitCol != "" {
		v := fields[splitCol]
		s, ok := canonicalSplit(v)
		if !ok {
			return p.bad(BadRow{Row: line, Column: splitCol, Image: row.File, Kind: KindBadSplit,
				Reason: fmt.Sprintf("split %q is not train, val or test", truncate(v))})
		}
		row.Split = s
	}
	for k, v := range fields {
		if k != imgCol && k != labelCol && k != splitCol {
			row.Meta[k] = v
		}
	}
	p.m.Rows = append(p.m.Rows, row)
	p.m.Report.Kept++
	return false
}

func canonicalSplit(v string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "train", "training":
		return "train", true
	case "val", "valid", "validation", "dev":
		return "val", true
	case "test", "testing":
		return "test", true
	}
	return "", false
}

func (p *parser) checkHeader(header []string, exact bool) error {
	need := []string{p.opts.imageColumn()}
	if l := p.opts.labelColumn(); l != "" {
		need = append(need, l)
	}
	if p.opts.SplitColumn != "" {
		need = append(need, p.opts.SplitColumn)
	}
	if exact {
		need = append(need, p.opts.Required...)
	}
	for _, c := range need {
		if !slices.Contains(header, c) {
			return fmt.Errorf("data: %s: row 1 (header): missing required column %q (columns: %s)",
				p.m.Source, c, truncate(strings.Join(header, ", ")))
		}
	}
	return nil
}

func (p *parser) readCSV(r io.Reader) error {
	cr := csv.NewReader(bufio.NewReader(r))
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("data: %s: manifest is empty (no header)", p.m.Source)
	}
	if err != nil {
		return fmt.Errorf("data: %s: header: %w", p.m.Source, err)
	}
	header = slices.Clone(header)
	seen := map[string]bool{}
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\uFEFF")
		}
		h = strings.TrimSpace(h)
		if h == "" {
			return fmt.Errorf("data: %s: row 1 (header): column %d has no name", p.m.Source, i+1)
		}
		if seen[h] {
			return fmt.Errorf("data: %s: row 1 (header): column %q appears twice", p.m.Source, truncate(h))
		}
		seen[h] = true
		header[i] = h
	}
	p.m.Header = header
	if err := p.checkHeader(header, true); err != nil {
		return err
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				// A quoting error can swallow the rest of the file, so it
				// stops reading whatever the policy.
				return fmt.Errorf("data: %s: row %d: CSV syntax error: %v", p.m.Source, pe.StartLine, pe.Err)
			}
			return fmt.Errorf("data: %s: %w", p.m.Source, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(header) {
			p.m.Report.Total++
			if p.bad(BadRow{Row: line, Kind: KindMalformed, Reason: fmt.Sprintf("row has %d fields, the header has %d", len(rec), len(header))}) {
				return nil
			}
			continue
		}
		fields := make(map[string]string, len(rec))
		for i, v := range rec {
			fields[header[i]] = v
		}
		if p.add(line, fields) {
			return nil
		}
	}
}

func (p *parser) readJSONL(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxLineBytes)
	seen := map[string]bool{}
	line := 0
	checked := false
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if line == 1 {
			text = bytes.TrimPrefix(text, []byte("\uFEFF"))
		}
		if len(text) == 0 {
			continue
		}
		fields, column, reason := parseJSONObject(text)
		if reason != "" {
			p.m.Report.Total++
			if p.bad(BadRow{Row: line, Column: column, Kind: KindMalformed, Reason: reason}) {
				return nil
			}
			continue
		}
		for _, k := range fields.keys {
			if !seen[k] {
				seen[k] = true
				p.m.Header = append(p.m.Header, k)
			}
		}
		if !checked {
			// The first valid object stands for the header: a manifest whose
			// rows all lack the image column is an error, not N bad rows.
			if err := p.checkHeader(fields.keys, false); err != nil {
				return fmt.Errorf("%w (judged from line %d)", err, line)
			}
			checked = true
		}
		if p.add(line, fields.vals) {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("data: %s: row %d: line longer than %d bytes", p.m.Source, line+1, MaxLineBytes)
		}
		return fmt.Errorf("data: %s: %w", p.m.Source, err)
	}
	return nil
}

type jsonFields struct {
	keys []string
	vals map[string]string
}

// parseJSONObject parses one JSON Lines row. On failure it returns the
// offending column (if any) and a reason.
func parseJSONObject(text []byte) (f jsonFields, column, reason string) {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return f, "", "invalid JSON: " + err.Error()
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return f, "", "row is not a JSON object"
	}
	f.vals = map[string]string{}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return f, "", "invalid JSON: " + err.Error()
		}
		key, ok := kt.(string)
		if !ok {
			return f, "", "invalid JSON object key"
		}
		key = strings.TrimSpace(key)
		var v any
		if err := dec.Decode(&v); err != nil {
			return f, key, "invalid JSON: " + err.Error()
		}
		if _, dup := f.vals[key]; dup {
			return f, key, "key appears twice"
		}
		var s string
		switch x := v.(type) {
		case nil:
			f.keys = append(f.keys, key)
			continue // missing
		case string:
			s = x
		case json.Number:
			s = x.String()
		case bool:
			s = fmt.Sprint(x)
		default:
			return f, key, "nested JSON value (want a string, number, boolean or null)"
		}
		f.keys = append(f.keys, key)
		f.vals[key] = s
	}
	if _, err := dec.Token(); err != nil {
		return f, "", "invalid JSON: " + err.Error()
	}
	if dec.More() {
		return f, "", "trailing data after the JSON object"
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return f, "", "trailing data after the JSON object"
	}
	return f, "", ""
}

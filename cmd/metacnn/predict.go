package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/model"
	"github.com/metacnn/metacnn/tensor"
)

type predictOptions struct {
	modelDataOptions
	out string

	stdout, stderr io.Writer
}

func newPredictCmd() *cobra.Command {
	var opts predictOptions
	cmd := &cobra.Command{
		Use:   "predict --model model.mcnn --data rows.csv|rows.jsonl [--out preds.jsonl] [--on-bad-row error|skip] [--batch N]",
		Short: "Predict the class of every row of a manifest",
		Long: `Run a model over every row of a manifest (CSV, JSON Lines or Parquet: an image
path column, the metadata columns the model reads; a label column is not
needed and is treated as any other column) and write one JSON object per row:

  {"row": 2, "path": "img/001.png", "label": "defect",
   "probs": {"ok": 0.12, "defect": 0.88}, "logits": [-1.0, 1.0],
   "warnings": ["column \"camera\": value \"C9\": out-of-vocabulary, encoded as <oov>"]}

"row" is the manifest row (CSV: the line, the header being line 1; JSON Lines:
the line), "label" the predicted class, "probs" the softmax of the logits per
class, "logits" the raw outputs in the model's class order, "warnings" (only
when there are any) the metadata encoding fallbacks of that row.

Rows are read, decoded and predicted in batches and written as they are done,
so memory stays constant however long the input (Parquet files are read whole).

A bad row (missing or corrupt image, invalid metadata, malformed row) is
reported on stderr with its file, row, column and reason. With
--on-bad-row=error (the default) the command stops at the first batch holding
one and exits 1, listing them; with skip it leaves them out and goes on. A
summary line on stderr accounts for every row. With --out the file appears
only when the command succeeds (it is written to a temporary file, then
renamed); without it, predictions go to stdout.`,
		Example: "  metacnn predict --model model.mcnn --data new.csv --out preds.jsonl\n" +
			"  metacnn predict --model model.mcnn --data new.jsonl --on-bad-row skip > preds.jsonl",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.stdout, opts.stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			if err := opts.validate(); err != nil {
				return err
			}
			return runPredict(cmd.Context(), opts)
		},
	}
	opts.bind(cmd, "manifest of rows to predict (.csv, .jsonl, .ndjson or .parquet)")
	cmd.Flags().StringVar(&opts.out, "out", "", "JSON Lines file to write (default: stdout)")
	return cmd
}

func (o *predictOptions) validate() error {
	if err := o.modelDataOptions.validate(); err != nil {
		return err
	}
	if strings.TrimSpace(o.imageColumn) == "" {
		return usageErrorf("--image-column is empty")
	}
	if o.out != "" {
		if st, err := os.Stat(o.out); err == nil && st.IsDir() {
			return usageErrorf("--out %s is a directory; want a file such as preds.jsonl", o.out)
		}
		if o.overwritesInput(o.out) {
			return usageErrorf("--out %s would overwrite an input", o.out)
		}
	}
	return nil
}

// prediction is one output line of predict.
type prediction struct {
	Row      int        `json:"row"`
	Path     string     `json:"path"`
	Label    string     `json:"label"`
	Probs    classProbs `json:"probs"`
	Logits   []float32  `json:"logits"`
	Warnings []string   `json:"warnings,omitempty"`
}

// classProbs marshals as a JSON object in the model's class order (a Go map
// would sort the keys).
type classProbs struct {
	classes []string
	p       []float64
}

func (c classProbs) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, name := range c.classes {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(name)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.WriteString(strconv.FormatFloat(c.p[i], 'g', -1, 64))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// softmax returns the probabilities of a row of logits, in float64, and
// the arg-max (lowest index on ties). Non-finite logits are an error.
func softmax(logits []float32) ([]float64, int, error) {
	best := 0
	for k, v := range logits {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, 0, fmt.Errorf("logit %d is %v", k, v)
		}
		if v > logits[best] {
			best = k
		}
	}
	mx := float64(logits[best])
	p := make([]float64, len(logits))
	sum := 0.0
	for k, v := range logits {
		p[k] = math.Exp(float64(v) - mx)
		sum += p[k]
	}
	for k := range p {
		p[k] /= sum
	}
	return p, best, nil
}

// rowStream reads a manifest one row at a time, with the data package's
// parsing rules: each CSV record or JSON line is parsed on its own by
// data.ParseManifest, so the whole file is never held. Parquet, which has no
// rows to stream, is read whole.
type rowStream struct {
	source, dir string
	opts        data.ManifestOptions

	f      *os.File
	cr     *csv.Reader
	header []string
	sc     *bufio.Scanner
	line   int

	rows    []data.Row // Parquet
	skipped []data.BadRow
}

// openRowStream opens path. required lists the columns a CSV header must
// have besides the image column (the model's metadata columns).
func openRowStream(path string, opts data.ManifestOptions, required []string) (*rowStream, error) {
	format, err := data.FormatOf(path)
	if err != nil {
		return nil, err
	}
	opts.Format, opts.OnBadRow, opts.MaxProblems = format, data.Stop, 1
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	s := &rowStream{source: path, dir: dir, opts: opts}
	if format == data.Parquet {
		opts.OnBadRow = data.Skip
		opts.Required = required
		m, err := data.ReadManifest(path, opts)
		if err != nil {
			return nil, err
		}
		s.rows, s.skipped = m.Rows, m.Report.Skipped
		return s, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: manifest: %w", err)
	}
	s.f = f
	if format == data.JSONLines {
		s.sc = bufio.NewScanner(f)
		s.sc.Buffer(make([]byte, 64<<10), data.MaxLineBytes)
		return s, nil
	}
	s.cr = csv.NewReader(bufio.NewReader(f))
	s.cr.FieldsPerRecord = -1
	header, err := s.cr.Read()
	if errors.Is(err, io.EOF) {
		f.Close()
		return nil, fmt.Errorf("data: %s: manifest is empty (no header)", path)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("data: %s: header: %w", path, err)
	}
	s.header = slices.Clone(header)
	if len(s.header) > 0 {
		s.header[0] = strings.TrimPrefix(s.header[0], "\uFEFF")
	}
	// The header is checked once here, as data.ReadManifest would, so that
	// parsing a record under it can only find a problem of that row.
	seen := map[string]bool{}
	for i := range s.header {
		h := strings.TrimSpace(s.header[i])
		if h == "" {
			f.Close()
			return nil, fmt.Errorf("data: %s: row 1 (header): column %d has no name", path, i+1)
		}
		if seen[h] {
			f.Close()
			return nil, fmt.Errorf("data: %s: row 1 (header): column %q appears twice", path, h)
		}
		seen[h] = true
		s.header[i] = h
	}
	for _, c := range append([]string{opts.ImageColumn}, required...) {
		if !seen[c] {
			f.Close()
			return nil, fmt.Errorf("data: %s: row 1 (header): missing required column %q (columns: %s)", path, c, strings.Join(s.header, ", "))
		}
	}
	return s, nil
}

func (s *rowStream) Close() {
	if s.f != nil {
		s.f.Close()
	}
}

// next returns the next row, or a bad row in its place, or io.EOF.
func (s *rowStream) next() (data.Row, *data.BadRow, error) {
	switch {
	case s.cr != nil:
		rec, err := s.cr.Read()
		if errors.Is(err, io.EOF) {
			return data.Row{}, nil, io.EOF
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				// A quoting error can swallow the rest of the file: stop
				// whatever the policy, as data.ReadManifest does.
				return data.Row{}, nil, fmt.Errorf("data: %s: row %d: CSV syntax error: %v", s.source, pe.StartLine, pe.Err)
			}
			return data.Row{}, nil, fmt.Errorf("data: %s: %w", s.source, err)
		}
		line, _ := s.cr.FieldPos(0)
		m, err := s.parseCSV(rec)
		return s.result(m, err, line)
	case s.sc != nil:
		for s.sc.Scan() {
			s.line++
			text := bytes.TrimSpace(s.sc.Bytes())
			if s.line == 1 {
				text = bytes.TrimPrefix(text, []byte("\uFEFF"))
			}
			if len(text) == 0 {
				continue
			}
			m, err := data.ParseManifest(bytes.NewReader(text), s.source, s.dir, s.opts)
			return s.result(m, err, s.line)
		}
		if err := s.sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				return data.Row{}, nil, fmt.Errorf("data: %s: row %d: line longer than %d bytes", s.source, s.line+1, data.MaxLineBytes)
			}
			return data.Row{}, nil, fmt.Errorf("data: %s: %w", s.source, err)
		}
		return data.Row{}, nil, io.EOF
	}
	if len(s.skipped) > 0 && (len(s.rows) == 0 || s.skipped[0].Row < s.rows[0].Line) {
		b := s.skipped[0]
		s.skipped = s.skipped[1:]
		return data.Row{}, &b, nil
	}
	if len(s.rows) > 0 {
		r := s.rows[0]
		s.rows = s.rows[1:]
		return r, nil, nil
	}
	return data.Row{}, nil, io.EOF
}

// parseCSV parses one record under the stream's header.
func (s *rowStream) parseCSV(rec []string) (*data.Manifest, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(s.header)
	w.Write(rec)
	w.Flush()
	return data.ParseManifest(&buf, s.source, s.dir, s.opts)
}

// result turns a one-row parse into the row or its bad row, numbered as in
// the whole file.
func (s *rowStream) result(m *data.Manifest, err error, line int) (data.Row, *data.BadRow, error) {
	if err == nil {
		r := m.Rows[0]
		r.Line = line
		return r, nil, nil
	}
	var bre *data.BadRowsError
	if errors.As(err, &bre) && len(bre.Problems) > 0 {
		b := bre.Problems[0]
		b.Row = line
		return data.Row{}, &b, nil
	}
	// A JSON line without the image column: the data package judges the
	// header from it; here it is one bad row.
	return data.Row{}, &data.BadRow{Source: s.source, Row: line, Column: s.opts.ImageColumn, Kind: data.KindMissingValue,
		Reason: strings.TrimPrefix(err.Error(), "data: ")}, nil
}

// predicted is one batch's rows with their logits, or the rows that failed.
type predicted struct {
	rows   []data.Row
	logits *tensor.Tensor
	warns  [][]string
	bad    []data.BadRow
}

// batchPredictor decodes rows and runs a model over them.
type batchPredictor struct {
	b       *model.Bundle
	source  string
	workers int
}

// predict decodes rows (through a data.Loader, which also checks each
// row's metadata against the model's schema), skips and returns those that
// fail, and runs the model on the rest.
func (bp *batchPredictor) predict(ctx context.Context, rows []data.Row) (predicted, error) {
	var out predicted
	if len(rows) == 0 {
		return out, nil
	}
	l, err := data.NewLoader(rows, data.LoaderOptions{BatchSize: len(rows), Workers: bp.workers, Prefetch: 1,
		Image: bp.b.Image, Schema: bp.b.Schema, OnBadRow: data.Skip, Source: bp.source})
	if err != nil {
		return out, err
	}
	ep := l.Epoch(ctx, 0)
	batch, err := ep.Next()
	out.bad = ep.Skipped()
	ep.Close()
	if errors.Is(err, io.EOF) {
		return out, nil // every row failed
	}
	if err != nil {
		return out, err
	}
	metas := make([]map[string]string, batch.Len())
	out.rows = make([]data.Row, batch.Len())
	for i, r := range batch.Rows {
		out.rows[i] = rows[r]
		metas[i] = rows[r].Meta
	}
	logits, warns, err := bp.b.Predict(batch.Images, metas)
	if err != nil {
		return out, fmt.Errorf("%s: rows %d to %d: %w", bp.source, out.rows[0].Line, out.rows[len(out.rows)-1].Line, err)
	}
	out.logits = logits
	if warns != nil {
		out.warns = make([][]string, len(warns))
		for i, ws := range warns {
			for _, w := range ws {
				out.warns[i] = append(out.warns[i], w.String())
			}
		}
	}
	return out, nil
}

// rowCount accounts for every row read.
type rowCount struct {
	source         string
	total, written int
	kinds          map[string]int
}

func (c *rowCount) bad(b data.BadRow) {
	if c.kinds == nil {
		c.kinds = map[string]int{}
	}
	c.kinds[b.Kind]++
}

func (c *rowCount) summary(verb string) string {
	n := 0
	for _, v := range c.kinds {
		n += v
	}
	s := fmt.Sprintf("%s: %d rows, %d %s, %d bad", c.source, c.total, c.written, verb, n)
	if n == 0 {
		return s
	}
	kinds := make([]string, 0, len(c.kinds))
	for k := range c.kinds {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s %d", k, c.kinds[k])
	}
	return s + " (" + strings.Join(parts, ", ") + ")"
}

func runPredict(ctx context.Context, opts predictOptions) (err error) {
	b, required, err := opts.loadModel()
	if err != nil {
		return err
	}
	stream, err := openRowStream(opts.data, data.ManifestOptions{ImageColumn: opts.imageColumn, Unlabeled: true}, required)
	if err != nil {
		return err
	}
	defer stream.Close()

	var w io.Writer = opts.stdout
	var tmp *os.File
	if opts.out != "" {
		tmp, err = os.CreateTemp(filepath.Dir(opts.out), "."+filepath.Base(opts.out)+".tmp*")
		if err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		defer func() {
			if tmp != nil {
				tmp.Close()
				os.Remove(tmp.Name())
			}
		}()
		w = tmp
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)

	count := &rowCount{source: opts.data}
	bp := &batchPredictor{b: b, source: opts.data, workers: opts.workers}
	var stopped []data.BadRow
	err = streamBatches(ctx, stream, opts.batch, bp, count, func(p predicted) error {
		for _, bad := range p.bad {
			count.bad(bad)
			if opts.policy == data.Skip || bad.Kind == data.KindDropped {
				fmt.Fprintf(opts.stderr, "skipped %s (%s)\n", bad, bad.Kind)
			} else {
				stopped = append(stopped, bad)
			}
		}
		if len(stopped) > 0 {
			return errStopped
		}
		if p.logits == nil {
			return nil
		}
		k := len(b.Classes)
		x := p.logits.Data()
		for i, r := range p.rows {
			lg := x[i*k : (i+1)*k]
			probs, best, err := softmax(lg)
			if err != nil {
				return fmt.Errorf("%s: row %d: the model gave a non-finite output: %v", opts.data, r.Line, err)
			}
			pr := prediction{Row: r.Line, Path: r.Path, Label: b.Classes[best], Probs: classProbs{b.Classes, probs}, Logits: lg}
			if p.warns != nil {
				pr.Warnings = p.warns[i]
			}
			if err := enc.Encode(pr); err != nil {
				return fmt.Errorf("writing predictions: %w", err)
			}
			count.written++
		}
		// Flushed per batch, so a reader downstream sees progress.
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("writing predictions: %w", err)
		}
		return nil
	})
	if errors.Is(err, errStopped) {
		fmt.Fprintln(opts.stderr, count.summary("predicted")+"; stopped at the first bad rows")
		n := min(len(stopped), data.DefaultMaxProblems)
		return &data.BadRowsError{Problems: stopped[:n], More: len(stopped) > n}
	}
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing predictions: %w", err)
	}
	if tmp != nil {
		if err := tmp.Sync(); err != nil {
			return fmt.Errorf("writing %s: %w", opts.out, err)
		}
		if err := tmp.Close(); err != nil {
			return fmt.Errorf("writing %s: %w", opts.out, err)
		}
		if err := os.Rename(tmp.Name(), opts.out); err != nil {
			return fmt.Errorf("writing %s: %w", opts.out, err)
		}
		tmp = nil
	}
	fmt.Fprintln(opts.stderr, count.summary("predicted"))
	return nil
}

var errStopped = errors.New("stopped at bad rows")

// streamBatches reads the stream in batches of up to size rows, decodes
// and predicts each on a background goroutine one batch ahead of the
// consumer, and hands the results to use in row order. Memory holds at
// most three batches whatever the input's length. An error from use stops
// the stream and is returned.
func streamBatches(ctx context.Context, s *rowStream, size int, bp *batchPredictor, count *rowCount, use func(predicted) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		p    predicted
		read int // rows read for p, bad ones included
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		defer close(ch)
		for {
			rows := make([]data.Row, 0, size)
			var bad []data.BadRow
			var readErr error
			for len(rows)+len(bad) < size {
				r, b, err := s.next()
				if err != nil {
					if !errors.Is(err, io.EOF) {
						readErr = err
					}
					break
				}
				if b != nil {
					bad = append(bad, *b)
				} else {
					rows = append(rows, r)
				}
			}
			if len(rows)+len(bad) == 0 && readErr == nil {
				return
			}
			p, err := bp.predict(ctx, rows)
			if err == nil {
				p.bad = append(p.bad, bad...)
				slices.SortStableFunc(p.bad, func(a, b data.BadRow) int { return a.Row - b.Row })
			}
			select {
			case ch <- result{p, len(rows) + len(bad), err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
			if readErr != nil {
				select {
				case ch <- result{err: readErr}:
				case <-ctx.Done():
				}
				return
			}
		}
	}()
	for res := range ch {
		count.total += res.read
		if res.err != nil {
			cancel()
			for range ch {
			}
			return res.err
		}
		if err := use(res.p); err != nil {
			cancel()
			for range ch {
			}
			return err
		}
	}
	return ctx.Err()
}

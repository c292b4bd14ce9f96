package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/metacnn/metacnn/config"
	"github.com/metacnn/metacnn/data"
)

// Limits of init's look at the data.
const (
	// initMaxRows bounds the rows read to infer column types.
	initMaxRows = 100_000
	// initMaxIntCategories: an integer column with at most this many
	// distinct values is taken as categorical.
	initMaxIntCategories = 12
	// initEmbeddingFrom: a categorical column with more distinct values
	// than this gets an embedding instead of a one-hot vector.
	initEmbeddingFrom = 50
)

type initOptions struct {
	data        string
	label       string
	imageColumn string
	splitColumn string
	out         string
	force       bool

	stdout, stderr io.Writer
}

func newInitCmd() *cobra.Command {
	var opts initOptions
	cmd := &cobra.Command{
		Use:   "init --data train.csv [--label COL] [--image-column COL] [--split-column COL] [--out config.yaml] [--force]",
		Short: "Write a starting config by looking at a manifest",
		Long: `Write a starting config file by looking at a manifest (CSV or JSON Lines): which
column holds the image paths, the labels and the split, and a type for every
other column, each with a comment saying why. Edit it, then run
'metacnn train --config config.yaml --out model.mcnn'.

Column types are inferred from the values:
  numeric      every non-empty value is a number
  categorical  text, or integers with few distinct values (<= 12)
  cyclical     a column named hour with integers 0-23 (period 24); likewise
               weekday 0-6 (period 7) and month 1-12 (period 12)
  timestamp    every value is an RFC 3339 time
  boolean      every value is true/false or yes/no
A column whose values are all different text (an identifier) is left out.

The image column is --image-column, else 'path', else the first column whose
values look like image files. A column named 'split' with values train, val
and test divides the rows unless --split-column names another; without one,
sibling val/test manifests of a train manifest are used, else a stratified
random split.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.stdout, opts.stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			if err := opts.validate(); err != nil {
				return err
			}
			return runInit(opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.data, "data", "", "manifest to look at (.csv, .jsonl)")
	f.StringVar(&opts.label, "label", data.DefaultLabelColumn, "label column")
	f.StringVar(&opts.imageColumn, "image-column", "", "image path column (default: path, or the first column of image file names)")
	f.StringVar(&opts.splitColumn, "split-column", "", "split column with values train/val/test (default: a column named split)")
	f.StringVar(&opts.out, "out", "config.yaml", "config file to write")
	f.BoolVar(&opts.force, "force", false, "overwrite --out if it exists")
	return cmd
}

func (o initOptions) validate() error {
	if o.data == "" {
		return usageErrorf("--data is required")
	}
	if _, err := data.FormatOf(o.data); err != nil {
		return asUsage(err)
	}
	if o.out == "" {
		return usageErrorf("--out is empty")
	}
	if o.label == "" {
		return usageErrorf("--label is empty")
	}
	return nil
}

func runInit(opts initOptions) error {
	if _, err := os.Stat(opts.out); err == nil && !opts.force {
		return fmt.Errorf("%s exists; use --force to overwrite it", opts.out)
	}
	tab, err := readTable(opts.data)
	if err != nil {
		return err
	}
	plan, err := inferConfig(tab, opts)
	if err != nil {
		return err
	}
	outDir, err := filepath.Abs(filepath.Dir(opts.out))
	if err != nil {
		return err
	}
	text := plan.yaml(outDir)
	// The file must load back: check it before writing.
	c, err := config.Parse([]byte(text))
	if err == nil {
		c.Resolve(outDir)
		err = c.Validate()
	}
	if err != nil {
		return fmt.Errorf("init: the config written would not load (a bug): %w\n%s", err, text)
	}
	if err := writeFileAtomic(opts.out, []byte(text)); err != nil {
		return err
	}
	fmt.Fprintf(opts.stdout, "wrote %s: image column %q, label column %q, %d classes, %d metadata columns",
		opts.out, plan.image, plan.label, len(plan.classes), len(plan.columns))
	if n := len(plan.leftOut); n > 0 {
		fmt.Fprintf(opts.stdout, " (%d left out)", n)
	}
	fmt.Fprintf(opts.stdout, "\n%s\nnext: edit it, then run: metacnn train --config %s --out model.mcnn\n", plan.dataLine, opts.out)
	return nil
}

func writeFileAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// table is a manifest read as plain strings.
type table struct {
	path   string
	format data.Format
	header []string
	rows   []map[string]string
	more   bool // stopped at initMaxRows
}

func (t *table) values(col string) []string {
	out := make([]string, len(t.rows))
	for i, r := range t.rows {
		out[i] = strings.TrimSpace(r[col])
	}
	return out
}

func readTable(path string) (*table, error) {
	format, err := data.FormatOf(path)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	defer f.Close()
	t := &table{path: path, format: format}
	if format == data.CSV {
		cr := csv.NewReader(bufio.NewReader(f))
		cr.FieldsPerRecord = -1
		header, err := cr.Read()
		if err != nil {
			return nil, fmt.Errorf("init: %s: header: %w", path, err)
		}
		for i, h := range header {
			if i == 0 {
				h = strings.TrimPrefix(h, "\uFEFF")
			}
			t.header = append(t.header, strings.TrimSpace(h))
		}
		for {
			rec, err := cr.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("init: %s: %w", path, err)
			}
			if len(t.rows) == initMaxRows {
				t.more = true
				break
			}
			row := make(map[string]string, len(rec))
			for i, v := range rec {
				if i < len(t.header) {
					row[t.header[i]] = v
				}
			}
			t.rows = append(t.rows, row)
		}
	} else {
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), data.MaxLineBytes)
		seen := map[string]bool{}
		line := 0
		for sc.Scan() {
			line++
			text := bytes.TrimSpace(sc.Bytes())
			if line == 1 {
				text = bytes.TrimPrefix(text, []byte("\uFEFF"))
			}
			if len(text) == 0 {
				continue
			}
			if len(t.rows) == initMaxRows {
				t.more = true
				break
			}
			dec := json.NewDecoder(bytes.NewReader(text))
			dec.UseNumber()
			var obj map[string]any
			if err := dec.Decode(&obj); err != nil {
				return nil, fmt.Errorf("init: %s: row %d: %v", path, line, err)
			}
			keys := make([]string, 0, len(obj))
			for k := range obj {
				keys = append(keys, k)
			}
			sort.Strings(keys) // a JSON object's keys have no order; keep the output stable
			row := map[string]string{}
			for _, k := range keys {
				if !seen[k] {
					seen[k] = true
					t.header = append(t.header, k)
				}
				switch v := obj[k].(type) {
				case nil:
				case string:
					row[k] = v
				case json.Number:
					row[k] = v.String()
				case bool:
					row[k] = strconv.FormatBool(v)
				default:
					b, _ := json.Marshal(v)
					row[k] = string(b)
				}
			}
			t.rows = append(t.rows, row)
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("init: %s: %w", path, err)
		}
	}
	if len(t.rows) == 0 {
		return nil, fmt.Errorf("init: %s has no data rows", path)
	}
	return t, nil
}

// initPlan is what init decided, with the reasons.
type initPlan struct {
	tab                        *table
	image, label, split        string
	splitWhy                   string
	train, val, test, manifest string // absolute paths
	classes                    []string
	classCounts                []int
	imageSize                  int
	imageWhy                   string
	columns                    []inferredColumn
	leftOut                    []inferredColumn
	dataLine                   string
}

type inferredColumn struct {
	name  string
	lines []string // YAML of the spec's keys after "name" (e.g. "type: numeric")
	why   string
}

var imageExts = []string{".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp"}

func looksLikeImages(vals []string) bool {
	n := 0
	for _, v := range vals {
		if v == "" {
			continue
		}
		if !slices.Contains(imageExts, strings.ToLower(filepath.Ext(v))) {
			return false
		}
		n++
	}
	return n > 0
}

func isSplitColumn(vals []string) bool {
	for _, v := range vals {
		switch strings.ToLower(v) {
		case "train", "training", "val", "valid", "validation", "dev", "test", "testing":
		default:
			return false
		}
	}
	return true
}

func inferConfig(t *table, opts initOptions) (*initPlan, error) {
	p := &initPlan{tab: t, label: opts.label}
	cols := strings.Join(t.header, ", ")
	has := func(c string) bool { return slices.Contains(t.header, c) }
	if !has(p.label) {
		return nil, fmt.Errorf("init: %s has no label column %q (columns: %s); name it with --label", t.path, p.label, cols)
	}
	switch {
	case opts.imageColumn != "":
		if !has(opts.imageColumn) {
			return nil, fmt.Errorf("init: %s has no column %q (columns: %s)", t.path, opts.imageColumn, cols)
		}
		p.image = opts.imageColumn
	case has(data.DefaultImageColumn):
		p.image = data.DefaultImageColumn
	default:
		for _, c := range t.header {
			if c != p.label && looksLikeImages(t.values(c)) {
				p.image = c
				break
			}
		}
		if p.image == "" {
			return nil, fmt.Errorf("init: %s: no column looks like image paths (columns: %s); name it with --image-column", t.path, cols)
		}
	}
	switch {
	case opts.splitColumn != "":
		if !has(opts.splitColumn) {
			return nil, fmt.Errorf("init: %s has no column %q (columns: %s)", t.path, opts.splitColumn, cols)
		}
		if !isSplitColumn(t.values(opts.splitColumn)) {
			return nil, fmt.Errorf("init: %s: column %q has values other than train, val and test", t.path, opts.splitColumn)
		}
		p.split, p.splitWhy = opts.splitColumn, "--split-column"
	case has(config.DefaultSplitColumn) && isSplitColumn(t.values(config.DefaultSplitColumn)):
		p.split, p.splitWhy = config.DefaultSplitColumn, "a column named split with values train/val/test"
	}
	if p.image == p.label || (p.split != "" && (p.split == p.label || p.split == p.image)) {
		return nil, fmt.Errorf("init: the image, label and split columns must differ (image %q, label %q, split %q)", p.image, p.label, p.split)
	}

	abs, err := filepath.Abs(t.path)
	if err != nil {
		return nil, err
	}
	trainRows := t.rows
	switch {
	case p.split != "":
		p.manifest = abs
		trainRows = nil
		for _, r := range t.rows {
			if s := strings.ToLower(strings.TrimSpace(r[p.split])); s == "train" || s == "training" {
				trainRows = append(trainRows, r)
			}
		}
		if len(trainRows) == 0 {
			return nil, fmt.Errorf("init: %s: no row has split train", t.path)
		}
		p.dataLine = fmt.Sprintf("data: %s, split by column %q", t.path, p.split)
	default:
		p.train = abs
		if base := strings.ToLower(filepath.Base(abs)); strings.HasPrefix(base, "train") {
			ext := filepath.Ext(abs)
			for _, name := range []string{"val", "valid", "validation"} {
				if f := filepath.Join(filepath.Dir(abs), name+ext); fileExists(f) {
					p.val = f
					break
				}
			}
			if f := filepath.Join(filepath.Dir(abs), "test"+ext); fileExists(f) {
				p.test = f
			}
		}
		if p.val == "" {
			// No validation table: split the one manifest by a rule.
			p.manifest, p.train, p.test = abs, "", ""
			p.dataLine = fmt.Sprintf("data: %s, split at random (stratified by label)", t.path)
		} else {
			p.dataLine = fmt.Sprintf("data: %s with %s", t.path, filepath.Base(p.val))
			if p.test != "" {
				p.dataLine += " and " + filepath.Base(p.test)
			}
		}
	}
	rows := make([]data.Row, len(trainRows))
	for i, r := range trainRows {
		rows[i] = data.Row{Label: strings.TrimSpace(r[p.label])}
	}
	p.classes = data.DistinctLabels(rows)
	if len(p.classes) > 0 && p.classes[0] == "" {
		p.classes = p.classes[1:] // rows without a label are bad rows, not a class
	}
	if len(p.classes) < 2 {
		return nil, fmt.Errorf("init: %s: the training rows have %d distinct labels in %q; want at least 2", t.path, len(p.classes), p.label)
	}
	p.classCounts = make([]int, len(p.classes))
	for _, r := range rows {
		if i := slices.Index(p.classes, r.Label); i >= 0 {
			p.classCounts[i]++
		}
	}
	p.imageSize, p.imageWhy = config.DefaultImageSize, "the default"
	dir := filepath.Dir(abs)
	for _, r := range t.rows {
		path := strings.TrimSpace(r[p.image])
		if path == "" {
			continue
		}
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		info, err := data.CheckImageFile(path, data.ImageOptions{})
		if err != nil {
			p.imageWhy = fmt.Sprintf("the default; the first image could not be read: %v", err)
			break
		}
		switch {
		case info.Width == info.Height && info.Width <= 256:
			p.imageSize, p.imageWhy = info.Width, fmt.Sprintf("the first image is %dx%d", info.Width, info.Height)
		default:
			p.imageSize = min(128, max(info.Width, info.Height))
			p.imageWhy = fmt.Sprintf("the first image is %dx%d; images are resized to this square (larger is slower)", info.Width, info.Height)
		}
		break
	}
	for _, c := range t.header {
		if c == p.image || c == p.label || c == p.split {
			continue
		}
		ic := inferColumn(c, t.values(c))
		if ic.lines == nil {
			p.leftOut = append(p.leftOut, ic)
		} else {
			p.columns = append(p.columns, ic)
		}
	}
	return p, nil
}

func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

var cyclicalNames = []struct {
	names  []string
	lo, hi int
	period float64
	what   string
}{
	{[]string{"hour", "hour_of_day"}, 0, 23, 24, "hours"},
	{[]string{"weekday", "day_of_week", "dow"}, 0, 6, 7, "weekdays"},
	{[]string{"month"}, 1, 12, 12, "months"},
}

// inferColumn picks a metadata type for one column from its values and
// says why. lines is nil for a column left out.
func inferColumn(name string, vals []string) (ic inferredColumn) {
	ic.name = name
	var nonEmpty []string
	for _, v := range vals {
		if v != "" {
			nonEmpty = append(nonEmpty, v)
		}
	}
	missing := len(vals) - len(nonEmpty)
	if len(nonEmpty) == 0 {
		ic.why = "every value is empty"
		return ic
	}
	counts := map[string]int{}
	for _, v := range nonEmpty {
		counts[v]++
	}
	distinct := make([]string, 0, len(counts))
	for v := range counts {
		distinct = append(distinct, v)
	}
	sort.Strings(distinct)
	examples := func() string {
		ex := distinct[:min(4, len(distinct))]
		s := strings.Join(ex, ", ")
		if len(distinct) > len(ex) {
			s += ", ..."
		}
		return s
	}
	all := func(pred func(string) bool) bool {
		for _, v := range distinct {
			if !pred(v) {
				return false
			}
		}
		return true
	}
	defer func() {
		if missing > 0 && ic.lines != nil {
			ic.why += fmt.Sprintf("; %d of %d values are empty: filled, with a missing flag (missing: indicator)", missing, len(vals))
		}
	}()
	isTime := func(v string) bool {
		_, err := time.Parse(time.RFC3339Nano, v)
		return err == nil
	}
	if all(isTime) {
		ic.lines = []string{"type: timestamp"}
		ic.why = "every value is an RFC 3339 time: encoded as hour of day and weekday, each as sin/cos"
		return ic
	}
	isBool := func(v string) bool {
		switch strings.ToLower(v) {
		case "true", "false", "yes", "no":
			return true
		}
		return false
	}
	if all(isBool) {
		ic.lines = []string{"type: boolean"}
		ic.why = fmt.Sprintf("every value is true/false or yes/no (%s)", examples())
		return ic
	}
	nums := make([]float64, 0, len(distinct))
	numeric := all(func(v string) bool {
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
		nums = append(nums, x)
		return true
	})
	if numeric {
		lo, hi := slices.Min(nums), slices.Max(nums)
		integers := !slices.ContainsFunc(nums, func(x float64) bool { return x != math.Trunc(x) })
		lname := strings.ToLower(name)
		for _, cn := range cyclicalNames {
			if slices.Contains(cn.names, lname) && integers && lo >= float64(cn.lo) && hi <= float64(cn.hi) {
				ic.lines = []string{"type: cyclical", "period: " + strconv.FormatFloat(cn.period, 'g', -1, 64)}
				ic.why = fmt.Sprintf("named %s with integers %g-%g: %s on a cycle of %g (sin/cos), so the last is next to the first", name, lo, hi, cn.what, cn.period)
				return ic
			}
		}
		if integers && len(distinct) <= initMaxIntCategories {
			ic.lines = []string{"type: categorical"}
			ic.why = fmt.Sprintf("integers with only %d distinct values (%s): taken as categories, one-hot; make it numeric if the order and spacing matter", len(distinct), examples())
			return ic
		}
		ic.lines = []string{"type: numeric"}
		ic.why = fmt.Sprintf("every value is a number (%g to %g): standardised with the training mean and std", lo, hi)
		return ic
	}
	if len(distinct) == len(nonEmpty) && len(distinct) > 20 {
		ic.why = fmt.Sprintf("every one of the %d values is different, like an identifier: it cannot generalise to new rows", len(distinct))
		return ic
	}
	ic.lines = []string{"type: categorical"}
	rare := 0
	for _, n := range counts {
		if n < 5 {
			rare++
		}
	}
	if len(distinct) > initEmbeddingFrom {
		dim := min(50, max(1, int(math.Round(1.6*math.Pow(float64(len(distinct)+1), 0.56)))))
		ic.lines = append(ic.lines, "encoding: embedding", "dim: "+strconv.Itoa(dim))
		ic.why = fmt.Sprintf("text with %d distinct values (%s): a learned embedding of %d values (fastai's rule of thumb) instead of a long one-hot vector", len(distinct), examples(), dim)
	} else {
		ic.why = fmt.Sprintf("text with %d distinct values (%s): one-hot, unseen values go to an out-of-vocabulary slot", len(distinct), examples())
	}
	if rare > 0 && len(distinct) > 10 {
		ic.lines = append(ic.lines, "min_count: 5")
		ic.why += fmt.Sprintf("; %d values occur fewer than 5 times and are folded into out-of-vocabulary", rare)
	}
	return ic
}

// yamlPrintable reports whether YAML allows r unescaped in a document.
func yamlPrintable(r rune) bool {
	switch {
	case r == '\uFEFF':
		return false
	case r >= 0x20 && r <= 0x7E, r >= 0xA0 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}

// quote writes s as a YAML double-quoted scalar, escaping what YAML does
// not allow as is.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == utf8.RuneError:
			b.WriteString(`\uFFFD`)
		case yamlPrintable(r):
			b.WriteRune(r)
		case r <= 0xFFFF:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			fmt.Fprintf(&b, `\U%08X`, r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// comment makes s safe for a YAML comment: one line of printable text.
func comment(s string) string {
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || !yamlPrintable(r) {
			return '?'
		}
		return r
	}, s)
}

// yaml returns the lines of c's entry in metadata.columns: a comment with
// the reason, then the spec.
func (c inferredColumn) yaml() string {
	var b strings.Builder
	fmt.Fprintf(&b, "    # %s\n    - name: %s\n", comment(c.name+": "+c.why+"."), quote(c.name))
	for _, l := range c.lines {
		b.WriteString("      " + l + "\n")
	}
	return b.String()
}

func relPath(dir, path string) string {
	// Relative paths keep a project movable; more than two levels up is
	// more likely a shared location, better written as it is.
	if r, err := filepath.Rel(dir, path); err == nil && !strings.HasPrefix(r, "../../..") {
		return filepath.ToSlash(r)
	}
	return path
}

// yaml writes the config text, with paths relative to outDir.
func (p *initPlan) yaml(outDir string) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	total := 0
	for _, n := range p.classCounts {
		total += n
	}
	w("# %s", comment(fmt.Sprintf("metacnn config written by 'metacnn init --data %s' on %s.", p.tab.path, time.Now().UTC().Format("2006-01-02"))))
	if p.tab.more {
		w("# Column types were inferred from the first %d rows.", initMaxRows)
	} else {
		w("# Column types were inferred from all %d rows.", len(p.tab.rows))
	}
	w("# Every key is documented in the config package; unknown keys are errors.")
	w("")
	w("data:")
	switch {
	case p.manifest != "" && p.split != "":
		w("  manifest: %s", quote(relPath(outDir, p.manifest)))
		w("  # The split column: %s.", p.splitWhy)
		w("  split_column: %s", quote(p.split))
	case p.manifest != "":
		w("  manifest: %s", quote(relPath(outDir, p.manifest)))
		w("  # No split column and no val manifest beside it: rows are split at random,")
		w("  # keeping the class proportions (seeded by train.seed).")
		w("  split: {method: stratified, val: 0.15, test: 0.15}")
	default:
		w("  train: %s", quote(relPath(outDir, p.train)))
		w("  val: %s  # found beside the train manifest", quote(relPath(outDir, p.val)))
		if p.test != "" {
			w("  test: %s", quote(relPath(outDir, p.test)))
		}
	}
	w("  image_column: %s", quote(p.image))
	w("  label_column: %s", quote(p.label))
	parts := make([]string, len(p.classes))
	for i, c := range p.classes {
		parts[i] = fmt.Sprintf("%s %d", c, p.classCounts[i])
	}
	w("  # %s", comment(fmt.Sprintf("The labels of the training rows (%s). This order is the model's output order.", strings.Join(parts, ", "))))
	qc := make([]string, len(p.classes))
	for i, c := range p.classes {
		qc[i] = quote(c)
	}
	w("  classes: [%s]", strings.Join(qc, ", "))
	w("  image:")
	w("    size: %d  # %s", p.imageSize, comment(p.imageWhy))
	w("    channels: 3")
	w("    resize: stretch     # or fit-pad, center-crop")
	w("    normalize: none     # pixels/255; or dataset (per-channel training statistics), imagenet")
	w("  on_bad_row: error     # stop at bad rows, listing them; skip leaves them out and reports each")
	w("")
	w("metadata:")
	if len(p.columns) == 0 {
		w("  columns: []  # no metadata columns found")
	} else {
		w("  columns:")
		for _, c := range p.columns {
			b.WriteString(c.yaml())
		}
	}
	for _, c := range p.leftOut {
		w("  # %s", comment("left out: "+c.name+": "+c.why+"."))
	}
	w("")
	w("model:")
	w("  backbone: {kind: seed, widths: [32, 64]}  # or {kind: resnet, depth: 18}")
	if len(p.columns) > 0 {
		w("  # FiLM: the metadata scales and shifts the image features (starts as the identity).")
		w("  # Compare with [{kind: none}] (image only), concat, scalebias, cbn, gate.")
		w("  fusion: [{kind: film}]")
	} else {
		w("  fusion: [{kind: none}]  # image only: no metadata columns")
	}
	w("")
	w("train:")
	w("  epochs: 20")
	w("  batch_size: 32")
	w("  optimizer: {kind: adamw, lr: 0.001}")
	w("  schedule: {kind: cosine, warmup_epochs: 1}")
	lo, hi := slices.Min(p.classCounts), slices.Max(p.classCounts)
	if lo*2 < hi {
		w("  # The classes are imbalanced (%d to %d training rows): weight the loss by inverse frequency.", lo, hi)
		w("  class_weights: inverse-frequency")
	} else {
		w("  class_weights: none  # the classes are roughly balanced (%d to %d training rows)", lo, hi)
	}
	w("  early_stopping: {metric: val_balanced_accuracy, patience: 5}")
	w("  seed: 1")
	w("  # augment: {flip_h: 0.5, brightness: 0.1}  # each image keeps its own metadata row")
	return b.String()
}

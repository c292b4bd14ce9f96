package meta

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Schema is an ordered list of metadata columns with their encoders. Build
// one with NewSchema (or FromState for a fitted one), Fit it on the training
// split, then Encode rows. After Fit the schema is read-only apart from its
// atomic counters and is safe for concurrent use.
type Schema struct {
	cols   []*column
	byName map[string]int
	fitted bool
	width  int
	nIDs   int
}

// column is one compiled ColumnSpec with its fitted state and layout.
type column struct {
	spec    ColumnSpec
	missing MissingPolicy
	enc     Encoding       // categorical only
	feats   []TimeFeature  // timestamp only
	levels  map[string]int // ordinal level -> rank

	st    ColumnState    // fitted state (st.Spec == spec)
	index map[string]int // vocabulary value -> position (0-based)

	off, width int // dense slot range [off, off+width), flag included
	hasFlag    bool
	idPos      int // position in Encoded.IDs, -1 when none

	oov, miss atomic.Int64
}

// NewSchema validates the specs and returns an unfitted schema.
func NewSchema(specs []ColumnSpec) (*Schema, error) {
	if err := (Config{Columns: specs}).Validate(); err != nil {
		return nil, err
	}
	s := &Schema{byName: make(map[string]int, len(specs))}
	for i, sp := range specs {
		c := &column{spec: cloneSpec(sp), missing: sp.MissingPolicyOrDefault(), idPos: -1}
		c.spec.Name = strings.TrimSpace(sp.Name)
		switch sp.Type {
		case Categorical:
			c.enc = sp.encoding()
			if c.enc == Ordinal {
				c.levels = make(map[string]int, len(sp.Order))
				for r, lv := range sp.Order {
					c.levels[strings.TrimSpace(lv)] = r
				}
			}
		case Timestamp:
			c.feats = sp.features()
		}
		s.cols = append(s.cols, c)
		s.byName[c.spec.Name] = i
	}
	return s, nil
}

func cloneSpec(s ColumnSpec) ColumnSpec {
	s.Order = slices.Clone(s.Order)
	s.Clip = slices.Clone(s.Clip)
	s.Features = slices.Clone(s.Features)
	return s
}

// Specs returns a copy of the column specs, in order.
func (s *Schema) Specs() []ColumnSpec {
	out := make([]ColumnSpec, len(s.cols))
	for i, c := range s.cols {
		out[i] = cloneSpec(c.spec)
	}
	return out
}

// Columns returns the column names, in order.
func (s *Schema) Columns() []string {
	out := make([]string, len(s.cols))
	for i, c := range s.cols {
		out[i] = c.spec.Name
	}
	return out
}

// Fitted reports whether Fit (or FromState) has run.
func (s *Schema) Fitted() bool { return s.fitted }

// Width is the length of Encoded.Dense. It is 0 before Fit.
func (s *Schema) Width() int { return s.width }

// NumIDs is the length of Encoded.IDs: the number of embedding- and
// index-encoded columns.
func (s *Schema) NumIDs() int { return s.nIDs }

// value is one parsed raw value.
type value struct {
	missing bool
	str     string    // categorical
	num     float64   // numeric (after clip and log1p), cyclical, boolean
	rank    int       // ordinal rank or index id
	ts      time.Time // timestamp
}

// parse turns a raw value into a value, applying the missing policy. It does
// not need fitted state.
func (c *column) parse(raw string, present bool) (value, error) {
	v := strings.TrimSpace(raw)
	if !present || v == "" {
		switch c.missing {
		case MissingError:
			return value{}, &ValueError{Column: c.spec.Name, Value: raw, Err: ErrMissing, Detail: "the column's missing policy is error"}
		case DropRow:
			return value{}, &ValueError{Column: c.spec.Name, Value: raw, Err: ErrDropRow}
		}
		return value{missing: true}, nil
	}
	bad := func(class error, format string, args ...any) (value, error) {
		return value{}, &ValueError{Column: c.spec.Name, Value: raw, Err: class, Detail: fmt.Sprintf(format, args...)}
	}
	sp := &c.spec
	switch sp.Type {
	case Categorical:
		switch c.enc {
		case Ordinal:
			r, ok := c.levels[v]
			if !ok {
				return bad(ErrUnknownLevel, "want one of %s", truncate(strings.Join(sp.Order, ", ")))
			}
			return value{rank: r}, nil
		case Index:
			id, err := strconv.Atoi(v)
			if err != nil {
				// Accept integral floats such as "3.0", common in exported tables.
				f, ferr := strconv.ParseFloat(v, 64)
				if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<31 {
					return bad(ErrInvalid, "want an integer id")
				}
				id = int(f)
			}
			if id < 0 || id >= sp.Cardinality {
				return bad(ErrOutOfRange, "want an integer id in [0, %d)", sp.Cardinality)
			}
			return value{rank: id}, nil
		}
		return value{str: v}, nil
	case Numeric, Cyclical:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			var ne *strconv.NumError
			if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
				return bad(ErrInvalid, "number overflows float64")
			}
			return bad(ErrInvalid, "not a number")
		}
		if !finite(f) {
			return bad(ErrInvalid, "not a finite number")
		}
		if sp.Type == Numeric {
			if sp.Clip != nil {
				f = min(max(f, sp.Clip[0]), sp.Clip[1])
			}
			if sp.Log1p {
				if f <= -1 {
					return bad(ErrOutOfRange, "log1p needs a value > -1")
				}
				f = math.Log1p(f)
			}
		}
		return value{num: f}, nil
	case Timestamp:
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return bad(ErrInvalid, "not an RFC 3339 timestamp (like 2024-05-01T14:30:00Z)")
		}
		return value{ts: t}, nil
	case Boolean:
		switch strings.ToLower(v) {
		case "true", "t", "yes", "y", "1":
			return value{num: 1}, nil
		case "false", "f", "no", "n", "0":
			return value{num: 0}, nil
		}
		return bad(ErrInvalid, "want true/false, yes/no, 1/0")
	}
	panic(fmt.Sprintf("meta: column %q has invalid type %v", sp.Name, sp.Type))
}

// CheckRow parses every column of row without encoding it and returns the
// first problem as a *ValueError, in column order. It needs no fitted state,
// so a loader can reject bad rows before fitting. A nil error means Encode
// will succeed on a fitted schema. A missing value in a drop-row column gives
// an error wrapping ErrDropRow.
func (s *Schema) CheckRow(row map[string]string) error {
	for _, c := range s.cols {
		raw, ok := row[c.spec.Name]
		if _, err := c.parse(raw, ok); err != nil {
			return err
		}
	}
	return nil
}

// Fit learns every column's state from the training rows. Rows with a
// missing value in a drop-row column are left out, as they will be dropped;
// any other bad value is an error naming the row's index in rows. Fit may be
// called again to refit; it must not run concurrently with Encode.
func (s *Schema) Fit(rows []map[string]string) error {
	vals := make([][]value, len(s.cols))
	for i, row := range rows {
		parsed := make([]value, len(s.cols))
		drop := false
		for j, c := range s.cols {
			raw, ok := row[c.spec.Name]
			v, err := c.parse(raw, ok)
			if errors.Is(err, ErrDropRow) {
				drop = true
				break
			}
			if err != nil {
				return fmt.Errorf("meta: fit: rows[%d]: %w", i, err)
			}
			parsed[j] = v
		}
		if drop {
			continue
		}
		for j := range s.cols {
			if !parsed[j].missing {
				vals[j] = append(vals[j], parsed[j])
			}
		}
	}
	for j, c := range s.cols {
		c.st = fitColumn(c, vals[j])
	}
	s.layout()
	return nil
}

// fitColumn computes the state of c from its non-missing training values.
func fitColumn(c *column, vals []value) ColumnState {
	st := ColumnState{Spec: cloneSpec(c.spec), Count: len(vals)}
	sp := &c.spec
	switch sp.Type {
	case Categorical:
		switch c.enc {
		case OneHot, Embedding:
			counts := map[string]int{}
			for _, v := range vals {
				counts[v.str]++
			}
			minCount := max(sp.MinCount, 1)
			for k, n := range counts {
				if n >= minCount {
					st.Vocab = append(st.Vocab, k)
				} else {
					st.Folded++
				}
			}
			sort.Strings(st.Vocab)
		case Ordinal:
			var sum float64
			for _, v := range vals {
				sum += c.ordinalValue(v.rank)
			}
			if len(vals) > 0 {
				st.Fill = sum / float64(len(vals))
			}
		}
	case Numeric:
		xs := make([]float64, len(vals))
		for i, v := range vals {
			xs[i] = v.num
		}
		switch {
		case sp.Bins != 0:
			st.Edges = quantileEdges(xs, sp.Bins)
		case sp.scaling() == Raw:
			st.Fill = mean(xs)
		default:
			st.Mean = mean(xs)
			st.Std = 1
			if len(xs) > 0 {
				var ss float64
				for _, x := range xs {
					d := x - st.Mean
					ss += d * d
				}
				// Population standard deviation, as scikit-learn's StandardScaler;
				// a constant column keeps std 1 so it encodes to 0.
				if sd := math.Sqrt(ss / float64(len(xs))); sd > 0 && finite(sd) {
					st.Std = sd
				}
			}
		}
	case Boolean:
		var sum float64
		for _, v := range vals {
			sum += v.num
		}
		if len(vals) > 0 {
			st.Fill = sum / float64(len(vals))
		}
	}
	return st
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

// quantileEdges returns the bins-1 interior edges at quantiles k/bins, with
// linear interpolation between order statistics (NumPy's default method).
// With no values every edge is 0.
func quantileEdges(xs []float64, bins int) []float64 {
	edges := make([]float64, bins-1)
	if len(xs) == 0 {
		return edges
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	n := len(s)
	for k := 1; k < bins; k++ {
		h := float64(n-1) * float64(k) / float64(bins)
		lo := int(math.Floor(h))
		e := s[lo]
		if lo+1 < n {
			e += (h - float64(lo)) * (s[lo+1] - s[lo])
		}
		edges[k-1] = e
	}
	return edges
}

func (c *column) ordinalValue(rank int) float64 {
	if n := len(c.spec.Order); n > 1 {
		return float64(rank) / float64(n-1)
	}
	return 0
}

// valueWidth is the number of dense value slots of a fitted column, flag excluded.
func (c *column) valueWidth() int {
	sp := &c.spec
	switch sp.Type {
	case Categorical:
		switch c.enc {
		case OneHot:
			return 1 + len(c.st.Vocab)
		case Ordinal:
			return 1
		}
		return 0
	case Numeric:
		if sp.Bins != 0 {
			return sp.Bins
		}
		return 1
	case Cyclical:
		return 2
	case Timestamp:
		return 2 * len(c.feats)
	}
	return 1 // Boolean
}

// layout assigns dense offsets and id positions from the fitted state.
func (s *Schema) layout() {
	off, ids := 0, 0
	for _, c := range s.cols {
		c.index = nil
		if len(c.st.Vocab) > 0 {
			c.index = make(map[string]int, len(c.st.Vocab))
			for i, v := range c.st.Vocab {
				c.index[v] = i
			}
		}
		c.hasFlag = c.missing == Indicator
		c.off = off
		c.width = c.valueWidth()
		if c.hasFlag {
			c.width++
		}
		off += c.width
		c.idPos = -1
		if c.spec.Type == Categorical && (c.enc == Embedding || c.enc == Index) {
			c.idPos = ids
			ids++
		}
	}
	s.width, s.nIDs, s.fitted = off, ids, true
}

// Encoded is one encoded row.
type Encoded struct {
	// Dense holds Width() values laid out as described in the package doc.
	Dense []float32
	// IDs holds one id per embedding or index column, in IDSlots order.
	// Embedding ids are 1 + the vocabulary position, 0 for out-of-vocabulary
	// and missing; index ids are the value itself.
	IDs []int
}

// Encode encodes one row given as column name -> raw value. Columns of row
// not in the schema are ignored. Fallbacks (out-of-vocabulary, filled
// missing values) are returned as warnings and counted; values the schema
// cannot encode are a *ValueError.
func (s *Schema) Encode(row map[string]string) (Encoded, []Warning, error) {
	e := Encoded{Dense: make([]float32, s.width), IDs: make([]int, s.nIDs)}
	w, err := s.EncodeInto(row, e.Dense, e.IDs)
	if err != nil {
		return Encoded{}, w, err
	}
	return e, w, nil
}

// EncodeInto is Encode writing into caller-provided slices of length
// Width() and NumIDs(); on error their contents are unspecified.
func (s *Schema) EncodeInto(row map[string]string, dense []float32, ids []int) ([]Warning, error) {
	if !s.fitted {
		return nil, ErrNotFitted
	}
	if len(dense) != s.width || len(ids) != s.nIDs {
		return nil, fmt.Errorf("meta: EncodeInto: got %d dense and %d id slots, want %d and %d", len(dense), len(ids), s.width, s.nIDs)
	}
	var warns []Warning
	for _, c := range s.cols {
		raw, ok := row[c.spec.Name]
		v, err := c.parse(raw, ok)
		if err != nil {
			return warns, err
		}
		out := dense[c.off : c.off+c.width]
		clear(out)
		if c.hasFlag && v.missing {
			out[len(out)-1] = 1
		}
		if v.missing {
			c.miss.Add(1)
			warns = append(warns, Warning{Column: c.spec.Name, Kind: WarnMissing})
		}
		if oov := c.encode(v, out, ids); oov {
			c.oov.Add(1)
			warns = append(warns, Warning{Column: c.spec.Name, Value: v.str, Kind: WarnOOV})
		}
	}
	return warns, nil
}

// encode writes v's value features into out (already zeroed, flag excluded
// from what it touches) and its id into ids. It reports whether the value
// was out of vocabulary.
func (c *column) encode(v value, out []float32, ids []int) (oov bool) {
	sp := &c.spec
	st := &c.st
	switch sp.Type {
	case Categorical:
		switch c.enc {
		case OneHot, Embedding:
			pos := -1
			if !v.missing {
				p, ok := c.index[v.str]
				if ok {
					pos = p
				} else {
					oov = true
				}
			}
			if c.enc == Embedding {
				ids[c.idPos] = pos + 1
			} else if !v.missing {
				out[pos+1] = 1
			}
		case Index:
			if !v.missing {
				ids[c.idPos] = v.rank
			} else {
				ids[c.idPos] = 0
			}
		case Ordinal:
			if v.missing {
				out[0] = float32(st.Fill)
			} else {
				out[0] = float32(c.ordinalValue(v.rank))
			}
		}
	case Numeric:
		switch {
		case sp.Bins != 0:
			if !v.missing {
				out[sort.Search(len(st.Edges), func(i int) bool { return v.num < st.Edges[i] })] = 1
			}
		case v.missing:
			out[0] = float32(st.Fill)
		case sp.scaling() == Raw:
			out[0] = float32(v.num)
		default:
			out[0] = float32((v.num - st.Mean) / st.Std)
		}
	case Cyclical:
		if !v.missing {
			a := 2 * math.Pi * v.num / sp.Period
			out[0], out[1] = float32(math.Sin(a)), float32(math.Cos(a))
		}
	case Timestamp:
		if !v.missing {
			for i, f := range c.feats {
				a := 2 * math.Pi * timeFeature(v.ts, f) / f.period()
				out[2*i], out[2*i+1] = float32(math.Sin(a)), float32(math.Cos(a))
			}
		}
	case Boolean:
		if v.missing {
			out[0] = float32(st.Fill)
		} else {
			out[0] = float32(v.num)
		}
	}
	return oov
}

func timeFeature(t time.Time, f TimeFeature) float64 {
	switch f {
	case HourOfDay:
		return float64(t.Hour()) + float64(t.Minute())/60 + (float64(t.Second())+float64(t.Nanosecond())/1e9)/3600
	case Weekday:
		return float64(t.Weekday())
	case Month:
		return float64(t.Month() - 1)
	case DayOfYear:
		return float64(t.YearDay() - 1)
	}
	panic(fmt.Sprintf("meta: invalid time feature %v", f))
}

// Slot is the dense range of one column: Dense[Offset : Offset+Width]. When
// HasFlag, the last value of the range is the column's missing flag.
type Slot struct {
	Column  string
	Type    Type
	Offset  int
	Width   int
	HasFlag bool
}

// Slots returns the dense layout of a fitted schema, one Slot per column in
// schema order (Width may be 0 for id-only columns). It is nil before Fit.
func (s *Schema) Slots() []Slot {
	if !s.fitted {
		return nil
	}
	out := make([]Slot, len(s.cols))
	for i, c := range s.cols {
		out[i] = Slot{Column: c.spec.Name, Type: c.spec.Type, Offset: c.off, Width: c.width, HasFlag: c.hasFlag}
	}
	return out
}

// IDSlot describes one entry of Encoded.IDs.
type IDSlot struct {
	Column string
	// Size is the number of distinct ids (embedding table rows): 1 +
	// vocabulary size for embedding columns, the cardinality for index ones.
	Size int
	// Dim is the spec's embedding dimension (0 when an index column gives none).
	Dim int
}

// IDSlots returns the id-valued columns in Encoded.IDs order. It is nil
// before Fit.
func (s *Schema) IDSlots() []IDSlot {
	if !s.fitted {
		return nil
	}
	var out []IDSlot
	for _, c := range s.cols {
		if c.idPos < 0 {
			continue
		}
		size := c.spec.Cardinality
		if c.enc == Embedding {
			size = 1 + len(c.st.Vocab)
		}
		out = append(out, IDSlot{Column: c.spec.Name, Size: size, Dim: c.spec.Dim})
	}
	return out
}

// Names returns a human-readable name for every dense slot of a fitted
// schema, such as "camera=<oov>", "camera=A", "temperature",
// "hour:sin", "captured_at:weekday_cos", "temperature:bin2" and
// "temperature:missing".
func (s *Schema) Names() []string {
	names := make([]string, 0, s.width)
	for _, c := range s.cols {
		n := c.spec.Name
		switch c.spec.Type {
		case Categorical:
			switch c.enc {
			case OneHot:
				names = append(names, n+"=<oov>")
				for _, v := range c.st.Vocab {
					names = append(names, n+"="+v)
				}
			case Ordinal:
				names = append(names, n)
			}
		case Numeric:
			if c.spec.Bins != 0 {
				for b := range c.spec.Bins {
					names = append(names, fmt.Sprintf("%s:bin%d", n, b))
				}
			} else {
				names = append(names, n)
			}
		case Cyclical:
			names = append(names, n+":sin", n+":cos")
		case Timestamp:
			for _, f := range c.feats {
				names = append(names, n+":"+f.String()+"_sin", n+":"+f.String()+"_cos")
			}
		case Boolean:
			names = append(names, n)
		}
		if c.hasFlag {
			names = append(names, n+":missing")
		}
	}
	return names
}

// ColumnCounts are the fallbacks a column has taken since the schema was
// built or ResetCounts was called.
type ColumnCounts struct {
	Column  string
	OOV     int64 // values mapped to out-of-vocabulary
	Missing int64 // missing values filled (policy indicator)
}

// Counts returns the per-column fallback counters, in schema order.
func (s *Schema) Counts() []ColumnCounts {
	out := make([]ColumnCounts, len(s.cols))
	for i, c := range s.cols {
		out[i] = ColumnCounts{Column: c.spec.Name, OOV: c.oov.Load(), Missing: c.miss.Load()}
	}
	return out
}

// ResetCounts sets every counter to zero.
func (s *Schema) ResetCounts() {
	for _, c := range s.cols {
		c.oov.Store(0)
		c.miss.Store(0)
	}
}

package meta

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// ColumnSpec declares one metadata column. Keys that do not apply to the
// column's Type must be left at their zero value; Validate says which key is
// misplaced. The YAML and JSON key of each field is given in its tag.
type ColumnSpec struct {
	// Name is the manifest column. Required, unique within a schema.
	Name string `yaml:"name" json:"name"`
	// Type is required.
	Type Type `yaml:"type" json:"type"`
	// Missing is the missing-value policy; see MissingPolicy for the default.
	Missing MissingPolicy `yaml:"missing,omitempty" json:"missing,omitempty"`

	// Encoding (categorical) defaults to onehot.
	Encoding Encoding `yaml:"encoding,omitempty" json:"encoding,omitempty"`
	// Dim (categorical embedding, required; index, optional) is the
	// embedding dimension a model should use for this column.
	Dim int `yaml:"dim,omitempty" json:"dim,omitempty"`
	// Order (categorical ordinal, required) lists the levels from lowest to
	// highest.
	Order []string `yaml:"order,omitempty" json:"order,omitempty"`
	// MinCount (categorical onehot or embedding) folds categories seen fewer
	// than MinCount times in the training split into the out-of-vocabulary
	// slot. 0 means 1: every seen category is kept.
	MinCount int `yaml:"min_count,omitempty" json:"min_count,omitempty"`
	// Cardinality (categorical index, required) bounds the ids: 0 <= id < Cardinality.
	Cardinality int `yaml:"cardinality,omitempty" json:"cardinality,omitempty"`

	// Scale (numeric) defaults to standard.
	Scale Scaling `yaml:"scale,omitempty" json:"scale,omitempty"`
	// Log1p (numeric) applies log(1+x) after clipping; values <= -1 are errors.
	Log1p bool `yaml:"log1p,omitempty" json:"log1p,omitempty"`
	// Clip (numeric) is [lo, hi]: values are clamped into it first.
	Clip []float64 `yaml:"clip,omitempty" json:"clip,omitempty"`
	// Bins (numeric), when >= 2, replaces scaling by a one-hot of the
	// training-quantile bin the value falls in.
	Bins int `yaml:"bins,omitempty" json:"bins,omitempty"`

	// Period (cyclical, required) is the length of one cycle.
	Period float64 `yaml:"period,omitempty" json:"period,omitempty"`

	// Features (timestamp) defaults to [hour, weekday].
	Features []TimeFeature `yaml:"features,omitempty" json:"features,omitempty"`
}

// Config is the metadata section of a config file:
//
//	columns:
//	  - name: camera
//	    type: categorical
//	    min_count: 5
//	  - name: temperature
//	    type: numeric
//	    clip: [-20, 80]
//
// It can be embedded in a larger config; yaml.v3 applies KnownFields to it
// as long as the outer decoder does.
type Config struct {
	Columns []ColumnSpec `yaml:"columns" json:"columns"`
}

// ParseConfig decodes a YAML Config from r. Unknown keys are errors naming
// the key and its line; the specs are validated.
func ParseConfig(r io.Reader) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return Config{}, errors.New("meta: config is empty")
		}
		return Config{}, fmt.Errorf("meta: config: %w", rewriteYAMLError(err))
	}
	// A second document is most likely a mistake (a stray "---").
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return Config{}, errors.New("meta: config: more than one YAML document")
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// ParseConfigBytes is ParseConfig on a byte slice.
func ParseConfigBytes(b []byte) (Config, error) { return ParseConfig(bytes.NewReader(b)) }

var yamlUnknownField = regexp.MustCompile(`line (\d+): field (.+) not found in type (\S+)`)

// rewriteYAMLError turns yaml.v3's "field x not found in type meta.ColumnSpec"
// into "unknown key "x"", keeping the line.
func rewriteYAMLError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		if s := yamlUnknownField.FindStringSubmatch(m); s != nil {
			where := map[string]string{"meta.ColumnSpec": "column spec", "meta.Config": "metadata config"}[s[3]]
			if where == "" {
				where = s[3]
			}
			m = fmt.Sprintf("line %s: unknown key %q in %s", s[1], s[2], where)
		}
		msgs[i] = m
	}
	return errors.New(strings.Join(msgs, "; "))
}

// Validate checks every spec and that names are unique.
func (c Config) Validate() error {
	seen := make(map[string]int, len(c.Columns))
	for i, s := range c.Columns {
		if err := s.Validate(); err != nil {
			return fmt.Errorf("meta: columns[%d]: %w", i, err)
		}
		if j, ok := seen[s.Name]; ok {
			return fmt.Errorf("meta: columns[%d]: column %q already declared at columns[%d]", i, s.Name, j)
		}
		seen[s.Name] = i
	}
	return nil
}

// Validate checks that the spec is complete and that every key set applies
// to the column's type and encoding.
func (s ColumnSpec) Validate() error {
	if strings.TrimSpace(s.Name) == "" {
		return errors.New("column name is required")
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("column %q (%v): %s", s.Name, s.Type, fmt.Sprintf(format, args...))
	}
	if s.Type <= TypeUnset || s.Type > Boolean {
		return fmt.Errorf("column %q: type is required (one of %s)", s.Name, strings.Join(typeNames[1:], ", "))
	}
	if s.Missing < MissingUnset || s.Missing > DropRow {
		return fail("invalid missing policy %d", int(s.Missing))
	}
	type key struct {
		name string
		set  bool
	}
	groups := []struct {
		t    Type
		keys []key
	}{
		{Categorical, []key{{"encoding", s.Encoding != EncodingUnset}, {"dim", s.Dim != 0}, {"order", s.Order != nil},
			{"min_count", s.MinCount != 0}, {"cardinality", s.Cardinality != 0}}},
		{Numeric, []key{{"scale", s.Scale != ScalingUnset}, {"log1p", s.Log1p}, {"clip", s.Clip != nil}, {"bins", s.Bins != 0}}},
		{Cyclical, []key{{"period", s.Period != 0}}},
		{Timestamp, []key{{"features", s.Features != nil}}},
	}
	for _, g := range groups {
		if g.t == s.Type {
			continue
		}
		for _, k := range g.keys {
			if k.set {
				return fail("key %q applies only to %v columns", k.name, g.t)
			}
		}
	}
	switch s.Type {
	case Categorical:
		enc := s.encoding()
		if enc < OneHot || enc > Index {
			return fail("invalid encoding %d", int(s.Encoding))
		}
		if s.MinCount < 0 {
			return fail("min_count %d is negative", s.MinCount)
		}
		if s.MinCount != 0 && enc != OneHot && enc != Embedding {
			return fail("key \"min_count\" applies only to encodings onehot and embedding, not %v", enc)
		}
		switch enc {
		case Embedding:
			if s.Dim <= 0 {
				return fail("encoding embedding needs dim > 0, got %d", s.Dim)
			}
		case Index:
			if s.Dim < 0 {
				return fail("dim %d is negative", s.Dim)
			}
		default:
			if s.Dim != 0 {
				return fail("key \"dim\" applies only to encodings embedding and index, not %v", enc)
			}
		}
		if enc == Index {
			if s.Cardinality <= 0 {
				return fail("encoding index needs cardinality > 0, got %d", s.Cardinality)
			}
		} else if s.Cardinality != 0 {
			return fail("key \"cardinality\" applies only to encoding index, not %v", enc)
		}
		if enc == Ordinal {
			if len(s.Order) == 0 {
				return fail("encoding ordinal needs a non-empty order")
			}
			seen := make(map[string]bool, len(s.Order))
			for _, lv := range s.Order {
				lv = strings.TrimSpace(lv)
				if lv == "" {
					return fail("order has an empty level")
				}
				if seen[lv] {
					return fail("order lists %q twice", truncate(lv))
				}
				seen[lv] = true
			}
		} else if s.Order != nil {
			return fail("key \"order\" applies only to encoding ordinal, not %v", enc)
		}
	case Numeric:
		if s.Scale < ScalingUnset || s.Scale > Raw {
			return fail("invalid scale %d", int(s.Scale))
		}
		if s.Clip != nil {
			if len(s.Clip) != 2 {
				return fail("clip needs [lo, hi], got %d values", len(s.Clip))
			}
			lo, hi := s.Clip[0], s.Clip[1]
			if !finite(lo) || !finite(hi) || !(lo < hi) {
				return fail("clip [%g, %g] needs finite lo < hi", lo, hi)
			}
			if s.Log1p && hi <= -1 {
				return fail("clip [%g, %g] leaves no value > -1 for log1p", lo, hi)
			}
		}
		if s.Bins < 0 || s.Bins == 1 {
			return fail("bins must be 0 (off) or >= 2, got %d", s.Bins)
		}
		if s.Bins > 1<<16 {
			return fail("bins %d is more than %d", s.Bins, 1<<16)
		}
		if s.Bins != 0 && s.Scale == Raw {
			return fail("bins and scale raw exclude each other")
		}
	case Cyclical:
		if !finite(s.Period) || s.Period <= 0 {
			return fail("period must be a finite number > 0, got %g", s.Period)
		}
	case Timestamp:
		if s.Features != nil && len(s.Features) == 0 {
			return fail("features is empty")
		}
		seen := map[TimeFeature]bool{}
		for _, f := range s.Features {
			if f <= TimeFeatureUnset || f > DayOfYear {
				return fail("invalid timestamp feature %d", int(f))
			}
			if seen[f] {
				return fail("feature %v listed twice", f)
			}
			seen[f] = true
		}
	}
	return nil
}

// encoding returns the effective categorical encoding.
func (s ColumnSpec) encoding() Encoding {
	if s.Encoding == EncodingUnset {
		return OneHot
	}
	return s.Encoding
}

// scaling returns the effective numeric scaling.
func (s ColumnSpec) scaling() Scaling {
	if s.Scale == ScalingUnset {
		return Standard
	}
	return s.Scale
}

// IsRaw reports whether the column feeds its value unchanged: numeric with
// scale raw, or categorical with encoding index.
func (s ColumnSpec) IsRaw() bool {
	return (s.Type == Numeric && s.Bins == 0 && s.Scale == Raw) ||
		(s.Type == Categorical && s.Encoding == Index)
}

// MissingPolicyOrDefault returns the effective missing policy.
func (s ColumnSpec) MissingPolicyOrDefault() MissingPolicy {
	if s.Missing != MissingUnset {
		return s.Missing
	}
	if s.IsRaw() {
		return MissingError
	}
	return Indicator
}

func (s ColumnSpec) features() []TimeFeature {
	if len(s.Features) == 0 {
		return []TimeFeature{HourOfDay, Weekday}
	}
	return s.Features
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

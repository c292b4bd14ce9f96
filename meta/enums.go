package meta

import (
	"fmt"
	"strings"
)

// Type is the kind of a metadata column. The zero value is unset and invalid
// in a ColumnSpec.
type Type int

// Column types.
const (
	TypeUnset   Type = iota
	Categorical      // a label from a finite set (camera model, operator)
	Numeric          // a real number (temperature, exposure)
	Cyclical         // a number on a circle with a period (hour 24, weekday 7)
	Timestamp        // an RFC 3339 time, turned into cyclical features
	Boolean          // true/false, 1/0, yes/no, t/f, y/n
)

var typeNames = []string{"", "categorical", "numeric", "cyclical", "timestamp", "boolean"}

func (t Type) String() string { return enumString("Type", int(t), typeNames) }

// ParseType parses a column type name such as "categorical" (case-insensitive).
func ParseType(s string) (Type, error) {
	i, err := parseEnum("column type", s, typeNames)
	return Type(i), err
}

// MarshalText implements encoding.TextMarshaler.
func (t Type) MarshalText() ([]byte, error) { return marshalEnum("Type", int(t), typeNames) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *Type) UnmarshalText(b []byte) error {
	v, err := ParseType(string(b))
	*t = v
	return err
}

// Encoding is how a categorical column is encoded. The zero value is unset
// and means OneHot.
type Encoding int

// Categorical encodings.
const (
	EncodingUnset Encoding = iota
	OneHot                 // dense one-hot with a leading out-of-vocabulary slot
	Embedding              // an integer id (0 = out of vocabulary) for an embedding table of Dim
	Ordinal                // the value's rank in a declared Order, scaled to [0, 1]
	Index                  // the value is an integer id used directly, 0 <= id < Cardinality (raw)
)

var encodingNames = []string{"", "onehot", "embedding", "ordinal", "index"}

func (e Encoding) String() string { return enumString("Encoding", int(e), encodingNames) }

// ParseEncoding parses a categorical encoding name such as "onehot".
func ParseEncoding(s string) (Encoding, error) {
	i, err := parseEnum("categorical encoding", s, encodingNames)
	return Encoding(i), err
}

// MarshalText implements encoding.TextMarshaler.
func (e Encoding) MarshalText() ([]byte, error) {
	return marshalEnum("Encoding", int(e), encodingNames)
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (e *Encoding) UnmarshalText(b []byte) error {
	v, err := ParseEncoding(string(b))
	*e = v
	return err
}

// Scaling is how a numeric column is scaled. The zero value is unset and
// means Standard.
type Scaling int

// Numeric scalings.
const (
	ScalingUnset Scaling = iota
	Standard             // (x - mean) / std with training statistics
	Raw                  // x unchanged (after the optional clip and log1p)
)

var scalingNames = []string{"", "standard", "raw"}

func (s Scaling) String() string { return enumString("Scaling", int(s), scalingNames) }

// ParseScaling parses a numeric scaling name such as "standard".
func ParseScaling(s string) (Scaling, error) {
	i, err := parseEnum("numeric scaling", s, scalingNames)
	return Scaling(i), err
}

// MarshalText implements encoding.TextMarshaler.
func (s Scaling) MarshalText() ([]byte, error) { return marshalEnum("Scaling", int(s), scalingNames) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Scaling) UnmarshalText(b []byte) error {
	v, err := ParseScaling(string(b))
	*s = v
	return err
}

// MissingPolicy says what happens to a missing value. The zero value is unset
// and means Indicator, except for raw columns (numeric scale raw and
// categorical index) where it means MissingError, so that raw inputs keep
// exactly their declared width.
type MissingPolicy int

// Missing-value policies.
const (
	MissingUnset MissingPolicy = iota
	Indicator                  // fill with the training fill value and set a missing flag
	MissingError               // the row is an error
	DropRow                    // the row is dropped (Encode returns an error wrapping ErrDropRow)
)

var missingNames = []string{"", "indicator", "error", "drop-row"}

func (m MissingPolicy) String() string { return enumString("MissingPolicy", int(m), missingNames) }

// ParseMissingPolicy parses "indicator", "error" or "drop-row" ("drop_row" is
// accepted too).
func ParseMissingPolicy(s string) (MissingPolicy, error) {
	i, err := parseEnum("missing policy", s, missingNames)
	return MissingPolicy(i), err
}

// MarshalText implements encoding.TextMarshaler.
func (m MissingPolicy) MarshalText() ([]byte, error) {
	return marshalEnum("MissingPolicy", int(m), missingNames)
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *MissingPolicy) UnmarshalText(b []byte) error {
	v, err := ParseMissingPolicy(string(b))
	*m = v
	return err
}

// TimeFeature is a cyclical feature derived from a timestamp, computed in the
// timestamp's own UTC offset (the local time at capture).
type TimeFeature int

// Timestamp features.
const (
	TimeFeatureUnset TimeFeature = iota
	HourOfDay                    // hour + minute/60 + second/3600, period 24
	Weekday                      // Sunday = 0, period 7
	Month                        // January = 0, period 12
	DayOfYear                    // 1 January = 0, period 365.2425
)

var timeFeatureNames = []string{"", "hour", "weekday", "month", "day_of_year"}

func (f TimeFeature) String() string { return enumString("TimeFeature", int(f), timeFeatureNames) }

// ParseTimeFeature parses "hour", "weekday", "month" or "day_of_year".
func ParseTimeFeature(s string) (TimeFeature, error) {
	i, err := parseEnum("timestamp feature", s, timeFeatureNames)
	return TimeFeature(i), err
}

// MarshalText implements encoding.TextMarshaler.
func (f TimeFeature) MarshalText() ([]byte, error) {
	return marshalEnum("TimeFeature", int(f), timeFeatureNames)
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (f *TimeFeature) UnmarshalText(b []byte) error {
	v, err := ParseTimeFeature(string(b))
	*f = v
	return err
}

func (f TimeFeature) period() float64 {
	switch f {
	case HourOfDay:
		return 24
	case Weekday:
		return 7
	case Month:
		return 12
	case DayOfYear:
		return 365.2425
	}
	panic(fmt.Sprintf("meta: no period for %v", f))
}

func enumString(kind string, i int, names []string) string {
	if i > 0 && i < len(names) {
		return names[i]
	}
	if i == 0 {
		return ""
	}
	return fmt.Sprintf("%s(%d)", kind, i)
}

func marshalEnum(kind string, i int, names []string) ([]byte, error) {
	if i < 0 || i >= len(names) {
		return nil, fmt.Errorf("meta: invalid %s(%d)", kind, i)
	}
	return []byte(names[i]), nil
}

// parseEnum matches s case-insensitively, treating '_' and '-' alike. The
// empty string parses to the unset value 0.
func parseEnum(what, s string, names []string) (int, error) {
	norm := func(x string) string {
		return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(x)), "_", "-")
	}
	n := norm(s)
	if n == "" {
		return 0, nil
	}
	for i, name := range names[1:] {
		if norm(name) == n {
			return i + 1, nil
		}
	}
	return 0, fmt.Errorf("unknown %s %q (want one of %s)", what, truncate(s), strings.Join(names[1:], ", "))
}

// truncate shortens s for error messages.
func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

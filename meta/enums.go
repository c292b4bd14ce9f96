package meta

import (
	"fmt"

	"github.com/metacnn/metacnn/internal/enum"
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

var typeEnum = newEnum[Type]("Type", "column type", typeNames)

func (t Type) String() string { return typeEnum.String(t) }

// ParseType parses a column type name such as "categorical" (case-insensitive).
func ParseType(s string) (Type, error) { return typeEnum.Parse(s) }

// MarshalText implements encoding.TextMarshaler.
func (t Type) MarshalText() ([]byte, error) { return typeEnum.Marshal(t) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *Type) UnmarshalText(b []byte) error { return typeEnum.Unmarshal(t, b) }

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

var encodingEnum = newEnum[Encoding]("Encoding", "categorical encoding", []string{"", "onehot", "embedding", "ordinal", "index"})

func (e Encoding) String() string { return encodingEnum.String(e) }

// ParseEncoding parses a categorical encoding name such as "onehot".
func ParseEncoding(s string) (Encoding, error) { return encodingEnum.Parse(s) }

// MarshalText implements encoding.TextMarshaler.
func (e Encoding) MarshalText() ([]byte, error) { return encodingEnum.Marshal(e) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (e *Encoding) UnmarshalText(b []byte) error { return encodingEnum.Unmarshal(e, b) }

// Scaling is how a numeric column is scaled. The zero value is unset and
// means Standard.
type Scaling int

// Numeric scalings.
const (
	ScalingUnset Scaling = iota
	Standard             // (x - mean) / std with training statistics
	Raw                  // x unchanged (after the optional clip and log1p)
)

var scalingEnum = newEnum[Scaling]("Scaling", "numeric scaling", []string{"", "standard", "raw"})

func (s Scaling) String() string { return scalingEnum.String(s) }

// ParseScaling parses a numeric scaling name such as "standard".
func ParseScaling(s string) (Scaling, error) { return scalingEnum.Parse(s) }

// MarshalText implements encoding.TextMarshaler.
func (s Scaling) MarshalText() ([]byte, error) { return scalingEnum.Marshal(s) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Scaling) UnmarshalText(b []byte) error { return scalingEnum.Unmarshal(s, b) }

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

var missingEnum = newEnum[MissingPolicy]("MissingPolicy", "missing policy", []string{"", "indicator", "error", "drop-row"})

func (m MissingPolicy) String() string { return missingEnum.String(m) }

// ParseMissingPolicy parses "indicator", "error" or "drop-row" ("drop_row" is
// accepted too).
func ParseMissingPolicy(s string) (MissingPolicy, error) { return missingEnum.Parse(s) }

// MarshalText implements encoding.TextMarshaler.
func (m MissingPolicy) MarshalText() ([]byte, error) { return missingEnum.Marshal(m) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *MissingPolicy) UnmarshalText(b []byte) error { return missingEnum.Unmarshal(m, b) }

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

var timeFeatureEnum = newEnum[TimeFeature]("TimeFeature", "timestamp feature", []string{"", "hour", "weekday", "month", "day_of_year"})

func (f TimeFeature) String() string { return timeFeatureEnum.String(f) }

// ParseTimeFeature parses "hour", "weekday", "month" or "day_of_year".
func ParseTimeFeature(s string) (TimeFeature, error) { return timeFeatureEnum.Parse(s) }

// MarshalText implements encoding.TextMarshaler.
func (f TimeFeature) MarshalText() ([]byte, error) { return timeFeatureEnum.Marshal(f) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (f *TimeFeature) UnmarshalText(b []byte) error { return timeFeatureEnum.Unmarshal(f, b) }

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

// newEnum describes a meta enum; names[0] is the unset value, "".
func newEnum[T ~int](typ, what string, names []string) *enum.Names[T] {
	return &enum.Names[T]{Pkg: "meta", Type: typ, What: what, Names: names, MaxQuote: 64}
}

// truncate shortens s for error messages.
func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

package meta

import (
	"errors"
	"fmt"
)

// Error classes carried by *ValueError; test with errors.Is.
var (
	// ErrMissing: a value is missing in a column whose policy is error.
	ErrMissing = errors.New("missing value")
	// ErrDropRow: a value is missing in a column whose policy is drop-row;
	// the caller drops the row and reports it.
	ErrDropRow = errors.New("missing value (policy drop-row)")
	// ErrInvalid: the value cannot be parsed for the column's type or is not
	// finite.
	ErrInvalid = errors.New("invalid value")
	// ErrOutOfRange: an index value outside [0, cardinality), or a log1p
	// input <= -1.
	ErrOutOfRange = errors.New("value out of range")
	// ErrUnknownLevel: an ordinal value that is not one of the declared levels.
	ErrUnknownLevel = errors.New("unknown ordinal level")
	// ErrNotFitted: Encode or State called before Fit.
	ErrNotFitted = errors.New("meta: schema is not fitted")
)

// ValueError reports a value the schema cannot encode. Column is the
// manifest column, Value the raw value (possibly empty when missing).
type ValueError struct {
	Column string
	Value  string
	Err    error  // one of the Err* classes above
	Detail string // what was expected, may be empty
}

func (e *ValueError) Error() string {
	msg := fmt.Sprintf("column %q", e.Column)
	if !errors.Is(e.Err, ErrMissing) && !errors.Is(e.Err, ErrDropRow) {
		msg += fmt.Sprintf(": value %q", truncate(e.Value))
	}
	msg += ": " + e.Err.Error()
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

func (e *ValueError) Unwrap() error { return e.Err }

// WarningKind classifies a Warning.
type WarningKind int

// Warning kinds.
const (
	// WarnOOV: a categorical value outside the fitted vocabulary (unseen, or
	// folded as rare) was mapped to the out-of-vocabulary slot or id 0.
	WarnOOV WarningKind = iota + 1
	// WarnMissing: a missing value was filled and flagged (policy indicator).
	WarnMissing
)

func (k WarningKind) String() string {
	switch k {
	case WarnOOV:
		return "out-of-vocabulary"
	case WarnMissing:
		return "missing"
	}
	return fmt.Sprintf("WarningKind(%d)", int(k))
}

// Warning reports a value that was encoded by a fallback rather than rejected.
type Warning struct {
	Column string
	Value  string
	Kind   WarningKind
}

func (w Warning) String() string {
	if w.Kind == WarnMissing {
		return fmt.Sprintf("column %q: missing value filled and flagged", w.Column)
	}
	return fmt.Sprintf("column %q: value %q: %v, encoded as <oov>", w.Column, truncate(w.Value), w.Kind)
}

package eval

import (
	"encoding/json"
	"math"
	"strconv"
)

// Float is a float64 metric that may be undefined. Undefined is NaN in Go
// and null in JSON (encoding/json cannot write NaN); ±Inf is also written as
// null.
type Float float64

// NaN is the undefined Float.
func NaN() Float { return Float(math.NaN()) }

// Defined reports whether f is a finite number.
func (f Float) Defined() bool {
	return !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0)
}

// MarshalJSON writes f as a JSON number, or null when it is not finite.
func (f Float) MarshalJSON() ([]byte, error) {
	if !f.Defined() {
		return []byte("null"), nil
	}
	return json.Marshal(float64(f))
}

// UnmarshalJSON reads a JSON number, or null as NaN.
func (f *Float) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = NaN()
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	*f = Float(v)
	return nil
}

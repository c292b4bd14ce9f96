// Package enum implements String, parsing and text marshalling for the
// typed enums of the data and meta packages: small integer types whose
// names are a slice indexed by value, value 0 being unset (written "").
// Parsing is case-insensitive, ignores surrounding white space, treats '_'
// and '-' alike and reads the empty string as unset.
package enum

import (
	"fmt"
	"strings"
)

// Names describes the enum type T.
type Names[T ~int] struct {
	Pkg      string       // prefix of marshalling errors: "data"
	Type     string       // the Go type's name, for values out of range: "Filter(7)"
	What     string       // the noun of parse errors: "resize filter"
	Names    []string     // indexed by value; Names[0] is the unset value, ""
	Aliases  map[string]T // other accepted spellings, lower case with '-' for '_'
	MaxQuote int          // parse errors quote at most this many bytes of the input
}

// String returns the name of v, "" for unset, or Type(v) out of range.
func (n *Names[T]) String(v T) string {
	if v > 0 && int(v) < len(n.Names) {
		return n.Names[v]
	}
	if v == 0 {
		return ""
	}
	return fmt.Sprintf("%s(%d)", n.Type, int(v))
}

// Parse returns the value named s; the error lists the valid names.
func (n *Names[T]) Parse(s string) (T, error) {
	t := norm(s)
	if t == "" {
		return 0, nil
	}
	if v, ok := n.Aliases[t]; ok {
		return v, nil
	}
	for i, name := range n.Names[1:] {
		if norm(name) == t {
			return T(i + 1), nil
		}
	}
	q := s
	if len(q) > n.MaxQuote {
		q = q[:n.MaxQuote] + "..."
	}
	return 0, fmt.Errorf("unknown %s %q (want one of %s)", n.What, q, strings.Join(n.Names[1:], ", "))
}

// Marshal returns the name of v, "" for unset; a value out of range is an
// error.
func (n *Names[T]) Marshal(v T) ([]byte, error) {
	if v < 0 || int(v) >= len(n.Names) {
		return nil, fmt.Errorf("%s: invalid %s(%d)", n.Pkg, n.Type, int(v))
	}
	return []byte(n.Names[v]), nil
}

// Unmarshal sets *dst to the value named b (unset on error).
func (n *Names[T]) Unmarshal(dst *T, b []byte) error {
	v, err := n.Parse(string(b))
	*dst = v
	return err
}

func norm(s string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "_", "-")
}

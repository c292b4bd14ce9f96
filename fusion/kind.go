package fusion

import (
	"fmt"
	"strings"
)

// Kind names a fusion strategy, as written in the `kind:` key of a model
// spec's fusion list. The zero value is None (image only).
type Kind int

// Fusion kinds.
const (
	KindNone      Kind = iota // image only: the metadata is ignored (the baseline)
	KindEarly                 // metadata broadcast as extra input channels (Early)
	KindConcat                // metadata vector concatenated before the head (Concat)
	KindScaleBias             // per-channel scale and bias from the metadata (ScaleBias)
	KindFiLM                  // feature-wise linear modulation (FiLM)
	KindCBN                   // conditional batch norm (CondBatchNorm)
	KindGate                  // MetaBlock-style metadata-guided gate (Gate)
)

var kindNames = [...]string{"none", "early", "concat", "scalebias", "film", "cbn", "gate"}

// Kinds lists every kind in declaration order.
func Kinds() []Kind {
	ks := make([]Kind, len(kindNames))
	for i := range ks {
		ks[i] = Kind(i)
	}
	return ks
}

// String returns the config name of k ("film", ...).
func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Valid reports whether k is one of the declared kinds.
func (k Kind) Valid() bool { return k >= 0 && int(k) < len(kindNames) }

// ParseKind parses a kind name as String writes it (case-insensitive;
// surrounding white space is ignored).
func ParseKind(s string) (Kind, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	for i, n := range kindNames {
		if n == t {
			return Kind(i), nil
		}
	}
	return 0, fmt.Errorf("unknown fusion kind %q (want one of %s)", s, strings.Join(kindNames[:], ", "))
}

// MarshalText implements encoding.TextMarshaler.
func (k Kind) MarshalText() ([]byte, error) {
	if !k.Valid() {
		return nil, fmt.Errorf("invalid fusion kind %d", int(k))
	}
	return []byte(k.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *Kind) UnmarshalText(b []byte) error {
	v, err := ParseKind(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// Multiplicative reports whether blocks of kind k scale the feature map
// (scalebias, film, cbn, gate); those start as the identity by default.
func (k Kind) Multiplicative() bool {
	return k == KindScaleBias || k == KindFiLM || k == KindCBN || k == KindGate
}

// AtStage reports whether kind k is placed after backbone stages (scalebias,
// film, gate) or inside them (cbn), as opposed to the input (early), the
// head (concat) or nowhere (none).
func (k Kind) AtStage() bool { return k.Multiplicative() }

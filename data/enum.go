package data

import (
	"fmt"
	"strings"
)

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
		return nil, fmt.Errorf("data: invalid %s(%d)", kind, i)
	}
	return []byte(names[i]), nil
}

// parseEnum matches s case-insensitively, treating '_' and '-' alike; the
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

func truncate(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

// ResizeMode is how an image is brought to the target size. The zero value
// is unset and means Stretch.
type ResizeMode int

// Resize modes.
const (
	ResizeUnset ResizeMode = iota
	Stretch                // scale both axes independently to the target
	FitPad                 // scale to fit inside, keep aspect, centre, pad with Background
	CenterCrop             // crop the largest centred region of the target aspect, then scale
)

var resizeNames = []string{"", "stretch", "fit-pad", "center-crop"}

func (m ResizeMode) String() string { return enumString("ResizeMode", int(m), resizeNames) }

// ParseResizeMode parses "stretch", "fit-pad" or "center-crop" ("centre-crop"
// is accepted too).
func ParseResizeMode(s string) (ResizeMode, error) {
	if strings.EqualFold(strings.ReplaceAll(strings.TrimSpace(s), "_", "-"), "centre-crop") {
		return CenterCrop, nil
	}
	i, err := parseEnum("resize mode", s, resizeNames)
	return ResizeMode(i), err
}

// MarshalText implements encoding.TextMarshaler.
func (m ResizeMode) MarshalText() ([]byte, error) {
	return marshalEnum("ResizeMode", int(m), resizeNames)
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *ResizeMode) UnmarshalText(b []byte) error {
	v, err := ParseResizeMode(string(b))
	*m = v
	return err
}

// Filter is the resampling filter. The zero value is unset and means CatmullRom.
type Filter int

// Resampling filters (golang.org/x/image/draw).
const (
	FilterUnset Filter = iota
	CatmullRom         // bicubic Catmull-Rom: sharp, the default
	Bilinear           // draw.ApproxBiLinear: fast
	Nearest            // nearest neighbour: for masks and tests
)

var filterNames = []string{"", "catmull-rom", "bilinear", "nearest"}

func (f Filter) String() string { return enumString("Filter", int(f), filterNames) }

// ParseFilter parses "catmull-rom", "bilinear" or "nearest".
func ParseFilter(s string) (Filter, error) {
	i, err := parseEnum("resize filter", s, filterNames)
	return Filter(i), err
}

// MarshalText implements encoding.TextMarshaler.
func (f Filter) MarshalText() ([]byte, error) { return marshalEnum("Filter", int(f), filterNames) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (f *Filter) UnmarshalText(b []byte) error {
	v, err := ParseFilter(string(b))
	*f = v
	return err
}

// BadRowPolicy says what a bad row does. The zero value is unset and means Stop.
type BadRowPolicy int

// Bad-row policies.
const (
	BadRowUnset BadRowPolicy = iota
	Stop                     // fail, listing the first problems ("error" on the command line)
	Skip                     // leave the row out and report it
)

var policyNames = []string{"", "error", "skip"}

func (p BadRowPolicy) String() string { return enumString("BadRowPolicy", int(p), policyNames) }

// ParseBadRowPolicy parses "error" (also "stop") or "skip".
func ParseBadRowPolicy(s string) (BadRowPolicy, error) {
	if strings.EqualFold(strings.TrimSpace(s), "stop") {
		return Stop, nil
	}
	i, err := parseEnum("bad-row policy", s, policyNames)
	return BadRowPolicy(i), err
}

// MarshalText implements encoding.TextMarshaler.
func (p BadRowPolicy) MarshalText() ([]byte, error) {
	return marshalEnum("BadRowPolicy", int(p), policyNames)
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *BadRowPolicy) UnmarshalText(b []byte) error {
	v, err := ParseBadRowPolicy(string(b))
	*p = v
	return err
}

func (p BadRowPolicy) skip() bool { return p == Skip }

var imageCheckNames = []string{"", "header", "decode", "none"}

func (c ImageCheck) String() string { return enumString("ImageCheck", int(c), imageCheckNames) }

// ParseImageCheck parses "header", "decode" or "none".
func ParseImageCheck(s string) (ImageCheck, error) {
	i, err := parseEnum("image check", s, imageCheckNames)
	return ImageCheck(i), err
}

// MarshalText implements encoding.TextMarshaler.
func (c ImageCheck) MarshalText() ([]byte, error) {
	return marshalEnum("ImageCheck", int(c), imageCheckNames)
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (c *ImageCheck) UnmarshalText(b []byte) error {
	v, err := ParseImageCheck(string(b))
	*c = v
	return err
}

// Border is what a geometric augmentation puts where it samples outside
// the image. The zero value is unset and means BorderReflect.
type Border int

// Border modes.
const (
	BorderUnset   Border = iota
	BorderReflect        // mirror about the edge, not repeating it: c b | a b c d | c b
	BorderEdge           // repeat the edge pixel
	BorderZero           // zero (black before normalisation)
)

var borderNames = []string{"", "reflect", "edge", "zero"}

func (b Border) String() string { return enumString("Border", int(b), borderNames) }

// ParseBorder parses "reflect", "edge" or "zero" ("constant" is accepted
// for zero).
func ParseBorder(s string) (Border, error) {
	if strings.EqualFold(strings.TrimSpace(s), "constant") {
		return BorderZero, nil
	}
	i, err := parseEnum("border mode", s, borderNames)
	return Border(i), err
}

// MarshalText implements encoding.TextMarshaler.
func (b Border) MarshalText() ([]byte, error) { return marshalEnum("Border", int(b), borderNames) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (b *Border) UnmarshalText(bs []byte) error {
	v, err := ParseBorder(string(bs))
	*b = v
	return err
}

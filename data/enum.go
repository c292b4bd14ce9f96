package data

import "github.com/metacnn/metacnn/internal/enum"

// newEnum describes a data enum; names[0] is the unset value, "".
func newEnum[T ~int](typ, what string, names []string, aliases map[string]T) *enum.Names[T] {
	return &enum.Names[T]{Pkg: "data", Type: typ, What: what, Names: names, Aliases: aliases, MaxQuote: 80}
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

var resizeModes = newEnum("ResizeMode", "resize mode", []string{"", "stretch", "fit-pad", "center-crop"},
	map[string]ResizeMode{"centre-crop": CenterCrop})

func (m ResizeMode) String() string { return resizeModes.String(m) }

// ParseResizeMode parses "stretch", "fit-pad" or "center-crop" ("centre-crop"
// is accepted too).
func ParseResizeMode(s string) (ResizeMode, error) { return resizeModes.Parse(s) }

// MarshalText implements encoding.TextMarshaler.
func (m ResizeMode) MarshalText() ([]byte, error) { return resizeModes.Marshal(m) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *ResizeMode) UnmarshalText(b []byte) error { return resizeModes.Unmarshal(m, b) }

// Filter is the resampling filter. The zero value is unset and means CatmullRom.
type Filter int

// Resampling filters (golang.org/x/image/draw).
const (
	FilterUnset Filter = iota
	CatmullRom         // bicubic Catmull-Rom: sharp, the default
	Bilinear           // draw.ApproxBiLinear: fast
	Nearest            // nearest neighbour: for masks and tests
)

var filters = newEnum[Filter]("Filter", "resize filter", []string{"", "catmull-rom", "bilinear", "nearest"}, nil)

func (f Filter) String() string { return filters.String(f) }

// ParseFilter parses "catmull-rom", "bilinear" or "nearest".
func ParseFilter(s string) (Filter, error) { return filters.Parse(s) }

// MarshalText implements encoding.TextMarshaler.
func (f Filter) MarshalText() ([]byte, error) { return filters.Marshal(f) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (f *Filter) UnmarshalText(b []byte) error { return filters.Unmarshal(f, b) }

// BadRowPolicy says what a bad row does. The zero value is unset and means Stop.
type BadRowPolicy int

// Bad-row policies.
const (
	BadRowUnset BadRowPolicy = iota
	Stop                     // fail, listing the first problems ("error" on the command line)
	Skip                     // leave the row out and report it
)

var policies = newEnum("BadRowPolicy", "bad-row policy", []string{"", "error", "skip"}, map[string]BadRowPolicy{"stop": Stop})

func (p BadRowPolicy) String() string { return policies.String(p) }

// ParseBadRowPolicy parses "error" (also "stop") or "skip".
func ParseBadRowPolicy(s string) (BadRowPolicy, error) { return policies.Parse(s) }

// MarshalText implements encoding.TextMarshaler.
func (p BadRowPolicy) MarshalText() ([]byte, error) { return policies.Marshal(p) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *BadRowPolicy) UnmarshalText(b []byte) error { return policies.Unmarshal(p, b) }

func (p BadRowPolicy) skip() bool { return p == Skip }

var imageChecks = newEnum[ImageCheck]("ImageCheck", "image check", []string{"", "header", "decode", "none"}, nil)

func (c ImageCheck) String() string { return imageChecks.String(c) }

// ParseImageCheck parses "header", "decode" or "none".
func ParseImageCheck(s string) (ImageCheck, error) { return imageChecks.Parse(s) }

// MarshalText implements encoding.TextMarshaler.
func (c ImageCheck) MarshalText() ([]byte, error) { return imageChecks.Marshal(c) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (c *ImageCheck) UnmarshalText(b []byte) error { return imageChecks.Unmarshal(c, b) }

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

var borders = newEnum("Border", "border mode", []string{"", "reflect", "edge", "zero"}, map[string]Border{"constant": BorderZero})

func (b Border) String() string { return borders.String(b) }

// ParseBorder parses "reflect", "edge" or "zero" ("constant" is accepted
// for zero).
func ParseBorder(s string) (Border, error) { return borders.Parse(s) }

// MarshalText implements encoding.TextMarshaler.
func (b Border) MarshalText() ([]byte, error) { return borders.Marshal(b) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (b *Border) UnmarshalText(bs []byte) error { return borders.Unmarshal(b, bs) }

package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/meta"
	"github.com/metacnn/metacnn/tensor"
)

// Bundle is a network with everything needed to use it on new data: how
// images are preprocessed, how metadata rows are encoded, and what the
// outputs mean. It is what a model file (.mcnn) holds; see Save and Load.
type Bundle struct {
	// Spec is the architecture: a preset (Spec.Arch, e.g. seed-film) or a
	// full spec with every default filled in.
	Spec Spec
	// Input is the image shape the network takes, [C, H, W].
	Input [3]int
	// Schema is the fitted metadata encoder; nil when the model reads no
	// metadata columns. Seed presets always have SeedSchema's.
	Schema *meta.Schema
	// Image says how an image file becomes the network's input; its
	// Shape() equals Input.
	Image data.ImageOptions
	// Classes names the outputs, in logit order.
	Classes []string
	// Training is a free-form summary of how the model was made (epochs,
	// metrics, data, source of imported weights); nil means none. Its values
	// must marshal to JSON.
	Training map[string]any
	// Net is the network, in evaluation mode.
	Net Network

	// Version is the format version of the file the bundle was loaded from,
	// or FormatVersion once saved; 0 for a bundle never saved or loaded.
	Version int
	// WeightsSHA256 is the hex SHA-256 of the weights entry, set by Save
	// and Load.
	WeightsSHA256 string

	header []byte // model.json as last written or read
}

// Header returns the model.json entry as last saved or loaded, nil before.
func (b *Bundle) Header() json.RawMessage { return bytes.Clone(b.header) }

// Seed preset conventions fixed by DESIGN.md: 56x56 RGB images scaled to
// [0, 1] without normalisation, classes "0" and "1", and the metadata
// columns of SeedSchema.
var SeedClasses = []string{"0", "1"}

// SeedImageOptions returns the seed presets' image preprocessing: 56x56 RGB,
// stretched with Catmull-Rom when the source has another size, pixels/255,
// no normalisation.
func SeedImageOptions() data.ImageOptions {
	return data.ImageOptions{Width: SeedImageSize, Height: SeedImageSize, Channels: 3, Resize: data.Stretch, Filter: data.CatmullRom}
}

// SeedColumns returns the metadata columns a seed preset reads, fed raw
// (DESIGN.md, "Seed architectures"): seed-concat reads operator_id, an
// integer 0..9 used as the embedding index itself; seed-scalebias reads
// temperature, one float; seed-film reads m1 and m2, two floats. A missing
// or malformed value is an error.
func SeedColumns(arch string) ([]meta.ColumnSpec, error) {
	switch arch {
	case SeedConcat:
		return []meta.ColumnSpec{{Name: "operator_id", Type: meta.Categorical, Encoding: meta.Index, Cardinality: seedOperators, Dim: seedOpEmbedDim}}, nil
	case SeedScaleBias:
		return []meta.ColumnSpec{{Name: "temperature", Type: meta.Numeric, Scale: meta.Raw}}, nil
	case SeedFiLM:
		return []meta.ColumnSpec{{Name: "m1", Type: meta.Numeric, Scale: meta.Raw}, {Name: "m2", Type: meta.Numeric, Scale: meta.Raw}}, nil
	}
	return nil, fmt.Errorf("unknown seed architecture %q (want one of %v)", arch, SeedArchs)
}

// SeedSchema returns the fitted schema of SeedColumns(arch). Raw columns
// learn nothing, so it needs no data.
func SeedSchema(arch string) (*meta.Schema, error) {
	cols, err := SeedColumns(arch)
	if err != nil {
		return nil, err
	}
	st := meta.State{Version: meta.StateVersion}
	for _, c := range cols {
		st.Columns = append(st.Columns, meta.ColumnState{Spec: c})
	}
	return meta.FromState(st)
}

// SeedArchOf returns the preset name of a network NewSeed made, or "" for
// any other network.
func SeedArchOf(net Network) string {
	switch net.(type) {
	case *seedConcat:
		return SeedConcat
	case *seedScaleBias:
		return SeedScaleBias
	case *seedFiLM:
		return SeedFiLM
	}
	return ""
}

// NewBundle wraps a network for saving and prediction, checking that the
// pieces agree: the schema's encoded width and id columns are what the
// network was built for, image gives the network's input shape, and there
// is one class name per output. net is switched to evaluation mode.
//
// For a seed preset (from NewSeed) a nil schema, zero image options and nil
// classes mean the preset's fixed ones (SeedSchema, SeedImageOptions,
// SeedClasses); a schema given must be SeedSchema's. For a *Net (from
// Build) all three are required, except the schema of an image-only
// network, which may be nil.
func NewBundle(net Network, schema *meta.Schema, image data.ImageOptions, classes []string) (*Bundle, error) {
	b := &Bundle{Schema: schema, Image: image, Classes: slices.Clone(classes), Net: net}
	if arch := SeedArchOf(net); arch != "" {
		b.Spec = Spec{Arch: arch}
		b.Input = [3]int{3, SeedImageSize, SeedImageSize}
		if b.Schema == nil {
			s, err := SeedSchema(arch)
			if err != nil {
				return nil, err
			}
			b.Schema = s
		}
		if image.Width == 0 && image.Height == 0 {
			b.Image = SeedImageOptions()
		}
		if b.Classes == nil {
			b.Classes = slices.Clone(SeedClasses)
		}
	} else if n, ok := net.(*Net); ok {
		b.Spec = n.Spec()
		b.Input = n.InputShape()
	} else {
		return nil, fmt.Errorf("model: cannot bundle a %T: want a network from NewSeed or Build", net)
	}
	b.Image = withImageDefaults(b.Image)
	if err := b.check(); err != nil {
		return nil, err
	}
	net.SetTraining(false)
	return b, nil
}

func withImageDefaults(o data.ImageOptions) data.ImageOptions {
	if o.Channels == 0 {
		o.Channels = 3
	}
	if o.Resize == data.ResizeUnset {
		o.Resize = data.Stretch
	}
	if o.Filter == data.FilterUnset {
		o.Filter = data.CatmullRom
	}
	return o
}

// check verifies that the bundle's parts agree with each other.
func (b *Bundle) check() error {
	if b.Net == nil {
		return errors.New("model: bundle has no network")
	}
	if err := b.Image.Validate(); err != nil {
		return fmt.Errorf("model: image preprocessing: %w", err)
	}
	if s := b.Image.Shape(); s[0] != b.Input[0] || s[1] != b.Input[1] || s[2] != b.Input[2] {
		return fmt.Errorf("model: image preprocessing gives %dx%dx%d (channels x height x width), the network takes %dx%dx%d",
			s[0], s[1], s[2], b.Input[0], b.Input[1], b.Input[2])
	}
	if err := checkClasses(b.Classes); err != nil {
		return err
	}
	if b.Schema != nil && !b.Schema.Fitted() {
		return errors.New("model: metadata schema is not fitted")
	}
	if arch := b.Spec.Arch; arch != "" {
		if SeedArchOf(b.Net) != arch {
			return fmt.Errorf("model: spec names preset %s, the network is a %T", arch, b.Net)
		}
		if len(b.Classes) != seedClasses {
			return fmt.Errorf("model: preset %s has %d outputs, got %d class names", arch, seedClasses, len(b.Classes))
		}
		want, err := SeedSchema(arch)
		if err != nil {
			return err
		}
		if !sameSchema(b.Schema, want) {
			return fmt.Errorf("model: preset %s reads the metadata columns %v, fed raw; the schema differs", arch, want.Columns())
		}
		return nil
	}
	n, ok := b.Net.(*Net)
	if !ok {
		return fmt.Errorf("model: a spec-built bundle needs a *Net, got %T", b.Net)
	}
	if len(b.Classes) != n.classes {
		return fmt.Errorf("model: the network has %d outputs, got %d class names", n.classes, len(b.Classes))
	}
	if n.tower == nil {
		return nil
	}
	if b.Schema == nil {
		return errors.New("model: the network reads metadata but the bundle has no schema")
	}
	if w := b.Schema.Width(); w != n.tower.dense {
		return fmt.Errorf("model: the schema encodes %d dense metadata values, the network was built for %d", w, n.tower.dense)
	}
	if got := b.Schema.IDSlots(); !slices.Equal(got, n.tower.slots) {
		return fmt.Errorf("model: the schema's id columns %v differ from the network's %v", got, n.tower.slots)
	}
	return nil
}

func checkClasses(cs []string) error {
	if len(cs) < 2 {
		return fmt.Errorf("model: %d class names, want at least 2", len(cs))
	}
	seen := make(map[string]bool, len(cs))
	for i, c := range cs {
		if c == "" {
			return fmt.Errorf("model: class %d has an empty name", i)
		}
		if seen[c] {
			return fmt.Errorf("model: class %q is listed twice", c)
		}
		seen[c] = true
	}
	return nil
}

func sameSchema(a, b *meta.Schema) bool {
	if a == nil || b == nil {
		return a == b
	}
	ja, err1 := a.MarshalJSON()
	jb, err2 := b.MarshalJSON()
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// Predict computes logits [N, len(Classes)] for images [N, C, H, W],
// preprocessed as b.Image says (data.LoadImage or data.DecodeImage with
// b.Image), and one metadata row per image (column name -> raw value, as in
// a manifest; rows may be nil for an image-only model). A nil row in a
// model with metadata means "metadata absent": allowed only for a network
// trained with modality dropout, which is what it learned to handle.
// Encoding fallbacks (unseen categories, filled missing values) are
// returned per row in warns (nil when a row has none); a value that cannot
// be encoded is an error naming the row (0-based) and column.
func (b *Bundle) Predict(images *tensor.Tensor, rows []map[string]string) (logits *tensor.Tensor, warns [][]meta.Warning, err error) {
	s := images.Shape()
	if len(s) != 4 || s[1] != b.Input[0] || s[2] != b.Input[1] || s[3] != b.Input[2] {
		return nil, nil, fmt.Errorf("model: images have shape %v, want [N, %d, %d, %d]", s, b.Input[0], b.Input[1], b.Input[2])
	}
	n := s[0]
	if n == 0 {
		return tensor.New(0, len(b.Classes)), nil, nil
	}
	in := Inputs{Images: autograd.Const(images)}
	if b.usesMeta() {
		if len(rows) != n {
			return nil, nil, fmt.Errorf("model: %d images but %d metadata rows", n, len(rows))
		}
		var missing []bool
		in, missing, warns, err = b.encodeRows(in, rows)
		if err != nil {
			return nil, warns, err
		}
		in.MetaMissing = missing
	} else if rows != nil && len(rows) != n {
		return nil, nil, fmt.Errorf("model: %d images but %d metadata rows", n, len(rows))
	}
	tp := autograd.NewInferenceTape()
	defer tp.Release()
	return b.Net.Forward(tp, in).Value.Clone(), warns, nil // copied out before Release
}

func (b *Bundle) usesMeta() bool {
	if n, ok := b.Net.(*Net); ok {
		return n.tower != nil
	}
	return b.Spec.Arch != ""
}

// encodeRows fills in.Meta and in.IDs from rows and marks the nil rows
// (metadata absent) in missing (nil when there are none).
func (b *Bundle) encodeRows(in Inputs, rows []map[string]string) (Inputs, []bool, [][]meta.Warning, error) {
	n, width, nIDs := len(rows), b.Schema.Width(), b.Schema.NumIDs()
	dense := tensor.New(n, width)
	ids := make([][]int, nIDs)
	for j := range ids {
		ids[j] = make([]int, n)
	}
	var missing []bool
	var warns [][]meta.Warning
	rowIDs := make([]int, nIDs)
	for i, row := range rows {
		if row == nil {
			net, ok := b.Net.(*Net)
			if !ok || net.spec.ModalityDropout == 0 {
				return in, nil, warns, fmt.Errorf("model: row %d has no metadata, and the model was not trained to do without (modality_dropout 0)", i)
			}
			if missing == nil {
				missing = make([]bool, n)
			}
			missing[i] = true
			continue
		}
		w, err := b.Schema.EncodeInto(row, dense.Data()[i*width:(i+1)*width], rowIDs)
		if len(w) > 0 {
			if warns == nil {
				warns = make([][]meta.Warning, n)
			}
			warns[i] = w
		}
		if err != nil {
			return in, nil, warns, fmt.Errorf("model: row %d: %w", i, err)
		}
		for j, id := range rowIDs {
			ids[j][i] = id
		}
	}
	if width > 0 {
		in.Meta = autograd.Const(dense)
	}
	if nIDs > 0 {
		in.IDs = ids
	}
	return in, missing, warns, nil
}

package model

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/meta"
	"github.com/metacnn/metacnn/nn"
	"github.com/metacnn/metacnn/safetensors"
	"github.com/metacnn/metacnn/tensor"
)

// The model file (.mcnn) is a zip archive of exactly two entries, in this
// order:
//
//	model.json           what the network is and how to feed it (fileJSON)
//	weights.safetensors  every parameter and buffer by its state_dict name:
//	                     F32, except integer buffers (num_batches_tracked) in
//	                     I64, with metadata {"format": "pt"}, so a seed
//	                     preset's weights load into the document's PyTorch
//	                     models unchanged
//
// model.json records the size and SHA-256 of the weights entry; the zip
// format's CRC-32 covers model.json itself. Files are written atomically
// and byte for byte reproducibly (fixed entry times).
const (
	// FormatVersion is the model file format this build writes, and the
	// newest it reads.
	FormatVersion = 1

	EntryModel   = "model.json"
	EntryWeights = "weights.safetensors"
)

// Limits on what Load accepts.
const (
	MaxModelJSONBytes = 16 << 20
	MaxWeightsBytes   = 16 << 30
)

// fileJSON is model.json. Unknown keys are errors.
type fileJSON struct {
	// FormatVersion is FormatVersion of the writer.
	FormatVersion int `json:"format_version"`
	// Arch names a preset (seed-concat, seed-scalebias, seed-film); Spec is
	// then absent.
	Arch string `json:"arch,omitempty"`
	// Spec is the full architecture, every default filled in; absent for a
	// preset.
	Spec *Spec `json:"spec,omitempty"`
	// Input is the network's image shape [C, H, W].
	Input [3]int `json:"input"`
	// Metadata is the fitted encoder state (meta.State); null for a model
	// that reads no metadata. A preset's may be null, meaning SeedSchema.
	Metadata *meta.State `json:"metadata"`
	// Image is the preprocessing from file to input.
	Image imageJSON `json:"image"`
	// Classes names the logits, in order.
	Classes []string `json:"classes"`
	// Training is a free-form summary object.
	Training map[string]any `json:"training"`
	// Entries records the size and SHA-256 of each entry other than
	// model.json.
	Entries map[string]entryJSON `json:"entries"`
}

// imageJSON is data.ImageOptions without the limits (which belong to the
// deployment, not the model), every default spelled out. Pixels are scaled
// to [0, 1] (value/255) and then, when mean and std are set, normalised per
// channel as (x - mean)/std.
type imageJSON struct {
	Width      int             `json:"width"`
	Height     int             `json:"height"`
	Channels   int             `json:"channels"`
	Resize     data.ResizeMode `json:"resize"`
	Filter     data.Filter     `json:"filter"`
	Background [3]uint8        `json:"background"`
	Mean       []float32       `json:"mean"`
	Std        []float32       `json:"std"`
}

type entryJSON struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

func toImageJSON(o data.ImageOptions) imageJSON {
	o = withImageDefaults(o)
	return imageJSON{Width: o.Width, Height: o.Height, Channels: o.Channels, Resize: o.Resize, Filter: o.Filter,
		Background: o.Background, Mean: o.Mean, Std: o.Std}
}

func (j imageJSON) options() data.ImageOptions {
	return data.ImageOptions{Width: j.Width, Height: j.Height, Channels: j.Channels, Resize: j.Resize, Filter: j.Filter,
		Background: j.Background, Mean: j.Mean, Std: j.Std}
}

// Save writes b to path as a model file, atomically: a temporary file in
// the same directory is written, synced and renamed over path, so readers
// see the old file or the complete new one. It sets b.Version and
// b.WeightsSHA256.
func Save(path string, b *Bundle) error {
	var buf bytes.Buffer
	if err := Write(&buf, b); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("model: write %s: %w", path, err)
	}
	_, err = f.Write(buf.Bytes())
	if err == nil {
		err = f.Chmod(0o644) // CreateTemp makes it 0600
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("model: write %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil { // make the rename durable where possible
		d.Sync()
		d.Close()
	}
	return nil
}

// Write encodes b as a model file into w. It sets b.Version and
// b.WeightsSHA256.
func Write(w io.Writer, b *Bundle) error {
	if err := b.check(); err != nil {
		return err
	}
	var wbuf bytes.Buffer
	if err := safetensors.Encode(&wbuf, weightEntries(b.Net), map[string]string{"format": "pt"}); err != nil {
		return fmt.Errorf("model: weights: %w", err)
	}
	sum := sha256.Sum256(wbuf.Bytes())
	fj := fileJSON{
		FormatVersion: FormatVersion,
		Input:         b.Input,
		Image:         toImageJSON(b.Image),
		Classes:       b.Classes,
		Training:      b.Training,
		Entries:       map[string]entryJSON{EntryWeights: {Size: int64(wbuf.Len()), SHA256: hex.EncodeToString(sum[:])}},
	}
	if b.Spec.Arch != "" {
		fj.Arch = b.Spec.Arch
	} else {
		s := b.Spec.WithDefaults()
		fj.Spec = &s
	}
	if b.Schema != nil {
		st, err := b.Schema.State()
		if err != nil {
			return fmt.Errorf("model: metadata schema: %w", err)
		}
		fj.Metadata = &st
	}
	if fj.Training == nil {
		fj.Training = map[string]any{}
	}
	header, err := json.MarshalIndent(fj, "", "  ")
	if err != nil {
		return fmt.Errorf("model: model.json: %w", err)
	}
	header = append(header, '\n')

	zw := zip.NewWriter(w)
	for _, e := range []struct {
		name   string
		method uint16
		data   []byte
	}{
		{EntryModel, zip.Deflate, header},
		// Stored: float weights barely compress, and stored bytes can be
		// read (or mapped) in place.
		{EntryWeights, zip.Store, wbuf.Bytes()},
	} {
		ew, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: e.method})
		if err != nil {
			return fmt.Errorf("model: %w", err)
		}
		if _, err := ew.Write(e.data); err != nil {
			return fmt.Errorf("model: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	b.Version, b.WeightsSHA256, b.header = FormatVersion, fj.Entries[EntryWeights].SHA256, header
	return nil
}

// weightEntries lists every parameter and buffer of net: F32, or I64 for
// integer buffers.
func weightEntries(net nn.Module) []safetensors.Entry {
	ps := net.Params()
	es := make([]safetensors.Entry, len(ps))
	for i, p := range ps {
		if p.Integer {
			vals := make([]int64, p.Var.Value.Len())
			for j, v := range p.Var.Value.Data() {
				vals[j] = int64(v)
			}
			es[i] = safetensors.I64(p.Name, vals, p.Var.Shape()...)
		} else {
			es[i] = safetensors.F32(p.Name, p.Var.Value)
		}
	}
	return es
}

// Load reads and validates the model file at path. Every error names the
// file and says what is wrong: not a model file, a newer format version,
// missing or unknown entries, a checksum mismatch (corruption), truncation,
// invalid model.json (unknown keys included), or weights that do not fit
// the network (missing, unexpected, mis-shaped or mistyped tensors).
func Load(path string) (*Bundle, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("model: %s is not a regular file", path)
	}
	b, err := LoadReader(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// LoadReader is Load on size bytes of r. It treats its input as hostile:
// sizes are checked before anything sized by them is allocated, and a
// malformed file is an error, never a panic.
func LoadReader(r io.ReaderAt, size int64) (*Bundle, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		if size == 0 {
			return nil, errors.New("not a model file: it is empty")
		}
		return nil, fmt.Errorf("not a model file (a zip archive holding %s and %s), or truncated: %w", EntryModel, EntryWeights, err)
	}
	var modelF, weightsF *zip.File
	for _, zf := range zr.File {
		switch zf.Name {
		case EntryModel:
			if modelF != nil {
				return nil, fmt.Errorf("model file lists %s twice", EntryModel)
			}
			modelF = zf
		case EntryWeights:
			if weightsF != nil {
				return nil, fmt.Errorf("model file lists %s twice", EntryWeights)
			}
			weightsF = zf
		default:
			return nil, fmt.Errorf("model file has an unknown entry %q (want only %s and %s)", truncateName(zf.Name), EntryModel, EntryWeights)
		}
	}
	if modelF == nil {
		return nil, fmt.Errorf("model file has no %s entry", EntryModel)
	}
	if weightsF == nil {
		return nil, fmt.Errorf("model file has no %s entry", EntryWeights)
	}

	header, err := readEntry(modelF, MaxModelJSONBytes, size)
	if err != nil {
		return nil, err
	}
	fj, err := decodeFileJSON(header)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EntryModel, err)
	}
	rec, ok := fj.Entries[EntryWeights]
	if !ok {
		return nil, fmt.Errorf("%s: entries: no checksum for %s", EntryModel, EntryWeights)
	}
	for name := range fj.Entries {
		if name != EntryWeights {
			return nil, fmt.Errorf("%s: entries: unknown entry %q", EntryModel, truncateName(name))
		}
	}
	want, err := hex.DecodeString(rec.SHA256)
	if err != nil || len(want) != sha256.Size {
		return nil, fmt.Errorf("%s: entries: %s: sha256 %q is not 64 hex digits", EntryModel, EntryWeights, truncateName(rec.SHA256))
	}
	if rec.Size < 0 || rec.Size > MaxWeightsBytes {
		return nil, fmt.Errorf("%s: entries: %s: size %d out of range", EntryModel, EntryWeights, rec.Size)
	}
	if weightsF.UncompressedSize64 != uint64(rec.Size) {
		return nil, fmt.Errorf("%s is %d bytes, %s records %d: the file is corrupt", EntryWeights, weightsF.UncompressedSize64, EntryModel, rec.Size)
	}
	wdata, err := readEntry(weightsF, MaxWeightsBytes, size)
	if err != nil {
		return nil, err
	}
	if got := sha256.Sum256(wdata); !bytes.Equal(got[:], want) {
		return nil, fmt.Errorf("%s fails its checksum (sha256 %x, %s records %s): the file is corrupt", EntryWeights, got[:8], EntryModel, rec.SHA256[:16])
	}
	sf, err := safetensors.Decode(wdata)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EntryWeights, err)
	}

	b, err := fj.bundle(sf)
	if err != nil {
		return nil, err
	}
	b.Version, b.WeightsSHA256, b.header = fj.FormatVersion, rec.SHA256, header
	return b, nil
}

func truncateName(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// readEntry reads a zip entry whole, at most limit bytes. fileSize bounds
// the up-front allocation of stored entries.
func readEntry(zf *zip.File, limit, fileSize int64) ([]byte, error) {
	if zf.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("%s is %d bytes, over the limit of %d", zf.Name, zf.UncompressedSize64, limit)
	}
	if zf.Method != zip.Store && zf.Method != zip.Deflate {
		return nil, fmt.Errorf("%s uses zip compression method %d; want stored (0) or deflate (8)", zf.Name, zf.Method)
	}
	rc, err := zf.Open()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", zf.Name, err)
	}
	defer rc.Close()
	var buf bytes.Buffer
	if n := int64(zf.UncompressedSize64); n <= fileSize {
		buf.Grow(int(n))
	}
	n, err := io.Copy(&buf, io.LimitReader(rc, int64(zf.UncompressedSize64)+1))
	switch {
	case errors.Is(err, zip.ErrChecksum):
		return nil, fmt.Errorf("%s fails its CRC-32 check: the file is corrupt", zf.Name)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return nil, fmt.Errorf("%s is truncated", zf.Name)
	case err != nil:
		return nil, fmt.Errorf("%s is unreadable (corrupt or truncated): %w", zf.Name, err)
	case uint64(n) != zf.UncompressedSize64:
		return nil, fmt.Errorf("%s holds %d bytes, its zip header says %d: the file is corrupt", zf.Name, n, zf.UncompressedSize64)
	}
	return buf.Bytes(), nil
}

// decodeFileJSON checks the format version first, so that a newer file
// gets a version error rather than one about keys it does not know.
func decodeFileJSON(b []byte) (*fileJSON, error) {
	var v struct {
		FormatVersion *int `json:"format_version"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	switch {
	case v.FormatVersion == nil:
		return nil, errors.New("no format_version: not a metacnn model file")
	case *v.FormatVersion > FormatVersion:
		return nil, fmt.Errorf("format version %d is newer than this build of metacnn reads (%d): upgrade metacnn to load it", *v.FormatVersion, FormatVersion)
	case *v.FormatVersion < 1:
		return nil, fmt.Errorf("invalid format version %d", *v.FormatVersion)
	}
	var fj fileJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fj); err != nil {
		return nil, fmt.Errorf("invalid: %w", err)
	}
	if dec.More() {
		return nil, errors.New("invalid: trailing data after the JSON object")
	}
	return &fj, nil
}

// bundle builds the network model.json describes and loads the weights
// into it.
func (fj *fileJSON) bundle(sf *safetensors.File) (*Bundle, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s", EntryModel, fmt.Sprintf(format, args...))
	}
	b := &Bundle{Input: fj.Input, Image: fj.Image.options(), Classes: fj.Classes, Training: fj.Training}
	if err := b.Image.Validate(); err != nil {
		return nil, bad("image: %v", err)
	}
	if s := b.Image.Shape(); s[0] != b.Input[0] || s[1] != b.Input[1] || s[2] != b.Input[2] {
		return nil, bad("image preprocessing gives %v, input is %v", s, b.Input)
	}
	if err := checkClasses(fj.Classes); err != nil {
		return nil, bad("classes: %v", strings.TrimPrefix(err.Error(), "model: "))
	}
	if fj.Metadata != nil {
		s, err := meta.FromState(*fj.Metadata)
		if err != nil {
			return nil, bad("metadata: %v", err)
		}
		b.Schema = s
	}
	switch {
	case fj.Arch != "" && fj.Spec != nil:
		return nil, bad("both arch and spec are set; a preset (arch) fixes the whole model")
	case fj.Arch != "":
		net, err := NewSeed(fj.Arch, rand.New(rand.NewPCG(0, 0)))
		if err != nil {
			return nil, bad("arch: %v", err)
		}
		if b.Input != [3]int{3, SeedImageSize, SeedImageSize} {
			return nil, bad("preset %s takes 3x56x56 images, input is %v", fj.Arch, b.Input)
		}
		if b.Schema == nil {
			if b.Schema, err = SeedSchema(fj.Arch); err != nil {
				return nil, err
			}
		}
		b.Spec, b.Net = Spec{Arch: fj.Arch}, net
	case fj.Spec != nil:
		spec := *fj.Spec
		if spec.Arch != "" {
			return nil, bad("spec.arch is set; a preset is written as arch")
		}
		if err := spec.Validate(); err != nil {
			return nil, bad("%v", err)
		}
		width, slots := 0, []meta.IDSlot(nil)
		if b.Schema != nil {
			width, slots = b.Schema.Width(), b.Schema.IDSlots()
		}
		// Refuse a network far larger than the weights before building it,
		// so a hostile model.json cannot make Build allocate without bound.
		if need, have := minParams(spec, b.Input, width, slots, len(b.Classes)), storedValues(sf); need > float64(have) {
			return nil, bad("spec describes a network of at least %.0f parameter values, but %s holds only %d", need, EntryWeights, have)
		}
		net, err := Build(spec, b.Input, width, slots, len(b.Classes), rand.New(rand.NewPCG(0, 0)))
		if err != nil {
			return nil, bad("%v", err)
		}
		b.Spec, b.Net = net.(*Net).Spec(), net
	default:
		return nil, bad("neither arch nor spec is set")
	}
	if err := loadWeights(b.Net.Params(), sf, nil, true); err != nil {
		return nil, fmt.Errorf("%s: %w", EntryWeights, err)
	}
	if err := b.check(); err != nil {
		return nil, bad("%v", strings.TrimPrefix(err.Error(), "model: "))
	}
	b.Net.SetTraining(false)
	return b, nil
}

func storedValues(sf *safetensors.File) int64 {
	var n int64
	for _, name := range sf.Names() {
		e, _ := sf.Entry(name)
		n += int64(tensor.NumElements(e.Shape))
	}
	return n
}

// minParams is a lower bound on the parameter values of the network Build
// makes from spec: its largest weight matrices and kernels. Cheap, and never
// above the true count.
func minParams(spec Spec, input [3]int, metaWidth int, slots []meta.IDSlot, classes int) float64 {
	s := spec.WithDefaults()
	c, h, w := float64(input[0]), input[1], input[2]
	total := 0.0
	switch s.Backbone.Kind {
	case BackboneSeed:
		for _, width := range s.Backbone.Widths {
			total += c * float64(width) * 9
			c, h, w = float64(width), h/2, w/2
		}
	case BackboneResNet:
		m := s.Backbone.WidthMultiplier
		k := 7
		if s.Backbone.Stem == StemSmall {
			k = 3
		} else {
			h, w = convOut(convOut(h, 7, 2, 3), 3, 2, 1), convOut(convOut(w, 7, 2, 3), 3, 2, 1)
		}
		stem := float64(roundWidth(64, m))
		total += c * stem * float64(k*k)
		c = stem
		for st, n := range resnetBlocks[s.Backbone.Depth] {
			width := float64(roundWidth(resnetWidths[st], m))
			total += (c + width*float64(2*n-1)) * width * 9
			if st > 0 {
				h, w = convOut(h, 3, 2, 1), convOut(w, 3, 2, 1)
			}
			c = width
		}
	}
	feat := c
	if s.Head.Pooling == PoolingFlatten {
		feat = c * float64(max(h, 0)) * float64(max(w, 0))
	}
	out := float64(classes)
	if len(s.Head.Hidden) > 0 {
		out = float64(s.Head.Hidden[0])
	}
	total += feat * out
	if s.UsesMetadata() {
		in := float64(metaWidth)
		for _, sl := range slots {
			d := float64(embeddingDim(sl, s.MetaTower.EmbeddingDim))
			total += float64(sl.Size) * d
			in += d
		}
		if len(s.MetaTower.Hidden) > 0 {
			total += in * float64(s.MetaTower.Hidden[0])
		}
	}
	return total
}

// loadWeights copies the tensors of sf into the parameters and buffers ps.
// Every one must be present with the right shape, and sf must hold no
// others except those skip (nil: none) accepts. strict (the model file) wants F32 and, for integer buffers, I64;
// otherwise (imports) any floating dtype converts to float32 and any
// integer dtype is accepted for integer buffers. Values must be finite.
// The error lists every problem found; on error ps are unchanged.
func loadWeights(ps []nn.Param, sf *safetensors.File, skip func(name string) bool, strict bool) error {
	known := make(map[string]bool, len(ps))
	vals := make([]*tensor.Tensor, len(ps))
	var problems []string
	for i, p := range ps {
		known[p.Name] = true
		e, ok := sf.Entry(p.Name)
		if !ok {
			problems = append(problems, fmt.Sprintf("missing %q (shape %v)", p.Name, p.Var.Shape()))
			continue
		}
		if !tensor.EqualShapes(e.Shape, p.Var.Shape()) {
			problems = append(problems, fmt.Sprintf("%q has shape %v, the model expects %v", p.Name, e.Shape, p.Var.Shape()))
			continue
		}
		if msg := dtypeProblem(e.DType, p.Integer, strict); msg != "" {
			problems = append(problems, fmt.Sprintf("%q has dtype %s, %s", p.Name, e.DType, msg))
			continue
		}
		t, err := sf.Float32(p.Name)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if t.HasNaN() || hasInf(t) {
			problems = append(problems, fmt.Sprintf("%q holds NaN or infinite values", p.Name))
			continue
		}
		vals[i] = t
	}
	var extra []string
	for _, name := range sf.Names() {
		if !known[name] && (skip == nil || !skip(name)) {
			extra = append(extra, name)
		}
	}
	for _, name := range extra {
		problems = append(problems, fmt.Sprintf("unexpected %q", name))
	}
	if len(problems) > 0 {
		const show = 20
		msg := strings.Join(problems[:min(show, len(problems))], "; ")
		if len(problems) > show {
			msg += fmt.Sprintf("; and %d more", len(problems)-show)
		}
		return fmt.Errorf("weights do not match the network (%d problems): %s", len(problems), msg)
	}
	for i, p := range ps {
		p.Var.Value.CopyFrom(vals[i])
	}
	return nil
}

var (
	floatDTypes = []safetensors.DType{safetensors.DTypeF32, safetensors.DTypeF64, safetensors.DTypeF16, safetensors.DTypeBF16}
	intDTypes   = []safetensors.DType{safetensors.DTypeI64, safetensors.DTypeI32, safetensors.DTypeI16, safetensors.DTypeI8,
		safetensors.DTypeU64, safetensors.DTypeU32, safetensors.DTypeU16, safetensors.DTypeU8}
)

func dtypeProblem(d safetensors.DType, integer, strict bool) string {
	switch {
	case integer && strict && d != safetensors.DTypeI64:
		return "want I64 (an integer buffer)"
	case integer && !slices.Contains(intDTypes, d):
		return "want an integer type (an integer buffer)"
	case !integer && strict && d != safetensors.DTypeF32:
		return "want F32"
	case !integer && !slices.Contains(floatDTypes, d):
		return "want a floating-point type (F32, F64, F16 or BF16)"
	}
	return ""
}

func hasInf(t *tensor.Tensor) bool {
	for _, v := range t.Data() {
		if math.IsInf(float64(v), 0) {
			return true
		}
	}
	return false
}

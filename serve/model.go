package serve

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/meta"
	"github.com/metacnn/metacnn/model"
)

// loaded is one model as served: the bundle plus what the handlers derive
// from it once. It is immutable; Reload swaps the whole value.
type loaded struct {
	b       *model.Bundle
	columns map[string]meta.ColumnSpec // nil for an image-only model
	// mayOmit: a request may leave out metadata altogether (the network was
	// trained with modality dropout).
	mayOmit  bool
	usesMeta bool
	image    data.ImageOptions // b.Image with the server's limits
	info     modelInfo
}

func newLoaded(b *model.Bundle, cfg Config, now time.Time) (*loaded, error) {
	if b == nil || b.Net == nil {
		return nil, errors.New("serve: no model")
	}
	m := &loaded{b: b, image: b.Image}
	m.image.MaxPixels = cfg.MaxPixels
	m.image.MaxFileBytes = cfg.MaxBodyBytes
	if err := m.image.Validate(); err != nil {
		return nil, fmt.Errorf("serve: model image preprocessing: %w", err)
	}
	if b.Schema != nil && len(b.Schema.Columns()) > 0 {
		m.columns = make(map[string]meta.ColumnSpec)
		for _, c := range b.Schema.Specs() {
			m.columns[c.Name] = c
		}
	}
	m.usesMeta = b.Spec.Arch != "" || b.Spec.UsesMetadata()
	m.mayOmit = b.Spec.Arch == "" && b.Spec.ModalityDropout > 0
	info, err := describe(b, cfg, m.mayOmit, now)
	if err != nil {
		return nil, err
	}
	m.info = info
	return m, nil
}

// checkRow validates one instance's metadata against the schema. It
// returns the row to pass to Predict: nil for "metadata absent", which
// only a model trained with modality dropout accepts.
func (m *loaded) checkRow(in instance) (map[string]string, *apiError) {
	field := in.field + "metadata"
	for _, k := range sortedKeys(in.row) {
		if _, ok := m.columns[k]; !ok {
			if m.columns == nil {
				return nil, badRequest(CodeUnknownField, field+"."+trunc(k), "unknown metadata column %q: the model reads no metadata", trunc(k))
			}
			return nil, badRequest(CodeUnknownField, field+"."+trunc(k), "unknown metadata column %q: the model reads %v", trunc(k), m.b.Schema.Columns())
		}
	}
	if !m.usesMeta || m.columns == nil {
		return in.row, nil
	}
	if !in.hasMeta && m.mayOmit {
		return nil, nil
	}
	row := in.row
	if row == nil {
		row = map[string]string{}
	}
	if err := m.b.Schema.CheckRow(row); err != nil {
		var ve *meta.ValueError
		if !errors.As(err, &ve) {
			return nil, badRequest(CodeInvalidValue, field, "%v", err)
		}
		f := field + "." + ve.Column
		switch {
		case errors.Is(err, meta.ErrMissing), errors.Is(err, meta.ErrDropRow):
			msg := fmt.Sprintf("metadata column %q is required (its missing-value policy is %v)", ve.Column, m.columns[ve.Column].MissingPolicyOrDefault())
			if m.mayOmit {
				msg += "; or leave out \"metadata\" altogether"
			}
			return nil, badRequest(CodeMissingField, f, "%s", msg)
		default:
			return nil, badRequest(CodeInvalidValue, f, "%v", err)
		}
	}
	return row, nil
}

// decodeImage decodes one instance's image into the network's input.
func (m *loaded) decodeImage(in instance) ([]float32, *apiError) {
	dst := make([]float32, m.image.Len())
	err := data.DecodeImage(in.image, m.image, dst)
	if err == nil {
		return dst, nil
	}
	field := in.field + "image"
	var ie *data.ImageError
	if errors.As(err, &ie) {
		msg := ie.Err.Error()
		if ie.Detail != "" {
			msg += ": " + ie.Detail
		}
		if errors.Is(err, data.ErrImageTooLarge) {
			return nil, errorf(http.StatusRequestEntityTooLarge, CodeImageTooLarge, field, "%s", msg)
		}
		return nil, badRequest(CodeInvalidImage, field, "%s", msg)
	}
	return nil, badRequest(CodeInvalidImage, field, "%v", err)
}

// modelInfo is the body of GET /v1/model.
type modelInfo struct {
	FormatVersion int            `json:"format_version"`
	Arch          string         `json:"arch"` // a preset name, or "spec"
	WeightsSHA256 string         `json:"weights_sha256"`
	Path          string         `json:"path,omitempty"`
	LoadedAt      time.Time      `json:"loaded_at"`
	ServerVersion string         `json:"server_version,omitempty"`
	Classes       []string       `json:"classes"`
	Input         inputInfo      `json:"input"`
	Image         imageInfo      `json:"image"`
	Metadata      metadataInfo   `json:"metadata"`
	Limits        limitsInfo     `json:"limits"`
	Training      map[string]any `json:"training,omitempty"`
}

type inputInfo struct {
	Shape    [3]int `json:"shape"` // [C, H, W]
	Channels int    `json:"channels"`
	Height   int    `json:"height"`
	Width    int    `json:"width"`
}

type imageInfo struct {
	Width      int             `json:"width"`
	Height     int             `json:"height"`
	Channels   int             `json:"channels"`
	Resize     data.ResizeMode `json:"resize"`
	Filter     data.Filter     `json:"filter"`
	Background [3]uint8        `json:"background"`
	Mean       []float32       `json:"mean"`
	Std        []float32       `json:"std"`
	Formats    []string        `json:"formats"`
}

type metadataInfo struct {
	// Columns lists the metadata the model reads, in schema order.
	Columns []columnInfo `json:"columns"`
	// MayOmit: an instance may leave out "metadata" altogether.
	MayOmit bool `json:"may_omit"`
}

type columnInfo struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// Missing is the effective missing-value policy; Required is true when
	// a missing value is refused.
	Missing     string   `json:"missing"`
	Required    bool     `json:"required"`
	Encoding    string   `json:"encoding,omitempty"`
	Categories  []string `json:"categories,omitempty"` // the fitted vocabulary; others are out-of-vocabulary
	Order       []string `json:"order,omitempty"`      // ordinal levels, lowest first
	Cardinality int      `json:"cardinality,omitempty"`
	Scale       string   `json:"scale,omitempty"`
	Period      float64  `json:"period,omitempty"`
	Features    []string `json:"features,omitempty"`
}

type limitsInfo struct {
	MaxBodyBytes int64 `json:"max_body_bytes"`
	MaxPixels    int64 `json:"max_pixels"`
	MaxInstances int   `json:"max_instances"`
	MaxBatch     int   `json:"max_batch"`
}

func describe(b *model.Bundle, cfg Config, mayOmit bool, now time.Time) (modelInfo, error) {
	arch := b.Spec.Arch
	if arch == "" {
		arch = "spec"
	}
	img := b.Image
	info := modelInfo{
		FormatVersion: b.Version, Arch: arch, WeightsSHA256: b.WeightsSHA256, Path: cfg.ModelPath,
		LoadedAt: now.UTC(), ServerVersion: cfg.Version, Classes: b.Classes, Training: b.Training,
		Input: inputInfo{Shape: b.Input, Channels: b.Input[0], Height: b.Input[1], Width: b.Input[2]},
		Image: imageInfo{Width: img.Width, Height: img.Height, Channels: img.Shape()[0], Resize: img.Resize,
			Filter: img.Filter, Background: img.Background, Mean: img.Mean, Std: img.Std,
			Formats: []string{"png", "jpeg", "gif", "bmp", "tiff", "webp"}},
		Metadata: metadataInfo{Columns: []columnInfo{}, MayOmit: mayOmit},
		Limits:   limitsInfo{MaxBodyBytes: cfg.MaxBodyBytes, MaxPixels: cfg.MaxPixels, MaxInstances: cfg.MaxInstances, MaxBatch: cfg.MaxBatch},
	}
	if b.Schema == nil {
		return info, nil
	}
	st, err := b.Schema.State()
	if err != nil {
		return modelInfo{}, fmt.Errorf("serve: model metadata schema: %w", err)
	}
	for _, cs := range st.Columns {
		sp := cs.Spec
		pol := sp.MissingPolicyOrDefault()
		c := columnInfo{Name: sp.Name, Type: sp.Type.String(), Missing: pol.String(), Required: pol != meta.Indicator}
		switch sp.Type {
		case meta.Categorical:
			enc := sp.Encoding
			if enc == 0 {
				enc = meta.OneHot
			}
			c.Encoding = enc.String()
			c.Categories, c.Order, c.Cardinality = cs.Vocab, sp.Order, sp.Cardinality
		case meta.Numeric:
			sc := sp.Scale
			if sc == 0 {
				sc = meta.Standard
			}
			c.Scale = sc.String()
		case meta.Cyclical:
			c.Period = sp.Period
		case meta.Timestamp:
			fs := sp.Features
			if len(fs) == 0 {
				fs = []meta.TimeFeature{meta.HourOfDay, meta.Weekday}
			}
			for _, f := range fs {
				c.Features = append(c.Features, f.String())
			}
		}
		info.Metadata.Columns = append(info.Metadata.Columns, c)
	}
	return info, nil
}

package explain

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/model"
	"github.com/metacnn/metacnn/tensor"
)

// Options configures Run. The zero value explains the predicted class and
// sweeps every metadata column over SweepValues.
type Options struct {
	// Class names the class to explain; "" means the predicted one.
	Class string
	// Sweep gives the values to try for some columns (column -> raw
	// values); columns not listed use SweepValues. A column listed with no
	// values is not swept.
	Sweep map[string][]string
	// NoSweep skips the metadata sweeps (the given row's γ and β are still
	// reported).
	NoSweep bool
}

// Result is the explanation of one image and metadata row.
type Result struct {
	// Image is the image file explained.
	Image string `json:"image"`
	// Row is the metadata row as given (raw values).
	Row map[string]string `json:"metadata,omitempty"`
	// Warnings are the row's metadata encoding fallbacks (unseen
	// categories, filled missing values).
	Warnings []string `json:"warnings,omitempty"`
	// Classes, Logits and Probs are the prediction, in the model's class
	// order; Predicted is the index of the largest logit.
	Classes   []string  `json:"classes"`
	Logits    []float32 `json:"logits"`
	Probs     []float64 `json:"probs"`
	Predicted int       `json:"predicted"`
	// Explained is the index of the class Grad-CAM explains.
	Explained int `json:"explained"`
	// CAM is the Grad-CAM at the feature map's resolution.
	CAM *CAM `json:"-"`
	// Heat is the CAM upsampled to the network's input size [H, W] and
	// normalised to [0, 1].
	Heat *tensor.Tensor `json:"-"`
	// Modulations are the γ and β the row produces, per modulating block;
	// empty for a model without FiLM or scale+bias blocks.
	Modulations []Modulation `json:"modulations,omitempty"`
	// Sweeps vary one metadata column at a time, in schema order.
	Sweeps []*Sweep `json:"sweeps,omitempty"`

	input   *tensor.Tensor // the network's input [C, H, W]
	display *tensor.Tensor // the resized image as RGB in [0, 1], [3, H, W]
}

// Run explains the image file at imagePath with metadata row (column ->
// raw value, as in a manifest; nil or empty for an image-only model;
// columns left out take the schema's missing-value policy): the
// prediction, the Grad-CAM of opts.Class (or the predicted class), and for
// models with FiLM or scale+bias blocks the γ and β the row produces. With
// a metadata schema, each column is also swept (see Options). Columns the
// model does not read are an error, so a misspelt name is not silently
// ignored.
func Run(b *model.Bundle, imagePath string, row map[string]string, opts Options) (*Result, error) {
	net, err := explainable(b)
	if err != nil {
		return nil, err
	}
	var cols []string
	if b.Schema != nil && b.UsesMetadata() {
		cols = b.Schema.Columns()
	}
	for _, k := range slices.Sorted(maps.Keys(row)) {
		if !slices.Contains(cols, k) {
			if len(cols) == 0 {
				return nil, fmt.Errorf("explain: metadata %s given, but the model reads no metadata", k)
			}
			return nil, fmt.Errorf("explain: the model reads no metadata column %q (it reads %s)", k, strings.Join(cols, ", "))
		}
	}
	for k := range opts.Sweep {
		if !slices.Contains(cols, k) {
			return nil, fmt.Errorf("explain: cannot sweep %q: the model reads no such metadata column (it reads %s)", k, strings.Join(cols, ", "))
		}
	}
	class := -1
	if opts.Class != "" {
		if class = slices.Index(b.Classes, opts.Class); class < 0 {
			return nil, fmt.Errorf("explain: class %q is not one of the model's classes %v", opts.Class, b.Classes)
		}
	}
	if row == nil {
		row = map[string]string{}
	}

	img := tensor.New(b.Input[0], b.Input[1], b.Input[2])
	if err := data.LoadImage(imagePath, b.Image, img.Data()); err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	view := b.Image
	view.Channels, view.Mean, view.Std = 3, nil, nil
	display := tensor.New(3, b.Input[1], b.Input[2])
	if err := data.LoadImage(imagePath, view, display.Data()); err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}

	var rows []map[string]string
	if b.UsesMetadata() {
		rows = []map[string]string{row}
	}
	in, warns, err := b.Inputs(batchOf(img, 1), rows)
	if err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	cam, err := GradCAM(net, in, class)
	if err != nil {
		return nil, err
	}
	r := &Result{
		Image: imagePath, Classes: slices.Clone(b.Classes), Logits: cam.Logits,
		Probs: softmax(cam.Logits), Predicted: argmax(cam.Logits), Explained: cam.Class,
		CAM: cam, input: img, display: display,
	}
	if len(row) > 0 {
		r.Row = maps.Clone(row)
	}
	for _, w := range warns {
		for _, x := range w {
			r.Warnings = append(r.Warnings, x.String())
		}
	}
	r.Heat = Upsample(cam.Map, b.Input[1], b.Input[2])
	Normalize(r.Heat)

	if !b.UsesMetadata() {
		return r, nil
	}
	if r.Modulations, err = Modulations(b, img, row); err != nil {
		return nil, err
	}
	if opts.NoSweep {
		return r, nil
	}
	for _, c := range cols {
		values, given := opts.Sweep[c]
		if given && len(values) == 0 {
			continue
		}
		sw, err := SweepColumn(b, img, row, c, values)
		if err != nil {
			return nil, err
		}
		if len(sw.Values) > 0 {
			r.Sweeps = append(r.Sweeps, sw)
		}
	}
	return r, nil
}

// ParseMeta parses k=v pairs (the --meta flag) into a row. Keys are
// trimmed; a value may contain '='; a key given twice is an error.
func ParseMeta(pairs []string) (map[string]string, error) {
	row := map[string]string{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("metadata %q: want column=value", p)
		}
		if _, dup := row[k]; dup {
			return nil, fmt.Errorf("metadata column %q given twice", k)
		}
		row[k] = v
	}
	return row, nil
}

// ParseSweep parses column=v1,v2,... pairs (the --sweep flag). An empty
// value list ("column=") means "do not sweep column".
func ParseSweep(pairs []string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("sweep %q: want column=value,value,...", p)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("sweep column %q given twice", k)
		}
		vs := []string{}
		if strings.TrimSpace(v) != "" {
			for _, x := range strings.Split(v, ",") {
				if x = strings.TrimSpace(x); x == "" {
					return nil, errors.New("sweep " + k + ": empty value in " + p)
				}
				vs = append(vs, x)
			}
		}
		out[k] = vs
	}
	return out, nil
}

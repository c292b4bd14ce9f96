package torch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/interop/onnx"
	"github.com/metacnn/metacnn/meta"
	"github.com/metacnn/metacnn/model"
	"github.com/metacnn/metacnn/safetensors"
)

// ReadEncoding reads and checks DIR/encoding.json of an exported package.
func ReadEncoding(dir string) (*Encoding, error) {
	path := filepath.Join(dir, EncodingFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("torch: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var enc Encoding
	if err := dec.Decode(&enc); err != nil {
		return nil, fmt.Errorf("torch: %s: %w", path, err)
	}
	switch {
	case enc.Format != EncodingFormat:
		return nil, fmt.Errorf("torch: %s: format %q, want %q (a directory written by metacnn export torch)", path, enc.Format, EncodingFormat)
	case enc.FormatVersion != EncodingVersion:
		return nil, fmt.Errorf("torch: %s: format version %d, this build reads version %d", path, enc.FormatVersion, EncodingVersion)
	case enc.Arch == "" && enc.Spec == nil:
		return nil, fmt.Errorf("torch: %s: neither arch nor spec is set", path)
	}
	return &enc, nil
}

// Import rebuilds the model of an exported package from its encoding.json
// (architecture, image preprocessing, metadata encoder state, classes) and
// a state_dict saved as safetensors, typically the weights train_ddp.py
// wrote after fine-tuning. Every parameter and buffer the architecture has
// must be in sd with its shape, and nothing else (model.LoadStateDict), so
// a state_dict of another model is refused with the names at fault.
// The bundle is in evaluation mode, with no training summary.
func Import(enc *Encoding, sd *safetensors.File) (*model.Bundle, error) {
	if enc == nil || sd == nil {
		return nil, errors.New("torch: no encoding or no weights")
	}
	if enc.Arch != "" {
		return model.ImportTorch(enc.Arch, sd)
	}
	img := imageOptions(enc.Image)
	if err := img.Validate(); err != nil {
		return nil, fmt.Errorf("torch: %s: image: %w", EncodingFile, err)
	}
	var schema *meta.Schema
	width, slots := 0, []meta.IDSlot(nil)
	if enc.Spec.UsesMetadata() {
		if enc.Metadata == nil {
			return nil, fmt.Errorf("torch: %s: the spec reads metadata but metadata is not set", EncodingFile)
		}
		schema = new(meta.Schema)
		if err := schema.UnmarshalJSON(enc.Metadata.Encoder); err != nil {
			return nil, fmt.Errorf("torch: %s: metadata.encoder: %w", EncodingFile, err)
		}
		width, slots = schema.Width(), schema.IDSlots()
		if width != enc.Metadata.DenseWidth || len(slots) != len(enc.Metadata.IDs) {
			return nil, fmt.Errorf("torch: %s: the encoder makes %d dense values and %d ids, metadata says %d and %d",
				EncodingFile, width, len(slots), enc.Metadata.DenseWidth, len(enc.Metadata.IDs))
		}
	}
	if enc.Image.Scale != "value/255" {
		return nil, fmt.Errorf("torch: %s: image scale %q, want \"value/255\"", EncodingFile, enc.Image.Scale)
	}
	input := [3]int(img.Shape())
	net, err := model.Build(*enc.Spec, input, width, slots, len(enc.Classes), rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		return nil, fmt.Errorf("torch: %s: %w", EncodingFile, err)
	}
	if err := model.LoadStateDict(net, sd); err != nil {
		if wrapped(sd) {
			return nil, fmt.Errorf("torch: every name starts with %q, the prefix of a DistributedDataParallel wrapper's state_dict: save model.module.state_dict() instead (train_ddp.py does): %w", ddpPrefix, err)
		}
		return nil, fmt.Errorf("torch: %w", err)
	}
	return model.NewBundle(net, schema, img, enc.Classes)
}

// ddpPrefix starts every name of a DistributedDataParallel module's
// state_dict.
const ddpPrefix = "module."

// wrapped reports whether every tensor name in sd starts with ddpPrefix.
func wrapped(sd *safetensors.File) bool {
	names := sd.Names()
	for _, n := range names {
		if !strings.HasPrefix(n, ddpPrefix) {
			return false
		}
	}
	return len(names) > 0
}

// ImportDir reads DIR/encoding.json and the safetensors file at weights
// (default DIR/weights.safetensors when empty) and imports them.
func ImportDir(dir, weights string) (*model.Bundle, error) {
	enc, err := ReadEncoding(dir)
	if err != nil {
		return nil, err
	}
	if weights == "" {
		weights = filepath.Join(dir, WeightsFile)
	}
	sd, err := safetensors.ReadFile(weights)
	if err != nil {
		return nil, fmt.Errorf("torch: %w", err)
	}
	b, err := Import(enc, sd)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", weights, err)
	}
	return b, nil
}

// imageOptions is the inverse of the ImageInfo that Describe writes.
func imageOptions(i onnx.ImageInfo) data.ImageOptions {
	return data.ImageOptions{Width: i.Width, Height: i.Height, Channels: i.Channels, Resize: i.Resize,
		Filter: i.Filter, Background: i.Background, Mean: i.Mean, Std: i.Std}
}

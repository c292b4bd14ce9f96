package main

import (
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/model"
)

// Limits of the predict and eval commands.
const (
	defaultPredictBatch = 32
	maxPredictBatch     = 4096
)

// modelDataOptions are the flags predict and eval share: the model to run,
// the manifest to run it over and how its rows are read.
type modelDataOptions struct {
	model       string
	data        string
	onBadRow    string
	batch       int
	workers     int
	imageColumn string

	policy data.BadRowPolicy // parsed from onBadRow by validate
}

// bind registers the shared flags on cmd; dataUsage describes --data.
func (o *modelDataOptions) bind(cmd *cobra.Command, dataUsage string) {
	f := cmd.Flags()
	f.StringVar(&o.model, "model", "", "model file (.mcnn)")
	f.StringVar(&o.data, "data", "", dataUsage)
	f.StringVar(&o.onBadRow, "on-bad-row", "error", "error (stop at bad rows, listing them) or skip (leave them out, report each)")
	f.IntVar(&o.batch, "batch", defaultPredictBatch, "rows per batch")
	f.IntVar(&o.workers, "workers", 0, "image decoding workers (0: one per CPU); results do not depend on it")
	f.StringVar(&o.imageColumn, "image-column", data.DefaultImageColumn, "column holding the image path")
}

// validate checks the shared flags, in the order the commands report them,
// and sets policy. The image column is left to each command.
func (o *modelDataOptions) validate() error {
	if o.model == "" {
		return usageErrorf("--model is required")
	}
	if o.data == "" {
		return usageErrorf("--data is required")
	}
	if _, err := data.FormatOf(o.data); err != nil {
		return usageErrorf("--data %s: want a .csv, .jsonl, .ndjson or .parquet manifest", o.data)
	}
	p, err := data.ParseBadRowPolicy(o.onBadRow)
	if err != nil || p == data.BadRowUnset {
		return usageErrorf("--on-bad-row %q: want error or skip", o.onBadRow)
	}
	o.policy = p
	if o.batch < 1 || o.batch > maxPredictBatch {
		return usageErrorf("--batch %d: want 1 to %d", o.batch, maxPredictBatch)
	}
	if o.workers < 0 {
		return usageErrorf("--workers %d is negative", o.workers)
	}
	return nil
}

// overwritesInput reports whether writing out would replace the model or
// the manifest.
func (o *modelDataOptions) overwritesInput(out string) bool {
	return abs(out) == abs(o.data) || abs(out) == abs(o.model)
}

func abs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

// loadModel loads the model and returns it with the metadata columns a
// manifest must have for it (none when the model reads no metadata).
func (o *modelDataOptions) loadModel() (*model.Bundle, []string, error) {
	b, err := model.Load(o.model)
	if err != nil {
		return nil, nil, err
	}
	var required []string
	if b.Schema != nil {
		required = b.Schema.Columns()
	}
	return b, required, nil
}

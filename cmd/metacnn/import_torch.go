package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/metacnn/metacnn/interop/torch"
	"github.com/metacnn/metacnn/model"
	"github.com/metacnn/metacnn/safetensors"
	"github.com/spf13/cobra"
)

func newImportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import FORMAT",
		Short: "Import weights trained elsewhere into a model file",
		Long: `Import weights trained elsewhere into a model file (.mcnn) that the other
commands (inspect, eval, predict, serve) read.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("%s needs a format: one of torch", cmd.CommandPath())
			}
			return unknownCommand(cmd, args[0])
		},
	}
	cmd.AddCommand(newImportTorchCmd())
	return cmd
}

type importTorchOptions struct {
	arch    string
	spec    string
	weights string
	out     string

	stdout io.Writer
}

func newImportTorchCmd() *cobra.Command {
	var opts importTorchOptions
	cmd := &cobra.Command{
		Use:   "torch (--arch ARCH | --spec DIR) --weights state_dict.safetensors --out model.mcnn",
		Short: "Import a PyTorch state_dict of a seed architecture or an exported package",
		Long: `Import PyTorch weights, saved as safetensors, into a model file.

With --spec DIR, DIR is a package written by 'metacnn export torch' and the
weights are its module's state_dict, typically the file its train_ddp.py
wrote after fine-tuning (default: DIR/weights.safetensors). The architecture,
image preprocessing, metadata encoder and classes come from
DIR/encoding.json; every parameter and buffer must be present with its
shape, and nothing else:

  metacnn export torch --model model.mcnn --out pkg
  torchrun --nproc_per_node=2 pkg/train_ddp.py --train train.csv --out tuned.safetensors
  metacnn import torch --spec pkg --weights tuned.safetensors --out tuned.mcnn

With --arch ARCH, the weights are a state_dict of one of the reference
document's models:

  # in Python
  from safetensors.torch import save_file
  save_file(model.state_dict(), "state_dict.safetensors")

The tensor names must be the document's module names (cnn_layers.0.weight,
embedding.weight, film_layer.gamma_layer.weight, ...), each with PyTorch's
shape; F32, F64, F16 and BF16 are accepted and stored as F32. Missing,
unexpected and mis-shaped tensors are listed.

The model file gets the presets' fixed conventions: 56x56 RGB images scaled
to [0, 1] (pixels/255, no normalisation), classes 0 and 1, and the metadata
columns fed raw: seed-concat reads operator_id (integer 0-9), seed-scalebias
temperature (a float), seed-film m1 and m2 (floats).`,
		Example: "  metacnn import torch --arch seed-film --weights film.safetensors --out film.mcnn\n" +
			"  metacnn import torch --spec pkg --weights pkg/tuned.safetensors --out tuned.mcnn",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.validate(); err != nil {
				return asUsage(err)
			}
			opts.stdout = cmd.OutOrStdout()
			return runImportTorch(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.arch, "arch", "", "architecture: "+strings.Join(model.SeedArchs, ", ")+" (this or --spec)")
	f.StringVar(&opts.spec, "spec", "", "a package written by metacnn export torch (this or --arch)")
	f.StringVar(&opts.weights, "weights", "", "the state_dict, saved as safetensors (required with --arch; default DIR/weights.safetensors with --spec)")
	f.StringVar(&opts.out, "out", "", "model file to write (required)")
	return cmd
}

func (o importTorchOptions) validate() error {
	switch {
	case o.arch != "" && o.spec != "":
		return fmt.Errorf("--arch and --spec exclude each other")
	case o.arch == "" && o.spec == "":
		return fmt.Errorf("--arch (one of %s) or --spec DIR is required", strings.Join(model.SeedArchs, ", "))
	case o.arch != "" && !slices.Contains(model.SeedArchs, o.arch):
		return fmt.Errorf("--arch %q is not a seed architecture (want one of %s)", o.arch, strings.Join(model.SeedArchs, ", "))
	case o.arch != "" && o.weights == "":
		return fmt.Errorf("--weights is required")
	case o.out == "":
		return fmt.Errorf("--out is required")
	}
	return nil
}

func runImportTorch(_ context.Context, opts importTorchOptions) error {
	var enc *torch.Encoding
	if opts.spec != "" {
		e, err := torch.ReadEncoding(opts.spec)
		if err != nil {
			return err
		}
		enc = e
		if opts.weights == "" {
			opts.weights = filepath.Join(opts.spec, torch.WeightsFile)
		}
	}
	raw, err := os.ReadFile(opts.weights)
	if err != nil {
		return err
	}
	sd, err := safetensors.Decode(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", opts.weights, err)
	}
	var b *model.Bundle
	if enc != nil {
		b, err = torch.Import(enc, sd)
	} else {
		b, err = model.ImportTorch(opts.arch, sd)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", opts.weights, err)
	}
	sum := sha256.Sum256(raw)
	b.Training = map[string]any{
		"source":         "metacnn import torch",
		"weights_file":   filepath.Base(opts.weights),
		"weights_sha256": hex.EncodeToString(sum[:]),
	}
	if enc != nil {
		b.Training["package"] = opts.spec
	}
	if err := model.Save(opts.out, b); err != nil {
		return err
	}
	c := model.CostOf(b.Net)
	size := int64(0)
	if st, err := os.Stat(opts.out); err == nil {
		size = st.Size()
	}
	what := opts.arch
	if what == "" {
		what = "the package " + opts.spec
	}
	fmt.Fprintf(opts.stdout, "imported %s: %d tensors, %s parameters from %s\n", what, len(sd.Names()), groupDigits(c.Params), opts.weights)
	fmt.Fprintf(opts.stdout, "wrote %s (%s, weights sha256 %s)\n", opts.out, byteSize(size), b.WeightsSHA256[:16])
	cols := "none"
	if b.Schema != nil {
		cols = strings.Join(b.Schema.Columns(), ", ")
	}
	fmt.Fprintf(opts.stdout, "metadata columns: %s; classes: %s\n", cols, strings.Join(b.Classes, ", "))
	return nil
}

// groupDigits writes n with thousands separators: 1,626,586.
func groupDigits(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// byteSize writes a byte count in KB, MB or GB (powers of 1000).
func byteSize(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}

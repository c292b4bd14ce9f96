package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/metacnn/metacnn/interop/onnx"
	"github.com/metacnn/metacnn/model"
)

func newExportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export FORMAT",
		Short: "Export a model file for other runtimes",
		Long: `Export a model file (.mcnn) to a format other runtimes read: onnx (ONNX
Runtime, TensorRT, Triton, ...).`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("%s needs a format: one of onnx", cmd.CommandPath())
			}
			return unknownCommand(cmd, args[0])
		},
	}
	cmd.AddCommand(newExportONNXCmd())
	return cmd
}

type exportONNXOptions struct {
	model string
	out   string

	stdout io.Writer
}

func newExportONNXCmd() *cobra.Command {
	var opts exportONNXOptions
	cmd := &cobra.Command{
		Use:   "onnx --model model.mcnn --out model.onnx",
		Short: "Export a model to ONNX (opset 13) with a JSON sidecar",
		Long: `Export a model to ONNX (opset 13, dynamic batch) and write, next to it,
<out>.json: how to preprocess images, encode metadata rows and read the
outputs (also stored in the ONNX file's metadata_props under "metacnn").

Graph inputs:

  image             float32 [N, C, H, W]  preprocessed: resized, pixels/255, (x-mean)/std
  metadata          float32 [N, K]        dense encoded metadata (when K > 0)
  ids               int64   [N, J]        ids of embedding- and index-encoded columns (J > 0)
  metadata_missing  float32 [N, 1]        models trained with modality dropout only:
                                          1 marks a row without metadata

Output: logits float32 [N, classes], classes in the sidecar's order. The graph
is the network in evaluation mode: batch norms use their running statistics,
dropout is left out. Every backbone, fusion kind and seed preset exports.`,
		Example: "  metacnn export onnx --model model.mcnn --out model.onnx",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.validate(); err != nil {
				return asUsage(err)
			}
			opts.stdout = cmd.OutOrStdout()
			return runExportONNX(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.model, "model", "", "model file to export (required)")
	f.StringVar(&opts.out, "out", "", "ONNX file to write; the sidecar goes to <out>.json (required)")
	return cmd
}

func (o exportONNXOptions) validate() error {
	switch {
	case o.model == "":
		return fmt.Errorf("--model is required")
	case o.out == "":
		return fmt.Errorf("--out is required")
	case o.out == o.model:
		return fmt.Errorf("--out %q would overwrite the model file", o.out)
	}
	return nil
}

func runExportONNX(_ context.Context, opts exportONNXOptions) error {
	b, err := model.Load(opts.model)
	if err != nil {
		return err
	}
	sc, err := onnx.Save(opts.out, b, onnx.Options{ProducerVersion: strings.Fields(versionString())[0]})
	if err != nil {
		return fmt.Errorf("%s: %w", opts.model, err)
	}
	size := int64(0)
	if st, err := os.Stat(opts.out); err == nil {
		size = st.Size()
	}
	var ins []string
	for _, in := range sc.Inputs {
		ins = append(ins, fmt.Sprintf("%s %s%v", in.Name, in.DType, in.Shape))
	}
	fmt.Fprintf(opts.stdout, "wrote %s (%s, opset %d) and %s\n", opts.out, byteSize(size), onnx.Opset, onnx.SidecarPath(opts.out))
	fmt.Fprintf(opts.stdout, "inputs: %s; output: logits float32[N %d] (%s)\n", strings.Join(ins, ", "), len(sc.Classes), strings.Join(sc.Classes, ", "))
	return nil
}

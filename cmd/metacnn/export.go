package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/metacnn/metacnn/interop/onnx"
	"github.com/metacnn/metacnn/interop/torch"
	"github.com/metacnn/metacnn/model"
)

func newExportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export FORMAT",
		Short: "Export a model file for other runtimes",
		Long: `Export a model file (.mcnn) to a format other runtimes read: onnx (ONNX
Runtime, TensorRT, Triton, ...) or torch (a PyTorch package).`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("%s needs a format: one of onnx, torch", cmd.CommandPath())
			}
			return unknownCommand(cmd, args[0])
		},
	}
	cmd.AddCommand(newExportONNXCmd(), newExportTorchCmd())
	return cmd
}

// exportOptions are the flags every export subcommand takes.
type exportOptions struct {
	model string
	out   string

	stdout io.Writer
}

func (o exportOptions) validate() error {
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

func newExportONNXCmd() *cobra.Command {
	var opts exportOptions
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

func runExportONNX(_ context.Context, opts exportOptions) error {
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

func newExportTorchCmd() *cobra.Command {
	var opts exportOptions
	cmd := &cobra.Command{
		Use:   "torch --model model.mcnn --out DIR",
		Short: "Export a model as a self-contained PyTorch package",
		Long: `Export a model as a PyTorch package in DIR (created if needed):

  model.py             an nn.Module whose state_dict names and shapes are the
                       model's parameter names; load_model() builds it, loads
                       the weights strictly and returns it in evaluation mode
  weights.safetensors  the model's parameters and buffers
  encoding.json        architecture, image preprocessing, metadata encoder
                       state, inputs and classes
  train_ddp.py         fine-tunes the module with DistributedDataParallel
                       under torchrun (any number of GPUs or nodes, or one
                       process) on metacnn manifests; --predict writes
                       predictions as metacnn predict does

Every model is covered: the seed presets and spec models on either backbone
with every fusion kind. model.py needs only PyTorch; call the module as
model(image, metadata=None, ids=None, metadata_missing=None) with the tensors
encoding.json describes (the ONNX export's graph inputs); it returns the
logits. In training mode it behaves as metacnn's training forward (batch
statistics, dropout, modality dropout, frozen stages).

Bring fine-tuned weights back for serving with
  metacnn import torch --spec DIR --weights tuned.safetensors --out tuned.mcnn`,
		Example: "  metacnn export torch --model model.mcnn --out model-torch",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.validate(); err != nil {
				return asUsage(err)
			}
			opts.stdout = cmd.OutOrStdout()
			return runExportTorch(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.model, "model", "", "model file to export (required)")
	f.StringVar(&opts.out, "out", "", "directory to write the package into (required)")
	return cmd
}

func runExportTorch(_ context.Context, opts exportOptions) error {
	if st, err := os.Stat(opts.out); err == nil && !st.IsDir() {
		return fmt.Errorf("--out %s exists and is not a directory", opts.out)
	}
	b, err := model.Load(opts.model)
	if err != nil {
		return err
	}
	pkg, err := torch.Save(opts.out, b)
	if err != nil {
		return fmt.Errorf("%s: %w", opts.model, err)
	}
	fmt.Fprintf(opts.stdout, "wrote %s: %s, %s (%d tensors), %s, %s\n", opts.out,
		torch.ModelFile, torch.WeightsFile, len(pkg.Weights), torch.EncodingFile, torch.TrainFile)
	fmt.Fprintf(opts.stdout, "output: logits [N %d] (%s)\n", len(pkg.Encoding.Classes), strings.Join(pkg.Encoding.Classes, ", "))
	return nil
}

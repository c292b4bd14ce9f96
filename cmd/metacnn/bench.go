package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"time"

	"github.com/metacnn/metacnn/autograd"
	"github.com/metacnn/metacnn/internal/kernels"
	"github.com/metacnn/metacnn/model"
	"github.com/metacnn/metacnn/nn"
	"github.com/metacnn/metacnn/optim"
	"github.com/metacnn/metacnn/tensor"
	"github.com/spf13/cobra"
)

type benchOptions struct {
	arch   string
	batch  int
	steps  int
	warmup int
	json   bool

	stdout, stderr io.Writer
}

// benchResult is what bench reports; --json prints it as one object.
type benchResult struct {
	Arch    string `json:"arch"`
	Batch   int    `json:"batch"`
	Steps   int    `json:"steps"`
	Threads int    `json:"threads"` // GOMAXPROCS
	Kernel  string `json:"kernel"`  // SGEMM micro-kernel in use
	// TrainImgPerSec is images per second of full Adam training steps
	// (forward, cross-entropy, backward, update) at Batch.
	TrainImgPerSec float64 `json:"train_img_per_s"`
	// InferImgPerSec is images per second of forward passes at Batch.
	InferImgPerSec float64 `json:"infer_img_per_s"`
	// InferBatch1Ms is the median latency of a single-image forward pass.
	InferBatch1Ms float64 `json:"infer_batch1_ms"`
}

func newBenchCmd() *cobra.Command {
	var opts benchOptions
	cmd := &cobra.Command{
		Use:   "bench [--arch seed-film] [--batch 32] [--steps N] [--json]",
		Short: "Measure training and inference throughput",
		Long: `Measure training and inference throughput of a seed architecture on random
inputs (3x56x56 images plus the architecture's metadata): Adam training steps
at --batch, forward passes at --batch, and the median latency of a batch of
one. After --warmup untimed steps each measurement runs --steps steps.

The engine uses GOMAXPROCS cores (set GOMAXPROCS to compare with other
engines on the same number of threads). bench/compare.py runs this command
with --json next to PyTorch and ONNX Runtime and prints the ratios.`,
		Example: "  metacnn bench --arch seed-film --batch 32 --steps 20 --json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.validate(); err != nil {
				return asUsage(err)
			}
			opts.stdout, opts.stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			return runBench(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.arch, "arch", model.SeedFiLM, fmt.Sprintf("architecture, one of %v", model.SeedArchs))
	f.IntVar(&opts.batch, "batch", 32, "batch size for training and batched inference (1..4096)")
	f.IntVar(&opts.steps, "steps", 20, "timed steps per measurement (1..100000)")
	f.IntVar(&opts.warmup, "warmup", 3, "untimed steps before each measurement (0..1000)")
	f.BoolVar(&opts.json, "json", false, "print the result as one JSON object")
	return cmd
}

func (o benchOptions) validate() error {
	if !slices.Contains(model.SeedArchs, o.arch) {
		return fmt.Errorf("--arch %q is not a benchmarkable architecture (want one of %v)", o.arch, model.SeedArchs)
	}
	if o.batch < 1 || o.batch > 4096 {
		return fmt.Errorf("--batch %d is out of range (want 1..4096)", o.batch)
	}
	if o.steps < 1 || o.steps > 100000 {
		return fmt.Errorf("--steps %d is out of range (want 1..100000)", o.steps)
	}
	if o.warmup < 0 || o.warmup > 1000 {
		return fmt.Errorf("--warmup %d is out of range (want 0..1000)", o.warmup)
	}
	return nil
}

func runBench(ctx context.Context, opts benchOptions) error {
	rng := rand.New(rand.NewPCG(1, 1))
	net, err := model.NewSeed(opts.arch, rng)
	if err != nil {
		return err
	}
	res := benchResult{
		Arch: opts.arch, Batch: opts.batch, Steps: opts.steps,
		Threads: runtime.GOMAXPROCS(0), Kernel: kernels.ActiveKernel(),
	}

	// Training: one tape, released after every step, as a training loop
	// should use it.
	adam, err := optim.NewAdam(optim.OneGroup(nn.Trainable(net)), optim.AdamConfig{LR: 1e-3})
	if err != nil {
		return err
	}
	in, labels := benchBatch(opts.arch, rng, opts.batch)
	net.SetTraining(true)
	tp := autograd.NewTape()
	trainStep := func() {
		loss := tp.CrossEntropy(net.Forward(tp, in), labels, autograd.CrossEntropyOptions{})
		adam.ZeroGrad()
		tp.Backward(loss)
		adam.Step()
		tp.Release()
	}
	d, err := timeSteps(ctx, opts.warmup, opts.steps, trainStep)
	if err != nil {
		return err
	}
	res.TrainImgPerSec = float64(opts.batch*opts.steps) / d.Seconds()

	// Inference at the batch size, then single images.
	net.SetTraining(false)
	itp := autograd.NewInferenceTape()
	infer := func(in model.Inputs) func() {
		return func() {
			net.Forward(itp, in)
			itp.Release()
		}
	}
	if d, err = timeSteps(ctx, opts.warmup, opts.steps, infer(in)); err != nil {
		return err
	}
	res.InferImgPerSec = float64(opts.batch*opts.steps) / d.Seconds()
	one, _ := benchBatch(opts.arch, rng, 1)
	f := infer(one)
	for range opts.warmup {
		f()
	}
	lat := make([]float64, opts.steps)
	for i := range lat {
		if err := ctx.Err(); err != nil {
			return err
		}
		t0 := time.Now()
		f()
		lat[i] = float64(time.Since(t0).Nanoseconds()) / 1e6
	}
	slices.Sort(lat)
	res.InferBatch1Ms = lat[len(lat)/2]

	if opts.json {
		enc := json.NewEncoder(opts.stdout)
		return enc.Encode(res)
	}
	fmt.Fprintf(opts.stdout, "%s batch %d, %d threads, %s kernel, %d steps\n", res.Arch, res.Batch, res.Threads, res.Kernel, res.Steps)
	fmt.Fprintf(opts.stdout, "  train      %10.1f img/s\n", res.TrainImgPerSec)
	fmt.Fprintf(opts.stdout, "  inference  %10.1f img/s\n", res.InferImgPerSec)
	fmt.Fprintf(opts.stdout, "  batch 1    %10.3f ms (median)\n", res.InferBatch1Ms)
	return nil
}

// timeSteps runs f warmup times untimed, then steps times, and returns the
// time of the timed steps.
func timeSteps(ctx context.Context, warmup, steps int, f func()) (time.Duration, error) {
	for range warmup {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		f()
	}
	t0 := time.Now()
	for range steps {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		f()
	}
	return time.Since(t0), nil
}

// benchBatch returns n random inputs for a seed architecture: pixels in
// [0, 1), operator ids 0..9 (seed-concat), metadata in [-1, 1), and labels
// 0 or 1.
func benchBatch(arch string, rng *rand.Rand, n int) (model.Inputs, []int) {
	const size = model.SeedImageSize
	images := tensor.New(n, 3, size, size)
	for i := range images.Data() {
		images.Data()[i] = rng.Float32()
	}
	in := model.Inputs{Images: autograd.Const(images)}
	switch arch {
	case model.SeedConcat:
		ids := make([]int, n)
		for i := range ids {
			ids[i] = rng.IntN(10)
		}
		in.IDs = [][]int{ids}
	case model.SeedScaleBias, model.SeedFiLM:
		k := 1
		if arch == model.SeedFiLM {
			k = 2
		}
		meta := tensor.New(n, k)
		for i := range meta.Data() {
			meta.Data()[i] = rng.Float32()*2 - 1
		}
		in.Meta = autograd.Const(meta)
	}
	labels := make([]int, n)
	for i := range labels {
		labels[i] = rng.IntN(2)
	}
	return in, labels
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/meta"
	"github.com/metacnn/metacnn/model"
	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"
)

type inspectOptions struct {
	path   string
	json   bool
	stdout io.Writer
}

// costMethod says how the compute figures are obtained.
const costMethod = "multiply-adds of every convolution (out·in/groups·kh·kw·output pixels) and linear layer (in·out) for one image, counted analytically from the layer shapes; element-wise work and embedding lookups are not counted; FLOPs = 2·MACs"

func newInspectCmd() *cobra.Command {
	var opts inspectOptions
	cmd := &cobra.Command{
		Use:   "inspect MODEL.mcnn [--json]",
		Short: "Describe a model file",
		Long: `Describe a model file (.mcnn), after validating it completely: architecture,
parameter count, compute per image, image preprocessing, metadata schema,
classes, training summary and file format version.

Compute is counted analytically: the multiply-adds (MACs) of every
convolution and linear layer for one image; FLOPs are twice that.`,
		Example: "  metacnn inspect model.mcnn\n  metacnn inspect model.mcnn --json",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf("%s takes one model file, got %d arguments", cmd.CommandPath(), len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.path = args[0]
			if err := opts.validate(); err != nil {
				return asUsage(err)
			}
			opts.stdout = cmd.OutOrStdout()
			return runInspect(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.json, "json", false, "print one JSON object (model.json plus the computed figures) instead of text")
	return cmd
}

func (o inspectOptions) validate() error {
	if strings.TrimSpace(o.path) == "" {
		return fmt.Errorf("the model file path is empty")
	}
	return nil
}

// inspectJSON is the --json output.
type inspectJSON struct {
	File          string          `json:"file"`
	SizeBytes     int64           `json:"size_bytes"`
	FormatVersion int             `json:"format_version"`
	Arch          string          `json:"arch"`
	Parameters    int64           `json:"parameters"`
	Buffers       int64           `json:"buffer_values"`
	MACs          int64           `json:"macs_per_image"`
	FLOPs         int64           `json:"flops_per_image"`
	CostMethod    string          `json:"cost_method"`
	MetaColumns   []string        `json:"metadata_columns"`
	MetaWidth     int             `json:"metadata_dense_width"`
	Classes       []string        `json:"classes"`
	WeightsSHA256 string          `json:"weights_sha256"`
	Model         json.RawMessage `json:"model"`
}

func runInspect(_ context.Context, opts inspectOptions) error {
	b, err := model.Load(opts.path)
	if err != nil {
		return err
	}
	var size int64
	if st, err := os.Stat(opts.path); err == nil {
		size = st.Size()
	}
	c := model.CostOf(b.Net)
	arch := b.Spec.Arch
	if arch == "" {
		arch = "spec"
	}
	if opts.json {
		out := inspectJSON{
			File: opts.path, SizeBytes: size, FormatVersion: b.Version, Arch: arch,
			Parameters: c.Params, Buffers: c.Buffers, MACs: c.MACs, FLOPs: c.FLOPs(), CostMethod: costMethod,
			MetaColumns: []string{}, Classes: b.Classes, WeightsSHA256: b.WeightsSHA256, Model: b.Header(),
		}
		if b.Schema != nil {
			out.MetaColumns, out.MetaWidth = b.Schema.Columns(), b.Schema.Width()
		}
		enc := json.NewEncoder(opts.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}

	w := opts.stdout
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "model file\t%s (%s, format version %d)\n", opts.path, byteSize(size), b.Version)
	if b.Spec.Arch != "" {
		fmt.Fprintf(tw, "architecture\t%s (%s)\n", b.Spec.Arch, presetNote(b.Spec.Arch))
	} else {
		fmt.Fprintf(tw, "architecture\tspec (below)\n")
	}
	fmt.Fprintf(tw, "input\t%dx%dx%d (channels x height x width)\n", b.Input[0], b.Input[1], b.Input[2])
	fmt.Fprintf(tw, "image\t%s\n", describeImage(b.Image))
	fmt.Fprintf(tw, "parameters\t%s learnable, %s buffer values\n", groupDigits(c.Params), groupDigits(c.Buffers))
	fmt.Fprintf(tw, "compute\t%s multiply-adds per image = %s FLOPs (convolutions and linear layers, counted analytically)\n",
		groupDigits(c.MACs), siCount(c.FLOPs()))
	fmt.Fprintf(tw, "classes\t%d: %s\n", len(b.Classes), strings.Join(b.Classes, ", "))
	fmt.Fprintf(tw, "weights\t%s sha256 %s\n", model.EntryWeights, b.WeightsSHA256)
	tw.Flush()

	if b.Spec.Arch == "" {
		var y strings.Builder
		enc := yaml.NewEncoder(&y)
		enc.SetIndent(2)
		if err := enc.Encode(map[string]model.Spec{"model": b.Spec}); err != nil {
			return err
		}
		fmt.Fprintf(w, "\nspec:\n%s", indent(y.String(), "  "))
	}

	fmt.Fprintln(w)
	if b.Schema == nil {
		fmt.Fprintln(w, "metadata: none (image only)")
	} else {
		st, err := b.Schema.State()
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "metadata: %d columns -> %d dense values, %d id columns\n", len(st.Columns), b.Schema.Width(), b.Schema.NumIDs())
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, col := range st.Columns {
			fmt.Fprintf(tw, "  %s\t%s\n", col.Spec.Name, describeColumn(col))
		}
		tw.Flush()
	}

	fmt.Fprintln(w)
	if len(b.Training) == 0 {
		fmt.Fprintln(w, "training: no summary")
		return nil
	}
	fmt.Fprintln(w, "training:")
	keys := make([]string, 0, len(b.Training))
	for k := range b.Training {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, k := range keys {
		v := b.Training[k]
		s, ok := v.(string)
		if !ok {
			js, _ := json.Marshal(v)
			s = string(js)
		}
		fmt.Fprintf(tw, "  %s\t%s\n", k, s)
	}
	return tw.Flush()
}

func presetNote(arch string) string {
	switch arch {
	case model.SeedConcat:
		return "the reference document's Example 1: operator embedding concatenated before the head"
	case model.SeedScaleBias:
		return "the reference document's Example 2: temperature -> per-channel scale and bias"
	case model.SeedFiLM:
		return "the reference document's Example 3: FiLM from two metadata values"
	}
	return "preset"
}

func describeImage(o data.ImageOptions) string {
	ch := map[int]string{1: "grey", 3: "RGB", 4: "RGBA"}[o.Channels]
	s := fmt.Sprintf("%dx%d %s, resize %v (%v), pixels/255", o.Width, o.Height, ch, o.Resize, o.Filter)
	if o.Mean == nil {
		return s + ", no normalisation"
	}
	return s + fmt.Sprintf(", then (x - mean)/std with mean %v std %v", o.Mean, o.Std)
}

func describeColumn(c meta.ColumnState) string {
	s := c.Spec
	var parts []string
	switch s.Type {
	case meta.Categorical:
		switch s.Encoding {
		case meta.Embedding:
			parts = append(parts, fmt.Sprintf("categorical, embedding dim %d, %d categories (+ unseen)", s.Dim, len(c.Vocab)))
		case meta.Ordinal:
			parts = append(parts, "categorical, ordinal "+strings.Join(s.Order, " < "))
		case meta.Index:
			p := fmt.Sprintf("categorical, index 0..%d used as the id itself", s.Cardinality-1)
			if s.Dim > 0 {
				p += fmt.Sprintf(", embedding dim %d", s.Dim)
			}
			parts = append(parts, p)
		default:
			parts = append(parts, fmt.Sprintf("categorical, one-hot, %d categories (+ unseen)", len(c.Vocab)))
		}
		if c.Folded > 0 {
			parts = append(parts, fmt.Sprintf("%d rare categories folded into unseen", c.Folded))
		}
	case meta.Numeric:
		switch {
		case s.Bins > 0:
			parts = append(parts, fmt.Sprintf("numeric, %d quantile bins", s.Bins))
		case s.Scale == meta.Raw:
			parts = append(parts, "numeric, raw")
		default:
			parts = append(parts, fmt.Sprintf("numeric, standardised (mean %.4g, std %.4g)", c.Mean, c.Std))
		}
		if s.Clip != nil {
			parts = append(parts, fmt.Sprintf("clipped to [%g, %g]", s.Clip[0], s.Clip[1]))
		}
		if s.Log1p {
			parts = append(parts, "log1p")
		}
	case meta.Cyclical:
		parts = append(parts, fmt.Sprintf("cyclical, period %g", s.Period))
	case meta.Timestamp:
		fs := []string{"hour", "weekday"}
		if s.Features != nil {
			fs = fs[:0]
			for _, f := range s.Features {
				fs = append(fs, f.String())
			}
		}
		parts = append(parts, "timestamp, features "+strings.Join(fs, ", "))
	default:
		parts = append(parts, s.Type.String())
	}
	parts = append(parts, "missing: "+s.MissingPolicyOrDefault().String())
	return strings.Join(parts, ", ")
}

// siCount writes n with a k, M, G or T suffix.
func siCount(n int64) string {
	f := float64(n)
	for _, u := range []struct {
		v float64
		s string
	}{{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if f >= u.v {
			return fmt.Sprintf("%.2f %s", f/u.v, u.s)
		}
	}
	return fmt.Sprint(n)
}

func indent(s, pre string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" && l != "\n" {
			lines[i] = pre + l
		}
	}
	return strings.Join(lines, "")
}

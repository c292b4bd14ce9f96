// Command encode writes, for every row of a manifest, the tensors metacnn
// feeds a model for it, so that another implementation of the encoding
// (train_ddp.py, written by metacnn export torch) can be compared with it
// bit for bit:
//
//	go run ./interop/torch/check/encode -model model.mcnn -data rows.csv [-image-column path] [-out enc.json]
//
// Rows are read as metacnn predict reads them (an unlabeled manifest whose
// header must have the model's metadata columns), each image is decoded
// with data.LoadImage and the model's image options, and the metadata is
// encoded with the model's fitted meta.Schema; a row that fails is listed
// with its kind and reason instead, as predict would report it. The output
// is one JSON object:
//
//	{"image_shape": [C, H, W], "dense_width": K, "num_ids": J, "missing_input": bool,
//	 "rows": [{"row": 2, "path": "...", "file": "...", "image": [C*H*W floats],
//	           "metadata": [K floats], "ids": [J ints], "missing": 0, "warnings": [...]}],
//	 "bad": [{"row": 5, "column": "...", "kind": "...", "reason": "..."}]}
//
// Floats are float32 values written in their shortest exact form, so they
// read back bit for bit.
//
// With -primitives IN.json it instead runs the Go standard library functions
// the encoders rest on over the inputs in IN.json (see primitives) and
// writes their results, for train_ddp.py's reimplementations to be checked
// against on many values:
//
//	go run ./interop/torch/check/encode -primitives in.json [-out out.json]
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/metacnn/metacnn/data"
	"github.com/metacnn/metacnn/meta"
	"github.com/metacnn/metacnn/model"
)

type row struct {
	Row      int       `json:"row"`
	Path     string    `json:"path"`
	File     string    `json:"file"`
	Image    []float32 `json:"image"`
	Metadata []float32 `json:"metadata"`
	IDs      []int     `json:"ids"`
	Missing  float32   `json:"missing"`
	Warnings []string  `json:"warnings,omitempty"`
}

type badRow struct {
	Row    int    `json:"row"`
	Column string `json:"column,omitempty"`
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
}

type output struct {
	ImageShape   []int    `json:"image_shape"`
	DenseWidth   int      `json:"dense_width"`
	NumIDs       int      `json:"num_ids"`
	MissingInput bool     `json:"missing_input"`
	Rows         []row    `json:"rows"`
	Bad          []badRow `json:"bad"`
}

func main() {
	modelPath := flag.String("model", "", "model file (.mcnn)")
	dataPath := flag.String("data", "", "manifest (.csv, .jsonl, .ndjson or .parquet)")
	imageColumn := flag.String("image-column", data.DefaultImageColumn, "column holding the image path")
	out := flag.String("out", "", "JSON file to write (default stdout)")
	prims := flag.String("primitives", "", "instead, run the primitives over the inputs in this JSON file")
	flag.Parse()
	primMode := *prims != ""
	if flag.NArg() > 0 || (primMode && (*modelPath != "" || *dataPath != "")) || (!primMode && (*modelPath == "" || *dataPath == "")) {
		fmt.Fprintln(os.Stderr, "usage: encode -model model.mcnn -data rows.csv [-image-column path] [-out enc.json]\n       encode -primitives in.json [-out out.json]")
		os.Exit(2)
	}
	var err error
	if primMode {
		err = primitives(*prims, *out)
	} else {
		err = run(*modelPath, *dataPath, *imageColumn, *out)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "encode:", err)
		os.Exit(1)
	}
}

func run(modelPath, dataPath, imageColumn, outPath string) error {
	b, err := model.Load(modelPath)
	if err != nil {
		return err
	}
	var required []string
	if b.Schema != nil {
		required = b.Schema.Columns()
	}
	m, err := data.ReadManifest(dataPath, data.ManifestOptions{ImageColumn: imageColumn, Unlabeled: true,
		Required: required, OnBadRow: data.Skip})
	if err != nil {
		return err
	}
	o := output{ImageShape: b.Image.Shape(), Rows: []row{}, Bad: []badRow{}}
	if b.Schema != nil {
		o.DenseWidth, o.NumIDs = b.Schema.Width(), b.Schema.NumIDs()
	}
	o.MissingInput = b.Spec.ModalityDropout > 0
	for _, s := range m.Report.Skipped {
		o.Bad = append(o.Bad, badRow{Row: s.Row, Column: s.Column, Kind: s.Kind, Reason: s.Reason})
	}
	for _, r := range m.Rows {
		// As data.Loader does for predict: the image first, then the metadata.
		img := make([]float32, b.Image.Len())
		if err := data.LoadImage(r.File, b.Image, img); err != nil {
			o.Bad = append(o.Bad, imageBad(r, err))
			continue
		}
		out := row{Row: r.Line, Path: r.Path, File: r.File, Image: img, Metadata: []float32{}, IDs: []int{}}
		if b.Schema != nil {
			e, warns, err := b.Schema.Encode(r.Meta)
			if err != nil {
				o.Bad = append(o.Bad, metaBad(r, err))
				continue
			}
			out.Metadata, out.IDs = e.Dense, e.IDs
			for _, w := range warns {
				out.Warnings = append(out.Warnings, w.String())
			}
		}
		o.Rows = append(o.Rows, out)
	}
	sort.SliceStable(o.Bad, func(i, j int) bool { return o.Bad[i].Row < o.Bad[j].Row })
	return writeJSON(outPath, o)
}

// writeJSON writes v as JSON to the file at path, or to stdout when path
// is empty.
func writeJSON(path string, v any) error {
	var w io.Writer = os.Stdout
	if path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriter(w)
	if err := json.NewEncoder(bw).Encode(v); err != nil {
		return err
	}
	return bw.Flush()
}

// imageBad reports an image failure as data's loader does.
func imageBad(r data.Row, err error) badRow {
	b := badRow{Row: r.Line, Kind: data.KindBadImage, Reason: err.Error()}
	var ie *data.ImageError
	if errors.As(err, &ie) {
		b.Reason = ie.Err.Error()
		if ie.Detail != "" {
			b.Reason += ": " + ie.Detail
		}
	}
	switch {
	case errors.Is(err, data.ErrImageMissing):
		b.Kind = data.KindMissingImage
	case errors.Is(err, data.ErrImageTooLarge):
		b.Kind = data.KindLargeImage
	}
	return b
}

// metaBad reports a metadata failure as data's loader does.
func metaBad(r data.Row, err error) badRow {
	b := badRow{Row: r.Line, Kind: data.KindBadValue, Reason: err.Error()}
	var ve *meta.ValueError
	if !errors.As(err, &ve) {
		return b
	}
	b.Column = ve.Column
	switch {
	case errors.Is(err, meta.ErrDropRow):
		b.Kind, b.Reason = data.KindDropped, "missing value; the column's policy is drop-row"
	case errors.Is(err, meta.ErrMissing):
		b.Kind, b.Reason = data.KindMissingValue, "missing value; the column's policy is error"
	default:
		b.Reason = fmt.Sprintf("value %q: %v", truncate(ve.Value), ve.Err)
		if ve.Detail != "" {
			b.Reason += ": " + ve.Detail
		}
	}
	return b
}

func truncate(s string) string {
	const max = 80 // data's truncate
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

// primitiveInputs are the values -primitives runs the functions over.
// Float64 values travel as the decimal string of their IEEE 754 bits.
type primitiveInputs struct {
	ParseFloat []string `json:"parse_float"` // strconv.ParseFloat(s, 64)
	Atoi       []string `json:"atoi"`        // strconv.Atoi
	Sin        []string `json:"sin"`         // math.Sin, math.Cos (bits)
	Log1p      []string `json:"log1p"`       // math.Log1p (bits)
	Time       []string `json:"time"`        // time.Parse(time.RFC3339, s)
	FormatG    []string `json:"format_g"`    // strconv.FormatFloat(x, 'g', -1, 64) (bits)
	Float32    []uint32 `json:"float32"`     // encoding/json of a float32 (bits)
	Quote      []string `json:"quote"`       // strconv.Quote
}

type primitiveOutputs struct {
	ParseFloat [][2]string `json:"parse_float"` // bits, "" or "syntax" or "range"
	Atoi       []*int64    `json:"atoi"`        // null when it fails
	Sin        [][2]string `json:"sin"`         // sin bits, cos bits
	Log1p      []string    `json:"log1p"`
	Time       [][]int     `json:"time"` // year, month, day, hour, minute, second, nanosecond, weekday, yearday; null when it fails
	FormatG    []string    `json:"format_g"`
	Float32    []string    `json:"float32"`
	Quote      []string    `json:"quote"`
}

func primitives(inPath, outPath string) error {
	raw, err := os.ReadFile(inPath)
	if err != nil {
		return err
	}
	var in primitiveInputs
	if err := json.Unmarshal(raw, &in); err != nil {
		return err
	}
	bits := func(s string) float64 {
		u, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			panic(err)
		}
		return math.Float64frombits(u)
	}
	str := func(f float64) string { return strconv.FormatUint(math.Float64bits(f), 10) }
	var o primitiveOutputs
	for _, s := range in.ParseFloat {
		f, err := strconv.ParseFloat(s, 64)
		e := ""
		if err != nil {
			e = "syntax"
			if errors.Is(err, strconv.ErrRange) {
				e = "range"
			}
		}
		if e == "syntax" {
			f = 0
		}
		o.ParseFloat = append(o.ParseFloat, [2]string{str(f), e})
	}
	for _, s := range in.Atoi {
		n, err := strconv.Atoi(s)
		if err != nil {
			o.Atoi = append(o.Atoi, nil)
			continue
		}
		v := int64(n)
		o.Atoi = append(o.Atoi, &v)
	}
	for _, s := range in.Sin {
		x := bits(s)
		o.Sin = append(o.Sin, [2]string{str(math.Sin(x)), str(math.Cos(x))})
	}
	for _, s := range in.Log1p {
		o.Log1p = append(o.Log1p, str(math.Log1p(bits(s))))
	}
	for _, s := range in.Time {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			o.Time = append(o.Time, nil)
			continue
		}
		o.Time = append(o.Time, []int{t.Year(), int(t.Month()), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(),
			int(t.Weekday()), t.YearDay()})
	}
	for _, s := range in.FormatG {
		o.FormatG = append(o.FormatG, strconv.FormatFloat(bits(s), 'g', -1, 64))
	}
	for _, u := range in.Float32 {
		b, err := json.Marshal(math.Float32frombits(u))
		if err != nil {
			return err
		}
		o.Float32 = append(o.Float32, string(b))
	}
	for _, s := range in.Quote {
		o.Quote = append(o.Quote, strconv.Quote(s))
	}
	return writeJSON(outPath, o)
}

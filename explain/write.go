package explain

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/metacnn/metacnn/report"
	"github.com/metacnn/metacnn/tensor"
)

// File names Write uses in its directory.
const (
	FileJSON       = "explain.json"
	FileInput      = "input.png"           // the image as the network sees it (resized)
	FileCAM        = "gradcam.png"         // the normalised CAM in grey, one pixel per input pixel
	FileOverlay    = "gradcam_overlay.png" // the CAM's colours over the input image
	FileModulation = "modulation.csv"      // block, kind, channel, gamma, beta for the given row
	FileSweep      = "sweep.csv"           // column, value, given, block, kind, channel, gamma, beta
	FileSweepProbs = "sweep_probs.csv"     // column, value, given, one probability per class
)

// minViewSize is the size the longer side of the input and overlay PNGs is
// enlarged to (by an integer factor, nearest neighbour) when the network's
// input is smaller, so a 56x56 input is not a thumbnail.
const minViewSize = 224

// overlayAlpha is the weight of the heat map's colour over the image.
const overlayAlpha = 0.5

// SweepPlotName is the file name of the γ/β heat maps of block over the
// values of column.
func SweepPlotName(block, column string) string {
	return "sweep_" + report.FileName(block) + "_" + report.FileName(column) + ".png"
}

// Write writes the explanation into dir (created if needed), each file
// atomically, and returns the paths written: FileJSON, FileInput, FileCAM,
// FileOverlay, and for models with modulating blocks FileModulation; with
// sweeps FileSweep, FileSweepProbs and one SweepPlotName figure per block
// and column.
func (r *Result) Write(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	var written []string
	put := func(name string, b []byte) error {
		p := filepath.Join(dir, name)
		if err := report.WriteFile(p, b); err != nil {
			return fmt.Errorf("explain: %w", err)
		}
		written = append(written, p)
		return nil
	}
	h, w := r.Heat.Dim(0), r.Heat.Dim(1)
	zoom := max(1, (minViewSize+max(h, w)-1)/max(h, w))
	grey, err := encodePNG(greyImage(r.Heat))
	if err != nil {
		return nil, err
	}
	input, err := encodePNG(enlarge(rgbImage(r.display, nil), zoom))
	if err != nil {
		return nil, err
	}
	overlay, err := encodePNG(enlarge(rgbImage(r.display, r.Heat), zoom))
	if err != nil {
		return nil, err
	}
	js, err := json.MarshalIndent(r.jsonView(), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	for _, f := range []struct {
		name string
		b    []byte
	}{{FileInput, input}, {FileCAM, grey}, {FileOverlay, overlay}} {
		if err := put(f.name, f.b); err != nil {
			return written, err
		}
	}
	if len(r.Modulations) > 0 {
		rows := [][]string{{"block", "kind", "channel", "gamma", "beta"}}
		for _, m := range r.Modulations {
			for c := range m.Gamma {
				rows = append(rows, []string{m.Block, m.Kind, strconv.Itoa(c), f32(m.Gamma[c]), f32(m.Beta[c])})
			}
		}
		if err := put(FileModulation, csvBytes(rows)); err != nil {
			return written, err
		}
	}
	if len(r.Sweeps) > 0 {
		mods := [][]string{{"column", "value", "given", "block", "kind", "channel", "gamma", "beta"}}
		probs := [][]string{append([]string{"column", "value", "given"}, r.Classes...)}
		for _, s := range r.Sweeps {
			for i, v := range s.Values {
				given := strconv.FormatBool(i == s.Given)
				p := []string{s.Column, v, given}
				for _, x := range s.Probs[i] {
					p = append(p, strconv.FormatFloat(x, 'g', 6, 64))
				}
				probs = append(probs, p)
				for _, b := range s.Blocks {
					for c := range b.Gamma[i] {
						mods = append(mods, []string{s.Column, v, given, b.Block, b.Kind, strconv.Itoa(c), f32(b.Gamma[i][c]), f32(b.Beta[i][c])})
					}
				}
			}
		}
		if len(mods) > 1 {
			if err := put(FileSweep, csvBytes(mods)); err != nil {
				return written, err
			}
		}
		if err := put(FileSweepProbs, csvBytes(probs)); err != nil {
			return written, err
		}
		for _, s := range r.Sweeps {
			for _, b := range s.Blocks {
				fig, err := sweepFigure(s, b)
				if err != nil {
					return written, err
				}
				png, err := fig.PNG()
				if err != nil {
					return written, fmt.Errorf("explain: %w", err)
				}
				if err := put(fig.Name, png); err != nil {
					return written, err
				}
			}
		}
	}
	if err := put(FileJSON, append(js, '\n')); err != nil {
		return written, err
	}
	return written, nil
}

// jsonView is what explain.json holds: the Result plus the CAM's numbers.
func (r *Result) jsonView() any {
	type camJSON struct {
		Class    string    `json:"class"`
		Features [3]int    `json:"features"`
		Weights  []float32 `json:"weights"`
		Max      float32   `json:"max"`
		Peak     [2]int    `json:"peak"` // [x, y] of the heat map's maximum, in input pixels
		Files    []string  `json:"files"`
	}
	peak := 0
	for i, v := range r.Heat.Data() {
		if v > r.Heat.Data()[peak] {
			peak = i
		}
	}
	w := r.Heat.Dim(1)
	return struct {
		*Result
		GradCAM camJSON `json:"gradcam"`
	}{r, camJSON{
		Class: r.Classes[r.Explained], Features: r.CAM.Features, Weights: r.CAM.Weights,
		Max: slices.Max(r.CAM.Map.Data()), Peak: [2]int{peak % w, peak / w},
		Files: []string{FileCAM, FileOverlay},
	}}
}

func f32(v float32) string { return strconv.FormatFloat(float64(v), 'g', 7, 32) }

func csvBytes(rows [][]string) []byte {
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	_ = cw.WriteAll(rows) // writes to a bytes.Buffer cannot fail
	return b.Bytes()
}

func encodePNG(img image.Image) ([]byte, error) {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, fmt.Errorf("explain: encoding PNG: %w", err)
	}
	return b.Bytes(), nil
}

// greyImage maps a [H, W] map in [0, 1] to 8-bit grey.
func greyImage(m *tensor.Tensor) *image.Gray {
	h, w := m.Dim(0), m.Dim(1)
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i, v := range m.Data() {
		img.Pix[(i/w)*img.Stride+i%w] = to8(float64(v))
	}
	return img
}

// rgbImage turns a [3, H, W] image in [0, 1] into RGBA; with heat ([H, W]
// in [0, 1]) each pixel is blended with the heat's colour on a blue (0) to
// red (1) diverging scale.
func rgbImage(t *tensor.Tensor, heat *tensor.Tensor) *image.RGBA {
	h, w := t.Dim(1), t.Dim(2)
	d, plane := t.Data(), h*w
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	cm := moreland.SmoothBlueRed()
	cm.SetMin(0)
	cm.SetMax(1)
	for i := range plane {
		px := [3]float64{float64(d[i]), float64(d[plane+i]), float64(d[2*plane+i])}
		if heat != nil {
			v := min(max(float64(heat.Data()[i]), 0), 1)
			c, err := cm.At(v)
			if err == nil {
				r, g, b, _ := c.RGBA()
				hc := [3]float64{float64(r) / 0xffff, float64(g) / 0xffff, float64(b) / 0xffff}
				for k := range px {
					px[k] = (1-overlayAlpha)*px[k] + overlayAlpha*hc[k]
				}
			}
		}
		o := (i/w)*img.Stride + (i%w)*4
		img.Pix[o], img.Pix[o+1], img.Pix[o+2], img.Pix[o+3] = to8(px[0]), to8(px[1]), to8(px[2]), 255
	}
	return img
}

func to8(v float64) uint8 {
	if !(v > 0) {
		return 0
	}
	return uint8(min(math.Round(v*255), 255))
}

// enlarge scales img up by an integer factor, nearest neighbour.
func enlarge(img *image.RGBA, k int) *image.RGBA {
	if k <= 1 {
		return img
	}
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx()*k, b.Dy()*k))
	for y := range b.Dy() * k {
		for x := range b.Dx() * k {
			out.SetRGBA(x, y, img.RGBAAt(x/k, y/k))
		}
	}
	return out
}

// sweepFigure draws block's γ and β over the values of a sweep: two heat
// maps, channel across, value up, on a diverging scale centred on the
// identity (γ 1, β 0), so red amplifies or shifts up, blue damps or shifts
// down, white leaves a channel alone.
func sweepFigure(s *Sweep, b BlockSweep) (report.Figure, error) {
	g, err := modulationPlot(fmt.Sprintf("γ of %s by %s", b.Block, s.Column), s, b.Gamma, 1)
	if err != nil {
		return report.Figure{}, err
	}
	bt, err := modulationPlot(fmt.Sprintf("β of %s by %s", b.Block, s.Column), s, b.Beta, 0)
	if err != nil {
		return report.Figure{}, err
	}
	h := vg.Length(2.2+0.25*float64(len(s.Values))) * vg.Inch
	return report.Figure{
		Name:    SweepPlotName(b.Block, s.Column),
		Caption: fmt.Sprintf("Per-channel γ and β of %s as %s varies (the given value is starred)", b.Block, s.Column),
		Plots:   []*plot.Plot{g, bt},
		Height:  min(h, 9*vg.Inch),
	}, nil
}

func modulationPlot(title string, s *Sweep, vals [][]float32, centre float64) (*plot.Plot, error) {
	grid := valueGrid{vals: vals}
	r := 0.0
	for _, row := range vals {
		for _, v := range row {
			r = max(r, math.Abs(float64(v)-centre))
		}
	}
	if !(r > 0) || math.IsInf(r, 0) {
		r = 1
	}
	cm := moreland.SmoothBlueRed()
	cm.SetMin(centre - r)
	cm.SetMax(centre + r)
	hm := plotter.NewHeatMap(grid, cm.Palette(255))
	hm.Min, hm.Max = centre-r, centre+r
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s\nblue %.3g … white %g … red %.3g", title, centre-r, centre, centre+r)
	p.X.Label.Text = "channel"
	p.Y.Label.Text = s.Column
	p.Add(hm)
	ticks := make([]plot.Tick, len(s.Values))
	for i, v := range s.Values {
		if i == s.Given {
			v += " *"
		}
		ticks[i] = plot.Tick{Value: float64(i), Label: v}
	}
	p.Y.Tick.Marker = plot.ConstantTicks(ticks)
	c := 0
	if len(vals) > 0 {
		c = len(vals[0])
	}
	p.X.Min, p.X.Max = -0.5, float64(c)-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(len(vals))-0.5
	return p, nil
}

// valueGrid is [value][channel] as a heat map grid: column = channel,
// row = value.
type valueGrid struct{ vals [][]float32 }

func (g valueGrid) Dims() (c, r int) {
	if len(g.vals) == 0 {
		return 0, 0
	}
	return len(g.vals[0]), len(g.vals)
}
func (g valueGrid) Z(c, r int) float64 { return float64(g.vals[r][c]) }
func (g valueGrid) X(c int) float64    { return float64(c) }
func (g valueGrid) Y(r int) float64    { return float64(r) }

// Summary writes the prediction and what the explanation found, as plain
// text: the class probabilities, the explained class and where its CAM
// peaks, and for each sweep how much γ, β and the explained class's
// probability move.
func (r *Result) Summary(w io.Writer) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "image: %s\n", r.Image)
	width := len("class")
	for _, c := range r.Classes {
		width = max(width, len(c))
	}
	fmt.Fprintf(&b, "%-*s  %10s  %11s\n", width, "class", "logit", "probability")
	for i, c := range r.Classes {
		mark := ""
		if i == r.Predicted {
			mark = "  predicted"
		}
		fmt.Fprintf(&b, "%-*s  %10.4f  %11.4f%s\n", width, c, r.Logits[i], r.Probs[i], mark)
	}
	for _, x := range r.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", x)
	}
	peak := 0
	for i, v := range r.Heat.Data() {
		if v > r.Heat.Data()[peak] {
			peak = i
		}
	}
	f := r.CAM.Features
	if slices.Max(r.CAM.Map.Data()) > 0 {
		fmt.Fprintf(&b, "Grad-CAM of class %s over the %dx%dx%d feature map: peaks at x=%d y=%d of %dx%d\n",
			r.Classes[r.Explained], f[0], f[1], f[2], peak%r.Heat.Dim(1), peak/r.Heat.Dim(1), r.Heat.Dim(1), r.Heat.Dim(0))
	} else {
		fmt.Fprintf(&b, "Grad-CAM of class %s over the %dx%dx%d feature map: no positive evidence anywhere (the map is zero)\n",
			r.Classes[r.Explained], f[0], f[1], f[2])
	}
	for _, m := range r.Modulations {
		fmt.Fprintf(&b, "%s (%s), %d channels: γ in [%.4g, %.4g], β in [%.4g, %.4g]\n",
			m.Block, m.Kind, len(m.Gamma), slices.Min(m.Gamma), slices.Max(m.Gamma), slices.Min(m.Beta), slices.Max(m.Beta))
	}
	for _, s := range r.Sweeps {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, p := range s.Probs {
			lo, hi = min(lo, p[r.Explained]), max(hi, p[r.Explained])
		}
		fmt.Fprintf(&b, "sweep %s over %d values: P(%s) %.4f to %.4f", s.Column, len(s.Values), r.Classes[r.Explained], lo, hi)
		for _, bl := range s.Blocks {
			dg, cg := spread(bl.Gamma)
			db, cb := spread(bl.Beta)
			fmt.Fprintf(&b, "; %s γ moves up to %.4g (channel %d), β up to %.4g (channel %d)", bl.Block, dg, cg, db, cb)
		}
		b.WriteByte('\n')
	}
	_, err := w.Write(b.Bytes())
	return err
}

// spread returns the largest range (max − min over values) of any channel
// of vals [value][channel], and that channel.
func spread(vals [][]float32) (float64, int) {
	if len(vals) == 0 {
		return 0, 0
	}
	best, at := -1.0, 0
	for c := range vals[0] {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, row := range vals {
			lo, hi = min(lo, float64(row[c])), max(hi, float64(row[c]))
		}
		if hi-lo > best {
			best, at = hi-lo, c
		}
	}
	return best, at
}

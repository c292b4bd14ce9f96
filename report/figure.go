package report

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Figure sizes and resolution. A single plot is 5.5 x 4.5 inches; tiled
// plots are that wide each.
const (
	DefaultPlotWidth  = 5.5 * vg.Inch
	DefaultPlotHeight = 4.5 * vg.Inch
	// DPI of the PNGs: 5.5 in is 550 pixels.
	DPI = 100
)

// Figure is one PNG file: one or more plots side by side.
type Figure struct {
	// Name is the file name, a plain name ending in .png (no directory).
	Name string
	// Caption describes the figure under it on a page; also its alt text.
	Caption string
	// Plots are drawn left to right; nil entries are not allowed.
	Plots []*plot.Plot
	// Width and Height of the whole figure; zero means DefaultPlotWidth
	// per plot and DefaultPlotHeight.
	Width, Height vg.Length
}

func (f Figure) size() (w, h vg.Length) {
	w, h = f.Width, f.Height
	if w == 0 {
		w = DefaultPlotWidth * vg.Length(max(1, len(f.Plots)))
	}
	if h == 0 {
		h = DefaultPlotHeight
	}
	return w, h
}

// Pixels returns the figure's PNG width and height.
func (f Figure) Pixels() (w, h int) {
	fw, fh := f.size()
	return int(float64(fw/vg.Inch)*DPI + 0.5), int(float64(fh/vg.Inch)*DPI + 0.5)
}

func (f Figure) check() error {
	if err := checkFileName(f.Name); err != nil {
		return err
	}
	if !strings.HasSuffix(f.Name, ".png") {
		return fmt.Errorf("report: figure %q: want a name ending in .png", f.Name)
	}
	if len(f.Plots) == 0 {
		return fmt.Errorf("report: figure %q has no plots", f.Name)
	}
	for i, p := range f.Plots {
		if p == nil {
			return fmt.Errorf("report: figure %q: plot %d is nil", f.Name, i)
		}
	}
	return nil
}

// checkFileName accepts a plain file name safe in a URL and on any file
// system: letters, digits, '.', '-', '_', not starting with '.'.
func checkFileName(name string) error {
	if name == "" || name[0] == '.' || len(name) > 200 {
		return fmt.Errorf("report: file name %q: want a plain name such as roc.png", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return fmt.Errorf("report: file name %q: only letters, digits, '.', '-' and '_' are allowed", name)
		}
	}
	return nil
}

// FileName turns s into a string checkFileName accepts (other characters
// become '_'), for names built from data such as a column name.
func FileName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
		if b.Len() >= 60 {
			break
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

// PNG renders the figure as PNG bytes.
func (f Figure) PNG() (b []byte, err error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	defer func() {
		// gonum/plot panics on some degenerate inputs (e.g. an axis range
		// it cannot tick); a report must fail with an error instead.
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("report: drawing %s: %v", f.Name, r)
		}
	}()
	w, h := f.size()
	c := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(DPI))
	dc := draw.New(c)
	if len(f.Plots) == 1 {
		f.Plots[0].Draw(dc)
	} else {
		tiles := draw.Tiles{Rows: 1, Cols: len(f.Plots), PadX: vg.Points(12), PadTop: vg.Points(4), PadBottom: vg.Points(4),
			PadLeft: vg.Points(4), PadRight: vg.Points(4)}
		row := [][]*plot.Plot{f.Plots}
		canvases := plot.Align(row, tiles, dc)
		for i, p := range f.Plots {
			p.Draw(canvases[0][i])
		}
	}
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("report: encoding %s: %w", f.Name, err)
	}
	return buf.Bytes(), nil
}

// WritePNG renders the figure into dir/Name, atomically.
func (f Figure) WritePNG(dir string) error {
	b, err := f.PNG()
	if err != nil {
		return err
	}
	return WriteFile(filepath.Join(dir, f.Name), b)
}

// WriteFile writes b to path atomically: to a temporary file next to it,
// synced, then renamed over path, so readers see the old file or the whole
// new one, never a part.
func WriteFile(path string, b []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(b); err != nil {
		return fmt.Errorf("report: writing %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("report: writing %s: %w", path, err)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("report: writing %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("report: writing %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

var errNoDir = errors.New("report: no output directory given")

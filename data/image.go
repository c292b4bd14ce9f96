package data

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // register GIF
	_ "image/jpeg"
	_ "image/png"
	"io"
	"math"
	"os"

	_ "golang.org/x/image/bmp" // register BMP
	"golang.org/x/image/draw"
	_ "golang.org/x/image/tiff" // register TIFF
	_ "golang.org/x/image/webp" // register WebP
)

// Defaults for ImageOptions limits.
const (
	DefaultMaxPixels    = 50_000_000 // about 7000 x 7000
	DefaultMaxFileBytes = 256 << 20
)

// Image error classes; test with errors.Is. Every image error also names
// the file (or "image" for in-memory bytes).
var (
	ErrImageMissing  = errors.New("image file not found")
	ErrImageUnread   = errors.New("image file cannot be read")
	ErrImageCorrupt  = errors.New("image cannot be decoded")
	ErrImageTooLarge = errors.New("image is over the limit")
)

// ImageOptions says how an image becomes a float32 CHW array. Width and
// Height are required; every other zero value is a documented default.
type ImageOptions struct {
	Width, Height int
	// Channels is 1 (luma, ITU-R 601 as PIL's "L"), 3 (RGB) or 4 (RGBA,
	// not composited). 0 means 3.
	Channels int
	// Resize defaults to Stretch; Filter to CatmullRom.
	Resize ResizeMode
	Filter Filter
	// Background is the RGB colour transparent pixels are composited on
	// (1 and 3 channels) and the padding of FitPad. The zero value is black.
	Background [3]uint8
	// MaxPixels rejects images whose width*height is larger, before
	// decoding them. 0 means DefaultMaxPixels.
	MaxPixels int64
	// MaxFileBytes rejects larger files before reading them. 0 means
	// DefaultMaxFileBytes.
	MaxFileBytes int64
	// Mean and Std, when set (length Channels each, Std > 0), normalise
	// each channel as (x - Mean[c]) / Std[c] after scaling to [0, 1].
	Mean, Std []float32
}

// Validate checks the options.
func (o ImageOptions) Validate() error {
	if o.Width <= 0 || o.Height <= 0 || o.Width > 1<<15 || o.Height > 1<<15 {
		return fmt.Errorf("data: image size %dx%d: want width and height in [1, 32768]", o.Width, o.Height)
	}
	switch o.channels() {
	case 1, 3, 4:
	default:
		return fmt.Errorf("data: image channels %d: want 1, 3 or 4", o.Channels)
	}
	if o.Resize < ResizeUnset || o.Resize > CenterCrop {
		return fmt.Errorf("data: invalid resize mode %d", int(o.Resize))
	}
	if o.Filter < FilterUnset || o.Filter > Nearest {
		return fmt.Errorf("data: invalid filter %d", int(o.Filter))
	}
	if o.MaxPixels < 0 || o.MaxFileBytes < 0 {
		return errors.New("data: negative image limit")
	}
	if (o.Mean == nil) != (o.Std == nil) {
		return errors.New("data: image normalisation needs both mean and std")
	}
	if o.Mean != nil {
		if len(o.Mean) != o.channels() || len(o.Std) != o.channels() {
			return fmt.Errorf("data: image normalisation has %d means and %d stds for %d channels", len(o.Mean), len(o.Std), o.channels())
		}
		for c := range o.Std {
			if !(o.Std[c] > 0) || math.IsInf(float64(o.Std[c]), 0) || math.IsNaN(float64(o.Mean[c])) || math.IsInf(float64(o.Mean[c]), 0) {
				return fmt.Errorf("data: image normalisation channel %d: mean %g std %g, want finite and std > 0", c, o.Mean[c], o.Std[c])
			}
		}
	}
	return nil
}

func (o ImageOptions) channels() int {
	if o.Channels == 0 {
		return 3
	}
	return o.Channels
}

// Len is the number of float32 values of one decoded image: C*H*W.
func (o ImageOptions) Len() int { return o.channels() * o.Height * o.Width }

// Shape is [C, H, W].
func (o ImageOptions) Shape() []int { return []int{o.channels(), o.Height, o.Width} }

func (o ImageOptions) maxPixels() int64 {
	if o.MaxPixels == 0 {
		return DefaultMaxPixels
	}
	return o.MaxPixels
}

func (o ImageOptions) maxFileBytes() int64 {
	if o.MaxFileBytes == 0 {
		return DefaultMaxFileBytes
	}
	return o.MaxFileBytes
}

// ImageError is an image problem with the file it concerns.
type ImageError struct {
	File string // "" for in-memory bytes
	Err  error  // one of the ErrImage* classes
	// Detail says what exactly went wrong.
	Detail string
}

func (e *ImageError) Error() string {
	f := e.File
	if f == "" {
		f = "image"
	}
	msg := f + ": " + e.Err.Error()
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

func (e *ImageError) Unwrap() error { return e.Err }

// ImageInfo is what an image header says.
type ImageInfo struct {
	Format        string // "png", "jpeg", "gif", "bmp", "tiff", "webp"
	Width, Height int
}

// openImage opens the regular file at path, of at most limit bytes, and
// returns it with its size.
func openImage(path string, limit int64) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, 0, &ImageError{File: path, Err: ErrImageMissing}
		}
		return nil, 0, &ImageError{File: path, Err: ErrImageUnread, Detail: err.Error()}
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, &ImageError{File: path, Err: ErrImageUnread, Detail: err.Error()}
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, &ImageError{File: path, Err: ErrImageUnread, Detail: "not a regular file"}
	}
	if st.Size() > limit {
		f.Close()
		return nil, 0, &ImageError{File: path, Err: ErrImageTooLarge, Detail: fmt.Sprintf("file is %d bytes, limit %d", st.Size(), limit)}
	}
	return f, st.Size(), nil
}

// readFile reads path whole, within the size limit.
func readFile(path string, limit int64) ([]byte, error) {
	f, _, err := openImage(path, limit)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, &ImageError{File: path, Err: ErrImageUnread, Detail: err.Error()}
	}
	if int64(len(b)) > limit {
		return nil, &ImageError{File: path, Err: ErrImageTooLarge, Detail: fmt.Sprintf("file is over %d bytes", limit)}
	}
	return b, nil
}

// CheckImageFile reads only the header of the image at path and checks it
// against the limits, without decoding the pixels.
func CheckImageFile(path string, opts ImageOptions) (ImageInfo, error) {
	b, err := readHeader(path, opts.maxFileBytes())
	if err != nil {
		return ImageInfo{}, err
	}
	info, err := checkHeader(b, opts)
	if err != nil {
		err.(*ImageError).File = path
		return ImageInfo{}, err
	}
	return info, nil
}

// readHeader reads the first bytes of path, enough for every registered
// decoder's DecodeConfig except TIFF files with their IFD at the end, for
// which the whole file is read.
func readHeader(path string, limit int64) ([]byte, error) {
	const headerBytes = 64 << 10
	f, size, err := openImage(path, limit)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	n := min(size, headerBytes)
	if isTIFFPrefix(f) {
		n = size
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, &ImageError{File: path, Err: ErrImageUnread, Detail: err.Error()}
	}
	return b, nil
}

func isTIFFPrefix(f *os.File) bool {
	var p [4]byte
	n, _ := f.ReadAt(p[:], 0)
	return n == 4 && (string(p[:]) == "II*\x00" || string(p[:]) == "MM\x00*")
}

func checkHeader(b []byte, opts ImageOptions) (info ImageInfo, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &ImageError{Err: ErrImageCorrupt, Detail: fmt.Sprintf("decoder failed: %v", r)}
		}
	}()
	cfg, format, derr := image.DecodeConfig(bytes.NewReader(b))
	if derr != nil {
		if errors.Is(derr, image.ErrFormat) {
			return ImageInfo{}, &ImageError{Err: ErrImageCorrupt, Detail: "unknown image format (want PNG, JPEG, GIF, BMP, TIFF or WebP)"}
		}
		return ImageInfo{}, &ImageError{Err: ErrImageCorrupt, Detail: fmt.Sprintf("%s header: %v", format, derr)}
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return ImageInfo{}, &ImageError{Err: ErrImageCorrupt, Detail: fmt.Sprintf("%s header gives size %dx%d", format, cfg.Width, cfg.Height)}
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > opts.maxPixels() {
		return ImageInfo{}, &ImageError{Err: ErrImageTooLarge, Detail: fmt.Sprintf("%dx%d is %d pixels, limit %d", cfg.Width, cfg.Height, px, opts.maxPixels())}
	}
	return ImageInfo{Format: format, Width: cfg.Width, Height: cfg.Height}, nil
}

// LoadImage reads, decodes and converts the image at path into dst, which
// must hold opts.Len() values in CHW order.
func LoadImage(path string, opts ImageOptions, dst []float32) error {
	b, err := readFile(path, opts.maxFileBytes())
	if err != nil {
		return err
	}
	if err := DecodeImage(b, opts, dst); err != nil {
		var ie *ImageError
		if errors.As(err, &ie) {
			ie.File = path
		}
		return err
	}
	return nil
}

// DecodeImage decodes an encoded image (any registered format) and writes
// it into dst, which must hold opts.Len() values in CHW order. The header
// is checked against opts.MaxPixels before the pixels are decoded.
// Decoder panics on malformed input are turned into ErrImageCorrupt.
func DecodeImage(b []byte, opts ImageOptions, dst []float32) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	if len(dst) != opts.Len() {
		return fmt.Errorf("data: DecodeImage: dst holds %d values, want %d (%v)", len(dst), opts.Len(), opts.Shape())
	}
	if int64(len(b)) > opts.maxFileBytes() {
		return &ImageError{Err: ErrImageTooLarge, Detail: fmt.Sprintf("%d bytes, limit %d", len(b), opts.maxFileBytes())}
	}
	info, err := checkHeader(b, opts)
	if err != nil {
		return err
	}
	img, err := decode(b, info)
	if err != nil {
		return err
	}
	src := toRGBA(img)
	if info.Format == "jpeg" {
		src = orient(src, exifOrientation(b))
	}
	resized := resize(src, opts)
	writeCHW(resized, opts, dst)
	return nil
}

func decode(b []byte, info ImageInfo) (img image.Image, err error) {
	defer func() {
		if r := recover(); r != nil {
			img, err = nil, &ImageError{Err: ErrImageCorrupt, Detail: fmt.Sprintf("%s decoder failed: %v", info.Format, r)}
		}
	}()
	img, _, err = image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, &ImageError{Err: ErrImageCorrupt, Detail: fmt.Sprintf("%s: %v", info.Format, err)}
	}
	if r := img.Bounds(); r.Dx() != info.Width || r.Dy() != info.Height {
		return nil, &ImageError{Err: ErrImageCorrupt, Detail: fmt.Sprintf("%s header says %dx%d, pixels are %dx%d", info.Format, info.Width, info.Height, r.Dx(), r.Dy())}
	}
	return img, nil
}

// toRGBA returns img as premultiplied 8-bit RGBA with bounds at the origin.
// 8-bit RGB, gray and paletted sources convert exactly.
func toRGBA(img image.Image) *image.RGBA {
	if m, ok := img.(*image.RGBA); ok && m.Rect.Min == (image.Point{}) {
		return m
	}
	b := img.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(dst, dst.Rect, img, b.Min, draw.Src)
	return dst
}

func (o ImageOptions) interpolator() draw.Interpolator {
	switch o.Filter {
	case Bilinear:
		return draw.ApproxBiLinear
	case Nearest:
		return draw.NearestNeighbor
	}
	return draw.CatmullRom
}

// resize brings src to the target size. An image that needs no scaling is
// copied without resampling.
func resize(src *image.RGBA, o ImageOptions) *image.RGBA {
	W, H := o.Width, o.Height
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	if sw == W && sh == H {
		return src
	}
	dst := image.NewRGBA(image.Rect(0, 0, W, H))
	switch o.Resize {
	case FitPad:
		// Padding stays transparent; writeCHW composites it onto Background.
		scale := math.Min(float64(W)/float64(sw), float64(H)/float64(sh))
		nw := min(W, max(1, int(math.Round(float64(sw)*scale))))
		nh := min(H, max(1, int(math.Round(float64(sh)*scale))))
		x0, y0 := (W-nw)/2, (H-nh)/2
		r := image.Rect(x0, y0, x0+nw, y0+nh)
		if nw == sw && nh == sh {
			draw.Copy(dst, r.Min, src, src.Rect, draw.Src, nil)
		} else {
			o.interpolator().Scale(dst, r, src, src.Rect, draw.Src, nil)
		}
		return dst
	case CenterCrop:
		cw, ch := sw, sh
		if int64(sw)*int64(H) > int64(sh)*int64(W) {
			cw = min(sw, max(1, int(math.Round(float64(sh)*float64(W)/float64(H)))))
		} else {
			ch = min(sh, max(1, int(math.Round(float64(sw)*float64(H)/float64(W)))))
		}
		x0, y0 := (sw-cw)/2, (sh-ch)/2
		sr := image.Rect(x0, y0, x0+cw, y0+ch)
		if cw == W && ch == H {
			draw.Copy(dst, image.Point{}, src, sr, draw.Src, nil)
		} else {
			o.interpolator().Scale(dst, dst.Rect, src, sr, draw.Src, nil)
		}
		return dst
	}
	o.interpolator().Scale(dst, dst.Rect, src, src.Rect, draw.Src, nil)
	return dst
}

// writeCHW converts premultiplied RGBA to float32 CHW in [0, 1], then
// normalises.
func writeCHW(m *image.RGBA, o ImageOptions, dst []float32) {
	W, H := o.Width, o.Height
	plane := W * H
	C := o.channels()
	bg := o.Background
	for y := 0; y < H; y++ {
		row := m.Pix[y*m.Stride : y*m.Stride+4*W]
		for x := 0; x < W; x++ {
			p := row[4*x : 4*x+4 : 4*x+4]
			r, g, b, a := uint32(p[0]), uint32(p[1]), uint32(p[2]), uint32(p[3])
			i := y*W + x
			if C == 4 {
				if a != 0 && a != 255 {
					r, g, b = min(255, (r*255+a/2)/a), min(255, (g*255+a/2)/a), min(255, (b*255+a/2)/a)
				}
				dst[i] = float32(r) / 255
				dst[plane+i] = float32(g) / 255
				dst[2*plane+i] = float32(b) / 255
				dst[3*plane+i] = float32(a) / 255
				continue
			}
			if a != 255 {
				// out = premultiplied colour + background * (1 - alpha), rounded.
				r = min(255, r+(uint32(bg[0])*(255-a)+127)/255)
				g = min(255, g+(uint32(bg[1])*(255-a)+127)/255)
				b = min(255, b+(uint32(bg[2])*(255-a)+127)/255)
			}
			if C == 1 {
				// PIL's "L" conversion: L = (R*19595 + G*38470 + B*7471 + 0x8000) >> 16.
				dst[i] = float32((r*19595+g*38470+b*7471+0x8000)>>16) / 255
				continue
			}
			dst[i] = float32(r) / 255
			dst[plane+i] = float32(g) / 255
			dst[2*plane+i] = float32(b) / 255
		}
	}
	normalise(dst, o)
}

func normalise(dst []float32, o ImageOptions) {
	if o.Mean == nil {
		return
	}
	plane := o.Width * o.Height
	for c := range o.channels() {
		m, s := o.Mean[c], o.Std[c]
		p := dst[c*plane : (c+1)*plane]
		for i := range p {
			p[i] = (p[i] - m) / s
		}
	}
}

package data

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// encodePNG returns m as PNG bytes.
func encodePNG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// pattern is an RGB image whose pixel (x, y) is (10x+y, 20y+x, 7x+3y) mod 256.
func pattern(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m.Set(x, y, color.RGBA{uint8(10*x + y), uint8(20*y + x), uint8(7*x + 3*y), 255})
		}
	}
	return m
}

func decodeT(t *testing.T, b []byte, o ImageOptions) []float32 {
	t.Helper()
	dst := make([]float32, o.Len())
	if err := DecodeImage(b, o, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestDecodeExactAtTargetSize(t *testing.T) {
	// An image already at the target size is not resampled: each value is
	// exactly pixel/255, in CHW order, whatever the filter.
	const w, h = 5, 3
	b := encodePNG(t, pattern(w, h))
	for _, f := range []Filter{CatmullRom, Bilinear} {
		for _, mode := range []ResizeMode{Stretch, FitPad, CenterCrop} {
			got := decodeT(t, b, ImageOptions{Width: w, Height: h, Resize: mode, Filter: f})
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					want := []uint8{uint8(10*x + y), uint8(20*y + x), uint8(7*x + 3*y)}
					for c := range 3 {
						if v := got[c*w*h+y*w+x]; v != float32(want[c])/255 {
							t.Fatalf("%v/%v: (c%d, y%d, x%d) = %v, want %v/255", mode, f, c, y, x, v, want[c])
						}
					}
				}
			}
		}
	}
}

func TestChannelsAndAlpha(t *testing.T) {
	m := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	m.SetNRGBA(0, 0, color.NRGBA{255, 0, 0, 255}) // opaque red
	m.SetNRGBA(1, 0, color.NRGBA{255, 0, 0, 128}) // half-transparent red
	b := encodePNG(t, m)
	white := [3]uint8{255, 255, 255}

	rgb := decodeT(t, b, ImageOptions{Width: 2, Height: 1, Background: white})
	// Half-transparent red on white: R = 128 + 255*127/255 = 255, G = B = 127
	// (premultiplied red 128, background weight 127/255), within rounding.
	want := []float32{1, 1, 0, 127.0 / 255, 0, 127.0 / 255}
	for i := range want {
		if math.Abs(float64(rgb[i]-want[i])) > 1.5/255 {
			t.Errorf("rgb[%d] = %v, want %v", i, rgb[i], want[i])
		}
	}
	// On the default black background the transparent half is dark.
	dark := decodeT(t, b, ImageOptions{Width: 2, Height: 1})
	if math.Abs(float64(dark[1]-128.0/255)) > 1.5/255 || dark[3] != 0 {
		t.Errorf("on black: %v", dark)
	}
	// Luma of opaque red, PIL's formula: (255*19595 + 0x8000) >> 16 = 76.
	gray := decodeT(t, b, ImageOptions{Width: 2, Height: 1, Channels: 1})
	if gray[0] != 76.0/255 {
		t.Errorf("gray[0] = %v, want 76/255", gray[0])
	}
	// Four channels keep straight (non-premultiplied) colour and alpha.
	rgba := decodeT(t, b, ImageOptions{Width: 2, Height: 1, Channels: 4})
	if rgba[1] != 1 || rgba[6] != 1 || math.Abs(float64(rgba[7]-128.0/255)) > 1e-6 {
		t.Errorf("rgba = %v", rgba)
	}
	// A gray PNG gives three equal channels.
	g := image.NewGray(image.Rect(0, 0, 1, 1))
	g.SetGray(0, 0, color.Gray{200})
	g3 := decodeT(t, encodePNG(t, g), ImageOptions{Width: 1, Height: 1})
	if g3[0] != 200.0/255 || g3[1] != g3[0] || g3[2] != g3[0] {
		t.Errorf("gray to rgb = %v", g3)
	}
}

func TestResizeModes(t *testing.T) {
	// 8x4: left half red, right half blue.
	m := image.NewRGBA(image.Rect(0, 0, 8, 4))
	for y := 0; y < 4; y++ {
		for x := 0; x < 8; x++ {
			c := color.RGBA{255, 0, 0, 255}
			if x >= 4 {
				c = color.RGBA{0, 0, 255, 255}
			}
			m.SetRGBA(x, y, c)
		}
	}
	b := encodePNG(t, m)
	// Centre crop to 4x4 takes columns 2..5 without scaling: 2 red, 2 blue.
	cc := decodeT(t, b, ImageOptions{Width: 4, Height: 4, Resize: CenterCrop})
	for x := 0; x < 4; x++ {
		wantR := float32(0)
		if x < 2 {
			wantR = 1
		}
		if cc[x] != wantR || cc[32+x] != 1-wantR {
			t.Errorf("centre crop column %d: R %v B %v", x, cc[x], cc[32+x])
		}
	}
	// Fit-pad to 4x4 scales to 4x2 in rows 1..2; rows 0 and 3 are padding
	// (background green here).
	fp := decodeT(t, b, ImageOptions{Width: 4, Height: 4, Resize: FitPad, Filter: Nearest, Background: [3]uint8{0, 255, 0}})
	for y := 0; y < 4; y++ {
		pad := y == 0 || y == 3
		if g := fp[16+y*4]; (g == 1) != pad {
			t.Errorf("fit-pad row %d: G = %v, padding %v", y, g, pad)
		}
	}
	if fp[1*4+0] != 1 || fp[32+1*4+3] != 1 {
		t.Errorf("fit-pad content: %v", fp)
	}
	// Stretch to 2x2 with nearest: left column red, right column blue.
	st := decodeT(t, b, ImageOptions{Width: 2, Height: 2, Filter: Nearest})
	if st[0] != 1 || st[1] != 0 || st[8+1] != 1 {
		t.Errorf("stretch: %v", st)
	}
	// Catmull-Rom upscaling stays within [0, 1].
	for _, v := range decodeT(t, b, ImageOptions{Width: 17, Height: 9}) {
		if v < 0 || v > 1 {
			t.Fatalf("value %v outside [0, 1]", v)
		}
	}
}

func TestNormalisation(t *testing.T) {
	b := encodePNG(t, pattern(2, 2))
	plain := decodeT(t, b, ImageOptions{Width: 2, Height: 2})
	norm := decodeT(t, b, ImageOptions{Width: 2, Height: 2, Mean: []float32{0.5, 0.25, 0}, Std: []float32{0.5, 2, 1}})
	for i := range plain {
		c := i / 4
		m, s := []float32{0.5, 0.25, 0}[c], []float32{0.5, 2, 1}[c]
		if norm[i] != (plain[i]-m)/s {
			t.Errorf("value %d: %v, want (%v - %v)/%v", i, norm[i], plain[i], m, s)
		}
	}
	if err := DecodeImage(b, ImageOptions{Width: 2, Height: 2, Mean: []float32{0}, Std: []float32{1}}, make([]float32, 12)); err == nil {
		t.Error("mean of the wrong length accepted")
	}
}

func TestFormats(t *testing.T) {
	src := pattern(6, 4)
	enc := map[string]func() []byte{
		"png": func() []byte { return encodePNG(t, src) },
		"bmp": func() []byte {
			var buf bytes.Buffer
			bmp.Encode(&buf, src)
			return buf.Bytes()
		},
		"tiff": func() []byte {
			var buf bytes.Buffer
			tiff.Encode(&buf, src, nil)
			return buf.Bytes()
		},
		"gif": func() []byte {
			var buf bytes.Buffer
			gif.Encode(&buf, src, nil)
			return buf.Bytes()
		},
		"jpeg": func() []byte {
			var buf bytes.Buffer
			jpeg.Encode(&buf, src, &jpeg.Options{Quality: 100})
			return buf.Bytes()
		},
	}
	o := ImageOptions{Width: 6, Height: 4}
	ref := decodeT(t, enc["png"](), o)
	for name, f := range enc {
		got := decodeT(t, f(), o)
		// Lossless formats are exact; GIF quantises to a palette, JPEG is lossy.
		tol := map[string]float64{"gif": 40.0 / 255, "jpeg": 20.0 / 255}[name]
		for i := range ref {
			if math.Abs(float64(got[i]-ref[i])) > tol {
				t.Errorf("%s: value %d = %v, png %v", name, i, got[i], ref[i])
				break
			}
		}
	}
	// Lossless WebP (no Go encoder exists; see testdata/README.md).
	wb, err := os.ReadFile("testdata/gopher-doc.1bpp.lossless.webp")
	if err != nil {
		t.Fatal(err)
	}
	pb, err := os.ReadFile("testdata/gopher-doc.1bpp.png")
	if err != nil {
		t.Fatal(err)
	}
	info, err := checkHeader(wb, ImageOptions{})
	if err != nil || info.Format != "webp" {
		t.Fatalf("webp header: %+v %v", info, err)
	}
	ow := ImageOptions{Width: info.Width, Height: info.Height}
	w, p := decodeT(t, wb, ow), decodeT(t, pb, ow)
	for i := range w {
		if w[i] != p[i] {
			t.Fatalf("webp value %d = %v, png %v", i, w[i], p[i])
		}
	}
}

// withEXIF inserts an APP1 EXIF segment holding only an Orientation tag
// right after a JPEG's SOI marker.
func withEXIF(jpg []byte, orientation uint16, bo binary.ByteOrder) []byte {
	tiffHdr := make([]byte, 8+2+12+4)
	if bo == binary.LittleEndian {
		copy(tiffHdr, "II")
	} else {
		copy(tiffHdr, "MM")
	}
	bo.PutUint16(tiffHdr[2:], 42)
	bo.PutUint32(tiffHdr[4:], 8)
	bo.PutUint16(tiffHdr[8:], 1)       // one entry
	bo.PutUint16(tiffHdr[10:], 0x0112) // Orientation
	bo.PutUint16(tiffHdr[12:], 3)      // SHORT
	bo.PutUint32(tiffHdr[14:], 1)      // count
	bo.PutUint16(tiffHdr[18:], orientation)
	payload := append([]byte("Exif\x00\x00"), tiffHdr...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	seg = append(seg, payload...)
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

func TestEXIFOrientation(t *testing.T) {
	// 16x8: left half red, right half blue.
	m := image.NewRGBA(image.Rect(0, 0, 16, 8))
	for y := 0; y < 8; y++ {
		for x := 0; x < 16; x++ {
			c := color.RGBA{255, 0, 0, 255}
			if x >= 8 {
				c = color.RGBA{0, 0, 255, 255}
			}
			m.SetRGBA(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	for _, bo := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		b := withEXIF(buf.Bytes(), 6, bo)
		if o := exifOrientation(b); o != 6 {
			t.Fatalf("exifOrientation = %d, want 6", o)
		}
		// Orientation 6 is displayed rotated 90° clockwise: 8 wide, 16 tall,
		// the red left half on top. Target 8x16 needs no resampling.
		img := decodeT(t, b, ImageOptions{Width: 8, Height: 16})
		red := func(x, y int) float32 { return img[y*8+x] }
		if red(4, 2) < 0.8 || red(4, 13) > 0.2 {
			t.Errorf("after orientation 6: red at top %v, at bottom %v", red(4, 2), red(4, 13))
		}
	}
	if o := exifOrientation(buf.Bytes()); o != 1 {
		t.Errorf("no EXIF: orientation %d, want 1", o)
	}
	// Each orientation against PIL's exif_transpose on a 2x1 image [A B]:
	// 2 mirror [B A]; 3 rotate 180 [B A]; 4 flip [A B]; 5 transpose [A; B];
	// 6 clockwise [A; B]; 7 transverse [B; A]; 8 anticlockwise [B; A].
	ab := image.NewRGBA(image.Rect(0, 0, 2, 1))
	ab.Pix[0], ab.Pix[4] = 'A', 'B'
	want := map[int]string{1: "AB", 2: "BA", 3: "BA", 4: "AB", 5: "AB", 6: "AB", 7: "BA", 8: "BA"}
	for o, w := range want {
		r := orient(ab, o)
		if o >= 5 && (r.Rect.Dx() != 1 || r.Rect.Dy() != 2) {
			t.Errorf("orientation %d: size %v", o, r.Rect.Size())
		}
		if s := string([]byte{r.Pix[0], r.Pix[4]}); s != w {
			t.Errorf("orientation %d: %q, want %q", o, s, w)
		}
	}
}

func TestImageErrors(t *testing.T) {
	dir := t.TempDir()
	good := encodePNG(t, pattern(20, 20))
	o := ImageOptions{Width: 4, Height: 4}
	dst := make([]float32, o.Len())
	tests := []struct {
		name  string
		data  []byte // nil: no file
		opts  ImageOptions
		class error
	}{
		{"missing", nil, o, ErrImageMissing},
		{"truncated", good[:len(good)/2], o, ErrImageCorrupt},
		{"garbage", []byte("this is not an image at all"), o, ErrImageCorrupt},
		{"empty", []byte{}, o, ErrImageCorrupt},
		{"pixels", good, ImageOptions{Width: 4, Height: 4, MaxPixels: 399}, ErrImageTooLarge},
		{"bytes", good, ImageOptions{Width: 4, Height: 4, MaxFileBytes: 10}, ErrImageTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name+".png")
			if tt.data != nil {
				writeFile(t, path, tt.data)
			}
			err := LoadImage(path, tt.opts, dst)
			if !errors.Is(err, tt.class) {
				t.Fatalf("LoadImage: %v, want %v", err, tt.class)
			}
			var ie *ImageError
			if !errors.As(err, &ie) || ie.File != path {
				t.Errorf("error %v does not name the file", err)
			}
			if tt.class != ErrImageCorrupt || tt.name == "garbage" || tt.name == "empty" {
				// Header-only checks catch all but the truncated file.
				if _, err := CheckImageFile(path, tt.opts); !errors.Is(err, tt.class) {
					t.Errorf("CheckImageFile: %v, want %v", err, tt.class)
				}
			}
		})
	}
}

// FuzzDecodeImage checks that no input makes image decoding panic.
func FuzzDecodeImage(f *testing.F) {
	src := pattern(5, 3)
	f.Add(encodePNG(f, src))
	for _, enc := range []func(*bytes.Buffer){
		func(b *bytes.Buffer) { gif.Encode(b, src, nil) },
		func(b *bytes.Buffer) { jpeg.Encode(b, src, nil) },
		func(b *bytes.Buffer) { bmp.Encode(b, src) },
		func(b *bytes.Buffer) { tiff.Encode(b, src, nil) },
	} {
		var buf bytes.Buffer
		enc(&buf)
		f.Add(buf.Bytes())
	}
	var buf bytes.Buffer
	jpeg.Encode(&buf, src, nil)
	f.Add(withEXIF(buf.Bytes(), 8, binary.BigEndian))
	if b, err := os.ReadFile("testdata/gopher-doc.1bpp.lossless.webp"); err == nil {
		f.Add(b)
	}
	o := ImageOptions{Width: 7, Height: 5, MaxPixels: 1 << 16, MaxFileBytes: 1 << 20}
	f.Fuzz(func(t *testing.T, b []byte) {
		dst := make([]float32, o.Len())
		if err := DecodeImage(b, o, dst); err != nil {
			var ie *ImageError
			if !errors.As(err, &ie) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		for _, v := range dst {
			if !(v >= 0 && v <= 1) {
				t.Fatalf("value %v outside [0, 1]", v)
			}
		}
	})
}

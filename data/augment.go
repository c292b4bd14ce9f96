package data

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Augment is a set of random image transforms applied per sample in the
// Loader, to pixels in [0, 1] before normalisation. The metadata row is not
// touched, so each image stays with its own metadata. Draws come from a
// generator seeded by (loader seed, epoch, row), so a sample is augmented
// the same way whatever the worker count. The zero value does nothing, and
// so does every field left at its zero value.
//
// The transforms run in this order:
//
//  1. geometry, resampled once: random resized crop (CropScale, CropRatio),
//     then a small rotation (Rotate), then the exact quarter turns and
//     flips (Rot90, FlipV, FlipH). The crop and the rotation are composed
//     into one bilinear resampling of the decoded image; quarter turns and
//     flips alone move pixels without resampling.
//  2. colour: brightness and contrast, gamma, hue, each clamped to [0, 1].
//  3. Gaussian blur (Blur).
//  4. Gaussian noise (Noise), clamped to [0, 1].
//
// Brightness, contrast, gamma, blur and noise act on every channel (alpha
// included, for 4 channels); hue on the first three.
type Augment struct {
	// FlipH and FlipV are the probabilities of a horizontal (left-right)
	// and a vertical flip.
	FlipH float64 `yaml:"flip_h,omitempty" json:"flip_h,omitempty"`
	FlipV float64 `yaml:"flip_v,omitempty" json:"flip_v,omitempty"`
	// Rot90 rotates by a uniformly drawn multiple of 90°; square images only.
	Rot90 bool `yaml:"rot90,omitempty" json:"rot90,omitempty"`
	// Brightness adds a uniform draw from [-Brightness, Brightness] to every pixel.
	Brightness float64 `yaml:"brightness,omitempty" json:"brightness,omitempty"`
	// Contrast scales the distance from the image mean by a uniform draw
	// from [1-Contrast, 1+Contrast].
	Contrast float64 `yaml:"contrast,omitempty" json:"contrast,omitempty"`
	// Noise adds Gaussian noise with this standard deviation.
	Noise float64 `yaml:"noise,omitempty" json:"noise,omitempty"`

	// Rotate turns the image about its centre by an angle drawn uniformly
	// from [-Rotate, Rotate] degrees (positive is anticlockwise, as Rot90),
	// with bilinear interpolation, in [0, 180]. Where a rotated pixel comes
	// from outside the image, RotateBorder says what it gets.
	Rotate float64 `yaml:"rotate,omitempty" json:"rotate,omitempty"`
	// RotateBorder fills what a rotation brings in from outside the image:
	// reflect (the default: mirror the image about its edge, without
	// repeating the edge pixel, so no artificial corners appear), edge
	// (repeat the nearest edge pixel) or zero (black before normalisation,
	// as torchvision's RandomRotation).
	RotateBorder Border `yaml:"rotate_border,omitempty" json:"rotate_border,omitempty"`

	// CropScale, when set, turns on a random resized crop as torchvision's
	// RandomResizedCrop: a region whose area is a uniform draw from
	// [CropScale[0], CropScale[1]] of the image's and whose aspect ratio
	// (width/height) is log-uniform in CropRatio is cut out at a uniform
	// position and scaled (bilinear) back to the configured image size.
	// Both bounds are in (0, 1]; torchvision's default is [0.08, 1]. Like
	// torchvision, ten tries are made to fit such a region in the image,
	// then the largest centred region within CropRatio is used. The crop is
	// taken from the decoded image already brought to the configured size
	// (ImageOptions.Resize), not from the original file.
	CropScale Range `yaml:"crop_scale,omitempty" json:"crop_scale,omitzero"`
	// CropRatio bounds the crop's aspect ratio, width/height, both > 0.
	// The zero value means [3/4, 4/3], torchvision's default. It needs
	// CropScale.
	CropRatio Range `yaml:"crop_ratio,omitempty" json:"crop_ratio,omitzero"`

	// Gamma raises every pixel to a power drawn uniformly from
	// [1-Gamma, 1+Gamma], Gamma in [0, 1): above 1 darkens the mid-tones,
	// below 1 lightens them; 0 and 1 stay fixed.
	Gamma float64 `yaml:"gamma,omitempty" json:"gamma,omitempty"`
	// Hue rotates the hue by a uniform draw from [-Hue, Hue] turns, Hue in
	// [0, 0.5] (torchvision's ColorJitter hue range). The rotation is in
	// the YIQ colour space (NTSC 1953 matrix; I and Q turn about the Y
	// axis), which is linear: luminance Y = 0.299 R + 0.587 G + 0.114 B is
	// kept exactly except where a channel is clamped to [0, 1], and grey
	// pixels do not change. It needs a colour image (3 or 4 channels).
	Hue float64 `yaml:"hue,omitempty" json:"hue,omitempty"`
	// Blur, when set, applies a Gaussian blur whose standard deviation, in
	// pixels, is a uniform draw from [Blur[0], Blur[1]], with
	// 0 <= Blur[0] <= Blur[1] <= 10. The kernel is separable, spans
	// ±ceil(3 sigma) pixels, sums to one and repeats the edge pixels beyond
	// the border, so a constant image stays constant.
	Blur Range `yaml:"blur,omitempty" json:"blur,omitzero"`
}

// Range is a closed interval [lo, hi] of an Augment parameter, written as
// a two-element list ([0.08, 1]). The zero value is unset.
type Range [2]float64

// IsZero reports whether r is unset; YAML and JSON omit such a range.
func (r Range) IsZero() bool { return r == Range{} }

// Default augmentation ranges.
var (
	// DefaultCropRatio is the crop aspect ratio range when CropRatio is unset.
	DefaultCropRatio = Range{3.0 / 4, 4.0 / 3}
)

// MaxBlurSigma bounds Augment.Blur.
const MaxBlurSigma = 10

// Validate checks the ranges, that Rot90 is used on square images and Hue
// on colour ones.
func (a Augment) Validate(img ImageOptions) error {
	for _, p := range []struct {
		name string
		v    float64
		max  float64
	}{
		{"flip_h", a.FlipH, 1}, {"flip_v", a.FlipV, 1}, {"brightness", a.Brightness, 1}, {"contrast", a.Contrast, 1},
		{"noise", a.Noise, 1}, {"rotate", a.Rotate, 180}, {"hue", a.Hue, 0.5},
	} {
		if !(p.v >= 0 && p.v <= p.max) {
			return fmt.Errorf("data: augment %s = %g: want a value in [0, %g]", p.name, p.v, p.max)
		}
	}
	if !(a.Gamma >= 0 && a.Gamma < 1) {
		return fmt.Errorf("data: augment gamma = %g: want a value in [0, 1) (the power is drawn from [1-gamma, 1+gamma] and must stay > 0)", a.Gamma)
	}
	if a.RotateBorder < BorderUnset || a.RotateBorder > BorderZero {
		return fmt.Errorf("data: augment rotate_border: invalid border mode %d", int(a.RotateBorder))
	}
	if a.Rot90 && img.Width != img.Height {
		return errors.New("data: augment rot90 needs a square image size")
	}
	if a.Hue > 0 && img.channels() == 1 {
		return errors.New("data: augment hue needs a colour image (channels 3 or 4), not 1 channel")
	}
	if !a.CropScale.IsZero() {
		lo, hi := a.CropScale[0], a.CropScale[1]
		if !(lo > 0 && lo <= hi && hi <= 1) {
			return fmt.Errorf("data: augment crop_scale = [%g, %g]: want 0 < min <= max <= 1 (area fractions of the image)", lo, hi)
		}
	}
	if !a.CropRatio.IsZero() {
		if a.CropScale.IsZero() {
			return errors.New("data: augment crop_ratio is set but crop_scale is not (crop_scale turns the random resized crop on)")
		}
		lo, hi := a.CropRatio[0], a.CropRatio[1]
		if !(lo > 0 && lo <= hi && !math.IsInf(hi, 0)) {
			return fmt.Errorf("data: augment crop_ratio = [%g, %g]: want finite 0 < min <= max (width/height)", lo, hi)
		}
	}
	if !a.Blur.IsZero() {
		lo, hi := a.Blur[0], a.Blur[1]
		if !(lo >= 0 && lo <= hi && hi > 0 && hi <= MaxBlurSigma) {
			return fmt.Errorf("data: augment blur = [%g, %g]: want 0 <= min <= max, 0 < max <= %d (sigma in pixels)", lo, hi, MaxBlurSigma)
		}
	}
	return nil
}

// enabled reports whether a does anything.
func (a Augment) enabled() bool { return a != Augment{} }

// sampleRNG returns the generator for one sample.
func sampleRNG(seed uint64, epoch, row int) *rand.Rand {
	return rand.New(rand.NewPCG(seed^0xa0761d6478bd642f, mix64(uint64(epoch)<<32^uint64(uint32(row)))))
}

// mix64 is the splitmix64 finaliser.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// draws are the random choices for one sample.
type draws struct {
	flipH, flipV bool
	rot          int     // quarter turns
	bright       float64 // added
	contrast     float64 // factor
	noiseSeed    uint64
	angle        float64 // degrees
	crop         cropBox
	gamma        float64 // power
	hue          float64 // turns
	sigma        float64 // blur
}

// draw takes every draw whether or not its transform is enabled, in a fixed
// order, so enabling one transform does not change the draws of another.
// The crop's rejection sampling uses a generator of its own, seeded by one
// draw, for the same reason.
func (a Augment) draw(rng *rand.Rand, h, w int) draws {
	var d draws
	d.flipH = rng.Float64() < a.FlipH
	d.flipV = rng.Float64() < a.FlipV
	d.rot = rng.IntN(4)
	d.bright = (2*rng.Float64() - 1) * a.Brightness
	d.contrast = 1 + (2*rng.Float64()-1)*a.Contrast
	d.noiseSeed = rng.Uint64()
	d.angle = (2*rng.Float64() - 1) * a.Rotate
	cropSeed := rng.Uint64()
	d.gamma = 1 + (2*rng.Float64()-1)*a.Gamma
	d.hue = (2*rng.Float64() - 1) * a.Hue
	u := rng.Float64()
	d.sigma = a.Blur[0] + u*(a.Blur[1]-a.Blur[0])
	if !a.Rot90 {
		d.rot = 0
	}
	d.crop = cropBox{w: w, h: h}
	if !a.CropScale.IsZero() {
		ratio := a.CropRatio
		if ratio.IsZero() {
			ratio = DefaultCropRatio
		}
		d.crop = randomCrop(rand.New(rand.NewPCG(cropSeed, 1)), h, w, a.CropScale, ratio)
	}
	return d
}

// cropBox is a region of an image: columns [x, x+w), rows [y, y+h).
type cropBox struct{ x, y, w, h int }

// randomCrop follows torchvision's RandomResizedCrop.get_params: ten tries
// at a region of random area and log-uniform aspect ratio, then the
// largest centred region within the ratio range.
func randomCrop(rng *rand.Rand, H, W int, scale, ratio Range) cropBox {
	area := float64(H * W)
	logLo, logHi := math.Log(ratio[0]), math.Log(ratio[1])
	for range 10 {
		target := area * (scale[0] + rng.Float64()*(scale[1]-scale[0]))
		aspect := math.Exp(logLo + rng.Float64()*(logHi-logLo))
		w := int(math.Round(math.Sqrt(target * aspect)))
		h := int(math.Round(math.Sqrt(target / aspect)))
		if w > 0 && w <= W && h > 0 && h <= H {
			return cropBox{x: rng.IntN(W - w + 1), y: rng.IntN(H - h + 1), w: w, h: h}
		}
	}
	w, h := W, H
	switch in := float64(W) / float64(H); {
	case in < ratio[0]:
		h = max(1, min(H, int(math.Round(float64(w)/ratio[0]))))
	case in > ratio[1]:
		w = max(1, min(W, int(math.Round(float64(h)*ratio[1]))))
	}
	return cropBox{x: (W - w) / 2, y: (H - h) / 2, w: w, h: h}
}

// Apply transforms one CHW image of shape [c, h, w] in place. Every draw is
// taken whether or not its transform is enabled, so enabling one transform
// does not change the draws of another. scratch must hold c*h*w values.
func (a Augment) Apply(img, scratch []float32, c, h, w int, rng *rand.Rand) {
	d := a.draw(rng, h, w)
	resample := d.angle != 0 || d.crop != (cropBox{w: w, h: h})
	if resample {
		copy(scratch, img)
		warp(img, scratch, c, h, w, d, a.RotateBorder)
	} else if d.flipH || d.flipV || d.rot != 0 {
		copy(scratch, img)
		permute(img, scratch, c, h, w, d)
	}
	if a.Brightness != 0 || a.Contrast != 0 {
		brightnessContrast(img, d.bright, d.contrast, a.Contrast != 0)
	}
	if a.Gamma != 0 {
		applyGamma(img, d.gamma)
	}
	if a.Hue != 0 && d.hue != 0 && c >= 3 {
		rotateHue(img[:3*h*w], h*w, d.hue)
	}
	if !a.Blur.IsZero() && d.sigma > 0 {
		gaussianBlur(img, scratch, c, h, w, d.sigma)
	}
	if a.Noise != 0 {
		noise := rand.New(rand.NewPCG(d.noiseSeed, 0))
		sd := float32(a.Noise)
		for i, v := range img {
			img[i] = clamp01(v + float32(noise.NormFloat64())*sd)
		}
	}
}

func clamp01(x float32) float32 {
	if x < 0 {
		return 0
	}
	if x > 1 {
		return 1
	}
	return x
}

// quarter maps an output pixel to the pixel it takes after the quarter
// turns (anticlockwise) and flips of d.
func (d *draws) quarter(x, y, h, w int) (int, int) {
	sx, sy := x, y
	switch d.rot {
	case 1:
		sx, sy = w-1-y, x
	case 2:
		sx, sy = w-1-x, h-1-y
	case 3:
		sx, sy = y, h-1-x
	}
	if d.flipH {
		sx = w - 1 - sx
	}
	if d.flipV {
		sy = h - 1 - sy
	}
	return sx, sy
}

// permute moves pixels of src into img by quarter turns and flips.
func permute(img, src []float32, c, h, w int, d draws) {
	plane := h * w
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			sx, sy := d.quarter(x, y, h, w)
			dst, s := y*w+x, sy*w+sx
			for ch := 0; ch < c; ch++ {
				img[ch*plane+dst] = src[ch*plane+s]
			}
		}
	}
}

// warp resamples src into img: each output pixel goes back through the
// quarter turns and flips, the rotation about the centre and the crop's
// scaling to a point of src, sampled bilinearly (pixel centres at integer
// coordinates, as align_corners=False).
func warp(img, src []float32, c, h, w int, d draws, border Border) {
	plane := h * w
	sin, cos := math.Sincos(d.angle * math.Pi / 180)
	if d.angle == 0 {
		sin, cos = 0, 1
	}
	cx, cy := float64(w-1)/2, float64(h-1)/2
	kx, ky := float64(d.crop.w)/float64(w), float64(d.crop.h)/float64(h)
	ox, oy := float64(d.crop.x)+0.5*kx-0.5, float64(d.crop.y)+0.5*ky-0.5
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			px, py := d.quarter(x, y, h, w)
			// Inverse rotation: the output turns anticlockwise (y down) by angle.
			dx, dy := float64(px)-cx, float64(py)-cy
			rx := cx + cos*dx - sin*dy
			ry := cy + sin*dx + cos*dy
			sx, sy := ox+rx*kx, oy+ry*ky
			bilinear(img, src, c, plane, y*w+x, sx, sy, h, w, border)
		}
	}
}

// bilinear writes the bilinear sample of every channel of src at (sx, sy)
// to img at offset dst.
func bilinear(img, src []float32, c, plane, dst int, sx, sy float64, h, w int, border Border) {
	x0f, y0f := math.Floor(sx), math.Floor(sy)
	fx, fy := float32(sx-x0f), float32(sy-y0f)
	x0, y0 := int(x0f), int(y0f)
	xa, okxa := borderIndex(x0, w, border)
	xb, okxb := borderIndex(x0+1, w, border)
	ya, okya := borderIndex(y0, h, border)
	yb, okyb := borderIndex(y0+1, h, border)
	w00, w01, w10, w11 := (1-fx)*(1-fy), fx*(1-fy), (1-fx)*fy, fx*fy
	i00, i01, i10, i11 := ya*w+xa, ya*w+xb, yb*w+xa, yb*w+xb
	if !(okxa && okya) {
		w00 = 0
	}
	if !(okxb && okya) {
		w01 = 0
	}
	if !(okxa && okyb) {
		w10 = 0
	}
	if !(okxb && okyb) {
		w11 = 0
	}
	for ch := 0; ch < c; ch++ {
		p := src[ch*plane : (ch+1)*plane]
		img[ch*plane+dst] = w00*p[i00] + w01*p[i01] + w10*p[i10] + w11*p[i11]
	}
}

// borderIndex maps index i into [0, n) by the border mode; ok is false
// where the sample is outside and the mode is BorderZero.
func borderIndex(i, n int, b Border) (int, bool) {
	if i >= 0 && i < n {
		return i, true
	}
	switch b {
	case BorderZero:
		return 0, false
	case BorderEdge:
		return min(max(i, 0), n-1), true
	}
	if n == 1 {
		return 0, true
	}
	// Reflect without repeating the edge: ... c b | a b c d | c b a ...
	period := 2 * (n - 1)
	i %= period
	if i < 0 {
		i += period
	}
	if i >= n {
		i = period - i
	}
	return i, true
}

// brightnessContrast computes x' = (x - mean)*contrast + mean + bright,
// clamped, as one multiply-add; the mean is over the whole image.
func brightnessContrast(img []float32, bright, contrast float64, useMean bool) {
	var mean float64
	if useMean {
		for _, v := range img {
			mean += float64(v)
		}
		mean /= float64(len(img))
	}
	scale, shift := float32(contrast), float32(mean*(1-contrast)+bright)
	for i, v := range img {
		img[i] = clamp01(v*scale + shift)
	}
}

// applyGamma raises every value (in [0, 1]) to the power g > 0; g = 1
// leaves them exactly as they are.
func applyGamma(img []float32, g float64) {
	if g == 1 {
		return
	}
	for i, v := range img {
		if v > 0 && v < 1 {
			img[i] = powUnit(v, g)
		}
	}
}

// powUnit returns x^g for x in (0, 1) and g > 0, to within 5e-7 of
// math.Pow (1/8000 of an 8-bit level) and several times faster:
// x^g = 2^(g log2 x), log2 from the float's exponent and an atanh series
// for the mantissa, 2^y from its integer part and a Taylor series for the
// fraction.
func powUnit(x float32, g float64) float32 {
	bits := math.Float32bits(x)
	e := int(bits>>23) - 127
	if e < -126 {
		return float32(math.Pow(float64(x), g)) // subnormal
	}
	m := float64(math.Float32frombits(bits&0x007fffff | 0x3f800000)) // [1, 2)
	// log2 m = (2/ln 2) atanh t, t = (m-1)/(m+1) in [0, 1/3): the series
	// to t^11 leaves under 2e-8.
	t := (m - 1) / (m + 1)
	t2 := t * t
	l := float64(e) + t*(2.8853900817779268+t2*(0.9617966939259756+t2*(0.5770780163555854+
		t2*(0.4121985831111324+t2*(0.3205988979753252+t2*0.26230818925253882)))))
	y := g * l
	if y < -149 {
		return 0
	}
	n := math.Floor(y)
	// 2^f = e^(f ln 2), f in [0, 1): Taylor to degree 8 leaves under 1e-7.
	z := (y - n) * math.Ln2
	p := 1 + z*(1+z*(1.0/2+z*(1.0/6+z*(1.0/24+z*(1.0/120+z*(1.0/720+z*(1.0/5040+z*(1.0/40320))))))))
	return float32(p * math.Float64frombits(uint64(int64(n)+1023)<<52))
}

// yiq is the NTSC 1953 RGB -> YIQ matrix.
var yiq = [3][3]float64{
	{0.299, 0.587, 0.114},
	{0.596, -0.274, -0.322},
	{0.211, -0.523, 0.312},
}

// yiqInv is the exact inverse of yiq (not the rounded published one), so
// a hue rotation keeps Y to rounding.
var yiqInv = invert3(yiq)

func invert3(m [3][3]float64) [3][3]float64 {
	var inv [3][3]float64
	det := m[0][0]*(m[1][1]*m[2][2]-m[1][2]*m[2][1]) - m[0][1]*(m[1][0]*m[2][2]-m[1][2]*m[2][0]) + m[0][2]*(m[1][0]*m[2][1]-m[1][1]*m[2][0])
	for i := range 3 {
		for j := range 3 {
			// Cofactor of m[j][i] (the adjugate is the transposed cofactor matrix).
			a, b := (j+1)%3, (j+2)%3
			c, d := (i+1)%3, (i+2)%3
			inv[i][j] = (m[a][c]*m[b][d] - m[a][d]*m[b][c]) / det
		}
	}
	return inv
}

// hueMatrix is the RGB -> RGB matrix that turns I and Q by turns*2π.
func hueMatrix(turns float64) [3][3]float64 {
	sin, cos := math.Sincos(2 * math.Pi * turns)
	rot := [3][3]float64{{1, 0, 0}, {0, cos, -sin}, {0, sin, cos}}
	return mul3(yiqInv, mul3(rot, yiq))
}

func mul3(a, b [3][3]float64) [3][3]float64 {
	var m [3][3]float64
	for i := range 3 {
		for j := range 3 {
			for k := range 3 {
				m[i][j] += a[i][k] * b[k][j]
			}
		}
	}
	return m
}

// rotateHue turns the hue of the RGB planes in rgb (3 planes of size plane).
func rotateHue(rgb []float32, plane int, turns float64) {
	m := hueMatrix(turns)
	var f [3][3]float32
	for i := range 3 {
		for j := range 3 {
			f[i][j] = float32(m[i][j])
		}
	}
	r, g, b := rgb[:plane], rgb[plane:2*plane], rgb[2*plane:3*plane]
	for i := range r {
		R, G, B := r[i], g[i], b[i]
		r[i] = clamp01(f[0][0]*R + f[0][1]*G + f[0][2]*B)
		g[i] = clamp01(f[1][0]*R + f[1][1]*G + f[1][2]*B)
		b[i] = clamp01(f[2][0]*R + f[2][1]*G + f[2][2]*B)
	}
}

// gaussianKernel returns the normalised kernel of radius ceil(3 sigma).
func gaussianKernel(sigma float64) []float32 {
	r := int(math.Ceil(3 * sigma))
	k := make([]float64, 2*r+1)
	var sum float64
	for i := range k {
		x := float64(i - r)
		k[i] = math.Exp(-x * x / (2 * sigma * sigma))
		sum += k[i]
	}
	out := make([]float32, len(k))
	for i := range k {
		out[i] = float32(k[i] / sum)
	}
	return out
}

// gaussianBlur blurs every channel of img (using tmp, of the same size),
// repeating edge pixels beyond the border.
func gaussianBlur(img, tmp []float32, c, h, w int, sigma float64) {
	k := gaussianKernel(sigma)
	r := len(k) / 2
	plane := h * w
	for ch := 0; ch < c; ch++ {
		p, t := img[ch*plane:(ch+1)*plane], tmp[ch*plane:(ch+1)*plane]
		for y := 0; y < h; y++ {
			row, out := p[y*w:(y+1)*w], t[y*w:(y+1)*w]
			for x := range out {
				var s float32
				for i, kv := range k {
					s += kv * row[min(max(x+i-r, 0), w-1)]
				}
				out[x] = s
			}
		}
		for y := 0; y < h; y++ {
			out := p[y*w : (y+1)*w]
			for x := range out {
				out[x] = 0
			}
			for i, kv := range k {
				src := t[min(max(y+i-r, 0), h-1)*w:]
				for x := range out {
					out[x] += kv * src[x]
				}
			}
		}
	}
}

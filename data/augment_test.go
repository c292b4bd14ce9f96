package data

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// randImage returns c*h*w values uniform in [lo, hi).
func randImage(seed uint64, c, h, w int, lo, hi float32) []float32 {
	rng := rand.New(rand.NewPCG(seed, 7))
	img := make([]float32, c*h*w)
	for i := range img {
		img[i] = lo + (hi-lo)*rng.Float32()
	}
	return img
}

func maxAbsDiff(a, b []float32) float64 {
	var m float64
	for i := range a {
		m = max(m, math.Abs(float64(a[i]-b[i])))
	}
	return m
}

// TestAugmentIdentity: every new transform at its identity setting leaves
// the pixels exactly as they were.
func TestAugmentIdentity(t *testing.T) {
	const c, h, w = 3, 6, 6
	src := randImage(1, c, h, w, 0, 1)
	scratch := make([]float32, len(src))
	for _, tc := range []struct {
		name string
		a    Augment
	}{
		{"zero value", Augment{}},
		{"border alone", Augment{RotateBorder: BorderZero}},
		{"full crop, square ratio", Augment{CropScale: Range{1, 1}, CropRatio: Range{1, 1}}},
		{"zero ranges everywhere", Augment{Rotate: 0, Gamma: 0, Hue: 0, Blur: Range{}}},
	} {
		for seed := range uint64(5) {
			img := slices.Clone(src)
			tc.a.Apply(img, scratch, c, h, w, sampleRNG(seed, 1, 2))
			if !slices.Equal(img, src) {
				t.Errorf("%s, seed %d: pixels changed", tc.name, seed)
			}
		}
	}
	// The kernels themselves at their identity parameters (rotation 0,
	// full crop, gamma 1) go through the resampling path exactly.
	img := slices.Clone(src)
	copy(scratch, img)
	warp(img, scratch, c, h, w, draws{crop: cropBox{w: w, h: h}}, BorderReflect)
	if !slices.Equal(img, src) {
		t.Errorf("warp with angle 0 and the full crop changed pixels by %g", maxAbsDiff(img, src))
	}
	applyGamma(img, 1)
	if !slices.Equal(img, src) {
		t.Error("gamma 1 changed pixels")
	}
	rotateHue(img, h*w, 0)
	if d := maxAbsDiff(img, src); d > 1e-6 {
		t.Errorf("hue 0 changed pixels by %g", d)
	}
}

// TestAugmentDrawsIndependent: turning a transform on does not change the
// draws of the others (each is drawn whether enabled or not). Gamma and
// hue leave black and white pixels alone, so on a black-and-white image
// adding them must give the same flips and quarter turns.
// (Hue keeps grey to float32 rounding.)
func TestAugmentDrawsIndependent(t *testing.T) {
	const c, h, w = 3, 5, 5
	src := make([]float32, c*h*w)
	for i := range h * w {
		if (i*7)%3 == 0 {
			src[i], src[h*w+i], src[2*h*w+i] = 1, 1, 1
		}
	}
	scratch := make([]float32, len(src))
	base := Augment{FlipH: 0.5, FlipV: 0.5, Rot90: true}
	more := base
	more.Gamma, more.Hue = 0.5, 0.5
	for row := range 20 {
		a, b := slices.Clone(src), slices.Clone(src)
		base.Apply(a, scratch, c, h, w, sampleRNG(9, 0, row))
		more.Apply(b, scratch, c, h, w, sampleRNG(9, 0, row))
		if d := maxAbsDiff(a, b); d > 1e-6 {
			t.Fatalf("row %d: adding gamma and hue changed the geometry (max diff %g)", row, d)
		}
	}
}

// TestRotate: a rotation by 90° is Rot90's quarter turn, by 180° is both
// flips (to rounding of sin and cos); the centre pixel of an odd image
// stays; border modes fill as documented.
func TestRotate(t *testing.T) {
	const c, n = 2, 5
	src := randImage(2, c, n, n, 0, 1)
	scratch := make([]float32, len(src))
	rotated := func(deg float64, border Border) []float32 {
		img := slices.Clone(src)
		copy(scratch, img)
		warp(img, scratch, c, n, n, draws{angle: deg, crop: cropBox{w: n, h: n}}, border)
		return img
	}
	quarter := func(d draws) []float32 {
		img := slices.Clone(src)
		copy(scratch, img)
		permute(img, scratch, c, n, n, d)
		return img
	}
	if d := maxAbsDiff(rotated(90, BorderZero), quarter(draws{rot: 1})); d > 1e-5 {
		t.Errorf("rotate 90° differs from a quarter turn anticlockwise by %g", d)
	}
	if d := maxAbsDiff(rotated(-90, BorderZero), quarter(draws{rot: 3})); d > 1e-5 {
		t.Errorf("rotate -90° differs from three quarter turns by %g", d)
	}
	if d := maxAbsDiff(rotated(180, BorderZero), quarter(draws{flipH: true, flipV: true})); d > 1e-5 {
		t.Errorf("rotate 180° differs from both flips by %g", d)
	}
	small := rotated(7, BorderReflect)
	if slices.Equal(small, src) {
		t.Error("rotate 7° changed nothing")
	}
	for ch := range c {
		i := ch*n*n + (n/2)*n + n/2
		if small[i] != src[i] {
			t.Errorf("channel %d: centre pixel moved: %v -> %v", ch, src[i], small[i])
		}
	}
	// A constant image stays constant under reflect and edge borders; the
	// zero border blackens the corners of a 45° turn and keeps the centre.
	const m = 9 // large enough for the corners to come from wholly outside
	ones := make([]float32, m*m)
	for i := range ones {
		ones[i] = 1
	}
	for _, b := range []Border{BorderReflect, BorderEdge, BorderZero} {
		img := slices.Clone(ones)
		s := make([]float32, len(img))
		copy(s, img)
		warp(img, s, 1, m, m, draws{angle: 45, crop: cropBox{w: m, h: m}}, b)
		switch b {
		case BorderZero:
			if img[0] != 0 || img[m*m-1] != 0 || math.Abs(float64(img[m*m/2]-1)) > 1e-6 {
				t.Errorf("zero border: corners %v %v, centre %v", img[0], img[m*m-1], img[m*m/2])
			}
		default:
			for i, v := range img {
				if math.Abs(float64(v-1)) > 1e-6 {
					t.Fatalf("%v border: pixel %d = %v, want 1", b, i, v)
				}
			}
		}
	}
}

func TestBorderIndex(t *testing.T) {
	// Reflect without repeating the edge (numpy "reflect"): for n = 4,
	// index -1 -> 1, -3 -> 3, 4 -> 2, 6 -> 0, 7 -> 1.
	for _, tc := range []struct{ i, n, want int }{{-1, 4, 1}, {-3, 4, 3}, {4, 4, 2}, {6, 4, 0}, {7, 4, 1}, {-5, 1, 0}, {2, 4, 2}} {
		if got, ok := borderIndex(tc.i, tc.n, BorderReflect); got != tc.want || !ok {
			t.Errorf("reflect(%d, %d) = %d, want %d", tc.i, tc.n, got, tc.want)
		}
	}
	if got, _ := borderIndex(-3, 4, BorderEdge); got != 0 {
		t.Errorf("edge(-3) = %d", got)
	}
	if got, _ := borderIndex(9, 4, BorderEdge); got != 3 {
		t.Errorf("edge(9) = %d", got)
	}
	if _, ok := borderIndex(-1, 4, BorderZero); ok {
		t.Error("zero border reported an outside index as inside")
	}
}

// TestRandomResizedCrop checks the crop boxes against their scale and
// ratio ranges, the fallback, and that the resampling maps a ramp as the
// box says (bilinear interpolation reproduces linear functions exactly).
func TestRandomResizedCrop(t *testing.T) {
	const H, W = 32, 48
	scale, ratio := Range{0.2, 0.6}, Range{0.5, 2}
	for s := range uint64(200) {
		b := randomCrop(rand.New(rand.NewPCG(s, 1)), H, W, scale, ratio)
		if b.w < 1 || b.h < 1 || b.x < 0 || b.y < 0 || b.x+b.w > W || b.y+b.h > H {
			t.Fatalf("seed %d: box %+v outside %dx%d", s, b, W, H)
		}
		// Rounding each side to a whole pixel moves area and ratio a little.
		area := float64(b.w*b.h) / (H * W)
		r := float64(b.w) / float64(b.h)
		if area < scale[0]*0.85 || area > scale[1]*1.15 || r < ratio[0]*0.85 || r > ratio[1]*1.15 {
			t.Errorf("seed %d: box %+v has area fraction %.3f, ratio %.3f", s, b, area, r)
		}
	}
	// A ratio no region of the scale range can have inside the image:
	// torchvision's fallback, the whole width with the nearest ratio.
	b := randomCrop(rand.New(rand.NewPCG(1, 1)), 20, 20, Range{0.9, 1}, Range{4, 5})
	if b != (cropBox{x: 0, y: 7, w: 20, h: 5}) {
		t.Errorf("fallback box %+v, want {0 7 20 5}", b)
	}

	const n = 8
	ramp := make([]float32, n*n)
	for y := range n {
		for x := range n {
			ramp[y*n+x] = float32(x)
		}
	}
	img, scratch := slices.Clone(ramp), slices.Clone(ramp)
	warp(img, scratch, 1, n, n, draws{crop: cropBox{x: 2, y: 1, w: 4, h: 4}}, BorderReflect)
	for y := range n {
		for x := range n {
			// Output column X samples source column 2 + (X + 0.5) * 4/8 - 0.5.
			want := 1.75 + 0.5*float64(x)
			if got := img[y*n+x]; math.Abs(float64(got)-want) > 1e-5 {
				t.Fatalf("crop output (%d, %d) = %v, want %v", x, y, got, want)
			}
		}
	}
	// Through Apply: the output is the configured size and only values of
	// the image's range appear (bilinear is a convex combination).
	a := Augment{CropScale: Range{0.08, 1}}
	src := randImage(3, 3, n, n, 0.2, 0.8)
	changed := 0
	for row := range 10 {
		img := slices.Clone(src)
		a.Apply(img, make([]float32, len(img)), 3, n, n, sampleRNG(1, 0, row))
		if !slices.Equal(img, src) {
			changed++
		}
		for _, v := range img {
			if v < 0.2-1e-6 || v > 0.8+1e-6 {
				t.Fatalf("row %d: value %v outside the source range", row, v)
			}
		}
	}
	if changed == 0 {
		t.Error("random resized crop never changed the image")
	}
}

func TestGamma(t *testing.T) {
	img := []float32{0, 0.25, 0.5, 1}
	applyGamma(img, 2)
	// 0.25^2 = 0.0625, 0.5^2 = 0.25; 0 and 1 are fixed points.
	if want := []float32{0, 0.0625, 0.25, 1}; maxAbsDiff(img, want) > 1e-7 {
		t.Errorf("gamma 2: %v, want %v", img, want)
	}
	img = []float32{0.25}
	applyGamma(img, 0.5)
	if math.Abs(float64(img[0])-0.5) > 1e-7 {
		t.Errorf("gamma 0.5 of 0.25 = %v, want 0.5", img[0])
	}
	// Through Apply: order of pixels by brightness is kept (monotone).
	src := randImage(4, 1, 4, 4, 0, 1)
	out := slices.Clone(src)
	Augment{Gamma: 0.5}.Apply(out, make([]float32, len(out)), 1, 4, 4, sampleRNG(1, 2, 3))
	for i := range src {
		for j := range src {
			if src[i] < src[j] && !(out[i] <= out[j]) {
				t.Fatalf("gamma reordered pixels %d and %d", i, j)
			}
		}
	}
}

// luma is ITU-R 601 luminance, YIQ's Y.
func luma(r, g, b float32) float64 { return 0.299*float64(r) + 0.587*float64(g) + 0.114*float64(b) }

func TestHue(t *testing.T) {
	const plane = 64
	src := randImage(5, 4, 8, 8, 0.3, 0.7) // RGBA; alpha must not change
	for _, turns := range []float64{0.05, -0.2, 0.5} {
		img := slices.Clone(src)
		rotateHue(img[:3*plane], plane, turns)
		changed := false
		for i := range plane {
			r, g, b := img[i], img[plane+i], img[2*plane+i]
			if r != src[i] || g != src[plane+i] || b != src[2*plane+i] {
				changed = true
			}
			if r == 0 || r == 1 || g == 0 || g == 1 || b == 0 || b == 1 {
				continue // clamped: luminance may move
			}
			// Y is kept to float32 rounding (the matrix is exact in float64).
			if d := math.Abs(luma(r, g, b) - luma(src[i], src[plane+i], src[2*plane+i])); d > 1e-5 {
				t.Fatalf("hue %g: pixel %d luminance moved by %g", turns, i, d)
			}
		}
		if !changed {
			t.Errorf("hue %g changed nothing", turns)
		}
		if !slices.Equal(img[3*plane:], src[3*plane:]) {
			t.Errorf("hue %g changed alpha", turns)
		}
		// Turning back undoes it where nothing was clamped (these mid-range
		// colours are not clamped by these angles).
		rotateHue(img[:3*plane], plane, -turns)
		if d := maxAbsDiff(img, src); d > 1e-5 {
			t.Errorf("hue %g then %g: off by %g", turns, -turns, d)
		}
	}
	// Grey has no hue.
	grey := []float32{0.3, 0.8, 0.3, 0.8, 0.3, 0.8}
	g := slices.Clone(grey)
	rotateHue(g, 2, 0.37)
	if d := maxAbsDiff(g, grey); d > 1e-6 {
		t.Errorf("hue changed grey by %g", d)
	}
	// A half turn maps pure red away from red.
	red := []float32{0.8, 0.2, 0.2}
	rotateHue(red, 1, 0.5)
	if !(red[0] < red[1] && red[0] < red[2]) {
		t.Errorf("half turn of red = %v, want a cyan-ish colour", red)
	}
}

func TestBlur(t *testing.T) {
	const c, h, w = 2, 7, 9
	// A constant image stays constant (the kernel sums to 1, edges repeat),
	// so its mean is kept.
	img := make([]float32, c*h*w)
	for i := range img {
		img[i] = 0.42
	}
	gaussianBlur(img, make([]float32, len(img)), c, h, w, 2.5)
	for i, v := range img {
		if math.Abs(float64(v)-0.42) > 1e-6 {
			t.Fatalf("constant image: pixel %d = %v", i, v)
		}
	}
	// An impulse in the middle spreads into the sampled Gaussian: the sum
	// stays 1, the peak stays in place, the response is symmetric.
	imp := make([]float32, h*w)
	imp[3*w+4] = 1
	gaussianBlur(imp, make([]float32, len(imp)), 1, h, w, 0.8)
	var sum float64
	for _, v := range imp {
		sum += float64(v)
	}
	if math.Abs(sum-1) > 1e-5 || imp[3*w+4] >= 1 || imp[3*w+3] != imp[3*w+5] || imp[2*w+4] != imp[4*w+4] {
		t.Errorf("impulse response: sum %g, centre %v, neighbours %v %v", sum, imp[3*w+4], imp[3*w+3], imp[3*w+5])
	}
	// The 1-D kernel is exp(-x²/2σ²) normalised; for σ = 1 its centre is
	// 1/Σ_{x=-3..3} exp(-x²/2) = 0.39905 (hand computation).
	if k := gaussianKernel(1); len(k) != 7 || math.Abs(float64(k[3])-0.39905) > 1e-5 {
		t.Errorf("kernel σ=1: %v", k)
	}
	// Blur reduces the variance of noise.
	noisy := randImage(6, 1, 16, 16, 0, 1)
	before := variance(noisy)
	Augment{Blur: Range{1, 2}}.Apply(noisy, make([]float32, len(noisy)), 1, 16, 16, sampleRNG(0, 0, 0))
	if after := variance(noisy); !(after < before/2) {
		t.Errorf("blur: variance %g -> %g", before, after)
	}
}

func variance(x []float32) float64 {
	var m, v float64
	for _, a := range x {
		m += float64(a)
	}
	m /= float64(len(x))
	for _, a := range x {
		v += (float64(a) - m) * (float64(a) - m)
	}
	return v / float64(len(x))
}

// fullAugment turns on every transform.
func fullAugment() *Augment {
	return &Augment{FlipH: 0.5, FlipV: 0.5, Rot90: true, Brightness: 0.1, Contrast: 0.2, Noise: 0.05,
		Rotate: 15, RotateBorder: BorderReflect, CropScale: Range{0.5, 1}, CropRatio: Range{0.75, 1.33},
		Gamma: 0.2, Hue: 0.05, Blur: Range{0.1, 1}}
}

func TestAugmentAllDeterministic(t *testing.T) {
	const c, h, w = 3, 12, 12
	src := randImage(7, c, h, w, 0, 1)
	a := *fullAugment()
	x, y := slices.Clone(src), slices.Clone(src)
	a.Apply(x, make([]float32, len(x)), c, h, w, sampleRNG(1, 2, 3))
	a.Apply(y, make([]float32, len(y)), c, h, w, sampleRNG(1, 2, 3))
	if !slices.Equal(x, y) {
		t.Error("same (seed, epoch, row), different result")
	}
	z := slices.Clone(src)
	a.Apply(z, make([]float32, len(z)), c, h, w, sampleRNG(1, 2, 4))
	if slices.Equal(x, z) {
		t.Error("different rows, same result")
	}
	for _, v := range x {
		if !(v >= 0 && v <= 1) {
			t.Fatalf("value %v outside [0, 1]", v)
		}
	}
}

func TestAugmentValidate(t *testing.T) {
	img := ImageOptions{Width: 8, Height: 8}
	if err := fullAugment().Validate(img); err != nil {
		t.Fatalf("full set: %v", err)
	}
	for _, tc := range []struct {
		name string
		a    Augment
		img  ImageOptions
		want string
	}{
		{"rotate", Augment{Rotate: 190}, img, "rotate = 190"},
		{"rotate NaN", Augment{Rotate: math.NaN()}, img, "rotate = NaN"},
		{"border", Augment{RotateBorder: 9}, img, "rotate_border"},
		{"gamma 1", Augment{Gamma: 1}, img, "gamma = 1: want a value in [0, 1)"},
		{"gamma negative", Augment{Gamma: -0.1}, img, "gamma = -0.1"},
		{"hue", Augment{Hue: 0.6}, img, "hue = 0.6"},
		{"hue gray", Augment{Hue: 0.1}, ImageOptions{Width: 8, Height: 8, Channels: 1}, "hue needs a colour image"},
		{"crop min 0", Augment{CropScale: Range{0, 1}}, img, "crop_scale = [0, 1]"},
		{"crop reversed", Augment{CropScale: Range{0.9, 0.5}}, img, "crop_scale = [0.9, 0.5]"},
		{"crop over 1", Augment{CropScale: Range{0.5, 1.5}}, img, "crop_scale"},
		{"ratio alone", Augment{CropRatio: Range{1, 2}}, img, "crop_ratio is set but crop_scale is not"},
		{"ratio bad", Augment{CropScale: Range{0.5, 1}, CropRatio: Range{2, 1}}, img, "crop_ratio = [2, 1]"},
		{"ratio inf", Augment{CropScale: Range{0.5, 1}, CropRatio: Range{1, math.Inf(1)}}, img, "crop_ratio"},
		{"blur reversed", Augment{Blur: Range{2, 1}}, img, "blur = [2, 1]"},
		{"blur big", Augment{Blur: Range{0, 11}}, img, "blur = [0, 11]"},
		{"blur negative", Augment{Blur: Range{-1, 1}}, img, "blur"},
	} {
		err := tc.a.Validate(tc.img)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

// TestAugmentEncoding: the new fields read and write under their keys,
// zero values are left out, and ranges are two-element lists.
func TestAugmentEncoding(t *testing.T) {
	text := "flip_h: 0.5\nrotate: 10\nrotate_border: edge\ncrop_scale: [0.08, 1]\ncrop_ratio: [0.75, 1.3333]\ngamma: 0.2\nhue: 0.05\nblur: [0.1, 2]\n"
	var a Augment
	dec := yaml.NewDecoder(strings.NewReader(text))
	dec.KnownFields(true)
	if err := dec.Decode(&a); err != nil {
		t.Fatal(err)
	}
	want := Augment{FlipH: 0.5, Rotate: 10, RotateBorder: BorderEdge, CropScale: Range{0.08, 1}, CropRatio: Range{0.75, 1.3333}, Gamma: 0.2, Hue: 0.05, Blur: Range{0.1, 2}}
	if a != want {
		t.Errorf("yaml: %+v, want %+v", a, want)
	}
	js, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var b Augment
	if err := json.Unmarshal(js, &b); err != nil || b != a {
		t.Errorf("json round trip: %s -> %+v, %v", js, b, err)
	}
	for _, enc := range []func(any) ([]byte, error){yaml.Marshal, json.Marshal} {
		out, err := enc(Augment{FlipH: 0.5})
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"crop_scale", "crop_ratio", "blur", "rotate_border", "gamma"} {
			if strings.Contains(string(out), key) {
				t.Errorf("zero %s written: %s", key, out)
			}
		}
	}
	if err := yaml.Unmarshal([]byte("blur: [1, 2, 3]\n"), &a); err == nil {
		t.Error("a three-element blur range was accepted")
	}
	if err := yaml.Unmarshal([]byte("rotate_border: wrap\n"), &a); err == nil || !strings.Contains(err.Error(), "reflect, edge, zero") {
		t.Errorf("unknown border: %v", err)
	}
}

// TestPowUnit checks the fast power against math.Pow over (0, 1), for
// powers across the gamma range.
func TestPowUnit(t *testing.T) {
	for _, g := range []float64{0.01, 0.3, 0.8, 0.999, 1.2, 1.99} {
		var worst float64
		for i := 1; i < 100000; i++ {
			x := float32(i) / 100000
			worst = max(worst, math.Abs(float64(powUnit(x, g))-math.Pow(float64(x), g)))
		}
		for _, x := range []float32{1e-38, 1e-30, 1e-10, 0.999999, math.Nextafter32(1, 0)} {
			worst = max(worst, math.Abs(float64(powUnit(x, g))-math.Pow(float64(x), g)))
		}
		if worst > 5e-7 {
			t.Errorf("g = %g: off math.Pow by up to %g", g, worst)
		}
	}
}

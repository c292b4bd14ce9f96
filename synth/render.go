package synth

import (
	"image"
	"math"
	"math/rand/v2"
	"sync"
)

// Sample is one rendered sample.
type Sample struct {
	Spec
	// Image is Size x Size, opaque RGB (A = 255).
	Image *image.RGBA
}

// camera describes how one camera model turns light into pixels.
type camera struct {
	gain     [3]float64 // colour response per channel
	saturate float64    // 1 = as seen; < 1 washes colours out
	blur     float64    // optical blur, Gaussian sigma in pixels
	noise    float64    // sensor noise, sigma in [0, 1] pixel units
	vignette float64    // corner light fall-off: 1 - vignette at the corners
	kernel   []float64  // normalised Gaussian taps, len 2*radius+1
}

var cameras = map[string]*camera{
	"cam1": {gain: [3]float64{1.00, 1.00, 1.00}, saturate: 1.0, blur: 0.4, noise: 0.008, vignette: 0.10},
	"cam2": {gain: [3]float64{1.15, 1.00, 0.82}, saturate: 1.0, blur: 0.8, noise: 0.012, vignette: 0.20},
	"cam3": {gain: [3]float64{0.86, 1.06, 1.12}, saturate: 1.0, blur: 0.5, noise: 0.030, vignette: 0.15},
	"cam4": {gain: [3]float64{1.06, 0.92, 1.04}, saturate: 0.6, blur: 1.2, noise: 0.015, vignette: 0.45},
}

func init() {
	for _, c := range cameras {
		// Taps below 0.5% of the centre one are left out.
		rad := int(math.Floor(c.blur * math.Sqrt(2*math.Log(200))))
		k := make([]float64, 2*rad+1)
		var sum float64
		for i := range k {
			x := float64(i - rad)
			k[i] = math.Exp(-x * x / (2 * c.blur * c.blur))
			sum += k[i]
		}
		for i := range k {
			k[i] /= sum
		}
		c.kernel = k
	}
}

const npix = Size * Size

// canvas holds the surface reflectance per channel while a scene is drawn.
type canvas [3][npix]float64

// spotColour: spots are brownish (contamination), darker in blue.
var spotColour = [3]float64{0.85, 1.0, 1.15}

// render draws sample s of the dataset with the given seed. Everything that
// decides the label comes from s; the geometry and texture come from one
// stream, consumed in a fixed order (surface, blemishes, round marks,
// streaks, crack), and the sensor noise from another. Marks are drawn by
// kind, not by meaning: a design mark and a spot defect of equal contrast,
// or a glare streak and a scratch, are drawn by the same brush from the same
// draws, so two specs that differ only in what a mark means render to the
// same pixels.
func render(s Spec, seed uint64) *image.RGBA {
	r := stream(seed, uint64(s.Index), purposeRender)
	var cv canvas
	grad := surface(&cv, r)

	// Harmless blemishes below the tolerance: stains and hairlines.
	for range r.IntN(3) {
		x, y, rad := markPlace(r)
		disk(&cv, x, y, rad, -uniform(r, 0.03, MaxBlemish), spotColour)
	}
	for range r.IntN(3) {
		line(&cv, r, uniform(r, 6, 20), uniform(r, 0.03, MaxBlemish))
	}

	// Round marks: product-B design mark first, then spot defects.
	t := s.Truth
	var round []float64
	for range t.DesignMarks {
		round = append(round, t.MarkStrength)
	}
	for range t.Spots {
		round = append(round, t.Strength)
	}
	for _, a := range round {
		x, y, rad := markPlace(r)
		disk(&cv, x, y, rad, -a, spotColour)
	}

	// Bright streaks: glare first, then a scratch.
	var streaks []float64
	for range t.Glare {
		streaks = append(streaks, t.GlareStrength)
	}
	if t.Defect == LabelScratch {
		streaks = append(streaks, t.Strength)
	}
	for _, a := range streaks {
		line(&cv, r, uniform(r, 14, 36), a)
	}

	if t.Defect == LabelCrack {
		crack(&cv, r, t.Strength)
	}

	return expose(&cv, s, grad, stream(seed, uint64(s.Index), purposeNoise))
}

// surface fills cv with a brushed-metal surface: albedo, tint, low-frequency
// mottling, directional brushing and fine grain. It returns the lighting
// gradient across the image (x and y slopes).
func surface(cv *canvas, r *rand.Rand) (grad [2]float64) {
	grad = [2]float64{uniform(r, -0.08, 0.08), uniform(r, -0.08, 0.08)}
	albedo := uniform(r, 0.35, 0.85)
	tint := [3]float64{1 + uniform(r, -0.04, 0.04), 1, 1 + uniform(r, -0.04, 0.04)}

	// Mottling: value noise on a 9x9 lattice (8-pixel cells).
	const cells = 9
	var lattice [cells * cells]float64
	mottle := uniform(r, 0.02, 0.05)
	for i := range lattice {
		lattice[i] = mottle * (2*r.Float64() - 1)
	}
	// Brushing: 1D value noise across the brushing direction.
	theta := r.Float64() * math.Pi
	sin, cos := math.Sincos(theta)
	const brushCell = 1.3
	var brush [80]float64
	brushAmp := uniform(r, 0.01, 0.03)
	for i := range brush {
		brush[i] = brushAmp * (2*r.Float64() - 1)
	}
	grain := newNormals(r)

	for y := range Size {
		fy := float64(y) / 8
		iy := int(fy)
		ty := smooth(fy - float64(iy))
		for x := range Size {
			fx := float64(x) / 8
			ix := int(fx)
			tx := smooth(fx - float64(ix))
			m := lerp(lerp(lattice[iy*cells+ix], lattice[iy*cells+ix+1], tx),
				lerp(lattice[(iy+1)*cells+ix], lattice[(iy+1)*cells+ix+1], tx), ty)
			v := (-float64(x-Size/2)*sin+float64(y-Size/2)*cos)/brushCell + 40
			iv := int(v)
			b := lerp(brush[iv], brush[iv+1], smooth(v-float64(iv)))
			rho := albedo + m + b + 0.008*grain.next()
			p := y*Size + x
			for c := range 3 {
				cv[c][p] = rho * tint[c]
			}
		}
	}
	return grad
}

func smooth(t float64) float64     { return t * t * (3 - 2*t) }
func lerp(a, b, t float64) float64 { return a + (b-a)*t }

// markPlace draws the centre and radius of a round mark.
func markPlace(r *rand.Rand) (x, y, rad float64) {
	return uniform(r, 6, Size-6), uniform(r, 6, Size-6), uniform(r, 2, 4)
}

// disk adds amount*colour to a soft-edged disk (amount < 0 darkens).
func disk(cv *canvas, cx, cy, rad, amount float64, colour [3]float64) {
	x0, x1 := clampPix(cx-rad-1), clampPix(cx+rad+1)
	y0, y1 := clampPix(cy-rad-1), clampPix(cy+rad+1)
	for y := y0; y <= y1; y++ {
		for x := x0; x <= x1; x++ {
			d := math.Hypot(float64(x)-cx, float64(y)-cy)
			a := min(max(rad+0.5-d, 0), 1)
			if a == 0 {
				continue
			}
			a *= 0.8 + 0.2*max(1-d/rad, 0) // a little darker at the centre
			p := y*Size + x
			for c := range 3 {
				cv[c][p] += amount * a * colour[c]
			}
		}
	}
}

// line draws a straight bright streak of the given length and contrast at a
// random place and angle, with a Gaussian cross-section.
func line(cv *canvas, r *rand.Rand, length, amount float64) {
	cx, cy := uniform(r, 10, Size-10), uniform(r, 10, Size-10)
	sin, cos := math.Sincos(r.Float64() * math.Pi)
	w := uniform(r, 0.45, 0.7)
	h := length / 2
	var mask [npix]float64
	segment(&mask, cx-h*cos, cy-h*sin, cx+h*cos, cy+h*sin, w)
	for p, a := range mask {
		if a > 0 {
			for c := range 3 {
				cv[c][p] += amount * a
			}
		}
	}
}

// crack draws a dark jagged line, a random walk of short segments with an
// optional branch.
func crack(cv *canvas, r *rand.Rand, amount float64) {
	var mask [npix]float64
	walk := func(x, y, dir float64, n int) (mx, my, mdir float64) {
		for k := range n {
			dir += uniform(r, -0.7, 0.7)
			l := uniform(r, 2.5, 4.5)
			nx, ny := x+l*math.Cos(dir), y+l*math.Sin(dir)
			segment(&mask, x, y, nx, ny, 0.5)
			x, y = nx, ny
			if k == n/2 {
				mx, my, mdir = x, y, dir
			}
		}
		return
	}
	x, y := uniform(r, 16, Size-16), uniform(r, 16, Size-16)
	mx, my, mdir := walk(x, y, r.Float64()*2*math.Pi, 6+r.IntN(5))
	if r.Float64() < 0.5 {
		side := 1.0
		if r.IntN(2) == 0 {
			side = -1
		}
		walk(mx, my, mdir+side*uniform(r, 0.6, 1.2), 3+r.IntN(3))
	}
	for p, a := range mask {
		if a > 0 {
			for c := range 3 {
				cv[c][p] -= amount * a
			}
		}
	}
}

// segment sets mask to the max of itself and a Gaussian line profile
// (sigma w) around the segment (x0,y0)-(x1,y1).
func segment(mask *[npix]float64, x0, y0, x1, y1, w float64) {
	pad := 3 * w
	xa, xb := clampPix(min(x0, x1)-pad), clampPix(max(x0, x1)+pad)
	ya, yb := clampPix(min(y0, y1)-pad), clampPix(max(y0, y1)+pad)
	dx, dy := x1-x0, y1-y0
	ll := dx*dx + dy*dy
	for y := ya; y <= yb; y++ {
		for x := xa; x <= xb; x++ {
			px, py := float64(x)-x0, float64(y)-y0
			t := 0.0
			if ll > 0 {
				t = min(max((px*dx+py*dy)/ll, 0), 1)
			}
			ex, ey := px-t*dx, py-t*dy
			a := math.Exp(-(ex*ex + ey*ey) / (2 * w * w))
			p := y*Size + x
			mask[p] = max(mask[p], a)
		}
	}
}

func clampPix(v float64) int { return min(max(int(math.Floor(v)), 0), Size-1) }

// expose lights the surface, passes it through the camera (colour response,
// saturation, vignetting, blur, noise) and quantises it to 8 bits. Values
// are linear in light (no gamma curve), so a dim scene gives dark pixels.
func expose(cv *canvas, s Spec, grad [2]float64, noise *rand.Rand) *image.RGBA {
	cam := cameras[s.Meta.Camera]
	light := illumination(float64(s.Meta.Hour) + s.minute)
	gx, gy := grad[0], grad[1]
	const half = Size / 2.0
	for y := range Size {
		for x := range Size {
			fx, fy := (float64(x)+0.5-half)/half, (float64(y)+0.5-half)/half
			// Vignetting falls off with the squared radius, to 1-vignette at
			// the corners (where fx*fx+fy*fy = 2).
			f := (1 + gx*fx + gy*fy) * (1 - cam.vignette*(fx*fx+fy*fy)/2)
			p := y*Size + x
			var v [3]float64
			for c := range 3 {
				rho := cv[c][p]
				if rho < 0.02 { // nothing is blacker than black paint
					rho = 0.02
				}
				v[c] = rho * light[c] * cam.gain[c] * f
			}
			if cam.saturate != 1 {
				lum := 0.299*v[0] + 0.587*v[1] + 0.114*v[2]
				for c := range 3 {
					v[c] = lum + cam.saturate*(v[c]-lum)
				}
			}
			for c := range 3 {
				cv[c][p] = v[c]
			}
		}
	}
	for c := range 3 {
		blur(&cv[c], cam.kernel)
	}
	img := image.NewRGBA(image.Rect(0, 0, Size, Size))
	pix := img.Pix[:4*npix]
	gauss := newNormals(noise)
	for p := range npix {
		for c := range 3 {
			v := (cv[c][p]+cam.noise*gauss.next())*255 + 0.5
			// Explicit comparisons: float min and max are slower here.
			if v < 0 {
				v = 0
			} else if v > 255 {
				v = 255
			}
			pix[4*p+c] = uint8(v)
		}
		pix[4*p+3] = 255
	}
	return img
}

// normals draws standard normal values fast: five per Uint64, each a
// 12-bit index into a table of the normal distribution's quantiles (small
// enough to stay in the L1 cache; values lie within ±3.5 sigma). Image
// noise needs no better.
type normals struct {
	r     *rand.Rand
	table *[normalLevels]float32
	bits  uint64
	left  int
}

const normalLevels = 1 << 12

func newNormals(r *rand.Rand) normals { return normals{r: r, table: normalTable()} }

func (g *normals) next() float64 {
	if g.left == 0 {
		g.bits, g.left = g.r.Uint64(), 5
	}
	v := g.table[g.bits&(normalLevels-1)]
	g.bits >>= 12
	g.left--
	return float64(v)
}

// normalTable holds the quantiles (k+0.5)/normalLevels of the standard
// normal distribution, built on first use.
var normalTable = sync.OnceValue(func() *[normalLevels]float32 {
	var t [normalLevels]float32
	for k := range t {
		t[k] = float32(math.Sqrt2 * math.Erfinv(2*(float64(k)+0.5)/normalLevels-1))
	}
	return &t
})

// blur convolves a plane with a separable kernel, replicating the edges.
func blur(plane *[npix]float64, k []float64) {
	rad := len(k) / 2
	var tmp [npix]float64
	row := make([]float64, Size+2*rad)
	for y := range Size {
		src := plane[y*Size : (y+1)*Size]
		for i := range rad {
			row[i], row[rad+Size+i] = src[0], src[Size-1]
		}
		copy(row[rad:], src)
		dst := tmp[y*Size : (y+1)*Size]
		for i, w := range k {
			axpy(dst, w, row[i:i+Size])
		}
	}
	for y := range Size {
		dst := plane[y*Size : (y+1)*Size]
		clear(dst)
		for i, w := range k {
			yy := min(max(y+i-rad, 0), Size-1)
			axpy(dst, w, tmp[yy*Size:(yy+1)*Size])
		}
	}
}

// axpy adds w*x to dst.
func axpy(dst []float64, w float64, x []float64) {
	x = x[:len(dst)]
	for i := range dst {
		dst[i] += w * x[i]
	}
}

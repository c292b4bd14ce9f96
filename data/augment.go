package data

import (
	"errors"
	"fmt"
	"math/rand/v2"
)

// Augment is a set of random image transforms applied per sample in the
// Loader, to pixels in [0, 1] before normalisation. The metadata row is not
// touched, so each image stays with its own metadata. Draws come from a
// generator seeded by (loader seed, epoch, row), so a sample is augmented
// the same way whatever the worker count. The zero value does nothing.
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
}

// Validate checks the ranges, and that Rot90 is used on square images.
func (a Augment) Validate(img ImageOptions) error {
	for _, p := range []struct {
		name string
		v    float64
		max  float64
	}{{"flip_h", a.FlipH, 1}, {"flip_v", a.FlipV, 1}, {"brightness", a.Brightness, 1}, {"contrast", a.Contrast, 1}, {"noise", a.Noise, 1}} {
		if !(p.v >= 0 && p.v <= p.max) {
			return fmt.Errorf("data: augment %s = %g: want a value in [0, %g]", p.name, p.v, p.max)
		}
	}
	if a.Rot90 && img.Width != img.Height {
		return errors.New("data: augment rot90 needs a square image size")
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

// Apply transforms one CHW image of shape [c, h, w] in place. Every draw is
// taken whether or not its transform is enabled, so enabling one transform
// does not change the draws of another. scratch must hold c*h*w values.
func (a Augment) Apply(img, scratch []float32, c, h, w int, rng *rand.Rand) {
	flipH := rng.Float64() < a.FlipH
	flipV := rng.Float64() < a.FlipV
	rot := rng.IntN(4)
	bright := (2*rng.Float64() - 1) * a.Brightness
	contrast := 1 + (2*rng.Float64()-1)*a.Contrast
	noiseSeed := rng.Uint64()
	if !a.Rot90 {
		rot = 0
	}
	if flipH || flipV || rot != 0 {
		copy(scratch, img)
		plane := h * w
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				sx, sy := x, y
				// Rotate anticlockwise by rot quarter turns (square images).
				switch rot {
				case 1:
					sx, sy = w-1-y, x
				case 2:
					sx, sy = w-1-x, h-1-y
				case 3:
					sx, sy = y, h-1-x
				}
				if flipH {
					sx = w - 1 - sx
				}
				if flipV {
					sy = h - 1 - sy
				}
				d, s := y*w+x, sy*w+sx
				for ch := 0; ch < c; ch++ {
					img[ch*plane+d] = scratch[ch*plane+s]
				}
			}
		}
	}
	if a.Brightness == 0 && a.Contrast == 0 && a.Noise == 0 {
		return
	}
	var mean float64
	if a.Contrast != 0 {
		for _, v := range img {
			mean += float64(v)
		}
		mean /= float64(len(img))
	}
	// x' = (x - mean)*contrast + mean + bright, as one multiply-add.
	scale, shift := float32(contrast), float32(mean*(1-contrast)+bright)
	clamp := func(x float32) float32 {
		if x < 0 {
			return 0
		}
		if x > 1 {
			return 1
		}
		return x
	}
	if a.Noise == 0 {
		for i, v := range img {
			img[i] = clamp(v*scale + shift)
		}
		return
	}
	noise := rand.New(rand.NewPCG(noiseSeed, 0))
	sd := float32(a.Noise)
	for i, v := range img {
		img[i] = clamp(v*scale + shift + float32(noise.NormFloat64())*sd)
	}
}

package synth

import (
	"bytes"
	"image"
	"math"
	"slices"
	"testing"
)

// Each test here measures one designed effect from the pixels (or, for the
// labels, from the specs). The thresholds are set well inside the designed
// values documented in doc.go, with the margin noted beside each.

func lum(img *image.RGBA, x, y int) float64 {
	p := img.PixOffset(x, y)
	return (0.299*float64(img.Pix[p]) + 0.587*float64(img.Pix[p+1]) + 0.114*float64(img.Pix[p+2])) / 255
}

func meanChannels(img *image.RGBA) (m [3]float64) {
	for p := 0; p < len(img.Pix); p += 4 {
		for c := range 3 {
			m[c] += float64(img.Pix[p+c])
		}
	}
	for c := range m {
		m[c] /= npix * 255
	}
	return m
}

func meanLum(img *image.RGBA) float64 {
	var s float64
	for y := range Size {
		for x := range Size {
			s += lum(img, x, y)
		}
	}
	return s / npix
}

func medianLum(img *image.RGBA) float64 {
	v := make([]float64, 0, npix)
	for y := range Size {
		for x := range Size {
			v = append(v, lum(img, x, y))
		}
	}
	slices.Sort(v)
	return v[npix/2]
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// samples returns the first n samples of seed 7 that keep says to keep.
func samples(n int, keep func(Spec) bool) []Sample {
	d := Dataset{Seed: 7}
	var out []Sample
	for i := 0; len(out) < n && i < 200*n; i++ {
		if s := d.Spec(i); keep(s) {
			out = append(out, Sample{Spec: s, Image: render(s, d.Seed)})
		}
	}
	return out
}

// contrast is the largest luminance difference between two renders of the
// same scene (same seed and index, so the same texture and noise).
func contrast(a, b *image.RGBA) float64 {
	var m float64
	for y := range Size {
		for x := range Size {
			m = max(m, math.Abs(lum(a, x, y)-lum(b, x, y)))
		}
	}
	return m
}

func TestProductBMarkIsPixelIdenticalToSpot(t *testing.T) {
	for _, s := range samples(20, func(s Spec) bool { return s.Meta.Product == "B" && s.Truth.Defect == LabelOK }) {
		spot := s.Spec
		spot.Meta.Product = "A"
		spot.Truth.DesignMarks, spot.Truth.MarkStrength = 0, 0
		spot.Truth.Defect, spot.Truth.Strength, spot.Truth.Spots = LabelSpot, s.Truth.MarkStrength, 1
		spot.Label = LabelSpot
		if img := render(spot, 7); !bytes.Equal(img.Pix, s.Image.Pix) {
			t.Fatalf("sample %d: B-ok and the same mark as an A spot render differently", s.Index)
		}
	}
}

// markDepth is how much darker than the image's median the darkest 3x3
// neighbourhood is, relative to the median: a round dark mark's depth.
func markDepth(img *image.RGBA) float64 {
	med := medianLum(img)
	low := math.Inf(1)
	for y := 1; y < Size-1; y++ {
		for x := 1; x < Size-1; x++ {
			var s float64
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					s += lum(img, x+dx, y+dy)
				}
			}
			low = min(low, s/9)
		}
	}
	return (med - low) / med
}

func TestProductBMarksHaveSpotStatistics(t *testing.T) {
	const n = 150
	depths := func(keep func(Spec) bool) float64 {
		var d []float64
		for _, s := range samples(n, keep) {
			d = append(d, markDepth(s.Image))
		}
		return mean(d)
	}
	okA := depths(func(s Spec) bool { return s.Meta.Product == "A" && s.Label == LabelOK && s.Truth.Glare == 0 })
	spotA := depths(func(s Spec) bool { return s.Meta.Product == "A" && s.Truth.Spots == 1 && s.Truth.Glare == 0 })
	okB := depths(func(s Spec) bool { return s.Meta.Product == "B" && s.Truth.Defect == LabelOK && s.Truth.Glare == 0 })
	t.Logf("mean relative depth of the darkest mark: A ok %.3f, A one spot %.3f, B ok (design mark) %.3f", okA, spotA, okB)
	// Same brush, same contrast distribution: the means agree to sampling
	// error (about 3% here); blemishes alone are far shallower.
	if r := okB / spotA; r < 0.85 || r > 1.15 {
		t.Errorf("B design marks: depth %.3f vs A spots %.3f (ratio %.2f, want within 15%%)", okB, spotA, r)
	}
	if okA > 0.6*spotA {
		t.Errorf("A ok (blemishes only): depth %.3f, want well below spots' %.3f", okA, spotA)
	}
}

func TestNightIsDarkerAndLightColourFollowsTheHour(t *testing.T) {
	group := func(hours ...int) (lumi, rb float64) {
		ss := samples(120, func(s Spec) bool { return slices.Contains(hours, s.Meta.Hour) && s.Meta.Camera == "cam1" })
		var l, r []float64
		for _, s := range ss {
			m := meanChannels(s.Image)
			l = append(l, meanLum(s.Image))
			r = append(r, m[0]/m[2])
		}
		return mean(l), mean(r)
	}
	night, nightRB := group(23, 0, 1, 2, 3, 4)
	noon, noonRB := group(11, 12)
	_, dawnRB := group(6, 7, 16, 17)
	t.Logf("mean luminance: night %.3f, noon %.3f; R/B: night %.3f, noon %.3f, dawn/dusk %.3f", night, noon, nightRB, noonRB, dawnRB)
	// Designed light: 0.30 at night vs about 0.97 at 11-13h.
	if night > 0.45*noon {
		t.Errorf("night mean luminance %.3f, want < 0.45 x noon's %.3f", night, noon)
	}
	// Lamps are cool (R/B 0.86), noon mixed (0.93), low sun warm (~0.97+).
	if !(nightRB < noonRB && noonRB < dawnRB) {
		t.Errorf("R/B ratio: night %.3f, noon %.3f, dawn/dusk %.3f: want increasing", nightRB, noonRB, dawnRB)
	}
}

func TestFaintDefectAtNightIsFainterThanBlemishAtNoon(t *testing.T) {
	// The same scene (geometry, texture, noise) rendered with a scratch of
	// the weakest defect contrast at night and one of the strongest
	// blemish contrast at noon, each against the same scene without it.
	for _, s := range samples(20, func(s Spec) bool { return s.Truth.Defect == LabelScratch && s.Truth.Glare == 0 }) {
		at := func(hour int, strength float64) float64 {
			sc := s.Spec
			sc.Meta.Hour, sc.minute = hour, 0.5
			sc.Truth.Strength = strength
			// The reference is the same scratch at zero contrast, which
			// keeps the geometry stream aligned.
			ok := sc
			ok.Truth.Strength = 0
			return contrast(render(sc, 7), render(ok, 7))
		}
		night, noon := at(2, MinDefect), at(12, MaxBlemish)
		if night >= noon {
			t.Errorf("sample %d: faint scratch at night has contrast %.3f, blemish-strength streak at noon %.3f; want night < noon", s.Index, night, noon)
		}
	}
}

func TestGlareGrowsWithTemperature(t *testing.T) {
	// Fraction of pixels much brighter than the median, on ok images of
	// product A by cam1, in three temperature bands.
	band := func(lo, hi float64) float64 {
		ss := samples(100, func(s Spec) bool {
			return s.Truth.Defect == LabelOK && s.Meta.Product == "A" && s.Meta.Camera == "cam1" &&
				s.Meta.Temperature >= lo && s.Meta.Temperature < hi
		})
		var f []float64
		for _, s := range ss {
			med := medianLum(s.Image)
			n := 0
			for y := range Size {
				for x := range Size {
					if lum(s.Image, x, y) > 1.2*med {
						n++
					}
				}
			}
			f = append(f, float64(n)/npix)
		}
		return mean(f)
	}
	cool, warm, hot := band(MinTemperature, GlareFrom), band(GlareFrom, GlareTwoFrom), band(GlareTwoFrom, MaxTemperature+1)
	t.Logf("bright-pixel fraction: below 30 °C %.4f, 30-36 °C %.4f, 36 °C and up %.4f", cool, warm, hot)
	if !(cool*2 < warm && warm*1.5 < hot) {
		t.Errorf("glare does not grow with temperature: %.4f, %.4f, %.4f", cool, warm, hot)
	}
}

func TestGlareStreakIsPixelIdenticalToScratch(t *testing.T) {
	for _, s := range samples(20, func(s Spec) bool { return s.Truth.Defect == LabelOK && s.Truth.Glare == 1 }) {
		sc := s.Spec
		sc.Meta.Temperature = 20
		sc.Truth.Glare, sc.Truth.GlareStrength = 0, 0
		sc.Truth.Defect, sc.Truth.Strength, sc.Label = LabelScratch, s.Truth.GlareStrength, LabelScratch
		if img := render(sc, 7); !bytes.Equal(img.Pix, s.Image.Pix) {
			t.Fatalf("sample %d: an ok image with one glare streak differs from a scratch of equal contrast", s.Index)
		}
	}
}

func TestCamerasDiffer(t *testing.T) {
	// The same daytime scratch scenes seen by each camera.
	scenes := samples(60, func(s Spec) bool {
		return s.Meta.Hour >= 9 && s.Meta.Hour <= 15 && s.Truth.Defect == LabelScratch && s.Truth.Glare == 0
	})
	type stats struct{ rg, bg, corner, rough, sharp float64 }
	got := map[string]stats{}
	for _, cam := range Cameras {
		var st stats
		k := 1 / float64(len(scenes))
		for _, s := range scenes {
			sc := s.Spec
			sc.Meta.Camera = cam
			img := render(sc, 7)
			m := meanChannels(img)
			st.rg += k * m[0] / m[1]
			st.bg += k * m[2] / m[1]
			var c, mid float64
			for _, p := range [][2]int{{1, 1}, {62, 1}, {1, 62}, {62, 62}} {
				c += lum(img, p[0], p[1]) / 4
			}
			for _, p := range [][2]int{{31, 31}, {32, 31}, {31, 32}, {32, 32}} {
				mid += lum(img, p[0], p[1]) / 4
			}
			st.corner += k * c / mid
			// Roughness: mean absolute difference between horizontal
			// neighbours (sensor noise dominates it).
			var d float64
			for y := range Size {
				for x := 1; x < Size; x++ {
					d += math.Abs(lum(img, x, y) - lum(img, x-1, y))
				}
			}
			st.rough += k * d / (Size * (Size - 1))
			// Sharpness: peak over area of the scratch alone (the scene
			// minus the same scene with a zero-contrast scratch, so the
			// noise cancels); it falls as 1/sigma of the blurred line.
			ref := sc
			ref.Truth.Strength = 0
			base := render(ref, 7)
			var peak, area float64
			for y := range Size {
				for x := range Size {
					v := math.Abs(lum(img, x, y) - lum(base, x, y))
					peak, area = max(peak, v), area+v
				}
			}
			st.sharp += k * peak / area
		}
		got[cam] = st
		t.Logf("%s: R/G %.3f B/G %.3f corner/centre %.3f roughness %.4f sharpness %.4f", cam, st.rg, st.bg, st.corner, st.rough, st.sharp)
	}
	for i, a := range Cameras {
		for _, b := range Cameras[i+1:] {
			if d := math.Hypot(got[a].rg-got[b].rg, got[a].bg-got[b].bg); d < 0.05 {
				t.Errorf("%s and %s: colour responses differ by %.3f, want >= 0.05", a, b, d)
			}
		}
	}
	// Designed vignetting: -45% (cam4) vs -10% (cam1) at the corners.
	if got["cam4"].corner > got["cam1"].corner-0.2 {
		t.Errorf("cam4 vignetting (corner/centre %.3f) should be far stronger than cam1's (%.3f)", got["cam4"].corner, got["cam1"].corner)
	}
	// Designed noise: cam3 0.030, the others 0.015 at most.
	for _, c := range []string{"cam1", "cam2", "cam4"} {
		if got["cam3"].rough < 1.3*got[c].rough {
			t.Errorf("cam3 roughness %.4f should exceed %s's %.4f clearly", got["cam3"].rough, c, got[c].rough)
		}
	}
	// Designed blur: cam1 0.4 < cam3 0.5 < cam2 0.8 < cam4 1.2 pixels.
	if !(got["cam1"].sharp > got["cam3"].sharp && got["cam3"].sharp > got["cam2"].sharp && got["cam2"].sharp > got["cam4"].sharp) {
		t.Errorf("sharpness should fall with blur cam1 > cam3 > cam2 > cam4: %.4f %.4f %.4f %.4f",
			got["cam1"].sharp, got["cam3"].sharp, got["cam2"].sharp, got["cam4"].sharp)
	}
}

func TestOperatorBias(t *testing.T) {
	d := Dataset{Seed: 3}
	var op3Scratches, op3Flipped, others int
	for i := range 20000 {
		s := d.Spec(i)
		switch {
		case s.Meta.Operator != BiasedOperator:
			if s.Label != s.Truth.Defect || s.Truth.Mislabelled {
				others++
			}
		case s.Truth.Defect == LabelScratch:
			op3Scratches++
			want := LabelScratch
			if s.Truth.Strength < FaintBelow {
				want = LabelOK
			}
			if s.Label != want {
				t.Fatalf("sample %d: op3, scratch of contrast %.3f labelled %q, want %q", i, s.Truth.Strength, s.Label, want)
			}
			if s.Label == LabelOK {
				op3Flipped++
			}
		case s.Label != s.Truth.Defect:
			t.Fatalf("sample %d: op3 mislabelled a %s as %s", i, s.Truth.Defect, s.Label)
		}
	}
	rate := float64(op3Flipped) / float64(op3Scratches)
	t.Logf("op3 labelled %d of %d scratches ok (%.1f%%; designed 37.5%%); other operators: %d wrong labels", op3Flipped, op3Scratches, 100*rate, others)
	if others != 0 {
		t.Errorf("%d labels by unbiased operators differ from the truth", others)
	}
	if rate < 0.32 || rate > 0.43 {
		t.Errorf("op3 flips %.3f of scratches, want about 0.375", rate)
	}
}

func TestLabelBalanceAndSplits(t *testing.T) {
	d := Dataset{Seed: 11}
	const n = 6000
	truth, recorded := map[string]int{}, map[string]int{}
	splits := map[string]map[string]int{}
	for i := range n {
		s := d.Spec(i)
		truth[s.Truth.Defect]++
		recorded[s.Label]++
		if splits[s.Split] == nil {
			splits[s.Split] = map[string]int{}
		}
		splits[s.Split][s.Label]++
	}
	for k, l := range Labels {
		if f := float64(truth[l]) / n; math.Abs(f-classPrior[k]) > 0.025 {
			t.Errorf("true %s: %.3f of samples, designed %.2f", l, f, classPrior[k])
		}
		if f := float64(recorded[l]) / n; f < 0.15 {
			t.Errorf("recorded %s: only %.3f of samples", l, f)
		}
	}
	// Splits are exact per block of 20: 14/3/3.
	want := map[string]int{"train": n * 14 / 20, "val": n * 3 / 20, "test": n * 3 / 20}
	for _, sp := range Splits {
		total := 0
		for _, l := range Labels {
			if splits[sp][l] < 50 {
				t.Errorf("split %s has %d %s images", sp, splits[sp][l], l)
			}
			total += splits[sp][l]
		}
		if total != want[sp] {
			t.Errorf("split %s: %d images, want %d", sp, total, want[sp])
		}
	}
}

// TestMetadataResolvesDesignedAmbiguity bounds what any model can reach on
// the recorded labels from idealised image features (how many round marks
// and bright streaks, whether there is a crack, whether the defect is
// faint), with and without the metadata that the designed effects hinge on.
// It is a ceiling for image-only models, not a prediction of a CNN's score.
func TestMetadataResolvesDesignedAmbiguity(t *testing.T) {
	d := Dataset{Seed: 5}
	type key struct {
		marks, streaks int
		crack, faint   bool
		product        string
		glare          int
		biased         bool
	}
	imageOnly, withMeta := map[key]map[string]int{}, map[key]map[string]int{}
	add := func(m map[key]map[string]int, k key, label string) {
		if m[k] == nil {
			m[k] = map[string]int{}
		}
		m[k][label]++
	}
	const n = 40000
	for i := range n {
		s := d.Spec(i)
		tr := s.Truth
		k := key{marks: tr.DesignMarks + tr.Spots, streaks: tr.Glare, crack: tr.Defect == LabelCrack, faint: tr.Faint()}
		if tr.Defect == LabelScratch {
			k.streaks++
		}
		add(imageOnly, k, s.Label)
		k.product, k.glare, k.biased = s.Meta.Product, tr.Glare, s.Meta.Operator == BiasedOperator
		add(withMeta, k, s.Label)
	}
	best := func(m map[key]map[string]int) float64 {
		c := 0
		for _, labels := range m {
			top := 0
			for _, v := range labels {
				top = max(top, v)
			}
			c += top
		}
		return float64(c) / n
	}
	img, meta := best(imageOnly), best(withMeta)
	t.Logf("best accuracy from idealised image features: %.3f alone, %.3f with product, temperature and operator", img, meta)
	if meta < 0.999 {
		t.Errorf("with metadata the idealised features should decide the label, got %.3f", meta)
	}
	if meta-img < 0.10 {
		t.Errorf("metadata gain %.3f, want >= 0.10 by design", meta-img)
	}
}

package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Version identifies the generator. It changes whenever the same seed would
// produce different images or labels.
const Version = 1

// Size is the width and height of every image, in pixels.
const Size = 64

// Labels are the classes, in this order.
var Labels = []string{LabelOK, LabelScratch, LabelSpot, LabelCrack}

// Class labels.
const (
	LabelOK      = "ok"
	LabelScratch = "scratch"
	LabelSpot    = "spot"
	LabelCrack   = "crack"
)

// Splits are the split names, in this order.
var Splits = []string{"train", "val", "test"}

// Cameras are the camera models (see the package doc for how they differ).
var Cameras = []string{"cam1", "cam2", "cam3", "cam4"}

// Products are the product variants. B carries a round design mark.
var Products = []string{"A", "B"}

// Operators are the operators who label the images.
var Operators = []string{"op1", "op2", "op3", "op4", "op5"}

// BiasedOperator labels faint scratches as ok.
const BiasedOperator = "op3"

// Designed thresholds, in reflectance units (the contrast a mark has on the
// surface itself, before lighting and camera).
const (
	// MinDefect and MaxDefect bound the contrast of a defect (and of a
	// product-B design mark and a glare streak).
	MinDefect = 0.25
	MaxDefect = 0.65
	// MaxBlemish bounds the contrast of the harmless stains and hairlines
	// every image may carry.
	MaxBlemish = 0.14
	// FaintBelow: a defect weaker than this is faint; BiasedOperator labels
	// faint scratches as ok.
	FaintBelow = 0.40
	// GlareFrom is the temperature (°C) from which one glare streak appears;
	// a second one appears from GlareTwoFrom.
	GlareFrom    = 30.0
	GlareTwoFrom = 36.0
	// MinTemperature and MaxTemperature bound the temperature (°C).
	MinTemperature = 18.0
	MaxTemperature = 42.0
)

// Class priors of the true defect.
var classPrior = [4]float64{0.4, 0.2, 0.2, 0.2}

// Meta is the capture metadata of one image: the manifest's metadata columns.
type Meta struct {
	Camera      string  // one of Cameras
	Hour        int     // hour of capture, 0..23
	Temperature float64 // °C, one decimal
	Product     string  // one of Products
	Operator    string  // one of Operators
}

// Truth is what the generator knows about an image and a model must infer.
// It is not part of the manifests (it is written to truth.csv).
type Truth struct {
	// Defect is the true class; Label may differ (operator bias).
	Defect string
	// Strength is the defect's contrast in reflectance units, in
	// [MinDefect, MaxDefect]; 0 for ok.
	Strength float64
	// Spots is the number of spot defects (1 or 2 when Defect is spot).
	Spots int
	// DesignMarks is 1 on product B, else 0; MarkStrength is its contrast.
	DesignMarks  int
	MarkStrength float64
	// Glare is the number of glare streaks (from the temperature);
	// GlareStrength their contrast.
	Glare         int
	GlareStrength float64
	// Illumination is the light level at capture (green channel), from 0.30
	// (night shift) to 1.0 (noon).
	Illumination float64
	// Mislabelled reports Label != Defect.
	Mislabelled bool
}

// Spec is everything about one sample except its pixels.
type Spec struct {
	Index int
	Split string // train, val or test
	Meta  Meta
	// Label is the label as recorded by the operator.
	Label string
	Truth Truth
	// minute is the fraction of the hour at capture; lighting follows it.
	minute float64
}

// Faint reports whether the defect is faint (Strength < FaintBelow).
func (t Truth) Faint() bool { return t.Defect != LabelOK && t.Strength < FaintBelow }

// Row returns the metadata as manifest column -> value.
func (m Meta) Row() map[string]string {
	return map[string]string{
		"camera":      m.Camera,
		"hour":        fmt.Sprint(m.Hour),
		"temperature": formatTemp(m.Temperature),
		"product":     m.Product,
		"operator":    m.Operator,
	}
}

func formatTemp(t float64) string { return fmt.Sprintf("%.1f", t) }

// Stream purposes: each sample draws its spec, its pixels and its split
// from independent streams keyed by (seed, index).
const (
	purposeSpec = iota + 1
	purposeRender
	purposeSplit
	purposeNoise
)

func splitmix64(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}

// stream returns the PCG stream for (seed, index, purpose). Nearby seeds
// and indices are decorrelated by splitmix64 before seeding PCG.
func stream(seed uint64, index uint64, purpose uint64) *rand.Rand {
	hi := splitmix64(seed ^ splitmix64(purpose))
	lo := splitmix64(hi ^ splitmix64(index+purpose<<56))
	return rand.New(rand.NewPCG(hi, lo))
}

func uniform(r *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

// Split blocks: every block of 20 consecutive indices holds 14 train, 3 val
// and 3 test samples, in a seeded order, so a dataset of N >= 20 has every
// split and sample i's split does not depend on N.
const (
	splitBlock = 20
	splitTrain = 14
	splitVal   = 3
)

func splitOf(seed uint64, index int) string {
	r := stream(seed, uint64(index/splitBlock), purposeSplit)
	slot := r.Perm(splitBlock)[index%splitBlock]
	switch {
	case slot < splitTrain:
		return "train"
	case slot < splitTrain+splitVal:
		return "val"
	}
	return "test"
}

// illumination returns the lighting at time of day t (hours, [0, 24)) per
// channel: hall lamps (cool white, dimmed on the night shift 22:00-06:00)
// plus daylight through the windows from 06:00 to 18:00, warm near sunrise
// and sunset and neutral at noon.
func illumination(t float64) [3]float64 {
	lamp := 0.45
	if t >= 22 || t < 6 {
		lamp = 0.30
	}
	sun, warm := 0.0, 0.0
	if t > 6 && t < 18 {
		e := math.Sin(math.Pi * (t - 6) / 12)
		sun = 0.55 * e
		warm = 1 - e
	}
	lampColour := [3]float64{0.93, 1.0, 1.08}
	sunColour := [3]float64{1 + 0.22*warm, 1.0, 1 - 0.28*warm}
	var l [3]float64
	for c := range l {
		l[c] = lamp*lampColour[c] + sun*sunColour[c]
	}
	return l
}

// glare returns the number and contrast of glare streaks at temperature t.
func glare(t float64) (n int, strength float64) {
	switch {
	case t >= GlareTwoFrom:
		n = 2
	case t >= GlareFrom:
		n = 1
	default:
		return 0, 0
	}
	s := MinDefect + (MaxDefect-MinDefect)*(t-GlareFrom)/(MaxTemperature-GlareFrom)
	return n, min(s, MaxDefect)
}

// recordedLabel is the label the operator writes down for a true defect.
func recordedLabel(operator string, t Truth) string {
	if operator == BiasedOperator && t.Defect == LabelScratch && t.Strength < FaintBelow {
		return LabelOK
	}
	return t.Defect
}

// Dataset is the synthetic inspection-line dataset with one seed. Sample i
// depends only on (Seed, i), never on how many samples are generated.
type Dataset struct {
	Seed uint64
}

// Spec returns sample i without rendering it. It panics if i < 0.
func (d Dataset) Spec(i int) Spec {
	if i < 0 {
		panic(fmt.Sprintf("synth: negative sample index %d", i))
	}
	r := stream(d.Seed, uint64(i), purposeSpec)
	s := Spec{Index: i, Split: splitOf(d.Seed, i)}
	m := &s.Meta
	m.Camera = Cameras[r.IntN(len(Cameras))]
	m.Hour = r.IntN(24)
	s.minute = r.Float64()
	m.Temperature = math.Round(uniform(r, MinTemperature, MaxTemperature)*10) / 10
	m.Product = Products[r.IntN(len(Products))]
	m.Operator = Operators[r.IntN(len(Operators))]

	t := &s.Truth
	u := r.Float64()
	t.Defect = LabelCrack
	for k, p := range classPrior {
		if u < p {
			t.Defect = Labels[k]
			break
		}
		u -= p
	}
	if t.Defect != LabelOK {
		t.Strength = uniform(r, MinDefect, MaxDefect)
	}
	if t.Defect == LabelSpot {
		t.Spots = 1
		if r.Float64() < 0.3 {
			t.Spots = 2
		}
	}
	if m.Product == "B" {
		t.DesignMarks = 1
		t.MarkStrength = uniform(r, MinDefect, MaxDefect)
	}
	t.Glare, t.GlareStrength = glare(m.Temperature)
	t.Illumination = illumination(float64(m.Hour) + s.minute)[1]
	s.Label = recordedLabel(m.Operator, *t)
	t.Mislabelled = s.Label != t.Defect
	return s
}

// Sample returns sample i with its image. It panics if i < 0.
func (d Dataset) Sample(i int) Sample {
	s := d.Spec(i)
	return Sample{Spec: s, Image: render(s, d.Seed)}
}

// Package golden reads the PyTorch reference files under testdata/torch and
// rebuilds the inputs they were computed from. It is imported by tests only.
//
// testdata/torch/gen.py writes the files. Inputs and initial weights are not
// stored: both sides derive them from Hashed, an integer hash that Go and
// Python evaluate identically. Large tensors are stored sampled with a
// stride recorded in the file metadata as "stride:<name>".
package golden

import (
	"fmt"
	"math"
	"strconv"

	"github.com/metacnn/metacnn/safetensors"
	"github.com/metacnn/metacnn/tensor"
)

// HashU returns a uniform value in [0, 1) from index i and salt (a
// murmur3-style 32-bit mixer; gen.py's hashu).
func HashU(i int, salt uint32) float64 {
	h := uint32(i)*0x9E3779B9 + salt
	h ^= h >> 16
	h *= 0x85EBCA6B
	h ^= h >> 13
	h *= 0xC2B2AE35
	h ^= h >> 16
	return float64(h) / 4294967296.0
}

// Salt is FNV-1a (32-bit) of name (gen.py's salt_of).
func Salt(name string) uint32 {
	h := uint32(0x811C9DC5)
	for i := 0; i < len(name); i++ {
		h = (h ^ uint32(name[i])) * 0x01000193
	}
	return h
}

// Hashed returns a tensor whose row-major element i is
// float32(lo + (hi-lo)*HashU(i, Salt(name))) (gen.py's hashed).
func Hashed(name string, lo, hi float64, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	salt := Salt(name)
	for i := range t.Data() {
		t.Data()[i] = float32(lo + (hi-lo)*HashU(i, salt))
	}
	return t
}

// InitBound is gen.py's init_params bound for a parameter: U(-1, 1) for an
// embedding table, else 1/√fan_in of the weight (a bias uses its weight's).
func InitBound(name string, shape []int, weightShape []int) float64 {
	if name == "embedding.weight" {
		return 1
	}
	s := shape
	if len(shape) == 1 {
		s = weightShape
	}
	fanIn := 1
	for _, d := range s[1:] {
		fanIn *= d
	}
	return 1 / math.Sqrt(float64(fanIn))
}

// File is a loaded reference file.
type File struct {
	Path string
	f    *safetensors.File
}

// Open reads a reference file.
func Open(path string) (*File, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return &File{Path: path, f: f}, nil
}

// Tensor returns a stored tensor as float32.
func (g *File) Tensor(name string) (*tensor.Tensor, error) {
	return g.f.Float32(name)
}

// Ints returns a stored integer tensor.
func (g *File) Ints(name string) ([]int, error) {
	v, _, err := g.f.Int64(name)
	if err != nil {
		return nil, err
	}
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out, nil
}

// Meta returns a metadata value.
func (g *File) Meta(key string) (string, bool) {
	v, ok := g.f.Metadata[key]
	return v, ok
}

// Stride returns the sampling stride of a stored tensor (1 when stored whole).
func (g *File) Stride(name string) int {
	if s, ok := g.f.Metadata["stride:"+name]; ok {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	return 1
}

// Compare checks got against the stored tensor name, element by element:
// |got - want| <= rtol*|want| + atol*max|want|. For sampled tensors only the
// stored elements are compared. It returns an error naming the worst
// element, or nil.
func (g *File) Compare(name string, got *tensor.Tensor, rtol, atol float64) error {
	return g.CompareExcept(name, got, rtol, atol, nil)
}

// CompareExcept is Compare that skips the stored elements j with
// exclude[j] set (exclude may be nil).
func (g *File) CompareExcept(name string, got *tensor.Tensor, rtol, atol float64, exclude []bool) error {
	want, err := g.Tensor(name)
	if err != nil {
		return err
	}
	stride := g.Stride(name)
	gd := got.Data()
	wd := want.Data()
	if stride == 1 && !tensor.EqualShapes(got.Shape(), want.Shape()) {
		return fmt.Errorf("%s: shape %v, reference %v", name, got.Shape(), want.Shape())
	}
	if n := (len(gd) + stride - 1) / stride; n != len(wd) {
		return fmt.Errorf("%s: %d sampled elements, reference has %d", name, n, len(wd))
	}
	scale := 0.0
	for _, w := range wd {
		scale = math.Max(scale, math.Abs(float64(w)))
	}
	worst, worstI, bad := 0.0, -1, 0
	for j, w := range wd {
		if exclude != nil && exclude[j] {
			continue
		}
		a := float64(gd[j*stride])
		d := math.Abs(a - float64(w))
		lim := rtol*math.Abs(float64(w)) + atol*scale
		if !(d <= lim) {
			bad++
		}
		if r := d / (lim + 1e-30); r > worst || math.IsNaN(d) {
			worst, worstI = r, j
		}
	}
	if bad > 0 {
		return fmt.Errorf("%s: %d of %d elements differ; worst element %d: got %.8g, want %.8g",
			name, bad, len(wd), worstI*stride, gd[worstI*stride], wd[worstI])
	}
	return nil
}

// MaxRelErr returns max |got-want| / max|want| over the stored elements, for
// reporting.
func (g *File) MaxRelErr(name string, got *tensor.Tensor) float64 {
	want, err := g.Tensor(name)
	if err != nil {
		return math.Inf(1)
	}
	stride := g.Stride(name)
	scale, worst := 0.0, 0.0
	for j, w := range want.Data() {
		scale = math.Max(scale, math.Abs(float64(w)))
		worst = math.Max(worst, math.Abs(float64(got.Data()[j*stride])-float64(w)))
	}
	if scale == 0 {
		return worst
	}
	return worst / scale
}

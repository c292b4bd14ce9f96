package tensor

import (
	"fmt"
	"math"
	"strings"
)

// Tensor is a dense float32 array of a given shape, stored contiguously in
// row-major order. The zero value is not usable; build tensors with New,
// FromSlice, Zeros or Full.
type Tensor struct {
	shape []int
	data  []float32
}

// New returns a zero-filled tensor of the given shape. A tensor with no
// dimensions is a scalar holding one value.
func New(shape ...int) *Tensor {
	n := NumElements(shape)
	return &Tensor{shape: cloneInts(shape), data: make([]float32, n)}
}

// Zeros is New under the name readers expect.
func Zeros(shape ...int) *Tensor { return New(shape...) }

// Full returns a tensor of the given shape with every element set to v.
func Full(v float32, shape ...int) *Tensor {
	t := New(shape...)
	for i := range t.data {
		t.data[i] = v
	}
	return t
}

// Scalar returns a 0-dimensional tensor holding v.
func Scalar(v float32) *Tensor { return &Tensor{shape: []int{}, data: []float32{v}} }

// FromSlice wraps data (not copied) as a tensor of the given shape. It panics
// when len(data) does not equal the product of shape.
func FromSlice(data []float32, shape ...int) *Tensor {
	if n := NumElements(shape); n != len(data) {
		panic(fmt.Sprintf("tensor.FromSlice: %d values do not fill shape %v (%d elements)", len(data), shape, n))
	}
	return &Tensor{shape: cloneInts(shape), data: data}
}

// FromFloat64 copies data into a new float32 tensor of the given shape.
func FromFloat64(data []float64, shape ...int) *Tensor {
	t := New(shape...)
	if len(data) != len(t.data) {
		panic(fmt.Sprintf("tensor.FromFloat64: %d values do not fill shape %v (%d elements)", len(data), shape, len(t.data)))
	}
	for i, v := range data {
		t.data[i] = float32(v)
	}
	return t
}

// NumElements returns the product of the dimensions; it panics on a negative
// dimension.
func NumElements(shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("tensor: negative dimension in shape %v", shape))
		}
		n *= d
	}
	return n
}

// Shape returns the tensor's dimensions. The caller must not modify it.
func (t *Tensor) Shape() []int { return t.shape }

// Data returns the backing slice in row-major order. Writes through it are
// visible to every view of the tensor.
func (t *Tensor) Data() []float32 { return t.data }

// Len returns the number of elements.
func (t *Tensor) Len() int { return len(t.data) }

// Rank returns the number of dimensions.
func (t *Tensor) Rank() int { return len(t.shape) }

// Dim returns dimension i; negative i counts from the end.
func (t *Tensor) Dim(i int) int {
	ax := i
	if ax < 0 {
		ax += len(t.shape)
	}
	if ax < 0 || ax >= len(t.shape) {
		// Name the axis as the caller wrote it, not the wrapped value.
		panic(fmt.Sprintf("tensor.Dim: axis %d out of range for shape %v", i, t.shape))
	}
	return t.shape[ax]
}

// Strides returns the row-major element strides of the tensor's shape.
func (t *Tensor) Strides() []int { return Strides(t.shape) }

// Strides returns the row-major element strides for shape.
func Strides(shape []int) []int {
	s := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= shape[i]
	}
	return s
}

// At returns the element at the given index, one coordinate per dimension.
func (t *Tensor) At(idx ...int) float32 { return t.data[t.offset(idx)] }

// Set stores v at the given index, one coordinate per dimension.
func (t *Tensor) Set(v float32, idx ...int) { t.data[t.offset(idx)] = v }

func (t *Tensor) offset(idx []int) int {
	if len(idx) != len(t.shape) {
		panic(fmt.Sprintf("tensor: index %v has %d coordinates, shape %v has %d", idx, len(idx), t.shape, len(t.shape)))
	}
	off := 0
	for i, x := range idx {
		if x < 0 || x >= t.shape[i] {
			panic(fmt.Sprintf("tensor: index %v out of range for shape %v", idx, t.shape))
		}
		off = off*t.shape[i] + x
	}
	return off
}

// Item returns the value of a one-element tensor.
func (t *Tensor) Item() float32 {
	if len(t.data) != 1 {
		panic(fmt.Sprintf("tensor.Item: shape %v holds %d elements, want 1", t.shape, len(t.data)))
	}
	return t.data[0]
}

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	d := make([]float32, len(t.data))
	copy(d, t.data)
	return &Tensor{shape: cloneInts(t.shape), data: d}
}

// CopyFrom copies src's values into t; the shapes must be equal.
func (t *Tensor) CopyFrom(src *Tensor) {
	MustSameShape("tensor.CopyFrom", t, src)
	copy(t.data, src.data)
}

// Fill sets every element to v.
func (t *Tensor) Fill(v float32) {
	for i := range t.data {
		t.data[i] = v
	}
}

// Zero sets every element to 0.
func (t *Tensor) Zero() { clear(t.data) }

// Reshape returns a view with a new shape sharing t's data. One dimension may
// be -1 and is inferred.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	shape = cloneInts(shape)
	infer := -1
	n := 1
	for i, d := range shape {
		if d == -1 {
			if infer >= 0 {
				panic(fmt.Sprintf("tensor.Reshape: more than one -1 in %v", shape))
			}
			infer = i
			continue
		}
		if d < 0 {
			panic(fmt.Sprintf("tensor.Reshape: negative dimension in %v", shape))
		}
		n *= d
	}
	if infer >= 0 {
		if n == 0 || len(t.data)%n != 0 {
			panic(fmt.Sprintf("tensor.Reshape: cannot reshape %v into %v", t.shape, shape))
		}
		shape[infer] = len(t.data) / n
		n *= shape[infer]
	}
	if n != len(t.data) {
		panic(fmt.Sprintf("tensor.Reshape: cannot reshape %v (%d elements) into %v (%d elements)", t.shape, len(t.data), shape, n))
	}
	return &Tensor{shape: shape, data: t.data}
}

// Permute returns a copy with dimensions reordered: output dimension i is
// input dimension perm[i].
func (t *Tensor) Permute(perm ...int) *Tensor {
	r := len(t.shape)
	if len(perm) != r {
		panic(fmt.Sprintf("tensor.Permute: permutation %v for shape %v", perm, t.shape))
	}
	seen := make([]bool, r)
	outShape := make([]int, r)
	for i, p := range perm {
		if p < 0 || p >= r || seen[p] {
			panic(fmt.Sprintf("tensor.Permute: %v is not a permutation of %d axes", perm, r))
		}
		seen[p] = true
		outShape[i] = t.shape[p]
	}
	out := New(outShape...)
	inStrides := Strides(t.shape)
	// srcStride[i] is the input stride of output axis i.
	srcStride := make([]int, r)
	for i, p := range perm {
		srcStride[i] = inStrides[p]
	}
	idx := make([]int, r)
	src := 0
	for o := range out.data {
		out.data[o] = t.data[src]
		for ax := r - 1; ax >= 0; ax-- {
			idx[ax]++
			src += srcStride[ax]
			if idx[ax] < outShape[ax] {
				break
			}
			src -= srcStride[ax] * outShape[ax]
			idx[ax] = 0
		}
	}
	return out
}

// SameShape reports whether a and b have identical shapes.
func SameShape(a, b *Tensor) bool { return EqualShapes(a.shape, b.shape) }

// EqualShapes reports whether two shapes are identical.
func EqualShapes(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// MustSameShape panics, naming op and both shapes, when a and b differ.
func MustSameShape(op string, a, b *Tensor) {
	if !SameShape(a, b) {
		panic(fmt.Sprintf("%s: shape mismatch: %v vs %v", op, a.shape, b.shape))
	}
}

// BroadcastShapes returns the NumPy/PyTorch broadcast of two shapes, or an
// error naming both when they are incompatible.
func BroadcastShapes(a, b []int) ([]int, error) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := 0; i < n; i++ {
		da, db := 1, 1
		if j := len(a) - n + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db, db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast (axis %d: %d vs %d)", a, b, i, da, db)
		}
	}
	return out, nil
}

// String renders the shape and up to 8 leading values, for debugging.
func (t *Tensor) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Tensor%v[", t.shape)
	for i, v := range t.data {
		if i == 8 {
			b.WriteString(" ...")
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%g", v)
	}
	b.WriteByte(']')
	return b.String()
}

// HasNaN reports whether any element is NaN or infinite.
func (t *Tensor) HasNaN() bool {
	for _, v := range t.data {
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return true
		}
	}
	return false
}

func cloneInts(s []int) []int {
	c := make([]int, len(s))
	copy(c, s)
	return c
}

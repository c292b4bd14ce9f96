package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// mustPanic fails t unless f panics with a message containing want.
func mustPanic(t *testing.T, want string, f func()) {
	t.Helper()
	r := recovered(f)
	if r == nil {
		t.Fatalf("no panic, want one containing %q", want)
	}
	if msg := fmt.Sprint(r); !strings.Contains(msg, want) {
		t.Fatalf("panic %q does not contain %q", msg, want)
	}
}

// recovered runs f and returns what it panicked with, or nil.
func recovered(f func()) (r any) {
	defer func() { r = recover() }()
	f()
	return nil
}

// iota32 returns 0, 1, ..., n-1 as float32.
func iota32(n int) []float32 {
	d := make([]float32, n)
	for i := range d {
		d[i] = float32(i)
	}
	return d
}

func TestNew(t *testing.T) {
	cases := []struct {
		shape []int
		n     int
	}{
		{nil, 1}, // a scalar holds one value
		{[]int{3}, 3},
		{[]int{2, 3, 4}, 24},
		{[]int{2, 0, 4}, 0},
	}
	for _, c := range cases {
		x := New(c.shape...)
		if x.Len() != c.n || x.Rank() != len(c.shape) || !EqualShapes(x.Shape(), c.shape) {
			t.Errorf("New(%v): shape %v, rank %d, len %d; want len %d", c.shape, x.Shape(), x.Rank(), x.Len(), c.n)
		}
		for i, v := range x.Data() {
			if v != 0 {
				t.Fatalf("New(%v)[%d] = %g, want 0", c.shape, i, v)
			}
		}
	}
	// New copies its shape argument.
	s := []int{2, 3}
	x := New(s...)
	s[0] = 7
	if !EqualShapes(x.Shape(), []int{2, 3}) {
		t.Errorf("New kept the caller's shape slice: shape %v after the caller changed it", x.Shape())
	}
	mustPanic(t, "negative dimension in shape [2 -1]", func() { New(2, -1) })
}

func TestFullAndScalar(t *testing.T) {
	x := Full(2.5, 2, 2)
	for i, v := range x.Data() {
		if v != 2.5 {
			t.Fatalf("Full(2.5)[%d] = %g", i, v)
		}
	}
	s := Scalar(-3)
	if s.Rank() != 0 || s.Len() != 1 || s.Item() != -3 || s.At() != -3 {
		t.Errorf("Scalar(-3): rank %d len %d item %g", s.Rank(), s.Len(), s.Item())
	}
	mustPanic(t, "tensor.Item: shape [2 2] holds 4 elements, want 1", func() { x.Item() })
}

func TestFromSlice(t *testing.T) {
	d := []float32{1, 2, 3, 4, 5, 6}
	x := FromSlice(d, 2, 3)
	if x.At(1, 0) != 4 {
		t.Errorf("FromSlice: At(1, 0) = %g, want 4", x.At(1, 0))
	}
	// FromSlice wraps rather than copies.
	d[5] = 60
	if x.At(1, 2) != 60 {
		t.Errorf("FromSlice copied its data: At(1, 2) = %g after the slice changed to 60", x.At(1, 2))
	}
	mustPanic(t, "5 values do not fill shape [2 3] (6 elements)", func() { FromSlice(make([]float32, 5), 2, 3) })
	mustPanic(t, "7 values do not fill shape [2 3] (6 elements)", func() { FromSlice(make([]float32, 7), 2, 3) })

	f := FromFloat64([]float64{0.5, -1.25}, 2)
	if f.At(0) != 0.5 || f.At(1) != -1.25 {
		t.Errorf("FromFloat64 = %v", f.Data())
	}
	mustPanic(t, "3 values do not fill shape [2]", func() { FromFloat64(make([]float64, 3), 2) })
}

func TestReshape(t *testing.T) {
	cases := []struct {
		from, to, want []int
	}{
		{[]int{2, 3}, []int{3, 2}, []int{3, 2}},
		{[]int{2, 3}, []int{-1}, []int{6}},
		{[]int{2, 3, 4}, []int{2, -1}, []int{2, 12}},
		{[]int{2, 3, 4}, []int{-1, 4}, []int{6, 4}},
		{[]int{2, 3, 4}, []int{4, -1, 3}, []int{4, 2, 3}},
		{[]int{6}, []int{1, 6, 1}, []int{1, 6, 1}},
		{[]int{1}, nil, nil}, // one element to a scalar
		{[]int{0, 3}, []int{-1}, []int{0}},
	}
	for _, c := range cases {
		x := FromSlice(iota32(NumElements(c.from)), c.from...)
		y := x.Reshape(c.to...)
		if !EqualShapes(y.Shape(), c.want) {
			t.Errorf("Reshape %v -> %v: shape %v, want %v", c.from, c.to, y.Shape(), c.want)
		}
		if !slices.Equal(y.Data(), x.Data()) {
			t.Errorf("Reshape %v -> %v changed the element order", c.from, c.to)
		}
	}

	// A reshape is a view: writes go both ways.
	x := FromSlice(iota32(6), 2, 3)
	v := x.Reshape(3, -1)
	v.Set(100, 2, 1) // flat index 5
	if x.At(1, 2) != 100 {
		t.Errorf("write through the view not seen by the original: At(1, 2) = %g", x.At(1, 2))
	}
	x.Set(-7, 0, 1) // flat index 1
	if v.At(0, 1) != -7 {
		t.Errorf("write to the original not seen by the view: At(0, 1) = %g", v.At(0, 1))
	}
	if !EqualShapes(x.Shape(), []int{2, 3}) {
		t.Errorf("Reshape changed the original's shape to %v", x.Shape())
	}
	// Reshape copies its shape argument: the caller's slice stays its own.
	s := []int{-1, 2}
	r := x.Reshape(s...)
	s[1] = 99
	if !EqualShapes(r.Shape(), []int{3, 2}) || s[0] != -1 {
		t.Errorf("Reshape aliased the caller's shape: view %v, argument %v", r.Shape(), s)
	}

	mustPanic(t, "more than one -1 in [-1 -1]", func() { x.Reshape(-1, -1) })
	mustPanic(t, "negative dimension in [-2 3]", func() { x.Reshape(-2, 3) })
	mustPanic(t, "cannot reshape [2 3] (6 elements) into [4 2] (8 elements)", func() { x.Reshape(4, 2) })
	mustPanic(t, "cannot reshape [2 3] into [4 -1]", func() { x.Reshape(4, -1) })
	mustPanic(t, "cannot reshape [2 3] into [0 -1]", func() { x.Reshape(0, -1) })
}

func TestPermuteHand(t *testing.T) {
	// Transpose of [[0 1 2] [3 4 5]], by hand: [[0 3] [1 4] [2 5]].
	x := FromSlice(iota32(6), 2, 3)
	y := x.Permute(1, 0)
	if !EqualShapes(y.Shape(), []int{3, 2}) || !slices.Equal(y.Data(), []float32{0, 3, 1, 4, 2, 5}) {
		t.Errorf("Permute(1, 0) of 2x3 = %v %v, want [3 2] [0 3 1 4 2 5]", y.Shape(), y.Data())
	}

	// x[i,j,k] = 100i + 10j + k with shape [2 3 2]; perm (2, 0, 1) gives
	// out[a,b,c] = x[b,c,a], shape [2 2 3]. Listed by hand in row-major order
	// of (a, b, c).
	x3 := New(2, 3, 2)
	for i := range 2 {
		for j := range 3 {
			for k := range 2 {
				x3.Set(float32(100*i+10*j+k), i, j, k)
			}
		}
	}
	y3 := x3.Permute(2, 0, 1)
	want := []float32{
		0, 10, 20, 100, 110, 120, // a = 0
		1, 11, 21, 101, 111, 121, // a = 1
	}
	if !EqualShapes(y3.Shape(), []int{2, 2, 3}) || !slices.Equal(y3.Data(), want) {
		t.Errorf("Permute(2, 0, 1) = %v %v, want [2 2 3] %v", y3.Shape(), y3.Data(), want)
	}

	// Permute copies: the result does not share data.
	y.Data()[0] = 42
	if x.At(0, 0) != 0 {
		t.Errorf("Permute result shares data with its input")
	}

	// A scalar and the identity permutation.
	if s := Scalar(3).Permute(); s.Item() != 3 {
		t.Errorf("Permute() of a scalar = %v", s)
	}
	if id := x3.Permute(0, 1, 2); !slices.Equal(id.Data(), x3.Data()) {
		t.Errorf("identity Permute changed the data")
	}
}

// permutations returns every ordering of 0..n-1.
func permutations(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for pos := 0; pos <= len(p); pos++ {
			q := append(append(append([]int{}, p[:pos]...), n-1), p[pos:]...)
			out = append(out, q)
		}
	}
	return out
}

// TestPermuteIndexMapping checks out[idx] == in[src] with src[perm[i]] =
// idx[i], the definition of Permute, for all 24 permutations of a random
// 4-D tensor.
func TestPermuteIndexMapping(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	x := New(2, 3, 4, 5)
	for i := range x.Data() {
		x.Data()[i] = rng.Float32()
	}
	perms := permutations(4)
	if len(perms) != 24 {
		t.Fatalf("%d permutations of 4 axes, want 24", len(perms))
	}
	for _, perm := range perms {
		y := x.Permute(perm...)
		for i, p := range perm {
			if y.Dim(i) != x.Dim(p) {
				t.Fatalf("Permute(%v): shape %v, want dim %d = %d", perm, y.Shape(), i, x.Dim(p))
			}
		}
		idx := make([]int, 4)
		src := make([]int, 4)
		for o := range y.Len() {
			// Decode the flat output offset into a coordinate.
			rem := o
			for ax := 3; ax >= 0; ax-- {
				idx[ax] = rem % y.Dim(ax)
				rem /= y.Dim(ax)
			}
			for i, p := range perm {
				src[p] = idx[i]
			}
			if got, want := y.At(idx...), x.At(src...); got != want {
				t.Fatalf("Permute(%v) at %v = %g, want x%v = %g", perm, idx, got, src, want)
			}
		}
	}
}

func TestPermuteErrors(t *testing.T) {
	x := New(2, 3, 4)
	mustPanic(t, "permutation [1 0] for shape [2 3 4]", func() { x.Permute(1, 0) })
	mustPanic(t, "[0 0 1] is not a permutation of 3 axes", func() { x.Permute(0, 0, 1) })
	mustPanic(t, "[0 1 3] is not a permutation of 3 axes", func() { x.Permute(0, 1, 3) })
	mustPanic(t, "[0 -1 2] is not a permutation of 3 axes", func() { x.Permute(0, -1, 2) })
}

func TestStrides(t *testing.T) {
	cases := []struct {
		shape, want []int
	}{
		{[]int{}, []int{}},
		{[]int{5}, []int{1}},
		{[]int{2, 3}, []int{3, 1}},
		{[]int{2, 3, 4}, []int{12, 4, 1}},
		{[]int{3, 1, 2}, []int{2, 2, 1}},
		{[]int{3, 0, 2}, []int{0, 2, 1}},
	}
	for _, c := range cases {
		if got := Strides(c.shape); !slices.Equal(got, c.want) {
			t.Errorf("Strides(%v) = %v, want %v", c.shape, got, c.want)
		}
	}
	// The method agrees with At: the flat offset of an index is its dot
	// product with the strides.
	x := FromSlice(iota32(24), 2, 3, 4)
	st := x.Strides()
	for _, idx := range [][]int{{0, 0, 0}, {1, 2, 3}, {0, 1, 2}, {1, 0, 3}} {
		off := idx[0]*st[0] + idx[1]*st[1] + idx[2]*st[2]
		if x.At(idx...) != float32(off) {
			t.Errorf("At%v = %g, strides %v give offset %d", idx, x.At(idx...), st, off)
		}
	}
}

func TestAtSetBounds(t *testing.T) {
	x := New(2, 3)
	x.Set(5, 1, 2)
	if x.At(1, 2) != 5 || x.Data()[5] != 5 {
		t.Errorf("Set(5, 1, 2): At = %g, data %v", x.At(1, 2), x.Data())
	}
	mustPanic(t, "index [1] has 1 coordinates, shape [2 3] has 2", func() { x.At(1) })
	mustPanic(t, "index [0 0 0] has 3 coordinates, shape [2 3] has 2", func() { x.Set(1, 0, 0, 0) })
	mustPanic(t, "index [2 0] out of range for shape [2 3]", func() { x.At(2, 0) })
	mustPanic(t, "index [0 3] out of range for shape [2 3]", func() { x.Set(1, 0, 3) })
	mustPanic(t, "index [0 -1] out of range for shape [2 3]", func() { x.At(0, -1) })
	// [0 3] would be flat offset 3, inside the data: the check is per axis.
	mustPanic(t, "index [0 3] out of range", func() { x.At(0, 3) })
}

func TestDim(t *testing.T) {
	x := New(2, 3, 4)
	for _, c := range []struct{ i, want int }{{0, 2}, {2, 4}, {-1, 4}, {-3, 2}} {
		if got := x.Dim(c.i); got != c.want {
			t.Errorf("Dim(%d) = %d, want %d", c.i, got, c.want)
		}
	}
	mustPanic(t, "axis 3 out of range for shape [2 3 4]", func() { x.Dim(3) })
	mustPanic(t, "axis -4 out of range for shape [2 3 4]", func() { x.Dim(-4) })
}

func TestBroadcastShapes(t *testing.T) {
	// Expected shapes follow NumPy's broadcasting rules, worked by hand
	// (align trailing axes; 1 stretches; missing leading axes count as 1).
	ok := []struct {
		a, b, want []int
	}{
		{[]int{2, 3}, []int{2, 3}, []int{2, 3}},
		{[]int{2, 3}, []int{3}, []int{2, 3}},
		{[]int{3}, []int{2, 3}, []int{2, 3}},
		{[]int{2, 1}, []int{1, 3}, []int{2, 3}},
		{[]int{4, 1, 5}, []int{3, 1}, []int{4, 3, 5}},
		{[]int{8, 1, 6, 1}, []int{7, 1, 5}, []int{8, 7, 6, 5}},
		{[]int{}, []int{2, 3}, []int{2, 3}},
		{[]int{2, 3}, []int{}, []int{2, 3}},
		{[]int{1}, []int{0}, []int{0}},
		{[]int{5, 0}, []int{1}, []int{5, 0}},
	}
	for _, c := range ok {
		got, err := BroadcastShapes(c.a, c.b)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("BroadcastShapes(%v, %v) = %v, %v; want %v", c.a, c.b, got, err, c.want)
		}
	}
	bad := []struct {
		a, b []int
		axis string
	}{
		{[]int{2, 3}, []int{4}, "axis 1: 3 vs 4"},
		{[]int{2, 3}, []int{3, 3}, "axis 0: 2 vs 3"},
		{[]int{4, 2, 3}, []int{5, 1}, "axis 1: 2 vs 5"},
		{[]int{2}, []int{0}, "axis 0: 2 vs 0"},
	}
	for _, c := range bad {
		got, err := BroadcastShapes(c.a, c.b)
		if err == nil {
			t.Errorf("BroadcastShapes(%v, %v) = %v, want an error", c.a, c.b, got)
			continue
		}
		for _, want := range []string{fmt.Sprint(c.a), fmt.Sprint(c.b), c.axis} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("BroadcastShapes(%v, %v) error %q does not mention %q", c.a, c.b, err, want)
			}
		}
	}
}

func TestClone(t *testing.T) {
	x := FromSlice([]float32{1, 2, 3, 4}, 2, 2)
	c := x.Clone()
	if !SameShape(x, c) || !slices.Equal(x.Data(), c.Data()) {
		t.Fatalf("Clone = %v, want a copy of %v", c, x)
	}
	c.Set(10, 0, 0)
	x.Set(20, 1, 1)
	if x.At(0, 0) != 1 || c.At(1, 1) != 4 {
		t.Errorf("Clone shares data: original %v, clone %v", x.Data(), c.Data())
	}
	c.Shape()[0] = 9
	if x.Dim(0) != 2 {
		t.Errorf("Clone shares its shape slice: original shape %v", x.Shape())
	}
}

func TestCopyFromFillZero(t *testing.T) {
	x := New(2, 2)
	x.CopyFrom(FromSlice([]float32{1, 2, 3, 4}, 2, 2))
	if !slices.Equal(x.Data(), []float32{1, 2, 3, 4}) {
		t.Errorf("CopyFrom: %v", x.Data())
	}
	x.Fill(7)
	if !slices.Equal(x.Data(), []float32{7, 7, 7, 7}) {
		t.Errorf("Fill(7): %v", x.Data())
	}
	x.Zero()
	if !slices.Equal(x.Data(), []float32{0, 0, 0, 0}) {
		t.Errorf("Zero: %v", x.Data())
	}
	// Same element count, different shape: still a mismatch.
	mustPanic(t, "tensor.CopyFrom: shape mismatch: [2 2] vs [4]", func() { x.CopyFrom(New(4)) })
	mustPanic(t, "myop: shape mismatch: [2 2] vs [2 3]", func() { MustSameShape("myop", x, New(2, 3)) })
}

func TestHasNaN(t *testing.T) {
	inf := float32(math.Inf(1))
	cases := []struct {
		data []float32
		want bool
	}{
		{[]float32{}, false},
		{[]float32{0, -1, math.MaxFloat32, math.SmallestNonzeroFloat32}, false},
		{[]float32{1, float32(math.NaN()), 2}, true},
		{[]float32{inf}, true},
		{[]float32{1, -inf}, true},
	}
	for _, c := range cases {
		if got := FromSlice(c.data, len(c.data)).HasNaN(); got != c.want {
			t.Errorf("HasNaN(%v) = %v, want %v", c.data, got, c.want)
		}
	}
}

func TestString(t *testing.T) {
	if got, want := FromSlice([]float32{1, 2.5, 3}, 3).String(), "Tensor[3][1 2.5 3]"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if got, want := FromSlice(iota32(10), 2, 5).String(), "Tensor[2 5][0 1 2 3 4 5 6 7 ...]"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
}

package autograd

import (
	"math"
	"strings"
	"testing"

	"github.com/metacnn/metacnn/tensor"
)

// distinctPoolVar returns a leaf whose values are a seeded permutation of
// (i - n/2) * 0.05: neighbours differ by 0.05, more than twice CheckGrad's
// step of 1e-2, so no perturbation changes which element a max-pool picks.
func distinctPoolVar(seed uint64, shape ...int) *Var {
	n := tensor.NumElements(shape)
	perm := newRNG(seed).Perm(n)
	t := tensor.New(shape...)
	for i, p := range perm {
		t.Data()[i] = float32(p-n/2) * 0.05
	}
	return Param(t)
}

type poolCase struct {
	name  string
	shape []int
	opt   Pool2DOptions
	out   []int // expected output shape, from PyTorch's output-size formula by hand
}

var maxPoolCases = []poolCase{
	// (6 - 2)/2 + 1 = 3
	{"k2s2", []int{2, 2, 6, 6}, Pool2DOptions{Kernel: [2]int{2, 2}}, []int{2, 2, 3, 3}},
	// overlapping windows: (5 - 3)/1 + 1 = 3
	{"overlap_k3s1", []int{2, 2, 5, 5}, Pool2DOptions{Kernel: [2]int{3, 3}, Stride: [2]int{1, 1}}, []int{2, 2, 3, 3}},
	// (7 + 2 - 3)/2 + 1 = 4
	{"overlap_k3s2_pad1", []int{1, 2, 7, 7}, Pool2DOptions{Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}}, []int{1, 2, 4, 4}},
	// ceil((5 - 2)/2) + 1 = 3; the last window (start 4) holds one row
	{"ceil", []int{2, 1, 5, 5}, Pool2DOptions{Kernel: [2]int{2, 2}, CeilMode: true}, []int{2, 1, 3, 3}},
	// ceil((6 + 2 - 3)/2) + 1 = 4, last start 6 - 1 = 5 < 6 + 1 so kept
	{"ceil_pad1", []int{1, 2, 6, 6}, Pool2DOptions{Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}, CeilMode: true}, []int{1, 2, 4, 4}},
	// rows: (5 + 2 - 3)/2 + 1 = 3 (ceil: 3); cols: ceil((6 - 2)/1) + 1 = 5
	{"nonsquare", []int{2, 1, 5, 6}, Pool2DOptions{Kernel: [2]int{3, 2}, Stride: [2]int{2, 1}, Padding: [2]int{1, 0}, CeilMode: true}, []int{2, 1, 3, 5}},
}

func TestGradMaxPool2D(t *testing.T) {
	for _, c := range maxPoolCases {
		t.Run(c.name, func(t *testing.T) {
			x := distinctPoolVar(21, c.shape...)
			f := func(tp *Tape) *Var { return tp.MaxPool2D(x, c.opt) }
			if got := f(nil).Shape(); !tensor.EqualShapes(got, c.out) {
				t.Fatalf("output shape %v, want %v", got, c.out)
			}
			if err := CheckGrad(f, []*Var{x}, CheckOptions{Seed: 4}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestMaxPool2DTies checks PyTorch's tie rule (`val > max || isnan(val)`
// scanned in row-major window order): the first maximum of each window wins.
func TestMaxPool2DTies(t *testing.T) {
	x := Param(tensor.FromSlice([]float32{
		5, 5, 1, 2,
		5, 3, 2, 2,
		0, 4, 9, 9,
		4, 4, 9, 9,
	}, 1, 1, 4, 4))
	tp := NewTape()
	y := tp.MaxPool2D(x, Pool2DOptions{Kernel: [2]int{2, 2}})
	assertConvPoolValues(t, y, []int{1, 1, 2, 2}, []float32{5, 2, 4, 9})
	tp.BackwardWith(y, tensor.FromSlice([]float32{1, 2, 3, 4}, 1, 1, 2, 2))
	// Window (0,0) holds 5 at flat indices 0, 1, 4: index 0 comes first.
	// Window (0,1) holds 2 at 3, 6, 7: index 3 (row 0) comes first.
	// Window (1,0) holds 4 at 9, 12, 13: index 9 (row 2) comes first.
	// Window (1,1) is all 9 at 10, 11, 14, 15: index 10 comes first.
	assertConvPoolValues(t, &Var{Value: x.Grad}, []int{1, 1, 4, 4}, []float32{
		1, 0, 0, 2,
		0, 0, 0, 0,
		0, 3, 4, 0,
		0, 0, 0, 0,
	})

	// Overlapping windows of width 2, stride 1 over [3 3 3]: each window
	// takes its own first element (indices 0 and 1), not the global first.
	x = Param(tensor.FromSlice([]float32{3, 3, 3}, 1, 1, 1, 3))
	tp = NewTape()
	y = tp.MaxPool2D(x, Pool2DOptions{Kernel: [2]int{1, 2}, Stride: [2]int{1, 1}})
	tp.BackwardWith(y, tensor.FromSlice([]float32{1, 10}, 1, 1, 1, 2))
	assertConvPoolValues(t, &Var{Value: x.Grad}, []int{1, 1, 1, 3}, []float32{1, 10, 0})

	// Overlapping windows that pick the same element accumulate: [1 4 2]
	// with width 2, stride 1 picks index 1 twice.
	x = Param(tensor.FromSlice([]float32{1, 4, 2}, 1, 1, 1, 3))
	tp = NewTape()
	y = tp.MaxPool2D(x, Pool2DOptions{Kernel: [2]int{1, 2}, Stride: [2]int{1, 1}})
	tp.BackwardWith(y, tensor.FromSlice([]float32{1, 10}, 1, 1, 1, 2))
	assertConvPoolValues(t, &Var{Value: x.Grad}, []int{1, 1, 1, 3}, []float32{0, 11, 0})
}

// TestMaxPool2DPaddingAndNaN: padding acts as -inf (an all-negative input
// still yields its own values), and a NaN in a window yields NaN.
func TestMaxPool2DPaddingAndNaN(t *testing.T) {
	x := Const(tensor.FromSlice([]float32{-1, -2, -3, -4}, 1, 1, 2, 2))
	// kernel 2, stride 1, padding 1: (2 + 2 - 2)/1 + 1 = 3; each window
	// covers the real elements listed by hand.
	y := (*Tape)(nil).MaxPool2D(x, Pool2DOptions{Kernel: [2]int{2, 2}, Stride: [2]int{1, 1}, Padding: [2]int{1, 1}})
	assertConvPoolValues(t, y, []int{1, 1, 3, 3}, []float32{
		-1, -1, -2,
		-1, -1, -2,
		-3, -3, -4,
	})

	nan := float32(math.NaN())
	x = Const(tensor.FromSlice([]float32{1, nan, 3, 0, 5, 6, 7, 8}, 1, 1, 2, 4))
	y = (*Tape)(nil).MaxPool2D(x, Pool2DOptions{Kernel: [2]int{2, 2}})
	if got := y.Data(); !math.IsNaN(float64(got[0])) || got[1] != 8 {
		t.Fatalf("got %v, want [NaN 8]", got)
	}
}

var avgPoolCases = []poolCase{
	{"k2s2", []int{2, 2, 4, 6}, Pool2DOptions{Kernel: [2]int{2, 2}}, []int{2, 2, 2, 3}},
	{"overlap_k3s1_pad1", []int{2, 1, 5, 5}, Pool2DOptions{Kernel: [2]int{3, 3}, Stride: [2]int{1, 1}, Padding: [2]int{1, 1}}, []int{2, 1, 5, 5}},
	{"k3s2_pad1_ceil", []int{1, 2, 6, 6}, Pool2DOptions{Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}, CeilMode: true}, []int{1, 2, 4, 4}},
	{"k2s2_ceil", []int{2, 1, 5, 5}, Pool2DOptions{Kernel: [2]int{2, 2}, CeilMode: true}, []int{2, 1, 3, 3}},
	{"nonsquare_pad", []int{1, 2, 5, 7}, Pool2DOptions{Kernel: [2]int{2, 4}, Stride: [2]int{1, 3}, Padding: [2]int{1, 2}, CeilMode: true}, []int{1, 2, 6, 3}},
}

func TestGradAvgPool2D(t *testing.T) {
	for _, c := range avgPoolCases {
		for _, exclude := range []bool{false, true} {
			name := c.name + "/include_pad"
			if exclude {
				name = c.name + "/exclude_pad"
			}
			t.Run(name, func(t *testing.T) {
				x := RandVar(newRNG(22), true, -1, 1, c.shape...)
				opt := c.opt
				opt.CountExcludePad = exclude
				f := func(tp *Tape) *Var { return tp.AvgPool2D(x, opt) }
				if got := f(nil).Shape(); !tensor.EqualShapes(got, c.out) {
					t.Fatalf("output shape %v, want %v", got, c.out)
				}
				if err := CheckGrad(f, []*Var{x}, CheckOptions{Seed: 5}); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestAvgPool2DDivisor checks PyTorch's divisor rule on hand-computed cases.
func TestAvgPool2DDivisor(t *testing.T) {
	x := Const(tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6, 7, 8, 9}, 1, 1, 3, 3))
	nil3 := (*Tape)(nil)

	// Kernel 2, stride 2, padding 1 on 3x3: windows start at rows/cols -1 and 1.
	// count_include_pad: every window lies inside the padded 5x5, divisor 4:
	// 1/4, (2+3)/4, (4+7)/4, (5+6+8+9)/4.
	opt := Pool2DOptions{Kernel: [2]int{2, 2}, Padding: [2]int{1, 1}}
	assertConvPoolValues(t, nil3.AvgPool2D(x, opt), []int{1, 1, 2, 2}, []float32{0.25, 1.25, 2.75, 7})
	// count_include_pad=False: divisors 1, 2, 2, 4.
	opt.CountExcludePad = true
	assertConvPoolValues(t, nil3.AvgPool2D(x, opt), []int{1, 1, 2, 2}, []float32{1, 2.5, 5.5, 7})

	// Kernel 2, stride 2, ceil mode, no padding: the last row/column of
	// windows starts at 2 and is clipped to the (unpadded) input, so even with
	// count_include_pad its divisor counts only real elements:
	// (1+2+4+5)/4, (3+6)/2, (7+8)/2, 9/1.
	opt = Pool2DOptions{Kernel: [2]int{2, 2}, CeilMode: true}
	assertConvPoolValues(t, nil3.AvgPool2D(x, opt), []int{1, 1, 2, 2}, []float32{3, 4.5, 7.5, 9})

	// A column [1 2 3 4] with kernel 3x1, stride 2, padding 1 (rows only),
	// ceil mode: 3 windows starting at rows -1, 1, 3. With count_include_pad
	// the divisors are 3 (one pad row), 3, and 2 (rows 3..4: the window is
	// clipped to the padded length 4+1 before the pad row is dropped):
	// (1+2)/3, (2+3+4)/3, 4/2. Excluding padding: 3/2, 9/3, 4/1.
	col := Const(tensor.FromSlice([]float32{1, 2, 3, 4}, 1, 1, 4, 1))
	opt = Pool2DOptions{Kernel: [2]int{3, 1}, Stride: [2]int{2, 1}, Padding: [2]int{1, 0}, CeilMode: true}
	assertConvPoolValues(t, nil3.AvgPool2D(col, opt), []int{1, 1, 3, 1}, []float32{1, 3, 2})
	opt.CountExcludePad = true
	assertConvPoolValues(t, nil3.AvgPool2D(col, opt), []int{1, 1, 3, 1}, []float32{1.5, 3, 4})
}

func TestPool2DPanics(t *testing.T) {
	x := Const(tensor.New(1, 2, 4, 4))
	cases := []struct {
		name string
		opt  Pool2DOptions
		want string
	}{
		{"no_kernel", Pool2DOptions{}, "kernel [0 0] must be positive"},
		{"pad_over_half", Pool2DOptions{Kernel: [2]int{3, 3}, Padding: [2]int{2, 0}}, "padding [2 0] must be at most half of kernel [3 3]"},
		{"too_small", Pool2DOptions{Kernel: [2]int{5, 5}}, "input [1 2 4 4] with kernel [5 5]"},
		{"negative_stride", Pool2DOptions{Kernel: [2]int{2, 2}, Stride: [2]int{-1, 1}}, "stride [-1 1]"},
	}
	for _, c := range cases {
		for name, op := range map[string]func(*Var, Pool2DOptions) *Var{
			"MaxPool2D": (*Tape)(nil).MaxPool2D, "AvgPool2D": (*Tape)(nil).AvgPool2D,
		} {
			t.Run(name+"/"+c.name, func(t *testing.T) {
				defer func() {
					msg, _ := recover().(string)
					if !strings.Contains(msg, "autograd."+name) || !strings.Contains(msg, c.want) {
						t.Fatalf("panic %q, want it to name %s and contain %q", msg, name, c.want)
					}
				}()
				op(x, c.opt)
			})
		}
	}
}

func TestGradAdaptiveAvgPool2D(t *testing.T) {
	cases := []struct {
		name       string
		shape      []int
		outH, outW int
	}{
		{"5to3", []int{2, 2, 5, 5}, 3, 3},
		{"7x5to3x2", []int{1, 3, 7, 5}, 3, 2},
		{"identity", []int{1, 2, 4, 4}, 4, 4},
		{"upsample3to5", []int{2, 1, 3, 3}, 5, 5},
		{"to1x1", []int{2, 2, 3, 4}, 1, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := RandVar(newRNG(23), true, -1, 1, c.shape...)
			f := func(tp *Tape) *Var { return tp.AdaptiveAvgPool2D(x, c.outH, c.outW) }
			want := []int{c.shape[0], c.shape[1], c.outH, c.outW}
			if got := f(nil).Shape(); !tensor.EqualShapes(got, want) {
				t.Fatalf("output shape %v, want %v", got, want)
			}
			if err := CheckGrad(f, []*Var{x}, CheckOptions{Seed: 6}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestAdaptiveAvgPool2DWindows checks PyTorch's window rule by hand:
// 5 -> 3 uses rows [floor(5i/3), ceil(5(i+1)/3)) = [0,2), [1,4), [3,5).
func TestAdaptiveAvgPool2DWindows(t *testing.T) {
	x := Const(tensor.FromSlice([]float32{1, 2, 3, 4, 5}, 1, 1, 5, 1))
	y := (*Tape)(nil).AdaptiveAvgPool2D(x, 3, 1)
	// (1+2)/2, (2+3+4)/3, (4+5)/2
	assertConvPoolValues(t, y, []int{1, 1, 3, 1}, []float32{1.5, 3, 4.5})

	// 2x2 -> 1x1 is the plain mean; 2x2 -> 3x3 repeats rows and columns:
	// 2 -> 3 uses [0,1), [0,2), [1,2).
	x = Const(tensor.FromSlice([]float32{1, 2, 3, 4}, 1, 1, 2, 2))
	assertConvPoolValues(t, (*Tape)(nil).AdaptiveAvgPool2D(x, 1, 1), []int{1, 1, 1, 1}, []float32{2.5})
	assertConvPoolValues(t, (*Tape)(nil).AdaptiveAvgPool2D(x, 3, 3), []int{1, 1, 3, 3}, []float32{
		1, 1.5, 2,
		2, 2.5, 3,
		3, 3.5, 4,
	})
}

func TestGlobalAvgPool2D(t *testing.T) {
	// Channel means by hand: (1+2+3+4)/4 = 2.5 and (0+0+0+8)/4 = 2.
	x := Const(tensor.FromSlice([]float32{1, 2, 3, 4, 0, 0, 0, 8}, 1, 2, 2, 2))
	assertConvPoolValues(t, (*Tape)(nil).GlobalAvgPool2D(x), []int{1, 2}, []float32{2.5, 2})

	xg := RandVar(newRNG(24), true, -1, 1, 3, 2, 3, 5)
	f := func(tp *Tape) *Var { return tp.GlobalAvgPool2D(xg) }
	if err := CheckGrad(f, []*Var{xg}, CheckOptions{Seed: 7}); err != nil {
		t.Fatal(err)
	}
	// It agrees with AdaptiveAvgPool2D to 1x1.
	a := (*Tape)(nil).AdaptiveAvgPool2D(xg, 1, 1).Data()
	for i, v := range (*Tape)(nil).GlobalAvgPool2D(xg).Data() {
		if math.Abs(float64(v-a[i])) > 1e-6 {
			t.Fatalf("plane %d: global %v, adaptive %v", i, v, a[i])
		}
	}
}

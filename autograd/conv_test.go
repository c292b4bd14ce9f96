package autograd

import (
	"math"
	"strings"
	"testing"

	"github.com/metacnn/metacnn/tensor"
)

// convCase is one Conv2D configuration: input [n, cin, h, w] and weight
// [cout, cin/groups, kh, kw].
type convCase struct {
	name         string
	n, cin, h, w int
	cout, kh, kw int
	opt          Conv2DOptions
	noBias       bool
}

var convCases = []convCase{
	{name: "plain_zero_options", n: 2, cin: 3, h: 5, w: 5, cout: 4, kh: 3, kw: 3},
	{name: "stride2_pad1", n: 2, cin: 2, h: 7, w: 6, cout: 3, kh: 3, kw: 3,
		opt: Conv2DOptions{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}}},
	{name: "pad2", n: 2, cin: 2, h: 4, w: 5, cout: 2, kh: 3, kw: 3,
		opt: Conv2DOptions{Padding: [2]int{2, 2}}},
	{name: "dilation2", n: 2, cin: 2, h: 7, w: 7, cout: 3, kh: 3, kw: 3,
		opt: Conv2DOptions{Padding: [2]int{1, 2}, Dilation: [2]int{2, 2}}},
	{name: "groups2", n: 2, cin: 4, h: 5, w: 5, cout: 6, kh: 3, kw: 3,
		opt: Conv2DOptions{Padding: [2]int{1, 1}, Groups: 2}},
	{name: "depthwise", n: 2, cin: 3, h: 6, w: 5, cout: 3, kh: 3, kw: 3,
		opt: Conv2DOptions{Padding: [2]int{1, 1}, Groups: 3}},
	{name: "depthwise_multiplier2", n: 2, cin: 3, h: 5, w: 5, cout: 6, kh: 3, kw: 3,
		opt: Conv2DOptions{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}, Groups: 3}},
	{name: "nonsquare_kernel", n: 2, cin: 2, h: 5, w: 6, cout: 3, kh: 2, kw: 3,
		opt: Conv2DOptions{Stride: [2]int{1, 2}, Padding: [2]int{1, 0}}},
	{name: "no_bias", n: 3, cin: 2, h: 4, w: 4, cout: 2, kh: 3, kw: 3,
		opt: Conv2DOptions{Padding: [2]int{1, 1}}, noBias: true},
	{name: "pointwise_1x1", n: 3, cin: 4, h: 3, w: 4, cout: 5, kh: 1, kw: 1},
	{name: "pointwise_1x1_groups2", n: 2, cin: 4, h: 3, w: 3, cout: 2, kh: 1, kw: 1,
		opt: Conv2DOptions{Groups: 2}},
	{name: "pointwise_1x1_stride2", n: 2, cin: 2, h: 5, w: 5, cout: 3, kh: 1, kw: 1,
		opt: Conv2DOptions{Stride: [2]int{2, 2}}},
	{name: "mixed_per_axis", n: 2, cin: 2, h: 6, w: 7, cout: 2, kh: 3, kw: 2,
		opt: Conv2DOptions{Stride: [2]int{2, 1}, Padding: [2]int{0, 1}, Dilation: [2]int{1, 2}}},
}

// vars builds seeded random x, w and b (nil when noBias) for the case.
func (c convCase) vars(seed uint64) (x, w, b *Var) {
	rng := newRNG(seed)
	groups := max(c.opt.Groups, 1)
	x = RandVar(rng, true, -1, 1, c.n, c.cin, c.h, c.w)
	w = RandVar(rng, true, -1, 1, c.cout, c.cin/groups, c.kh, c.kw)
	if !c.noBias {
		b = RandVar(rng, true, -1, 1, c.cout)
	}
	return x, w, b
}

// naiveConv2D is the textbook definition of torch's conv2d, evaluated
// directly in float64 with one loop per index: out[n][co][oy][ox] = b[co] +
// Σ_{ci, ky, kx} x[n][g*cinG+ci][oy*s - p + ky*d][ox*s - p + kx*d] · w[co][ci][ky][kx]
// where g = co / coutG and out-of-range input positions read 0.
func naiveConv2D(x, w, b *tensor.Tensor, opt Conv2DOptions) ([]float64, []int) {
	one := func(v int) int { return max(v, 1) }
	sh, sw := one(opt.Stride[0]), one(opt.Stride[1])
	dh, dw := one(opt.Dilation[0]), one(opt.Dilation[1])
	ph, pw := opt.Padding[0], opt.Padding[1]
	groups := one(opt.Groups)
	n, h, wd := x.Dim(0), x.Dim(2), x.Dim(3)
	cout, cinG, kh, kw := w.Dim(0), w.Dim(1), w.Dim(2), w.Dim(3)
	coutG := cout / groups
	oh := (h+2*ph-dh*(kh-1)-1)/sh + 1
	ow := (wd+2*pw-dw*(kw-1)-1)/sw + 1
	out := make([]float64, n*cout*oh*ow)
	for in := 0; in < n; in++ {
		for co := 0; co < cout; co++ {
			g := co / coutG
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					s := 0.0
					if b != nil {
						s = float64(b.At(co))
					}
					for ci := 0; ci < cinG; ci++ {
						for ky := 0; ky < kh; ky++ {
							for kx := 0; kx < kw; kx++ {
								iy := oy*sh - ph + ky*dh
								ix := ox*sw - pw + kx*dw
								if iy < 0 || iy >= h || ix < 0 || ix >= wd {
									continue
								}
								s += float64(x.At(in, g*cinG+ci, iy, ix)) * float64(w.At(co, ci, ky, kx))
							}
						}
					}
					out[((in*cout+co)*oh+oy)*ow+ox] = s
				}
			}
		}
	}
	return out, []int{n, cout, oh, ow}
}

func TestConv2DForwardMatchesDirect(t *testing.T) {
	for _, c := range convCases {
		t.Run(c.name, func(t *testing.T) {
			x, w, b := c.vars(11)
			want, shape := naiveConv2D(x.Value, w.Value, convBiasValue(b), c.opt)
			for _, tp := range []*Tape{nil, NewTape()} {
				got := tp.Conv2D(x, w, b, c.opt)
				if !tensor.EqualShapes(got.Shape(), shape) {
					t.Fatalf("shape %v, want %v", got.Shape(), shape)
				}
				for i, v := range got.Data() {
					// float32 accumulation of at most 27 products of values in [-1, 1).
					if math.Abs(float64(v)-want[i]) > 1e-5 {
						t.Fatalf("tape=%v element %d: got %v, want %v", tp != nil, i, v, want[i])
					}
				}
			}
		})
	}
}

func convBiasValue(v *Var) *tensor.Tensor {
	if v == nil {
		return nil
	}
	return v.Value
}

// TestConv2DHandComputed checks a case small enough to do on paper.
func TestConv2DHandComputed(t *testing.T) {
	// x = [[1 2 3] [4 5 6] [7 8 9]], w = [[1 0] [0 -1]], b = 0.5:
	// each output is x[i][j] - x[i+1][j+1] + 0.5 = -4 + 0.5 = -3.5.
	x := Const(tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6, 7, 8, 9}, 1, 1, 3, 3))
	w := Const(tensor.FromSlice([]float32{1, 0, 0, -1}, 1, 1, 2, 2))
	b := Const(tensor.FromSlice([]float32{0.5}, 1))
	got := (*Tape)(nil).Conv2D(x, w, b, Conv2DOptions{})
	assertConvPoolValues(t, got, []int{1, 1, 2, 2}, []float32{-3.5, -3.5, -3.5, -3.5})

	// With padding 1 and stride 2 the output is 2x2 at padded positions
	// (-1,-1), (-1,1), (1,-1), (1,1): the tap at offset (1,1) reads x[0][0]=1,
	// x[0][2]=3, x[2][0]=7, x[2][2]=9 (negated), the tap at (0,0) reads
	// padding except for x[1][1]=5 at the last position: 5 - 9 = -4.
	got = (*Tape)(nil).Conv2D(x, w, nil, Conv2DOptions{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}})
	assertConvPoolValues(t, got, []int{1, 1, 2, 2}, []float32{-1, -3, -7, -4})
}

func assertConvPoolValues(t *testing.T, v *Var, shape []int, want []float32) {
	t.Helper()
	if !tensor.EqualShapes(v.Shape(), shape) {
		t.Fatalf("shape %v, want %v", v.Shape(), shape)
	}
	for i, x := range v.Data() {
		if math.Abs(float64(x-want[i])) > 1e-6 {
			t.Fatalf("values %v, want %v", v.Data(), want)
		}
	}
}

func TestGradConv2D(t *testing.T) {
	for _, c := range convCases {
		t.Run(c.name, func(t *testing.T) {
			x, w, b := c.vars(12)
			inputs := []*Var{x, w}
			if b != nil {
				inputs = append(inputs, b)
			}
			f := func(tp *Tape) *Var { return tp.Conv2D(x, w, b, c.opt) }
			if err := CheckGrad(f, inputs, CheckOptions{Seed: 3}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestGradConv2DPartial checks that only the inputs that require gradients
// receive them (frozen weights, constant images).
func TestGradConv2DPartial(t *testing.T) {
	c := convCases[1]
	for _, which := range []string{"x_only", "w_only"} {
		t.Run(which, func(t *testing.T) {
			x, w, b := c.vars(13)
			b.SetRequiresGrad(false)
			if which == "x_only" {
				w.SetRequiresGrad(false)
			} else {
				x.SetRequiresGrad(false)
			}
			f := func(tp *Tape) *Var { return tp.Conv2D(x, w, b, c.opt) }
			if err := CheckGrad(f, []*Var{x, w}, CheckOptions{}); err != nil {
				t.Fatal(err)
			}
			for _, v := range []*Var{x, w, b} {
				if !v.RequiresGrad() && v.Grad != nil {
					t.Errorf("%v received a gradient", v.Shape())
				}
			}
		})
	}
}

func TestConv2DPanics(t *testing.T) {
	rng := newRNG(14)
	v := func(shape ...int) *Var { return RandVar(rng, false, -1, 1, shape...) }
	cases := []struct {
		name    string
		x, w, b *Var
		opt     Conv2DOptions
		want    string
	}{
		{"rank", v(3, 4, 4), v(2, 3, 3, 3), nil, Conv2DOptions{}, "input [3 4 4]"},
		{"weight_channels", v(1, 3, 4, 4), v(2, 2, 3, 3), nil, Conv2DOptions{}, "weight [2 2 3 3] expects 2 input channels per group"},
		{"groups_in", v(1, 3, 4, 4), v(2, 1, 3, 3), nil, Conv2DOptions{Groups: 2}, "3 channels, not divisible by groups 2"},
		{"groups_out", v(1, 4, 4, 4), v(3, 2, 3, 3), nil, Conv2DOptions{Groups: 2}, "3 output channels, not divisible by groups 2"},
		{"bias", v(1, 3, 4, 4), v(2, 3, 3, 3), v(3), Conv2DOptions{}, "bias [3], want [2]"},
		{"too_small", v(1, 1, 2, 2), v(1, 1, 3, 3), nil, Conv2DOptions{}, "(output 0x0)"},
		{"dilated_too_small", v(1, 1, 4, 4), v(1, 1, 3, 3), nil, Conv2DOptions{Dilation: [2]int{2, 2}}, "output 0x0"},
		{"negative_pad", v(1, 1, 4, 4), v(1, 1, 3, 3), nil, Conv2DOptions{Padding: [2]int{-1, 0}}, "padding [-1 0]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				r := recover()
				msg, _ := r.(string)
				if !strings.Contains(msg, c.want) {
					t.Fatalf("panic %q, want it to contain %q", r, c.want)
				}
			}()
			(*Tape)(nil).Conv2D(c.x, c.w, c.b, c.opt)
		})
	}
}

// TestConv2DReLUMatchesUnfused checks that the fused Conv2DReLU gives
// exactly the values and gradients of ReLU(Conv2D(...)) on every conv case
// and on batches large enough to take the serial-per-image GEMM path, with
// outputs straddling zero so the mask matters.
func TestConv2DReLUMatchesUnfused(t *testing.T) {
	cases := append([]convCase{
		{name: "seed_like_batch", n: 9, cin: 3, h: 12, w: 11, cout: 10, kh: 3, kw: 3,
			opt: Conv2DOptions{Padding: [2]int{1, 1}}},
		{name: "pointwise_batch", n: 8, cin: 5, h: 9, w: 9, cout: 33, kh: 1, kw: 1},
	}, convCases...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			run := func(fused bool) (out []float32, grads [][]float32) {
				x, w, b := c.vars(21)
				tp := NewTape()
				var y *Var
				if fused {
					y = tp.Conv2DReLU(x, w, b, c.opt)
				} else {
					y = tp.ReLU(tp.Conv2D(x, w, b, c.opt))
				}
				g := RandVar(newRNG(22), false, -1, 1, y.Shape()...)
				tp.BackwardWith(y, g.Value)
				out = append(out, y.Data()...)
				for _, v := range []*Var{x, w, b} {
					if v != nil {
						grads = append(grads, append([]float32(nil), v.Grad.Data()...))
					}
				}
				return out, grads
			}
			wantOut, wantGrads := run(false)
			gotOut, gotGrads := run(true)
			for i := range wantOut {
				if gotOut[i] != wantOut[i] {
					t.Fatalf("output %d = %v, want %v", i, gotOut[i], wantOut[i])
				}
			}
			for j := range wantGrads {
				for i := range wantGrads[j] {
					if gotGrads[j][i] != wantGrads[j][i] {
						t.Fatalf("gradient %d element %d = %v, want %v", j, i, gotGrads[j][i], wantGrads[j][i])
					}
				}
			}
		})
	}
}

// TestConv2DReLUMaxPool2DMatchesUnfused checks the fused
// Conv2DReLUMaxPool2D against MaxPool2D(ReLU(Conv2D(...))) exactly, values
// and gradients, for non-overlapping, overlapping (3×3 stride 2, padded) and
// ceil-mode pools, and without recording (inference keeps no conv output).
func TestConv2DReLUMaxPool2DMatchesUnfused(t *testing.T) {
	cases := append([]convCase{
		{name: "seed_like_batch", n: 9, cin: 3, h: 12, w: 11, cout: 10, kh: 3, kw: 3,
			opt: Conv2DOptions{Padding: [2]int{1, 1}}},
	}, convCases...)
	pools := map[string]Pool2DOptions{
		"2x2":               {Kernel: [2]int{2, 2}},
		"3x3_s2_pad1":       {Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}},
		"2x2_s1_ceil":       {Kernel: [2]int{2, 2}, Stride: [2]int{1, 1}, CeilMode: true},
		"1x2_s1x2_ceilmode": {Kernel: [2]int{1, 2}, Stride: [2]int{1, 2}, CeilMode: true},
	}
	for _, c := range cases {
		for pname, pool := range pools {
			t.Run(c.name+"/"+pname, func(t *testing.T) {
				run := func(fused bool) (out []float32, grads [][]float32, infer []float32) {
					x, w, b := c.vars(31)
					tp := NewTape()
					var y *Var
					if fused {
						y = tp.Conv2DReLUMaxPool2D(x, w, b, c.opt, pool)
						infer = NewInferenceTape().Conv2DReLUMaxPool2D(x, w, b, c.opt, pool).Data()
					} else {
						y = tp.MaxPool2D(tp.ReLU(tp.Conv2D(x, w, b, c.opt)), pool)
					}
					g := RandVar(newRNG(32), false, -1, 1, y.Shape()...)
					tp.BackwardWith(y, g.Value)
					out = append(out, y.Data()...)
					for _, v := range []*Var{x, w, b} {
						if v != nil {
							grads = append(grads, append([]float32(nil), v.Grad.Data()...))
						}
					}
					return out, grads, infer
				}
				wantOut, wantGrads, _ := run(false)
				gotOut, gotGrads, gotInfer := run(true)
				if len(gotOut) != len(wantOut) {
					t.Fatalf("output has %d elements, want %d", len(gotOut), len(wantOut))
				}
				for i := range wantOut {
					if gotOut[i] != wantOut[i] || gotInfer[i] != wantOut[i] {
						t.Fatalf("output %d = %v (inference %v), want %v", i, gotOut[i], gotInfer[i], wantOut[i])
					}
				}
				for j := range wantGrads {
					for i := range wantGrads[j] {
						if gotGrads[j][i] != wantGrads[j][i] {
							t.Fatalf("gradient %d element %d = %v, want %v", j, i, gotGrads[j][i], wantGrads[j][i])
						}
					}
				}
			})
		}
	}
}

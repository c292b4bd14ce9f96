package kernels

import "math"

// PoolGeom describes a 2-D pooling window over one H×W plane, with PyTorch's
// max_pool2d / avg_pool2d semantics (dilation 1).
type PoolGeom struct {
	H, W             int // input plane height and width
	KH, KW           int // window size
	StrideH, StrideW int
	PadH, PadW       int // implicit padding on each side
	CeilMode         bool
}

// Out returns the output height and width as PyTorch's pooling_output_shape
// computes them: floor((in + 2*pad - k + (ceil ? stride-1 : 0)) / stride) + 1,
// and with CeilMode one less when the last window would start past the input
// and its left padding (every window must start inside the input or the
// left padding). Either result may be <= 0 for windows that do not fit.
func (g PoolGeom) Out() (int, int) {
	return poolOutSize(g.H, g.KH, g.StrideH, g.PadH, g.CeilMode),
		poolOutSize(g.W, g.KW, g.StrideW, g.PadW, g.CeilMode)
}

func poolOutSize(in, k, stride, pad int, ceil bool) int {
	num := in + 2*pad - k
	if ceil {
		num += stride - 1
	}
	out := floorDiv(num, stride) + 1
	if ceil && (out-1)*stride >= in+pad {
		out--
	}
	return out
}

// floorDiv divides rounding towards negative infinity (PyTorch's div_rtn).
func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// MaxPool2D pools one plane: dst (OutH×OutW) receives each window's maximum
// and argmax the index (row*W + col within the plane) of the element it came
// from. Padding never wins (it acts as -inf). Ties go to the first maximum in
// row-major order of the window and a NaN always wins, as in PyTorch's
// `val > max || isnan(val)` scan.
func MaxPool2D(g PoolGeom, src, dst []float32, argmax []int32) {
	oh, ow := g.Out()
	if g.KH == 2 && g.KW == 2 && g.StrideH == 2 && g.StrideW == 2 && g.PadH == 0 && g.PadW == 0 && 2*oh <= g.H && 2*ow <= g.W {
		maxPool2x2(g.W, oh, ow, src, dst, argmax)
		return
	}
	maxPool2DGeneric(g, src, dst, argmax)
}

// maxPool2DGeneric is MaxPool2D for any geometry.
func maxPool2DGeneric(g PoolGeom, src, dst []float32, argmax []int32) {
	oh, ow := g.Out()
	for y := 0; y < oh; y++ {
		h0 := y*g.StrideH - g.PadH
		h1 := min(h0+g.KH, g.H)
		h0 = max(h0, 0)
		for x := 0; x < ow; x++ {
			w0 := x*g.StrideW - g.PadW
			w1 := min(w0+g.KW, g.W)
			w0 = max(w0, 0)
			best := float32(math.Inf(-1))
			idx := h0*g.W + w0
			for h := h0; h < h1; h++ {
				row := src[h*g.W : (h+1)*g.W]
				for w := w0; w < w1; w++ {
					if v := row[w]; v > best || v != v {
						best = v
						idx = h*g.W + w
					}
				}
			}
			dst[y*ow+x] = best
			argmax[y*ow+x] = int32(idx)
		}
	}
}

// maxPool2x2 is MaxPool2D for the common 2×2 window at stride 2 without
// padding, every window inside the plane. Starting from the window's first
// element is the generic scan's result too: -inf never beats it and a NaN
// there is kept unless a later NaN replaces it.
func maxPool2x2(w, oh, ow int, src, dst []float32, argmax []int32) {
	for y := 0; y < oh; y++ {
		r0 := src[2*y*w : 2*y*w+2*ow]
		r1 := src[(2*y+1)*w : (2*y+1)*w+2*ow]
		d := dst[y*ow : y*ow+ow]
		am := argmax[y*ow : y*ow+ow]
		if useAVX2 && ow >= 8 {
			// Whole blocks of eight windows, then one block overlapping
			// the last ones: recomputing a window writes the same result.
			maxPool2x2Row8(r0, r1, d, am, ow/8, 2*y*w, w)
			if x0 := ow - 8; ow%8 != 0 {
				maxPool2x2Row8(r0[2*x0:], r1[2*x0:], d[x0:], am[x0:], 1, 2*y*w+2*x0, w)
			}
			continue
		}
		base := int32(2 * y * w)
		for x := range d {
			best, idx := r0[2*x], base+int32(2*x)
			if v := r0[2*x+1]; v > best || v != v {
				best, idx = v, base+int32(2*x+1)
			}
			if v := r1[2*x]; v > best || v != v {
				best, idx = v, base+int32(w+2*x)
			}
			if v := r1[2*x+1]; v > best || v != v {
				best, idx = v, base+int32(w+2*x+1)
			}
			d[x] = best
			am[x] = idx
		}
	}
}

// MaxPool2DBackward adds each entry of dy (OutH×OutW) into dx (H×W) at the
// index MaxPool2D recorded for it; overlapping windows accumulate.
func MaxPool2DBackward(dy []float32, argmax []int32, dx []float32) {
	for i, v := range dy {
		dx[argmax[i]] += v
	}
}

// avgWindow returns the clipped window [h0,h1)×[w0,w1) of output (y, x) and
// its divisor. With count-include-pad the divisor is the window clipped to the
// padded input (PyTorch computes it before clipping to the real input);
// otherwise it is the number of real input elements.
func (g PoolGeom) avgWindow(y, x int, excludePad bool) (h0, h1, w0, w1 int, div float32) {
	h0 = y*g.StrideH - g.PadH
	w0 = x*g.StrideW - g.PadW
	h1 = min(h0+g.KH, g.H+g.PadH)
	w1 = min(w0+g.KW, g.W+g.PadW)
	size := (h1 - h0) * (w1 - w0)
	h0, w0 = max(h0, 0), max(w0, 0)
	h1, w1 = min(h1, g.H), min(w1, g.W)
	if excludePad {
		size = (h1 - h0) * (w1 - w0)
	}
	return h0, h1, w0, w1, float32(size)
}

// AvgPool2D pools one plane: dst (OutH×OutW) receives each window's mean.
// excludePad selects count_include_pad=False (divide by the number of real
// elements); otherwise padding counts as zeros, as PyTorch's default does.
func AvgPool2D(g PoolGeom, excludePad bool, src, dst []float32) {
	oh, ow := g.Out()
	for y := 0; y < oh; y++ {
		for x := 0; x < ow; x++ {
			h0, h1, w0, w1, div := g.avgWindow(y, x, excludePad)
			if h0 >= h1 || w0 >= w1 {
				dst[y*ow+x] = 0
				continue
			}
			var s float32
			for h := h0; h < h1; h++ {
				for _, v := range src[h*g.W+w0 : h*g.W+w1] {
					s += v
				}
			}
			dst[y*ow+x] = s / div
		}
	}
}

// AvgPool2DBackward adds dy (OutH×OutW) spread over each window into dx
// (H×W), with the divisor AvgPool2D used.
func AvgPool2DBackward(g PoolGeom, excludePad bool, dy, dx []float32) {
	oh, ow := g.Out()
	for y := 0; y < oh; y++ {
		for x := 0; x < ow; x++ {
			h0, h1, w0, w1, div := g.avgWindow(y, x, excludePad)
			if h0 >= h1 || w0 >= w1 {
				continue
			}
			v := dy[y*ow+x] / div
			for h := h0; h < h1; h++ {
				row := dx[h*g.W+w0 : h*g.W+w1]
				for i := range row {
					row[i] += v
				}
			}
		}
	}
}

// AdaptiveRange returns the input range [start, end) that adaptive pooling
// averages for output index i of out over an input of length in:
// start = floor(i*in/out), end = ceil((i+1)*in/out), as in PyTorch.
func AdaptiveRange(i, in, out int) (int, int) {
	return i * in / out, ((i+1)*in + out - 1) / out
}

// AdaptiveAvgPool2D averages one H×W plane of src into an oh×ow plane of dst
// with PyTorch's adaptive_avg_pool2d windows (see AdaptiveRange).
func AdaptiveAvgPool2D(h, w, oh, ow int, src, dst []float32) {
	for y := 0; y < oh; y++ {
		h0, h1 := AdaptiveRange(y, h, oh)
		for x := 0; x < ow; x++ {
			w0, w1 := AdaptiveRange(x, w, ow)
			var s float32
			for r := h0; r < h1; r++ {
				for _, v := range src[r*w+w0 : r*w+w1] {
					s += v
				}
			}
			dst[y*ow+x] = s / float32((h1-h0)*(w1-w0))
		}
	}
}

// AdaptiveAvgPool2DBackward adds dy (oh×ow) spread evenly over each window
// into dx (h×w).
func AdaptiveAvgPool2DBackward(h, w, oh, ow int, dy, dx []float32) {
	for y := 0; y < oh; y++ {
		h0, h1 := AdaptiveRange(y, h, oh)
		for x := 0; x < ow; x++ {
			w0, w1 := AdaptiveRange(x, w, ow)
			v := dy[y*ow+x] / float32((h1-h0)*(w1-w0))
			for r := h0; r < h1; r++ {
				row := dx[r*w+w0 : r*w+w1]
				for i := range row {
					row[i] += v
				}
			}
		}
	}
}

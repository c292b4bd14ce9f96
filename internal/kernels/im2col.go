package kernels

// ConvGeom describes a 2-D convolution window over one image of C×H×W.
// OutH and OutW are derived by Out.
type ConvGeom struct {
	C, H, W          int // input channels, height, width
	KH, KW           int // kernel size
	PadH, PadW       int // zero padding on each side
	StrideH, StrideW int
	DilH, DilW       int
}

// Out returns the output height and width:
// floor((H + 2*pad - dil*(k-1) - 1)/stride) + 1, as in PyTorch.
func (g ConvGeom) Out() (int, int) {
	oh := (g.H+2*g.PadH-g.DilH*(g.KH-1)-1)/g.StrideH + 1
	ow := (g.W+2*g.PadW-g.DilW*(g.KW-1)-1)/g.StrideW + 1
	return oh, ow
}

// Im2col unfolds src (C×H×W) into dst, a (C*KH*KW)×(OutH*OutW) row-major
// matrix whose row (c, i, j) holds the input value under kernel tap (i, j) of
// channel c for every output position; taps in the padding read 0.
func Im2col(g ConvGeom, src, dst []float32) {
	oh, ow := g.Out()
	// Stride 1 with the output as wide as the input ("same" padding, as in
	// the seed model's 3×3 pad 1 convolutions): each column-matrix row is
	// the input plane shifted by a constant, copied in one piece.
	sameWidth := g.StrideH == 1 && g.StrideW == 1 && ow == g.W
	row := 0
	for c := 0; c < g.C; c++ {
		plane := src[c*g.H*g.W : (c+1)*g.H*g.W]
		for i := 0; i < g.KH; i++ {
			for j := 0; j < g.KW; j++ {
				out := dst[row*oh*ow : (row+1)*oh*ow]
				row++
				off := j*g.DilW - g.PadW
				x0, x1 := g.validX(off, ow)
				if sameWidth {
					im2colShifted(g, plane, out, i, off, oh, ow, x0, x1)
					continue
				}
				for y := 0; y < oh; y++ {
					iy := y*g.StrideH - g.PadH + i*g.DilH
					o := out[y*ow : (y+1)*ow]
					if iy < 0 || iy >= g.H || x0 >= x1 {
						clear(o)
						continue
					}
					in := plane[iy*g.W : (iy+1)*g.W]
					clear(o[:x0])
					clear(o[x1:])
					if g.StrideW == 1 {
						copy(o[x0:x1], in[x0+off:x1+off])
						continue
					}
					ix := x0*g.StrideW + off
					for x := x0; x < x1; x++ {
						o[x] = in[ix]
						ix += g.StrideW
					}
				}
			}
		}
	}
}

// im2colShifted fills one column-matrix row (tap row i, column offset off)
// when both strides are 1 and OutW == W. Then output (y, x) reads input
// (y + di, x + off) with di = i*DilH - PadH, flat index y*W + x + di*W + off:
// one shifted copy covers every valid row, after which the columns outside
// [x0, x1) (which picked up neighbouring rows' ends) and the rows outside
// the image are zeroed.
func im2colShifted(g ConvGeom, plane, out []float32, i, off, oh, ow, x0, x1 int) {
	di := i*g.DilH - g.PadH
	ya, yb := max(0, -di), min(oh, g.H-di)
	if ya >= yb || x0 >= x1 {
		clear(out)
		return
	}
	shift := di*g.W + off
	lo, hi := ya*ow+x0, (yb-1)*ow+x1
	clear(out[:lo])
	copy(out[lo:hi], plane[lo+shift:hi+shift])
	clear(out[hi:])
	if x0 > 0 || x1 < ow {
		for y := ya; y < yb; y++ {
			zeroEdges(out[y*ow:(y+1)*ow], x0, x1)
		}
	}
}

// zeroEdges zeroes o outside [x0, x1): a padding's width of elements on
// each side, too few for a call to clear to pay.
func zeroEdges(o []float32, x0, x1 int) {
	for x := range o[:x0] {
		o[x] = 0
	}
	for x := x1; x < len(o); x++ {
		o[x] = 0
	}
}

// validX returns the output columns [x0, x1) whose input column
// x*StrideW + off lies inside the image.
func (g ConvGeom) validX(off, ow int) (int, int) {
	x0 := 0
	if off < 0 {
		x0 = (-off + g.StrideW - 1) / g.StrideW
	}
	x1 := 0
	if g.W-off > 0 {
		x1 = (g.W-1-off)/g.StrideW + 1
	}
	x1 = min(x1, ow)
	x0 = min(x0, x1)
	return x0, x1
}

// Col2imScratch is Col2im for a cols the caller no longer needs: it may set
// the entries of cols that fall in the padding to zero. With both strides 1
// and OutW == W each column-matrix row is then added into the plane in one
// shifted piece, as Im2col copies it (adding +0 leaves a gradient unchanged).
func Col2imScratch(g ConvGeom, cols, dst []float32) {
	oh, ow := g.Out()
	if g.StrideH != 1 || g.StrideW != 1 || ow != g.W {
		Col2im(g, cols, dst)
		return
	}
	row := 0
	for c := 0; c < g.C; c++ {
		plane := dst[c*g.H*g.W : (c+1)*g.H*g.W]
		for i := 0; i < g.KH; i++ {
			for j := 0; j < g.KW; j++ {
				col := cols[row*oh*ow : (row+1)*oh*ow]
				row++
				off := j*g.DilW - g.PadW
				x0, x1 := g.validX(off, ow)
				di := i*g.DilH - g.PadH
				ya, yb := max(0, -di), min(oh, g.H-di)
				if ya >= yb || x0 >= x1 {
					continue
				}
				if x0 > 0 || x1 < ow {
					for y := ya; y < yb; y++ {
						zeroEdges(col[y*ow:(y+1)*ow], x0, x1)
					}
				}
				shift := di*g.W + off
				lo, hi := ya*ow+x0, (yb-1)*ow+x1
				AddTo(plane[lo+shift:hi+shift], col[lo:hi])
			}
		}
	}
}

// Col2im is the adjoint of Im2col: it adds every entry of cols
// ((C*KH*KW)×(OutH*OutW)) into the input position it was read from in dst
// (C×H×W). Entries that fall in the padding are discarded. dst is
// accumulated into, not overwritten.
func Col2im(g ConvGeom, cols, dst []float32) {
	oh, ow := g.Out()
	row := 0
	for c := 0; c < g.C; c++ {
		plane := dst[c*g.H*g.W : (c+1)*g.H*g.W]
		for i := 0; i < g.KH; i++ {
			for j := 0; j < g.KW; j++ {
				col := cols[row*oh*ow : (row+1)*oh*ow]
				row++
				off := j*g.DilW - g.PadW
				x0, x1 := g.validX(off, ow)
				if x0 >= x1 {
					continue
				}
				for y := 0; y < oh; y++ {
					iy := y*g.StrideH - g.PadH + i*g.DilH
					if iy < 0 || iy >= g.H {
						continue
					}
					in := plane[iy*g.W : (iy+1)*g.W]
					src := col[y*ow+x0 : y*ow+x1]
					if g.StrideW == 1 {
						dst := in[x0+off : x1+off]
						dst = dst[:len(src)]
						for x, v := range src {
							dst[x] += v
						}
						continue
					}
					ix := x0*g.StrideW + off
					for _, v := range src {
						in[ix] += v
						ix += g.StrideW
					}
				}
			}
		}
	}
}

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
	row := 0
	for c := 0; c < g.C; c++ {
		plane := src[c*g.H*g.W : (c+1)*g.H*g.W]
		for i := 0; i < g.KH; i++ {
			for j := 0; j < g.KW; j++ {
				out := dst[row*oh*ow : (row+1)*oh*ow]
				row++
				off := j*g.DilW - g.PadW
				x0, x1 := g.validX(off, ow)
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

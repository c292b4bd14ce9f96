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
				for y := 0; y < oh; y++ {
					iy := y*g.StrideH - g.PadH + i*g.DilH
					o := out[y*ow : (y+1)*ow]
					if iy < 0 || iy >= g.H {
						clear(o)
						continue
					}
					in := plane[iy*g.W : (iy+1)*g.W]
					ix := j*g.DilW - g.PadW
					for x := range o {
						if ix >= 0 && ix < g.W {
							o[x] = in[ix]
						} else {
							o[x] = 0
						}
						ix += g.StrideW
					}
				}
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
				for y := 0; y < oh; y++ {
					iy := y*g.StrideH - g.PadH + i*g.DilH
					if iy < 0 || iy >= g.H {
						continue
					}
					in := plane[iy*g.W : (iy+1)*g.W]
					ix := j*g.DilW - g.PadW
					for _, v := range col[y*ow : (y+1)*ow] {
						if ix >= 0 && ix < g.W {
							in[ix] += v
						}
						ix += g.StrideW
					}
				}
			}
		}
	}
}

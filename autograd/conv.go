package autograd

import (
	"fmt"
	"slices"
	"sync"

	"github.com/metacnn/metacnn/internal/kernels"
	"github.com/metacnn/metacnn/tensor"
)

// Conv2DOptions configures Conv2D like torch.nn.functional.conv2d's
// arguments, as [height, width] pairs. The zero value is a plain
// convolution: a zero Stride or Dilation entry means 1, zero Padding means
// none and Groups 0 means 1.
type Conv2DOptions struct {
	// Stride is the step between output positions (default 1).
	Stride [2]int
	// Padding is the number of zeros added on each side (default 0).
	Padding [2]int
	// Dilation is the spacing between kernel taps (default 1).
	Dilation [2]int
	// Groups splits input and output channels into that many independent
	// convolutions (default 1); Groups equal to the input channels is a
	// depthwise convolution.
	Groups int
}

// convPlan is a validated Conv2D configuration.
type convPlan struct {
	n, cin, cout  int
	groups        int
	cinG, coutG   int
	geom          kernels.ConvGeom // one group of one image
	oh, ow        int
	k             int  // rows of the column matrix: cinG*KH*KW
	direct        bool // 1x1, stride 1, no padding: the input is its own column matrix
	inSize, ohw   int  // elements of one input plane and of one output plane
	wGroup, xSize int  // weight elements per group; input elements per image
	relu          bool // a ReLU follows (Conv2DReLU)
	// pool, when set, is a max-pool after the ReLU (Conv2DReLUMaxPool2D);
	// poolSize is the elements of one pooled plane.
	pool     *kernels.PoolGeom
	poolSize int
}

func newConvPlan(xs, ws []int, b *Var, opt Conv2DOptions) convPlan {
	if len(xs) != 4 {
		panic(fmt.Sprintf("autograd.Conv2D: input %v, want [batch, in_channels, height, width]", xs))
	}
	if len(ws) != 4 {
		panic(fmt.Sprintf("autograd.Conv2D: weight %v, want [out_channels, in_channels/groups, kernel_h, kernel_w]", ws))
	}
	def1 := func(v int) int {
		if v == 0 {
			return 1
		}
		return v
	}
	sh, sw := def1(opt.Stride[0]), def1(opt.Stride[1])
	dh, dw := def1(opt.Dilation[0]), def1(opt.Dilation[1])
	groups := def1(opt.Groups)
	switch {
	case sh < 0 || sw < 0:
		panic(fmt.Sprintf("autograd.Conv2D: stride %v must not be negative", opt.Stride))
	case dh < 0 || dw < 0:
		panic(fmt.Sprintf("autograd.Conv2D: dilation %v must not be negative", opt.Dilation))
	case opt.Padding[0] < 0 || opt.Padding[1] < 0:
		panic(fmt.Sprintf("autograd.Conv2D: padding %v must not be negative", opt.Padding))
	case groups < 0:
		panic(fmt.Sprintf("autograd.Conv2D: groups %d must not be negative", opt.Groups))
	}
	p := convPlan{n: xs[0], cin: xs[1], cout: ws[0], groups: groups}
	if p.cin%groups != 0 {
		panic(fmt.Sprintf("autograd.Conv2D: input %v has %d channels, not divisible by groups %d", xs, p.cin, groups))
	}
	if p.cout%groups != 0 {
		panic(fmt.Sprintf("autograd.Conv2D: weight %v has %d output channels, not divisible by groups %d", ws, p.cout, groups))
	}
	p.cinG, p.coutG = p.cin/groups, p.cout/groups
	if ws[1] != p.cinG {
		panic(fmt.Sprintf("autograd.Conv2D: weight %v expects %d input channels per group, input %v with groups %d has %d",
			ws, ws[1], xs, groups, p.cinG))
	}
	if ws[2] <= 0 || ws[3] <= 0 {
		panic(fmt.Sprintf("autograd.Conv2D: weight %v has an empty kernel", ws))
	}
	if b != nil && (b.Value.Rank() != 1 || b.Value.Dim(0) != p.cout) {
		panic(fmt.Sprintf("autograd.Conv2D: bias %v, want [%d] for weight %v", b.Shape(), p.cout, ws))
	}
	p.geom = kernels.ConvGeom{
		C: p.cinG, H: xs[2], W: xs[3], KH: ws[2], KW: ws[3],
		PadH: opt.Padding[0], PadW: opt.Padding[1],
		StrideH: sh, StrideW: sw, DilH: dh, DilW: dw,
	}
	p.oh, p.ow = p.geom.Out()
	if p.oh <= 0 || p.ow <= 0 {
		panic(fmt.Sprintf("autograd.Conv2D: input %v padded by %v is smaller than weight %v dilated by [%d %d] (output %dx%d)",
			xs, opt.Padding, ws, dh, dw, p.oh, p.ow))
	}
	p.k = p.cinG * ws[2] * ws[3]
	p.direct = ws[2] == 1 && ws[3] == 1 && sh == 1 && sw == 1 && opt.Padding == [2]int{}
	p.inSize, p.ohw = xs[2]*xs[3], p.oh*p.ow
	p.wGroup, p.xSize = p.coutG*p.k, p.cin*p.inSize
	return p
}

// gemmReLU is gemm followed by a ReLU of C, fused into the product.
func (p *convPlan) gemmReLU(m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if p.n >= 2*kernels.Workers {
		kernels.SgemmSerialReLU(false, false, m, n, k, 1, a, lda, b, ldb, beta, c, ldc)
		return
	}
	kernels.SgemmReLU(false, false, m, n, k, 1, a, lda, b, ldb, beta, c, ldc)
}

// gemm runs one per-image product. With enough images to keep every worker
// busy the images are the parallelism and each product runs serially;
// with fewer (batch-1 inference) the product itself is split.
func (p *convPlan) gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if p.n >= 2*kernels.Workers {
		kernels.SgemmSerial(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	kernels.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// xGroup returns the input channels of group gr of image i (cinG×H×W).
func (p *convPlan) xGroup(x []float32, i, gr int) []float32 {
	off := i*p.xSize + gr*p.cinG*p.inSize
	return x[off : off+p.cinG*p.inSize]
}

// yGroup returns the output channels of group gr of image i (coutG×OutH×OutW).
func (p *convPlan) yGroup(y []float32, i, gr int) []float32 {
	off := (i*p.cout + gr*p.coutG) * p.ohw
	return y[off : off+p.coutG*p.ohw]
}

// yGroupAll returns all output channels of image i (Cout×OutH×OutW).
func (p *convPlan) yGroupAll(y []float32, i int) []float32 {
	n := p.cout * p.ohw
	return y[i*n : (i+1)*n]
}

// Conv2D is torch.nn.functional.conv2d: x is [N, Cin, H, W], w is
// [Cout, Cin/groups, KH, KW] and b is [Cout] or nil; the result is
// [N, Cout, OutH, OutW] with OutH = floor((H + 2*padH - dilH*(KH-1) - 1)/strideH) + 1
// (likewise OutW). Each image and group is an im2col followed by one GEMM;
// images run in parallel.
func (tp *Tape) Conv2D(x, w, b *Var, opt Conv2DOptions) *Var {
	return tp.conv2DAct(x, w, b, opt, false, nil)
}

// Conv2DReLU is ReLU(Conv2D(x, w, b, opt)) in one op, with the same values
// and gradients: each image's output gets its ReLU while it is still in
// cache, and the backward masks each image's gradient on the fly instead of
// running two passes over the whole batch and keeping a second gradient.
func (tp *Tape) Conv2DReLU(x, w, b *Var, opt Conv2DOptions) *Var {
	return tp.conv2DAct(x, w, b, opt, true, nil)
}

// Conv2DReLUMaxPool2D is MaxPool2D(ReLU(Conv2D(x, w, b, opt)), pool) in one
// op, with the same values and gradients: each image is pooled while its
// convolution output is in cache, and the backward routes each image's
// pooled gradient through the saved indices and the ReLU mask into a
// scratch buffer instead of building the full-size gradient of the
// convolution's output. Without recording (inference) the convolution
// output is never stored at all.
func (tp *Tape) Conv2DReLUMaxPool2D(x, w, b *Var, opt Conv2DOptions, pool Pool2DOptions) *Var {
	return tp.conv2DAct(x, w, b, opt, true, &pool)
}

// conv2DAct is Conv2D, followed by a ReLU when relu is set and then by a
// max-pool when pool is not nil (pool requires relu).
func (tp *Tape) conv2DAct(x, w, b *Var, opt Conv2DOptions, relu bool, pool *Pool2DOptions) *Var {
	p := newConvPlan(x.Shape(), w.Shape(), b, opt)
	p.relu = relu
	var (
		pooled *tensor.Tensor
		argmax []int32
		ph, pw int
	)
	// The convolution's output is kept for the backward's ReLU mask; an
	// unrecorded pooled op only needs one image of it at a time.
	keepY := pool == nil || (tp.Recording() && (x.requiresGrad || w.requiresGrad || (b != nil && b.requiresGrad)))
	if pool != nil {
		g := pool.geom("Conv2DReLUMaxPool2D", []int{p.n, p.cout, p.oh, p.ow})
		p.pool = &g
		ph, pw = g.Out()
		p.poolSize = ph * pw
		pooled = tp.alloc(false, p.n, p.cout, ph, pw)
		if keepY {
			argmax = kernels.GetI32(p.n * p.cout * p.poolSize)
		}
	}
	var out *tensor.Tensor
	if keepY {
		out = tp.alloc(false, p.n, p.cout, p.oh, p.ow)
	}
	xd, wd := x.Data(), w.Data()
	var o []float32
	if out != nil {
		o = out.Data()
	}
	var bd []float32
	if b != nil {
		bd = b.Data()
	}
	// With a bias and a column matrix, the bias rides in the product as one
	// more column of W against a row of ones under the columns, so the GEMM
	// writes Y in one pass instead of reading back a bias-filled Y.
	k, wk := p.k, wd
	if bd != nil && !p.direct {
		k = p.k + 1
		wk = kernels.GetF32(p.groups * p.coutG * k)
		defer kernels.PutF32(wk)
		for r := 0; r < p.cout; r++ {
			copy(wk[r*k:r*k+p.k], wd[r*p.k:(r+1)*p.k])
			wk[r*k+p.k] = bd[r]
		}
	}
	kernels.ParallelFor(p.n, 1, func(lo, hi int) {
		var cols, yImg []float32
		if !p.direct {
			cols = kernels.GetF32(k * p.ohw)
			defer kernels.PutF32(cols)
			fill(cols[p.k*p.ohw:], 1) // the bias row, when there is one
		}
		var amImg []int32 // one image's pool indices, when none are kept
		if !keepY {
			yImg = kernels.GetF32(p.cout * p.ohw)
			defer kernels.PutF32(yImg)
			if pool != nil {
				amImg = kernels.GetI32(p.cout * p.poolSize)
				defer kernels.PutI32(amImg)
			}
		}
		for i := lo; i < hi; i++ {
			yi := yImg
			if keepY {
				yi = p.yGroupAll(o, i)
			}
			for gr := 0; gr < p.groups; gr++ {
				c := p.xGroup(xd, i, gr)
				if !p.direct {
					kernels.Im2col(p.geom, c, cols)
					c = cols
				}
				y := p.yGroup(yi, 0, gr)
				beta := float32(0)
				if bd != nil && p.direct {
					for j, v := range bd[gr*p.coutG : (gr+1)*p.coutG] {
						fill(y[j*p.ohw:(j+1)*p.ohw], v)
					}
					beta = 1
				}
				// Y_g (coutG×OHW) = W_g (coutG×K) · cols (K×OHW)
				if relu {
					p.gemmReLU(p.coutG, p.ohw, k, wk[gr*p.coutG*k:], k, c, p.ohw, beta, y, p.ohw)
					continue
				}
				p.gemm(false, false, p.coutG, p.ohw, k, 1, wk[gr*p.coutG*k:], k, c, p.ohw, beta, y, p.ohw)
			}
			if pool != nil {
				pd := pooled.Data()
				am, amOff := argmax, i*p.cout*p.poolSize
				if amImg != nil {
					am, amOff = amImg, 0
				}
				poolPlanes := func(lo, hi int) {
					for c := lo; c < hi; c++ {
						q := (i*p.cout + c) * p.poolSize
						a := amOff + c*p.poolSize
						kernels.MaxPool2D(*p.pool, yi[c*p.ohw:(c+1)*p.ohw], pd[q:q+p.poolSize], am[a:a+p.poolSize])
					}
				}
				if p.n >= 2*kernels.Workers {
					poolPlanes(0, p.cout)
				} else {
					// Too few images to keep every worker busy (batch-1
					// inference): split the planes, as the GEMM is split.
					kernels.ParallelFor(p.cout, planeGrain(p.poolSize*p.pool.KH*p.pool.KW), poolPlanes)
				}
			}
		}
	})
	result := out
	if pool != nil {
		result = pooled
	}
	v := tp.result(result, func(g *tensor.Tensor) {
		var gb []float32
		if b != nil && b.requiresGrad {
			gb = b.grad()
		}
		if x.requiresGrad || w.requiresGrad || gb != nil {
			p.backward(g.Data(), o, argmax, x, w, gb)
		}
	}, x, w, b)
	if argmax != nil {
		tp.keepIndices(v, argmax)
	}
	return v
}

// backward accumulates dX, dW and the bias gradient gb (when not nil) for
// output gradient gd, in parallel over images. Each task sums its dW and db
// privately; the partial sums are added in order of their first image, so
// the result does not depend on which task finishes first.
//
// With a ReLU, yd is the convolution's (ReLU'd) output and gd the gradient
// at the ReLU's output; with a pool as well, gd is the gradient at the
// pooled output and argmax the pool's saved indices.
func (p *convPlan) backward(gd, yd []float32, argmax []int32, x, w *Var, gb []float32) {
	xd, wd := x.Data(), w.Data()
	needX, needW := x.requiresGrad, w.requiresGrad
	// Allocate the shared gradients before the parallel loop.
	var gx, gw []float32
	freshX := false
	if needX {
		gx, freshX = x.gradUninit()
	}
	if needW {
		gw = w.grad()
	}
	type partial struct {
		lo     int
		dw, db []float32
	}
	var (
		mu       sync.Mutex
		partials []partial
	)
	kernels.ParallelFor(p.n, 1, func(lo, hi int) {
		var cols, dcols, dw, db []float32
		if needW {
			dw = kernels.GetF32(len(wd))
			clear(dw)
			if !p.direct {
				cols = kernels.GetF32(p.k * p.ohw)
				defer kernels.PutF32(cols)
			}
		}
		if gb != nil {
			db = kernels.GetF32(p.cout)
			clear(db)
		}
		if needX && !p.direct {
			dcols = kernels.GetF32(p.k * p.ohw)
			defer kernels.PutF32(dcols)
		}
		var masked []float32
		if p.relu {
			masked = kernels.GetF32(p.cout * p.ohw)
			defer kernels.PutF32(masked)
		}
		for i := lo; i < hi; i++ {
			// gi is image i's gradient at the convolution's output.
			var gi []float32
			switch {
			case p.pool != nil:
				// The pool's backward, masked by the ReLU, into a zeroed
				// plane.
				clear(masked)
				yi := p.yGroupAll(yd, i)
				for c := 0; c < p.cout; c++ {
					q := (i*p.cout + c) * p.poolSize
					kernels.MaxPool2DReLUBackward(gd[q:q+p.poolSize], argmax[q:q+p.poolSize], yi[c*p.ohw:(c+1)*p.ohw], masked[c*p.ohw:(c+1)*p.ohw])
				}
				gi = masked
			case p.relu:
				kernels.ReLUMask(masked, p.yGroupAll(gd, i), p.yGroupAll(yd, i))
				gi = masked
			default:
				gi = p.yGroupAll(gd, i)
			}
			for c := range db {
				db[c] += sum32(gi[c*p.ohw : (c+1)*p.ohw])
			}
			if freshX {
				clear(gx[i*p.xSize : (i+1)*p.xSize])
			}
			for gr := 0; gr < p.groups; gr++ {
				dy := p.yGroup(gi, 0, gr)
				wg := wd[gr*p.wGroup : (gr+1)*p.wGroup]
				if needW {
					c := p.xGroup(xd, i, gr)
					if !p.direct {
						kernels.Im2col(p.geom, c, cols)
						c = cols
					}
					// dW_g (coutG×K) += dY_g (coutG×OHW) · colsᵀ (OHW×K)
					p.gemm(false, true, p.coutG, p.k, p.ohw, 1, dy, p.ohw, c, p.ohw, 1, dw[gr*p.wGroup:], p.k)
				}
				if needX {
					dx := p.xGroup(gx, i, gr)
					// dcols (K×OHW) = W_gᵀ (K×coutG) · dY_g (coutG×OHW)
					if p.direct {
						p.gemm(true, false, p.k, p.ohw, p.coutG, 1, wg, p.k, dy, p.ohw, 1, dx, p.ohw)
					} else {
						p.gemm(true, false, p.k, p.ohw, p.coutG, 1, wg, p.k, dy, p.ohw, 0, dcols, p.ohw)
						kernels.Col2imScratch(p.geom, dcols, dx)
					}
				}
			}
		}
		if dw != nil || db != nil {
			mu.Lock()
			partials = append(partials, partial{lo, dw, db})
			mu.Unlock()
		}
	})
	slices.SortFunc(partials, func(a, b partial) int { return a.lo - b.lo })
	for _, pt := range partials {
		if pt.dw != nil {
			gw = gw[:len(pt.dw)]
			for j, v := range pt.dw {
				gw[j] += v
			}
			kernels.PutF32(pt.dw)
		}
		if pt.db != nil {
			gb = gb[:len(pt.db)]
			for j, v := range pt.db {
				gb[j] += v
			}
			kernels.PutF32(pt.db)
		}
	}
}

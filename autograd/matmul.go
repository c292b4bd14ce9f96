package autograd

import (
	"fmt"

	"github.com/metacnn/metacnn/internal/kernels"
	"github.com/metacnn/metacnn/tensor"
)

// MatMul multiplies the last two dimensions: [..., m, k] x [..., k, n] ->
// [..., m, n]. Leading (batch) dimensions must be equal, or b may be a plain
// [k, n] matrix shared by every batch entry.
func (tp *Tape) MatMul(a, b *Var) *Var {
	as, bs := a.Shape(), b.Shape()
	if len(as) < 2 || len(bs) < 2 {
		panic(fmt.Sprintf("autograd.MatMul: need rank >= 2, got %v x %v", as, bs))
	}
	m, k := as[len(as)-2], as[len(as)-1]
	k2, n := bs[len(bs)-2], bs[len(bs)-1]
	if k != k2 {
		panic(fmt.Sprintf("autograd.MatMul: inner dimensions differ: %v x %v", as, bs))
	}
	batch := tensor.NumElements(as[:len(as)-2])
	sharedB := len(bs) == 2
	if !sharedB && !tensor.EqualShapes(as[:len(as)-2], bs[:len(bs)-2]) {
		panic(fmt.Sprintf("autograd.MatMul: batch dimensions differ: %v x %v", as, bs))
	}
	outShape := append(append([]int(nil), as[:len(as)-2]...), m, n)
	out := tp.alloc(false, outShape...)
	x, y, o := a.Data(), b.Data(), out.Data()
	bOff := func(i int) int {
		if sharedB {
			return 0
		}
		return i * k * n
	}
	if sharedB {
		// One GEMM over all batch rows at once.
		kernels.Sgemm(false, false, batch*m, n, k, 1, x, k, y, n, 0, o, n)
	} else {
		for i := 0; i < batch; i++ {
			kernels.Sgemm(false, false, m, n, k, 1, x[i*m*k:], k, y[bOff(i):], n, 0, o[i*m*n:], n)
		}
	}
	return tp.result(out, func(g *tensor.Tensor) {
		gd := g.Data()
		if a.requiresGrad {
			ga := a.grad()
			// dA = dC · Bᵀ
			if sharedB {
				kernels.Sgemm(false, true, batch*m, k, n, 1, gd, n, y, n, 1, ga, k)
			} else {
				for i := 0; i < batch; i++ {
					kernels.Sgemm(false, true, m, k, n, 1, gd[i*m*n:], n, y[bOff(i):], n, 1, ga[i*m*k:], k)
				}
			}
		}
		if b.requiresGrad {
			gb := b.grad()
			// dB = Aᵀ · dC
			if sharedB {
				kernels.Sgemm(true, false, k, n, batch*m, 1, x, k, gd, n, 1, gb, n)
			} else {
				for i := 0; i < batch; i++ {
					kernels.Sgemm(true, false, k, n, m, 1, x[i*m*k:], k, gd[i*m*n:], n, 1, gb[bOff(i):], n)
				}
			}
		}
	}, a, b)
}

// Linear returns x·Wᵀ + b as torch.nn.functional.linear does: x is
// [..., in], w is [out, in], b is [out] or nil; the result is [..., out].
func (tp *Tape) Linear(x, w, b *Var) *Var {
	xs, ws := x.Shape(), w.Shape()
	if len(xs) < 1 || len(ws) != 2 || xs[len(xs)-1] != ws[1] {
		panic(fmt.Sprintf("autograd.Linear: input %v does not match weight %v (want [..., in] and [out, in])", xs, ws))
	}
	in, outF := ws[1], ws[0]
	rows := tensor.NumElements(xs[:len(xs)-1])
	if b != nil && (b.Value.Rank() != 1 || b.Value.Dim(0) != outF) {
		panic(fmt.Sprintf("autograd.Linear: bias %v does not match weight %v", b.Shape(), ws))
	}
	outShape := append(append([]int(nil), xs[:len(xs)-1]...), outF)
	out := tp.alloc(false, outShape...)
	xd, wd, o := x.Data(), w.Data(), out.Data()
	if b != nil {
		bd := b.Data()
		for r := 0; r < rows; r++ {
			copy(o[r*outF:(r+1)*outF], bd)
		}
	}
	beta := float32(0)
	if b != nil {
		beta = 1
	}
	kernels.Sgemm(false, true, rows, outF, in, 1, xd, in, wd, in, beta, o, outF)
	return tp.result(out, func(g *tensor.Tensor) {
		gd := g.Data()
		if x.requiresGrad {
			// dx = dy · W
			kernels.Sgemm(false, false, rows, in, outF, 1, gd, outF, wd, in, 1, x.grad(), in)
		}
		if w.requiresGrad {
			// dW = dyᵀ · x
			kernels.Sgemm(true, false, outF, in, rows, 1, gd, outF, xd, in, 1, w.grad(), in)
		}
		if b != nil && b.requiresGrad {
			gb := b.grad()
			for r := 0; r < rows; r++ {
				for j, v := range gd[r*outF : (r+1)*outF] {
					gb[j] += v
				}
			}
		}
	}, x, w, b)
}

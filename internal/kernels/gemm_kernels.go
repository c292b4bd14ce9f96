package kernels

import (
	"fmt"
	"os"
)

// microKernel is one register-blocked inner kernel plus the cache blocking
// that suits it. fn computes one mr×nr tile of C from a packed A micro-panel
// and k rows of nr floats of B, ldb apart (ldb = nr for a packed panel):
//
//	acc[i][j] = Σ_p a[p*mr+i] * b[p*ldb+j]  (p < k, k >= 1)
//	c[i*ldc+j] = acc[i][j]                   if beta == 0 (old C ignored, even NaN)
//	c[i*ldc+j] = acc[i][j] + beta*c[i*ldc+j] otherwise
type microKernel struct {
	name   string
	mr, nr int
	// kc, mc, nc: depth of a packed slice of k, rows of a packed A block,
	// columns of a packed B block (see gemm_amd64.go for the reasoning).
	kc, mc, nc int
	// directRows is the most rows of C a task may have for an untransposed
	// B to be read in place rather than packed (see gemmArgs.block): up to
	// this many, each element of B meets only a handful of A micro-panels.
	directRows int
	fn         func(k int, a, b []float32, ldb int, c []float32, ldc int, beta float32)
}

// genericKernel is the portable twin of the assembly kernels, used on other
// architectures, on x86 CPUs without AVX2+FMA, and with
// METACNN_KERNELS=generic. 4×4 keeps the 16 accumulators in registers.
var genericKernel = &microKernel{
	name: "generic", mr: 4, nr: 4,
	kc: 256, mc: 128, nc: 1024, directRows: 16,
	fn: kernelGeneric4x4,
}

// kernels lists the micro-kernels this CPU can run, fastest first.
var kernels = append(archKernels(), genericKernel)

// activeKernel is the micro-kernel Sgemm uses; chosen once at start-up.
var activeKernel = chooseKernel(os.Getenv("METACNN_KERNELS"))

// chooseKernel returns the kernel named by the METACNN_KERNELS value, or the
// fastest one when it is empty or names nothing this CPU runs.
func chooseKernel(want string) *microKernel {
	for _, k := range kernels {
		if k.name == want {
			return k
		}
	}
	if want != "" && want != "auto" {
		fmt.Fprintf(os.Stderr, "metacnn: METACNN_KERNELS=%q is not available on this CPU (have %s); using %s\n", want, KernelNames(), kernels[0].name)
	}
	return kernels[0]
}

// KernelNames lists the SGEMM micro-kernels this CPU can run, fastest first;
// any of them may be forced with METACNN_KERNELS.
func KernelNames() []string {
	names := make([]string, len(kernels))
	for i, k := range kernels {
		names[i] = k.name
	}
	return names
}

// ActiveKernel names the SGEMM micro-kernel in use.
func ActiveKernel() string { return activeKernel.name }

func kernelGeneric4x4(k int, a, b []float32, ldb int, c []float32, ldc int, beta float32) {
	a = a[:4*k]
	b = b[:(k-1)*ldb+4]
	var c00, c01, c02, c03 float32
	var c10, c11, c12, c13 float32
	var c20, c21, c22, c23 float32
	var c30, c31, c32, c33 float32
	for p := 0; p < k; p++ {
		ap := a[p*4 : p*4+4 : p*4+4]
		bp := b[p*ldb : p*ldb+4 : p*ldb+4]
		a0, a1, a2, a3 := ap[0], ap[1], ap[2], ap[3]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	storeRow4(c[0*ldc:0*ldc+4], c00, c01, c02, c03, beta)
	storeRow4(c[1*ldc:1*ldc+4], c10, c11, c12, c13, beta)
	storeRow4(c[2*ldc:2*ldc+4], c20, c21, c22, c23, beta)
	storeRow4(c[3*ldc:3*ldc+4], c30, c31, c32, c33, beta)
}

func storeRow4(c []float32, v0, v1, v2, v3, beta float32) {
	c = c[:4]
	if beta != 0 {
		v0 += beta * c[0]
		v1 += beta * c[1]
		v2 += beta * c[2]
		v3 += beta * c[3]
	}
	c[0], c[1], c[2], c[3] = v0, v1, v2, v3
}

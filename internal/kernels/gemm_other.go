//go:build !amd64

package kernels

// archKernels: no assembly micro-kernels off amd64; the portable Go kernel
// does the work.
func archKernels() []*microKernel { return nil }

const useAVX2 = false

func transpose8(d []float32, w int, src []float32, ld, off, kc8 int) { panic("unreachable") }

func maxPool2x2Row8(r0, r1, dst []float32, idx []int32, blocks, base, w int) { panic("unreachable") }

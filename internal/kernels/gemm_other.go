//go:build !amd64

package kernels

// archKernels: no assembly micro-kernels off amd64; the portable Go kernel
// does the work.
func archKernels() []*microKernel { return nil }

const useAVX2 = false

func transpose8(d []float32, w int, src []float32, ld, off, kc8 int) { panic("unreachable") }

func maxPool2x2Row8(r0, r1, dst []float32, idx []int32, blocks, base, w int) { panic("unreachable") }

func reluBlocks(d []float32, blocks int) { panic("unreachable") }

func reluMaskBlocks(dst, g, y []float32, blocks int) { panic("unreachable") }

func reluRowBlocks(c []float32, ldc, rows, blocks int) { panic("unreachable") }

const useAVX2FMA = false

func adamBlocks(x, g, m, v []float32, blocks int, c *AdamConsts) { panic("unreachable") }

func dotBlocks(a, b []float32, blocks int) float32 { panic("unreachable") }

func addBlocks(dst, src []float32, blocks int) { panic("unreachable") }

func sum4Blocks(x []float32, blocks int) (s0, s1, s2, s3 float32) { panic("unreachable") }

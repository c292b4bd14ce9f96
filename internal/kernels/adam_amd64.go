package kernels

import "golang.org/x/sys/cpu"

// useAVX2FMA gates the AVX2 Adam kernel, which also needs FMA.
var useAVX2FMA = useAVX2 && cpu.X86.HasFMA

//go:noescape
func adamAVX2(x, gr, m, v *float32, blocks int, c *AdamConsts)

// adamBlocks runs AdamStep's update on the first 8*blocks elements.
func adamBlocks(x, g, m, v []float32, blocks int, c *AdamConsts) {
	n := 8*blocks - 1
	_, _, _, _ = x[n], g[n], m[n], v[n]
	adamAVX2(&x[0], &g[0], &m[0], &v[0], blocks, c)
}

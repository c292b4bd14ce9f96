package kernels

//go:noescape
func maxPool2x2AVX2(r0, r1, dst *float32, idx *int32, blocks int, base, w int)

// maxPool2x2Row8 pools windows [x0, x0+8*blocks) of one output row with
// AVX2: r0 and r1 are the two input rows from column 2*x0, base the flat
// index of r0[0] in the plane and w the plane width.
func maxPool2x2Row8(r0, r1, dst []float32, idx []int32, blocks, base, w int) {
	_ = r0[16*blocks-1]
	_ = r1[16*blocks-1]
	_ = dst[8*blocks-1]
	_ = idx[8*blocks-1]
	maxPool2x2AVX2(&r0[0], &r1[0], &dst[0], &idx[0], blocks, base, w)
}

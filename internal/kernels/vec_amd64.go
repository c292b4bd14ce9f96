package kernels

//go:noescape
func reluAVX2(d *float32, blocks int)

//go:noescape
func reluMaskAVX2(dst, gd, y *float32, blocks int)

// reluBlocks applies ReLU32 to the first 8*blocks elements of d with AVX2.
func reluBlocks(d []float32, blocks int) {
	_ = d[8*blocks-1]
	reluAVX2(&d[0], blocks)
}

// reluMaskBlocks is reluMaskGeneric on the first 8*blocks elements with AVX2.
func reluMaskBlocks(dst, g, y []float32, blocks int) {
	_ = dst[8*blocks-1]
	_ = g[8*blocks-1]
	_ = y[8*blocks-1]
	reluMaskAVX2(&dst[0], &g[0], &y[0], blocks)
}

//go:noescape
func reluRowsAVX2(c *float32, ldc, rows, blocks int)

// reluRowBlocks applies ReLU32 to the first 8*blocks elements of each of
// rows rows of c, ldc apart, with AVX2.
func reluRowBlocks(c []float32, ldc, rows, blocks int) {
	_ = c[(rows-1)*ldc+8*blocks-1]
	reluRowsAVX2(&c[0], ldc, rows, blocks)
}

//go:noescape
func dotAVX2(a, b *float32, blocks int) float32

// dotBlocks returns Σ a[i]*b[i] over the first 32*blocks elements with AVX2
// and FMA.
func dotBlocks(a, b []float32, blocks int) float32 {
	_ = a[32*blocks-1]
	_ = b[32*blocks-1]
	return dotAVX2(&a[0], &b[0], blocks)
}

//go:noescape
func addAVX2(dst, src *float32, blocks int)

// addBlocks adds the first 8*blocks elements of src into dst with AVX2.
func addBlocks(dst, src []float32, blocks int) {
	_ = dst[8*blocks-1]
	_ = src[8*blocks-1]
	addAVX2(&dst[0], &src[0], blocks)
}

//go:noescape
func sum4SSE(x *float32, blocks int) (s0, s1, s2, s3 float32)

// sum4Blocks returns the four lane sums of the first 4*blocks elements.
func sum4Blocks(x []float32, blocks int) (s0, s1, s2, s3 float32) {
	_ = x[4*blocks-1]
	return sum4SSE(&x[0], blocks)
}

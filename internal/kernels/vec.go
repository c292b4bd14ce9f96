package kernels

import "math"

// ReLU32 is max(x, 0) as PyTorch's relu computes it (-0 gives +0, NaN stays
// NaN), without the branch on the sign that the max builtin compiles to:
// signs are random in a ReLU's input, so that branch would mispredict half
// the time.
func ReLU32(x float32) float32 {
	u := math.Float32bits(x)
	m := uint32(int32(u) >> 31) // all ones when the sign bit is set
	if u > 0xff800000 {         // a NaN with the sign bit set stays NaN
		m = 0
	}
	return math.Float32frombits(u &^ m)
}

// ReLUInPlace sets every element of d to ReLU32 of itself (AVX2 where the
// CPU has it; reluGeneric is the portable twin).
func ReLUInPlace(d []float32) {
	i := 0
	if useAVX2 && len(d) >= 8 {
		i = len(d) &^ 7
		reluBlocks(d, i/8)
	}
	reluGeneric(d[i:])
}

func reluGeneric(d []float32) {
	for i, v := range d {
		d[i] = ReLU32(v)
	}
}

// ReLUMask sets dst[i] to g[i] where y[i] > 0 (NaN excluded) and to +0
// elsewhere: the gradient g at a ReLU's output y passed back to its input.
// dst may be g.
func ReLUMask(dst, g, y []float32) {
	dst, y = dst[:len(g)], y[:len(g)]
	i := 0
	if useAVX2 && len(g) >= 8 {
		i = len(g) &^ 7
		reluMaskBlocks(dst, g, y, i/8)
	}
	reluMaskGeneric(dst[i:], g[i:], y[i:])
}

func reluMaskGeneric(dst, g, y []float32) {
	dst, y = dst[:len(g)], y[:len(g)]
	for i, gv := range g {
		dst[i] = math.Float32frombits(math.Float32bits(gv) & PositiveMask(y[i]))
	}
}

// PositiveMask is all ones when x > 0 (+Inf included, NaN not) and zero
// otherwise, without a branch. x > 0 exactly when its bits lie in
// [1, 0x7f800000].
func PositiveMask(x float32) uint32 {
	u := int64(math.Float32bits(x) - 1) // 0 wraps to 0xffffffff
	return uint32((u - 0x7f800000) >> 63)
}

// AddTo adds src into dst element by element (dst[i] += src[i]; AVX2 where
// the CPU has it, addGeneric is the portable twin; each element is one
// IEEE addition either way, so they agree exactly).
func AddTo(dst, src []float32) {
	dst = dst[:len(src)]
	i := 0
	if useAVX2 && len(src) >= 8 {
		i = len(src) &^ 7
		addBlocks(dst, src, i/8)
	}
	addGeneric(dst[i:], src[i:])
}

func addGeneric(dst, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] += v
	}
}

// Sum32 adds x in float32 with four partial sums, s_l over the elements
// at l mod 4 and the tail into s_0, returning (s0+s1)+(s2+s3). The vector
// path keeps the four sums in the four lanes of one register, so it adds in
// exactly the scalar order (sum32Generic is the portable twin).
func Sum32(x []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	if useAVX2 && len(x) >= 16 {
		i = len(x) &^ 3
		s0, s1, s2, s3 = sum4Blocks(x, i/4)
	}
	for ; i+4 <= len(x); i += 4 {
		v := x[i : i+4 : i+4]
		s0 += v[0]
		s1 += v[1]
		s2 += v[2]
		s3 += v[3]
	}
	for ; i < len(x); i++ {
		s0 += x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func sum32Generic(x []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		v := x[i : i+4 : i+4]
		s0 += v[0]
		s1 += v[1]
		s2 += v[2]
		s3 += v[3]
	}
	for ; i < len(x); i++ {
		s0 += x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// MaxPool2DReLUBackward is MaxPool2DBackward for a pool whose input y is a
// ReLU's output, with the ReLU's backward folded in: each entry of dy goes
// to dx at its recorded index only where y is positive there. A window's
// whole gradient is either kept or dropped, so this equals the pool's
// backward followed by ReLUMask exactly.
func MaxPool2DReLUBackward(dy []float32, argmax []int32, y, dx []float32) {
	argmax = argmax[:len(dy)]
	for i, v := range dy {
		j := argmax[i]
		dx[j] += math.Float32frombits(math.Float32bits(v) & PositiveMask(y[j]))
	}
}

#include "textflag.h"

// Vector kernels for the elementwise passes around the GEMM (ReLU and its
// mask, the fused Add, dot products, four-lane sums) over whole blocks; the
// Go callers in vec.go finish any tail with the portable twins these must
// agree with (vec_test.go).

// func reluAVX2(d *float32, blocks int)
// d[i] = d[i] where !(d[i] <= 0) (positive or NaN), else +0: max(d[i], 0)
// with -0 giving +0 and NaN kept, as ReLU32.
TEXT ·reluAVX2(SB), NOSPLIT, $0-16
	MOVQ d+0(FP), AX
	MOVQ blocks+8(FP), CX
	TESTQ CX, CX
	JZ reluDone
	VXORPS Y15, Y15, Y15

reluLoop:
	VMOVUPS (AX), Y0
	VCMPPS $6, Y15, Y0, Y1 // NLE_US: !(x <= 0), true for NaN
	VANDPS Y1, Y0, Y0
	VMOVUPS Y0, (AX)
	ADDQ $32, AX
	DECQ CX
	JNZ reluLoop

reluDone:
	VZEROUPPER
	RET

// func reluMaskAVX2(dst, gd, y *float32, blocks int)
// dst[i] = g[i] where y[i] > 0 (ordered: NaN gives false), else +0, as
// positiveMask.
TEXT ·reluMaskAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ gd+8(FP), SI
	MOVQ y+16(FP), DX
	MOVQ blocks+24(FP), CX
	TESTQ CX, CX
	JZ maskDone
	VXORPS Y15, Y15, Y15

maskLoop:
	VMOVUPS (DX), Y0
	VCMPPS $0x1e, Y15, Y0, Y1 // GT_OQ: y > 0, false for NaN
	VANDPS (SI), Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, DX
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ maskLoop

maskDone:
	VZEROUPPER
	RET

// func reluRowsAVX2(c *float32, ldc, rows, blocks int)
// reluAVX2 on the first 8*blocks floats of each of rows rows, ldc floats
// apart: one call per GEMM tile.
TEXT ·reluRowsAVX2(SB), NOSPLIT, $0-32
	MOVQ c+0(FP), AX
	MOVQ ldc+8(FP), R8
	SHLQ $2, R8
	MOVQ rows+16(FP), DX
	MOVQ blocks+24(FP), R9
	TESTQ DX, DX
	JZ rowsDone
	TESTQ R9, R9
	JZ rowsDone
	VXORPS Y15, Y15, Y15

rowsRow:
	MOVQ AX, BX
	MOVQ R9, CX

rowsLoop:
	VMOVUPS (BX), Y0
	VCMPPS $6, Y15, Y0, Y1
	VANDPS Y1, Y0, Y0
	VMOVUPS Y0, (BX)
	ADDQ $32, BX
	DECQ CX
	JNZ rowsLoop
	ADDQ R8, AX
	DECQ DX
	JNZ rowsRow

rowsDone:
	VZEROUPPER
	RET

// func dotAVX2(a, b *float32, blocks int) float32
// Σ a[i]*b[i] over 32*blocks elements: four eight-lane FMA accumulators,
// summed pairwise at the end.
TEXT ·dotAVX2(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ blocks+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	TESTQ CX, CX
	JZ dotSum

dotLoop:
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VMOVUPS 64(SI), Y6
	VMOVUPS 96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ $128, SI
	ADDQ $128, DI
	DECQ CX
	JNZ dotLoop

dotSum:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func addAVX2(dst, src *float32, blocks int)
// dst[i] += src[i] over 8*blocks elements.
TEXT ·addAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ blocks+16(FP), CX
	TESTQ CX, CX
	JZ addDone

addLoop:
	VMOVUPS (DI), Y0
	VADDPS (SI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	DECQ CX
	JNZ addLoop

addDone:
	VZEROUPPER
	RET

// func sum4SSE(x *float32, blocks int) (s0, s1, s2, s3 float32)
// Lane l sums x[4b+l] over 4*blocks elements in order: the four partial
// sums of Sum32's scalar loop, added in the same sequence.
TEXT ·sum4SSE(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ blocks+8(FP), CX
	VXORPS X0, X0, X0
	TESTQ CX, CX
	JZ sumDone

sumLoop:
	VADDPS (SI), X0, X0
	ADDQ $16, SI
	DECQ CX
	JNZ sumLoop

sumDone:
	VMOVSS X0, s0+16(FP)
	VEXTRACTPS $1, X0, s1+20(FP)
	VEXTRACTPS $2, X0, s2+24(FP)
	VEXTRACTPS $3, X0, s3+28(FP)
	RET

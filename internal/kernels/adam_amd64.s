#include "textflag.h"

// func adamAVX2(x, gr, m, v *float32, blocks int, c *AdamConsts)
// AdamStep on 8*blocks elements, eight lanes at a time. The m update's
// fused add runs in float64 (two halves of four lanes): the product of two
// float32 values is exact there, so the FMA rounds once to float64 and then
// to float32, as the scalar float32(float64(a) + float64(k)*float64(g)).
TEXT ·adamAVX2(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), DI
	MOVQ gr+8(FP), SI
	MOVQ m+16(FP), DX
	MOVQ v+24(FP), R8
	MOVQ blocks+32(FP), CX
	MOVQ c+40(FP), AX
	TESTQ CX, CX
	JZ adamDone
	VBROADCASTSS 0(AX), Y8   // Beta1
	VBROADCASTSD 32(AX), Y9  // Keep1 as float64
	VBROADCASTSS 8(AX), Y10  // Beta2
	VBROADCASTSS 12(AX), Y11 // Keep2
	VBROADCASTSS 16(AX), Y12 // Eps
	VBROADCASTSS 20(AX), Y13 // NegStepSize
	VBROADCASTSS 24(AX), Y14 // BC2Sqrt

adamLoop:
	VMOVUPS (SI), Y0     // g
	VMULPS (DX), Y8, Y1  // Beta1*m
	VCVTPS2PD X1, Y2
	VCVTPS2PD X0, Y3
	VFMADD231PD Y3, Y9, Y2
	VCVTPD2PSY Y2, X2
	VEXTRACTF128 $1, Y1, X4
	VCVTPS2PD X4, Y4
	VEXTRACTF128 $1, Y0, X5
	VCVTPS2PD X5, Y5
	VFMADD231PD Y5, Y9, Y4
	VCVTPD2PSY Y4, X4
	VINSERTF128 $1, X4, Y2, Y2 // new m
	VMOVUPS Y2, (DX)
	VMULPS (R8), Y10, Y6 // Beta2*v
	VMULPS Y0, Y11, Y7   // Keep2*g
	VMULPS Y0, Y7, Y7    // (Keep2*g)*g
	VADDPS Y7, Y6, Y6    // new v
	VMOVUPS Y6, (R8)
	VSQRTPS Y6, Y6
	VDIVPS Y14, Y6, Y6   // sqrt(v)/BC2Sqrt
	VADDPS Y12, Y6, Y6   // denom
	VMULPS Y2, Y13, Y7   // NegStepSize*m
	VDIVPS Y6, Y7, Y7    // /denom
	VADDPS (DI), Y7, Y7  // x + step
	VMOVUPS Y7, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, R8
	DECQ CX
	JNZ adamLoop

adamDone:
	VZEROUPPER
	RET

#include "textflag.h"

// Lane offsets, in units of floats from the row start, of the first element
// of windows 0,1,4,5,2,3,6,7: the order VSHUFPS leaves them in (see below).
DATA pool2x2Offs<>+0(SB)/4, $0
DATA pool2x2Offs<>+4(SB)/4, $2
DATA pool2x2Offs<>+8(SB)/4, $8
DATA pool2x2Offs<>+12(SB)/4, $10
DATA pool2x2Offs<>+16(SB)/4, $4
DATA pool2x2Offs<>+20(SB)/4, $6
DATA pool2x2Offs<>+24(SB)/4, $12
DATA pool2x2Offs<>+28(SB)/4, $14
GLOBL pool2x2Offs<>(SB), RODATA|NOPTR, $32

// func maxPool2x2AVX2(r0, r1, dst *float32, idx *int32, blocks int, base, w int)
// Eight 2×2 windows per block: window x covers r0[2x], r0[2x+1], r1[2x],
// r1[2x+1]. dst[x] receives the maximum and idx[x] base + its offset
// (2x, 2x+1, w+2x, w+2x+1), scanning in that order with the generic rule:
// a later element wins when it is greater or NaN.
TEXT ·maxPool2x2AVX2(SB), NOSPLIT, $0-56
	MOVQ r0+0(FP), SI
	MOVQ r1+8(FP), DX
	MOVQ dst+16(FP), DI
	MOVQ idx+24(FP), R8
	MOVQ blocks+32(FP), CX
	MOVQ base+40(FP), BX
	MOVQ w+48(FP), AX
	VMOVDQU pool2x2Offs<>(SB), Y12
	MOVL $1, R9
	MOVD R9, X14
	VPBROADCASTD X14, Y14
	MOVD AX, X15
	VPBROADCASTD X15, Y15

ploop:
	MOVD BX, X13
	VPBROADCASTD X13, Y13
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS (DX), Y2
	VMOVUPS 32(DX), Y3
	VSHUFPS $0x88, Y1, Y0, Y4
	VSHUFPS $0xDD, Y1, Y0, Y5
	VSHUFPS $0x88, Y3, Y2, Y6
	VSHUFPS $0xDD, Y3, Y2, Y7
	VPADDD Y12, Y13, Y8
	VPADDD Y14, Y8, Y9
	VPADDD Y15, Y8, Y10
	VPADDD Y14, Y10, Y11

	VCMPPS $0x1E, Y4, Y5, Y0
	VCMPPS $3, Y5, Y5, Y1
	VORPS Y1, Y0, Y0
	VBLENDVPS Y0, Y5, Y4, Y4
	VBLENDVPS Y0, Y9, Y8, Y8

	VCMPPS $0x1E, Y4, Y6, Y0
	VCMPPS $3, Y6, Y6, Y1
	VORPS Y1, Y0, Y0
	VBLENDVPS Y0, Y6, Y4, Y4
	VBLENDVPS Y0, Y10, Y8, Y8

	VCMPPS $0x1E, Y4, Y7, Y0
	VCMPPS $3, Y7, Y7, Y1
	VORPS Y1, Y0, Y0
	VBLENDVPS Y0, Y7, Y4, Y4
	VBLENDVPS Y0, Y11, Y8, Y8

	VPERMPD $0xD8, Y4, Y4
	VPERMQ $0xD8, Y8, Y8
	VMOVUPS Y4, (DI)
	VMOVDQU Y8, (R8)

	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $32, DI
	ADDQ $32, R8
	ADDQ $16, BX
	DECQ CX
	JNZ  ploop
	VZEROUPPER
	RET

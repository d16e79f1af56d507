//go:build amd64 && !purego

#include "textflag.h"

// func montMulADX(z, x, y, n *Word, k int, n0inv Word) (top Word)
//
// Each row i adds x[i]·y to (top, z) and then a multiple m·n of n that
// clears the low word, shifting one word down: two passes over the limbs
// whose products are summed by two carry chains, ADCX on the carry flag
// and ADOX on the overflow flag. The loops run k/4 times whatever the
// values; the chains are folded into the running high word (which cannot
// overflow, as a·b + c + d < 2^128 for words a, b, c, d) before the flags
// are clobbered by the loop test.
//
// Registers: DI z, SI &x[i], R8 y, R9 n, R10 k, R11 n0inv, R12 top,
// R13 carry above top, CX rows left, BX index j, DX multiplier,
// AX low product, R14 and R15 alternate high products.
TEXT ·montMulADX(SB), NOSPLIT, $0-56
	MOVQ z+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), R8
	MOVQ n+24(FP), R9
	MOVQ k+32(FP), R10
	MOVQ n0inv+40(FP), R11

	// z = 0
	XORQ AX, AX
	XORQ BX, BX
clear:
	MOVQ AX, (DI)(BX*8)
	INCQ BX
	CMPQ BX, R10
	JB clear
	XORQ R12, R12
	MOVQ R10, CX

row:
	// Pass A: (R13, R12, z) += x[i]·y.
	MOVQ (SI), DX
	XORQ R13, R13
	XORQ BX, BX
	XORQ R15, R15
loopA:
	XORQ AX, AX // clear CF and OF
	MULXQ 0(R8)(BX*8), AX, R14
	ADCXQ R15, AX
	ADOXQ 0(DI)(BX*8), AX
	MOVQ AX, 0(DI)(BX*8)
	MULXQ 8(R8)(BX*8), AX, R15
	ADCXQ R14, AX
	ADOXQ 8(DI)(BX*8), AX
	MOVQ AX, 8(DI)(BX*8)
	MULXQ 16(R8)(BX*8), AX, R14
	ADCXQ R15, AX
	ADOXQ 16(DI)(BX*8), AX
	MOVQ AX, 16(DI)(BX*8)
	MULXQ 24(R8)(BX*8), AX, R15
	ADCXQ R14, AX
	ADOXQ 24(DI)(BX*8), AX
	MOVQ AX, 24(DI)(BX*8)
	MOVQ $0, AX
	ADCXQ AX, R15
	ADOXQ AX, R15
	ADDQ $4, BX
	CMPQ BX, R10
	JB loopA
	ADDQ R15, R12
	ADCQ $0, R13

	// Pass B: m = z[0]·n0inv, (R13, R12, z) += m·n, shifted down a word.
	MOVQ (DI), DX
	IMULQ R11, DX
	XORQ R15, R15 // clears CF and OF
	MOVQ $4, BX
	MULXQ 0(R9), AX, R14
	ADCXQ R15, AX
	ADOXQ 0(DI), AX
	MULXQ 8(R9), AX, R15
	ADCXQ R14, AX
	ADOXQ 8(DI), AX
	MOVQ AX, 0(DI)
	MULXQ 16(R9), AX, R14
	ADCXQ R15, AX
	ADOXQ 16(DI), AX
	MOVQ AX, 8(DI)
	MULXQ 24(R9), AX, R15
	ADCXQ R14, AX
	ADOXQ 24(DI), AX
	MOVQ AX, 16(DI)
	MOVQ $0, AX
	ADCXQ AX, R15
	ADOXQ AX, R15
	CMPQ BX, R10
	JAE doneB
loopB:
	XORQ AX, AX // clear CF and OF
	MULXQ 0(R9)(BX*8), AX, R14
	ADCXQ R15, AX
	ADOXQ 0(DI)(BX*8), AX
	MOVQ AX, -8(DI)(BX*8)
	MULXQ 8(R9)(BX*8), AX, R15
	ADCXQ R14, AX
	ADOXQ 8(DI)(BX*8), AX
	MOVQ AX, 0(DI)(BX*8)
	MULXQ 16(R9)(BX*8), AX, R14
	ADCXQ R15, AX
	ADOXQ 16(DI)(BX*8), AX
	MOVQ AX, 8(DI)(BX*8)
	MULXQ 24(R9)(BX*8), AX, R15
	ADCXQ R14, AX
	ADOXQ 24(DI)(BX*8), AX
	MOVQ AX, 16(DI)(BX*8)
	MOVQ $0, AX
	ADCXQ AX, R15
	ADOXQ AX, R15
	ADDQ $4, BX
	CMPQ BX, R10
	JB loopB
doneB:
	ADDQ R15, R12
	ADCQ $0, R13
	MOVQ R12, -8(DI)(R10*8)
	MOVQ R13, R12

	ADDQ $8, SI
	DECQ CX
	JNZ row

	MOVQ R12, top+48(FP)
	RET

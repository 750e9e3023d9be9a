//go:build !race && !purego

#include "textflag.h"

// On amd64 every store is a release store: x86-TSO keeps stores in program
// order, and loads are not moved ahead of older loads. The calls keep the
// compiler from moving memory accesses across them.

// func mov64(addr *uint64, v uint64)
TEXT ·mov64(SB), NOSPLIT, $0-16
	MOVQ addr+0(FP), AX
	MOVQ v+8(FP), BX
	MOVQ BX, (AX)
	RET

// func movRun64(addr *uint64, stride uintptr, n uint64, v uint64)
//
// Stores v, v+1, ..., v+n-1 at addr, addr+stride, ..., in order.
TEXT ·movRun64(SB), NOSPLIT, $0-32
	MOVQ addr+0(FP), AX
	MOVQ stride+8(FP), DX
	MOVQ n+16(FP), CX
	MOVQ v+24(FP), BX
	TESTQ CX, CX
	JEQ done
loop:
	MOVQ BX, (AX)
	ADDQ DX, AX
	INCQ BX
	DECQ CX
	JNE loop
done:
	RET

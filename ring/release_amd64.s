//go:build !race && !purego

#include "textflag.h"

// func storeRelease64(addr *uint64, v uint64)
//
// A plain MOV: on amd64 every store is a release store (x86-TSO keeps
// stores in program order and loads are not moved ahead of older loads),
// and the call keeps the compiler from moving memory accesses across it.
TEXT ·storeRelease64(SB), NOSPLIT, $0-16
	MOVQ addr+0(FP), AX
	MOVQ v+8(FP), BX
	MOVQ BX, (AX)
	RET

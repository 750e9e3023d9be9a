package descriptor

import (
	"testing"
	"unsafe"
)

// A Packet is moved by value through every ring of a pipeline; its size is
// part of the cost of each hop, and half a cache line is what it is designed
// to fit.
func TestPacketSize(t *testing.T) {
	if got := unsafe.Sizeof(Packet{}); got != 32 {
		t.Fatalf("unsafe.Sizeof(Packet{}) = %d, want 32", got)
	}
}

func TestTypeAndFlagsHas(t *testing.T) {
	ty := L2Ether | L3IPv4 | L4TCP
	if !ty.Has(L3IPv4|L4TCP) || ty.Has(L4UDP) || ty.Has(L3IPv4|L4UDP) {
		t.Errorf("Type(%#x).Has gives wrong answers", ty)
	}
	f := FlagHash | FlagFragment
	if !f.Has(FlagHash) || f.Has(FlagMalformed) {
		t.Errorf("Flags(%#x).Has gives wrong answers", f)
	}
	p := Packet{L3Off: 14, L4Off: 34}
	if p.L3Len() != 20 {
		t.Errorf("L3Len = %d, want 20", p.L3Len())
	}
	if (&Packet{L3Off: 14}).L3Len() != 0 {
		t.Error("L3Len without an L4 offset should be 0")
	}
}

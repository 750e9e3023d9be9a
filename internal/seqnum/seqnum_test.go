package seqnum

import "testing"

func TestCompare(t *testing.T) {
	tests := []struct {
		a, b    uint32
		lt, leq bool
		diff    int32
	}{
		{1, 2, true, true, 1},
		{2, 1, false, false, -1},
		{5, 5, false, true, 0},
		{0xfffffff0, 0x10, true, true, 0x20}, // across the wrap
		{0x10, 0xfffffff0, false, false, -0x20},
		{0, 0x7fffffff, true, true, 0x7fffffff},
		{0xffffffff, 0, true, true, 1},
	}
	for _, tc := range tests {
		if got := LT(tc.a, tc.b); got != tc.lt {
			t.Errorf("LT(%#x, %#x) = %v", tc.a, tc.b, got)
		}
		if got := LEQ(tc.a, tc.b); got != tc.leq {
			t.Errorf("LEQ(%#x, %#x) = %v", tc.a, tc.b, got)
		}
		if got := Diff(tc.a, tc.b); got != tc.diff {
			t.Errorf("Diff(%#x, %#x) = %d, want %d", tc.a, tc.b, got, tc.diff)
		}
	}
}

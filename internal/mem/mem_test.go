package mem

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestSize(t *testing.T) {
	for _, tc := range []struct{ a, b, want uint64 }{
		{0, math.MaxUint64, 0},
		{3, 5, 15},
		{1 << 30, 72, 72 << 30},
		{1 << 32, 1 << 32, math.MaxUint64},
		{math.MaxUint64, 2, math.MaxUint64},
	} {
		if got := Size(tc.a, tc.b); got != tc.want {
			t.Errorf("Size(%d, %d) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
	if got := Add(math.MaxUint64-1, 2); got != math.MaxUint64 {
		t.Errorf("Add overflowing = %d, want MaxUint64", got)
	}
	if got := Add(40, 2); got != 42 {
		t.Errorf("Add(40, 2) = %d", got)
	}
}

func TestCheck(t *testing.T) {
	errTest := errors.New("test: bad size")
	if err := Check(errTest, "x", 100, 100, "X.Max"); err != nil {
		t.Fatalf("Check at the limit = %v, want nil", err)
	}
	err := Check(errTest, "a ring of 8 slots", 101, 100, "X.Max")
	if !errors.Is(err, errTest) {
		t.Fatalf("Check above the limit = %v, want an error wrapping the sentinel", err)
	}
	for _, want := range []string{"a ring of 8 slots", "101 bytes", "limit of 100 bytes", "X.Max"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if err := Check(errTest, "x", math.MaxUint64, 100, "X.Max"); err == nil || strings.Contains(err.Error(), "18446744073709551615 bytes") {
		t.Errorf("Check of an overflowed size = %v, want it said as such", err)
	}
	if err := Check(errTest, "x", 101, 100, ""); !errors.Is(err, errTest) || strings.Contains(err.Error(), "raise") {
		t.Errorf("Check of a fixed limit = %v, want an error that does not say how to raise it", err)
	}
}

package ring

import (
	"fmt"
	"sync/atomic"
)

// atomic64 is a position word. Every method is sequentially consistent
// (Go's atomics are), which is stronger than the acquire/release pairing
// the comments next to each use name.
type atomic64 = atomic.Uint64

// atomicBool is a flag word, as atomic64.
type atomicBool = atomic.Bool

// length returns t-h clamped to [0, capacity], from head h and then tail t
// as loaded in that order: the difference is never negative, and it may
// exceed capacity when both moved between the two loads.
func length(h, t, capacity uint64) int {
	d := dist(t, h)
	if d < 0 {
		return 0
	}
	return int(min(uint64(d), capacity))
}

func spanError(op string, k int, span uint64) error {
	return fmt.Errorf("%w: %s %d of %d", ErrSpan, op, k, span)
}

func movedError(op string) error {
	return fmt.Errorf("%w: %s after the ring moved since the last %s", ErrSpan, op, map[string]string{"commit": "Reserve", "release": "Peek"}[op])
}

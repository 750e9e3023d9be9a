package ring_test

import (
	"fmt"
	"testing"

	"github.com/ringkit/ringkit/ring"
)

// TestLenDuringLockStep checks Len's documented bound, "a value the ring
// held at some moment during the call or in between two such values",
// with a producer and a consumer going on in lock step (one element in,
// the oldest out) while Len is between loading head and finding the tail:
// the ring holds one or two elements at every moment of the call, so Len
// must say one or two. Len must not count elements the consumer took
// after Len loaded head, nor (an SPSC, which walks the slots published
// since the tail the producer stored) stop at a slot the producer has
// reused for the next lap.
func TestLenDuringLockStep(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind) {
		for _, c := range []int{4, 5, 8} {
			for _, start := range []uint64{0, ring.WrapPoint - 3} {
				for steps := 1; steps <= 2*c; steps++ {
					t.Run(fmt.Sprintf("cap=%d/start=%d/steps=%d", c, start, steps), func(t *testing.T) {
						lenDuringLockStep(t, k, c, start, steps)
					})
				}
			}
		}
	})
}

func lenDuringLockStep(t *testing.T, k kind, c int, start uint64, steps int) {
	r := mustQueue[int](t, k, c)
	r.SetPos(start)
	if !r.TryEnqueue(0) {
		t.Fatal("TryEnqueue on an empty ring failed")
	}
	held := 1
	lo, hi := held, held // the fewest and most elements held during Len
	next, want := 1, 0   // the next element to enqueue and to dequeue
	inLen := r.(interface{ SetInLen(func()) })
	inLen.SetInLen(func() {
		inLen.SetInLen(nil)
		for range steps {
			if !r.TryEnqueue(next) {
				t.Fatalf("TryEnqueue(%d) failed holding %d of %d", next, held, c)
			}
			next++
			held++
			hi = max(hi, held)
			if v, ok := r.TryDequeue(); !ok || v != want {
				t.Fatalf("TryDequeue = %d, %v, want %d, true", v, ok, want)
			}
			want++
			held--
			lo = min(lo, held)
		}
	})
	if got := r.Len(); got < lo || got > hi {
		t.Errorf("Len() = %d while the ring held between %d and %d elements (%d steps in lock step during the call)", got, lo, hi, steps)
	}
	if got := r.Len(); got != held {
		t.Errorf("Len() = %d after the steps, want %d", got, held)
	}
}

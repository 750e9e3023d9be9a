package ring_test

import (
	"testing"
	"time"

	"github.com/ringkit/ringkit/internal/stress"
	"github.com/ringkit/ringkit/ring"
)

// TestStressOversubscribed runs 64 producers and 64 consumers (or 64 and
// one, or one and 64) with blocking Enqueue and Dequeue only, on a single
// processor (GOMAXPROCS=1): a goroutine preempted in the middle of an
// operation must not stall the others for good, and no wake-up may be
// lost. The harness fails the test, naming the missing elements, rather
// than hang if the run does not finish.
func TestStressOversubscribed(t *testing.T) {
	for _, tc := range []struct {
		k                    kind
		producers, consumers int
	}{
		{kinds[3], 64, 64},
		{kinds[1], 64, 1},
		{kinds[2], 1, 64},
	} {
		t.Run(tc.k.name, func(t *testing.T) {
			r := mustQueue[uint64](t, tc.k, 16)
			r.SetPos(ring.WrapPoint - 100)
			perProducer := stress.N(5_120_000, 64_000) / tc.producers
			st := stress.Run(t, stress.Config{
				Producers:   tc.producers,
				Consumers:   tc.consumers,
				PerProducer: perProducer,
				GOMAXPROCS:  1,
				Timeout:     2 * time.Minute,
			}, stress.Queue[uint64]{Enqueue: r.Enqueue, Dequeue: r.Dequeue, Len: r.Len, Cap: r.Cap()})
			t.Log(st)
		})
	}
}

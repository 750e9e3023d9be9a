package ring_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ringkit/ringkit/internal/stress"
	"github.com/ringkit/ringkit/ring"
)

// asStress offers every operation of r to the stress harness.
func asStress(r queue[uint64]) stress.Queue[uint64] {
	return stress.Queue[uint64]{
		TryEnqueue:   r.TryEnqueue,
		TryDequeue:   r.TryDequeue,
		EnqueueBurst: r.EnqueueBurst,
		DequeueBurst: r.DequeueBurst,
		EnqueueBulk:  r.EnqueueBulk,
		DequeueBulk:  r.DequeueBulk,
		Enqueue:      r.Enqueue,
		Dequeue:      r.Dequeue,
		Len:          r.Len,
		Cap:          r.Cap(),
	}
}

// stressKind runs producers and consumers through rings of kind k with
// several capacities, every operation mixed, counters starting just before
// their wrap point. There are always more goroutines than processors.
func stressKind(t *testing.T, k kind, producers, consumers int) {
	total := stress.N(8_000_000, 100_000) // elements per capacity
	for i, c := range []int{3, 64, 1000} {
		t.Run(fmt.Sprintf("cap=%d", c), func(t *testing.T) {
			r := mustQueue[uint64](t, k, c)
			r.SetPos(ring.WrapPoint - uint64(7*c) - 5)
			cfg := stress.Config{
				Producers:   producers,
				Consumers:   consumers,
				PerProducer: total / producers,
				MaxBurst:    min(2*c, 48),
				Seed:        uint64(i),
				Timeout:     time.Duration(stress.N(180, 30)) * time.Second,
			}
			st := stress.Run(t, cfg, asStress(r))
			t.Log(st)
			for _, c := range []stress.OpCounts{st.Enqueues, st.Dequeues} {
				if !t.Failed() && (c.Single == 0 || c.Burst == 0 || c.Bulk == 0 || c.Blocking == 0) {
					t.Errorf("the run did not mix every kind of operation: %v", st)
				}
			}
		})
	}
}

func TestStressMPMC(t *testing.T) { stressKind(t, kinds[3], 16, 16) }
func TestStressMPSC(t *testing.T) { stressKind(t, kinds[1], 16, 1) }
func TestStressSPMC(t *testing.T) { stressKind(t, kinds[2], 1, 16) }
func TestStressSPSC(t *testing.T) { stressKind(t, kinds[0], 1, 1) }

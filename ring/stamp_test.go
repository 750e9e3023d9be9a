package ring_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringkit/ringkit/internal/stress"
	"github.com/ringkit/ringkit/ring"
)

// stampObj is an object of the stamp test: words hold the object's pattern
// while it is in the ring, and its taker's stamp while a worker holds it.
type stampObj struct {
	index int
	owner atomic.Int32 // the worker holding it, 0 while in the ring
	words [16]uint64
}

func stampPattern(index, word int) uint64 {
	return 0xa5a5_5a5a_0000_0000 ^ uint64(index)<<16 ^ uint64(word)*0x9e37_79b9_7f4a_7c15
}

func (o *stampObj) setPattern() {
	for w := range o.words {
		o.words[w] = stampPattern(o.index, w)
	}
}

// checkPattern returns the first word that does not hold the pattern, or -1.
func (o *stampObj) checkPattern() int {
	for w, v := range o.words {
		if v != stampPattern(o.index, w) {
			return w
		}
	}
	return -1
}

// TestStressStamp is DPDK's ring stress test (app/test/test_ring_stress,
// "stamp" mode) on MPMC: the ring starts full of objects carrying a
// pattern; workers take random bulks of 28 to 44, check every object's
// pattern, stamp their id into all of it, check the stamp, restore the
// pattern and put the objects back as a bulk. Any short bulk, duplicate
// (two workers holding one object) or corruption fails, and at the end the
// ring must hold exactly the original objects.
func TestStressStamp(t *testing.T) {
	// 300 is less than the 8 workers times 44 they may hold, so the ring
	// runs nearly empty and bulks fail; 512 has a power-of-two capacity,
	// 1000 does not.
	for _, c := range []int{300, 512, 1000} {
		t.Run(fmt.Sprintf("cap=%d", c), func(t *testing.T) { stampRun(t, c) })
	}
}

func stampRun(t *testing.T, capacity int) {
	const workers = 8 // four times GOMAXPROCS on the 2-core machines
	iters := stress.N(100_000, 2_000)
	r, err := ring.NewMPMC[*stampObj](capacity)
	if err != nil {
		t.Fatal(err)
	}
	r.SetPos(ring.WrapPoint - uint64(3*capacity) - 1)
	objs := make([]*stampObj, capacity)
	for i := range objs {
		objs[i] = &stampObj{index: i}
		objs[i].setPattern()
	}
	if !r.EnqueueBulk(objs) {
		t.Fatalf("EnqueueBulk of %d objects into an empty ring of capacity %d failed", capacity, capacity)
	}

	var stop atomic.Bool
	fail := func(format string, args ...any) {
		t.Errorf(format, args...)
		stop.Store(true)
	}
	deadline := time.Now().Add(time.Duration(stress.N(180, 60)) * time.Second)
	var wg sync.WaitGroup
	for w := 1; w <= workers; w++ {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), uint64(capacity)))
			buf := make([]*stampObj, 44)
			stamp := uint64(w) * 0x0101_0101_0101_0101
			for it := 0; it < iters && !stop.Load(); it++ {
				n := 28 + rng.IntN(17)
				bulk := buf[:n]
				clear(bulk)
				for tries := 0; !r.DequeueBulk(bulk); tries++ {
					if stop.Load() {
						return
					}
					if tries%1024 == 1023 && time.Now().After(deadline) {
						fail("worker %d: DequeueBulk(%d) kept failing until the deadline; Len() = %d", w, n, r.Len())
						return
					}
					runtime.Gosched()
				}
				for i, o := range bulk {
					if o == nil {
						fail("worker %d: DequeueBulk(%d) succeeded but left dst[%d] nil: short count", w, n, i)
						return
					}
					if prev := o.owner.Swap(int32(w)); prev != 0 {
						fail("worker %d: object %d is also held by worker %d: duplicate", w, o.index, prev)
						return
					}
					if bad := o.checkPattern(); bad >= 0 {
						fail("worker %d: object %d word %d = %#x, want pattern %#x: corrupted in the ring", w, o.index, bad, o.words[bad], stampPattern(o.index, bad))
						return
					}
				}
				for _, o := range bulk {
					for i := range o.words {
						o.words[i] = stamp
					}
				}
				for _, o := range bulk {
					for i, v := range o.words {
						if v != stamp {
							fail("worker %d: object %d word %d = %#x, want its stamp %#x: another worker wrote it", w, o.index, i, v, stamp)
							return
						}
					}
					o.setPattern()
					o.owner.Store(0)
				}
				for tries := 0; !r.EnqueueBulk(bulk); tries++ {
					if tries%1024 == 1023 && time.Now().After(deadline) {
						fail("worker %d: EnqueueBulk(%d) kept failing until the deadline; Len() = %d", w, n, r.Len())
						return
					}
					runtime.Gosched()
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	if r.Len() != capacity {
		t.Fatalf("Len() = %d at the end, want %d", r.Len(), capacity)
	}
	got := make([]*stampObj, capacity+1)
	if n := r.DequeueBurst(got); n != capacity {
		t.Fatalf("the ring held %d objects at the end, want %d", n, capacity)
	}
	seen := make([]bool, capacity)
	for _, o := range got[:capacity] {
		if o == nil || o.index < 0 || o.index >= capacity || objs[o.index] != o {
			t.Fatalf("the ring returned %p, not one of the original objects", o)
		}
		if seen[o.index] {
			t.Fatalf("object %d is in the ring twice", o.index)
		}
		seen[o.index] = true
		if bad := o.checkPattern(); bad >= 0 || o.owner.Load() != 0 {
			t.Fatalf("object %d: word %d corrupted or owner %d", o.index, bad, o.owner.Load())
		}
	}
}

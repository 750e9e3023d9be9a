package ring_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/ringkit/ringkit/ring"
)

// gcObj is big enough not to share a tiny-allocator block with anything
// else, which would delay its finalizer.
type gcObj struct {
	id int
	_  [4]int64
}

// TestDequeuedBecomesGarbage checks that a dequeued pointer is no longer
// reachable from the ring: its finalizer runs while the ring is alive.
func TestDequeuedBecomesGarbage(t *testing.T) {
	type dequeuer struct {
		name string
		take func(r queue[*gcObj]) bool
	}
	ops := []dequeuer{
		{"TryDequeue", func(r queue[*gcObj]) bool { v, ok := r.TryDequeue(); return ok && v != nil }},
		{"DequeueBurst", func(r queue[*gcObj]) bool {
			dst := make([]*gcObj, 4)
			return r.DequeueBurst(dst) == 2 && dst[0] != nil
		}},
		{"DequeueBulk", func(r queue[*gcObj]) bool {
			dst := make([]*gcObj, 2)
			return r.DequeueBulk(dst) && dst[0] != nil
		}},
		{"Dequeue", func(r queue[*gcObj]) bool {
			v, err := r.Dequeue(context.Background())
			return err == nil && v != nil
		}},
		{"Peek/Release", func(r queue[*gcObj]) bool {
			s := r.(*ring.SPSC[*gcObj])
			first, _ := s.Peek(1)
			return len(first) == 1 && first[0] != nil && s.Release(1) == nil
		}},
	}
	forEachKind(t, func(t *testing.T, k kind) {
		for _, op := range ops {
			if op.name == "Peek/Release" && k.name != "SPSC" {
				continue
			}
			t.Run(op.name, func(t *testing.T) {
				r := mustQueue[*gcObj](t, k, 8)
				r.SetPos(ring.WrapPoint - 1)
				finalized := make(chan struct{})
				// Two tracked objects for the burst (which takes both),
				// one for the others.
				enqueueTracked(t, r, finalized)
				if op.name == "DequeueBurst" || op.name == "DequeueBulk" {
					enqueueTracked(t, r, make(chan struct{}))
				}
				if !takeTracked(r, op.take) {
					t.Fatalf("%s did not return the tracked object", op.name)
				}
				if !waitFinalized(finalized) {
					t.Fatalf("object taken by %s was not collected: the ring still references it", op.name)
				}
				runtime.KeepAlive(r)
			})
		}
	})
}

//go:noinline
func enqueueTracked(t *testing.T, r queue[*gcObj], finalized chan struct{}) {
	o := &gcObj{id: 1}
	runtime.SetFinalizer(o, func(*gcObj) { close(finalized) })
	if !r.TryEnqueue(o) {
		t.Fatal("TryEnqueue failed on an empty ring")
	}
}

//go:noinline
func takeTracked(r queue[*gcObj], take func(queue[*gcObj]) bool) bool { return take(r) }

// waitFinalized runs the collector until the finalizer has run, for at
// most two seconds.
func waitFinalized(finalized chan struct{}) bool {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		runtime.GC()
		select {
		case <-finalized:
			return true
		case <-time.After(10 * time.Millisecond):
		}
	}
	return false
}

// TestNotDequeuedStaysAlive is the control for TestDequeuedBecomesGarbage:
// an element still in the ring is not collected, so the test above can
// tell the difference.
func TestNotDequeuedStaysAlive(t *testing.T) {
	r := mustQueue[*gcObj](t, kinds[3], 8)
	finalized := make(chan struct{})
	enqueueTracked(t, r, finalized)
	for range 3 {
		runtime.GC()
	}
	select {
	case <-finalized:
		t.Fatal("an element still in the ring was collected")
	case <-time.After(20 * time.Millisecond):
	}
	runtime.KeepAlive(r)
	// Let it go, so that the finalizer does not run during other tests.
	r.TryDequeue()
	if !waitFinalized(finalized) {
		t.Fatal("dequeued element not collected")
	}
}

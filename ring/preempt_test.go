package ring_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringkit/ringkit/internal/stress"
	"github.com/ringkit/ringkit/ring"
)

// holder is the part of an MPMC, MPSC or SPMC the preemption tests use.
type holder interface {
	queue[int]
	HoldEnqueue() (publish func(v int), ok bool)
	HoldDequeue() (release func() int, ok bool)
}

// start runs f in a goroutine; the channel closes when f has returned.
func start(f func()) <-chan struct{} {
	c := make(chan struct{})
	go func() {
		defer close(c)
		f()
	}()
	return c
}

// returns reports whether done closes within a prompt wait ("at once",
// with room for a loaded machine).
func returns(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	case <-time.After(2 * time.Second):
		return false
	}
}

// waitLen waits, promptly, for r.Len() to become n.
func waitLen(r queue[int], n int) bool {
	return eventually(2*time.Second, func() bool { return r.Len() == n })
}

// TestPreemptedProducer holds a producer between claiming a position and
// publishing it, as a preemption would, and checks the MPMC promise: in
// the end it stalls nobody but the consumer of that one position. That
// consumer, once its wait has stalled, claims the position and waits for
// exactly that element; the consumers after it find the counters moved on,
// and report the ring empty or take the elements published behind the
// held one at once. Other producers are never held up.
func TestPreemptedProducer(t *testing.T) {
	for _, k := range kinds[1:] {
		t.Run(k.name, func(t *testing.T) {
			r := mustQueue[int](t, k, 4).(holder)
			r.SetPos(ring.WrapPoint - 2)
			publish, ok := r.HoldEnqueue()
			if !ok {
				t.Fatal("HoldEnqueue on an empty ring failed")
			}
			var first int
			done1 := start(func() { first, _ = r.TryDequeue() })
			if !waitLen(r, 0) {
				n := r.Len()
				publish(1)
				<-done1
				t.Fatalf("no consumer claimed the held position (Len() = %d): consumers wait before they claim", n)
			}
			if k.multiProducer {
				if !r.TryEnqueue(2) {
					t.Fatal("TryEnqueue behind a held producer failed")
				}
			}
			if k.multiConsumer {
				var v int
				var ok bool
				done2 := start(func() { v, ok = r.TryDequeue() })
				if !returns(done2) {
					publish(1)
					<-done1
					<-done2
					t.Fatal("a second consumer waited for the held producer")
				}
				switch {
				case k.multiProducer && (!ok || v != 2):
					t.Fatalf("second consumer took %d, %v; want the element behind the held one, 2", v, ok)
				case !k.multiProducer && ok:
					t.Fatalf("second consumer took %d from a ring whose only element is held", v)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
				if _, err := r.Dequeue(ctx); err != context.DeadlineExceeded {
					t.Errorf("Dequeue with a deadline behind a held producer = %v, want DeadlineExceeded", err)
				}
				cancel()
			}
			select {
			case <-done1:
				t.Fatalf("the consumer of the held position returned %d before the producer published", first)
			default:
			}
			publish(1)
			<-done1
			if first != 1 {
				t.Fatalf("the consumer of the held position took %d, want 1", first)
			}
			if k.multiProducer && !k.multiConsumer {
				if v, ok := r.TryDequeue(); !ok || v != 2 {
					t.Fatalf("TryDequeue = %d, %v; want 2", v, ok)
				}
			}
		})
	}
}

// TestPreemptedConsumer is the mirror: a consumer held between claiming an
// element and releasing its slot in the end stalls nobody but the producer
// of that slot's next position, which claims it once its wait has stalled
// and waits for exactly that release; the producers after it find the
// counters moved on, and report the ring full or fill the slots behind the
// held one at once.
func TestPreemptedConsumer(t *testing.T) {
	for _, k := range kinds[1:] {
		t.Run(k.name, func(t *testing.T) {
			r := mustQueue[int](t, k, 4).(holder)
			r.SetPos(ring.WrapPoint - 3)
			for i := range 4 {
				r.TryEnqueue(10 + i)
			}
			release, ok := r.HoldDequeue() // takes 10, holds its slot
			if !ok {
				t.Fatal("HoldDequeue on a full ring failed")
			}
			var firstOK bool
			done1 := start(func() { firstOK = r.TryEnqueue(14) })
			if !waitLen(r, 4) {
				n := r.Len()
				release()
				<-done1
				t.Fatalf("no producer claimed the held slot (Len() = %d): producers wait before they claim", n)
			}
			if k.multiConsumer {
				if v, ok := r.TryDequeue(); !ok || v != 11 {
					t.Fatalf("TryDequeue behind a held consumer = %d, %v; want 11", v, ok)
				}
			}
			if k.multiProducer {
				var ok bool
				done2 := start(func() { ok = r.TryEnqueue(15) })
				if !returns(done2) {
					release()
					<-done1
					<-done2
					t.Fatal("a second producer waited for the held consumer")
				}
				if ok != k.multiConsumer {
					t.Fatalf("second producer: TryEnqueue = %v, want %v (room only if a consumer took 11)", ok, k.multiConsumer)
				}
			}
			select {
			case <-done1:
				t.Fatal("the producer of the held slot returned before the consumer released it")
			default:
			}
			if v := release(); v != 10 {
				t.Fatalf("held consumer took %d, want 10", v)
			}
			<-done1
			if !firstOK {
				t.Fatal("the producer of the held slot failed")
			}
			want := []int{11, 12, 13, 14}
			if k.multiConsumer {
				want = want[1:]
			}
			if k.multiProducer && k.multiConsumer {
				want = append(want, 15)
			}
			for _, w := range want {
				if v, ok := r.TryDequeue(); !ok || v != w {
					t.Fatalf("TryDequeue = %d, %v; want %d", v, ok, w)
				}
			}
		})
	}
}

// heldQueue makes every other TryEnqueue and TryDequeue of a ring a held
// one: claimed, then completed only after the goroutine has yielded the
// processor a few times, as one preempted in between would be. The other
// operations run as they are.
type heldQueue struct {
	linQueue
	h interface {
		HoldEnqueue() (publish func(v byte), ok bool)
		HoldDequeue() (release func() byte, ok bool)
	}
	calls atomic.Uint32
}

// hold yields the processor a varying few times.
func (q *heldQueue) hold() {
	for range q.calls.Add(1) % 7 {
		runtime.Gosched()
	}
}

func (q *heldQueue) TryEnqueue(v byte) bool {
	if q.calls.Load()%2 == 0 {
		q.calls.Add(1)
		return q.linQueue.TryEnqueue(v)
	}
	publish, ok := q.h.HoldEnqueue()
	if ok {
		q.hold()
		publish(v)
	}
	return ok
}

func (q *heldQueue) TryDequeue() (byte, bool) {
	if q.calls.Load()%2 == 0 {
		q.calls.Add(1)
		return q.linQueue.TryDequeue()
	}
	release, ok := q.h.HoldDequeue()
	if !ok {
		return 0, false
	}
	q.hold()
	return release(), true
}

// TestLinearizableHeld checks histories of the MPMC algorithm in which
// single enqueues and dequeues are held between claiming their position
// and completing it, next to bursts and bulks of the other goroutines, so
// that operations often find a position claimed and not yet published or
// released: waiting for it, and reporting full or empty, must stay
// linearizable.
func TestLinearizableHeld(t *testing.T) {
	histories := stress.N(6_000, 1_500)
	for _, k := range kinds[1:] {
		for _, goroutines := range []int{2, 3, 4} {
			t.Run(fmt.Sprintf("%s/goroutines=%d", k.name, goroutines), func(t *testing.T) {
				newQ := func() linQueue {
					r := mustQueue[byte](t, k, 2)
					return &heldQueue{linQueue: r, h: r.(interface {
						HoldEnqueue() (publish func(v byte), ok bool)
						HoldDequeue() (release func() byte, ok bool)
					})}
				}
				if bad := checkHistories(t, newQ, 2, k.roles(goroutines), 8-goroutines, histories, uint64(goroutines), false); bad != nil {
					t.Fatal("history not linearizable (see log)")
				}
			})
		}
	}
}

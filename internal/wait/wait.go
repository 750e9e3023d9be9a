// Package wait is how ringkit's blocking operations wait: spin briefly, then
// park on a Queue without losing a wake-up.
//
// The protocol between a waiter and the side that makes progress is the
// classic "register, re-check, sleep" of futex-based waits:
//
//	waiter                                  other side
//	w := q.Prepare()   // q.n++             publish (an atomic store)
//	re-check the condition                  if q.Waiting() { q.Wake(k) }
//	<-w.C()
//
// Every atomic operation in Go is sequentially consistent, so either the
// waiter's re-check sees the publication, or the other side's Waiting sees
// the registration and wakes it. Nothing else is needed: a waiter that has
// registered and re-checked can park for as long as it likes.
package wait

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/ringkit/ringkit/internal/pad"
)

// Queue is a FIFO of parked goroutines. The zero value is empty and ready to
// use. A Queue must not be copied after first use.
type Queue struct {
	_ pad.NoCopy

	// n counts registered waiters. Prepare increments it before the
	// waiter re-checks its condition; the other side loads it after it
	// publishes progress. It pairs the two as described in the package doc.
	n atomic.Int32
	// parked counts the waiters of Until that are in their select.
	parked atomic.Int32

	mu         sync.Mutex
	head, tail *Waiter // guarded by mu
}

// Waiter is one parked goroutine's registration in a Queue.
type Waiter struct {
	c          chan struct{} // capacity 1: holds the wake token
	next, prev *Waiter       // guarded by Queue.mu
	queued     bool          // guarded by Queue.mu
}

// C is closed over nothing: a receive on it returns once the waiter has been
// woken by Wake or WakeAll.
func (w *Waiter) C() <-chan struct{} { return w.c }

var waiters = sync.Pool{New: func() any { return &Waiter{c: make(chan struct{}, 1)} }}

// Waiting reports whether any goroutine is registered. It is one atomic load
// on a line that only changes when goroutines park, so the publishing side
// calls it after every publish.
func (q *Queue) Waiting() bool { return q.n.Load() != 0 }

// Prepare registers the calling goroutine. The caller must then re-check its
// condition and either Cancel the registration or receive from w.C() and
// then call Done.
func (q *Queue) Prepare() *Waiter {
	w := waiters.Get().(*Waiter)
	q.mu.Lock()
	w.queued = true
	w.prev = q.tail
	if q.tail != nil {
		q.tail.next = w
	} else {
		q.head = w
	}
	q.tail = w
	q.n.Add(1)
	q.mu.Unlock()
	return w
}

// Cancel withdraws a registration that will not be waited on (the condition
// came true on the re-check, the context ended, or the ring closed). If a
// wake was already given to w, it is passed on to the next waiter so that no
// wake-up is lost.
func (q *Queue) Cancel(w *Waiter) {
	q.mu.Lock()
	if w.queued {
		q.unlink(w)
		q.mu.Unlock()
	} else {
		q.mu.Unlock()
		<-w.c // the token was sent under mu, before queued was cleared
		q.Wake(1)
	}
	waiters.Put(w)
}

// Done returns w to the pool after a receive from w.C().
func (q *Queue) Done(w *Waiter) { waiters.Put(w) }

// Wake wakes up to k waiters, oldest first.
func (q *Queue) Wake(k int) {
	q.mu.Lock()
	for ; k > 0 && q.head != nil; k-- {
		w := q.head
		q.unlink(w)
		w.c <- struct{}{}
	}
	q.mu.Unlock()
}

// WakeAll wakes every registered waiter.
func (q *Queue) WakeAll() {
	q.mu.Lock()
	for q.head != nil {
		w := q.head
		q.unlink(w)
		w.c <- struct{}{}
	}
	q.mu.Unlock()
}

// unlink removes w from the list; q.mu must be held.
func (q *Queue) unlink(w *Waiter) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		q.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		q.tail = w.prev
	}
	w.next, w.prev, w.queued = nil, nil, false
	q.n.Add(-1)
}

// Backoff is the bounded busy phase of a wait: a few rounds of spinning on
// the CPU, then a few yields of the processor, then the caller parks. The
// zero value is ready to use.
type Backoff struct{ n int }

const (
	spinRounds  = 4  // rounds that busy-wait, each twice as long as the last
	yieldRounds = 16 // rounds that yield the processor to other goroutines

	// spinFirst is the first spin round in procyield iterations (about a
	// microsecond). A waiter that finds a ring empty or full should not
	// look again at once: each look pulls the other side's index line
	// away from it, and a consumer that keeps pace element by element
	// with its producer pays a cache-line round trip per element. Waiting
	// about a microsecond lets the other side publish a batch that the
	// waiter then takes on one look (the "temporal slipping" of
	// FastForward and B-Queue). Measured on the ring benchmarks: SPSC 1p1c
	// one element at a time 28-63 ns with 32 iterations, 9-11 ns with 512.
	spinFirst  = 512
	pauseFirst = 32 // Pause waits for a step already under way: look soon

	// stallYields is how many yields of Pause make a wait Stalled. Fewer
	// (claiming a ring position as soon as Pause yields) made the MPMC
	// stress test with 16 producers and 16 consumers on a ring of 3
	// elements several times slower: a waiter that has claimed must be
	// scheduled again itself, where any waiter could take a position
	// that is ready.
	stallYields = 8
)

// Spin waits a little and reports whether the caller should try again
// before parking. It returns false once the busy phase is over. With
// GOMAXPROCS=1 it does not spin: nothing else can run to end the wait.
func (b *Backoff) Spin() bool {
	if b.n == 0 && runtime.GOMAXPROCS(0) == 1 {
		b.n = spinRounds
	}
	switch {
	case b.n < spinRounds:
		procyield(spinFirst << b.n)
	case b.n < spinRounds+yieldRounds:
		runtime.Gosched()
	default:
		return false
	}
	b.n++
	return true
}

// Pause waits for another goroutine that is in the middle of a short,
// non-blocking step (a producer that has claimed a slot and is filling it),
// so it never gives up: it spins briefly and then yields the processor, which
// lets a preempted goroutine run and finish its step even with GOMAXPROCS=1.
func (b *Backoff) Pause() {
	if b.n < spinRounds {
		procyield(pauseFirst << b.n)
		b.n++
		return
	}
	runtime.Gosched()
	if b.n < spinRounds+yieldRounds {
		b.n++
	}
}

// Stalled reports whether Pause has spun its rounds and then yielded the
// processor stallYields times: the step it waits for, a few instructions,
// has had time to finish many times over, so the goroutine taking it has
// been preempted (or waits in turn for one that has).
func (b *Backoff) Stalled() bool { return b.n >= spinRounds+stallYields }

// sink keeps procyield's loop from being optimised away.
var sink atomic.Uint32

// procyield busy-waits for about n loop iterations without touching shared
// memory.
func procyield(n int) {
	x := uint32(n)
	for i := 0; i < n; i++ {
		x = x*1664525 + 1013904223
	}
	if x == 0 {
		sink.Store(x)
	}
}

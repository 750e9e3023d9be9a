package ring

import (
	"context"

	"github.com/ringkit/ringkit/internal/pad"
	"github.com/ringkit/ringkit/internal/wait"
)

// SPSC is a bounded FIFO ring for exactly one producer goroutine and one
// consumer goroutine at a time. Producer methods (TryEnqueue, EnqueueBurst,
// EnqueueBulk, Enqueue, Reserve, Commit) may run concurrently with consumer
// methods (TryDequeue, DequeueBurst, DequeueBulk, Dequeue, Peek, Release);
// two producer calls, or two consumer calls, must not overlap. Len, Cap and
// Close may be called from any goroutine.
//
// The algorithm is the single-producer single-consumer ring with cached
// indices (Erik Rigtorp's SPSCQueue; the Linux AF_XDP rings): each side owns
// one free-running index on its own cache line and keeps a private copy of
// the other side's index, which it reloads only when the copy says the ring
// is full (producer) or empty (consumer). In steady streaming each side
// therefore touches the other's cache line once per refill of its copy, not
// once per element. A burst publishes its index once.
//
// An SPSC must not be copied after first use.
type SPSC[T any] struct {
	_ pad.Line // the previous allocation vs the consumer index

	// head is the next position the consumer reads. Only the consumer
	// writes it, with a store-release after the slots before it have been
	// read and cleared; it pairs with the producer's load in room and
	// hands those slots back to the producer.
	head      atomic64
	tailCache uint64   // consumer's copy of tail; consumer-owned
	peekPos   uint64   // head at the last Peek; consumer-owned
	peekLen   uint64   // slots handed out by the last Peek; consumer-owned
	_         pad.Line // consumer index vs producer index

	// tail is the next position the producer writes, with closedBit set
	// once the ring is closed. The producer advances it with a
	// compare-and-swap after writing the slots before it (store-release,
	// pairs with the consumer's load in avail: publishes the elements);
	// Close sets closedBit with a compare-and-swap, so an enqueue either
	// lands before the close or fails.
	tail      atomic64
	headCache uint64   // producer's copy of head; producer-owned
	resvPos   uint64   // tail at the last Reserve; producer-owned
	resvLen   uint64   // slots handed out by the last Reserve; producer-owned
	_         pad.Line // producer index vs the read-mostly fields below

	// buf holds position p in buf[p&mask]. Slots in [head, tail) belong to
	// the consumer, the others to the producer. Adjacent slots share cache
	// lines, which a streaming pair wants: the consumer reads in the order
	// the producer wrote.
	buf  []T
	mask uint64
	cap  uint64

	prodWait wait.Queue // producers parked for room; woken by the consumer
	consWait wait.Queue // consumers parked for an element; woken by the producer
}

// NewSPSC returns an empty SPSC that holds exactly capacity elements.
func NewSPSC[T any](capacity int) (*SPSC[T], error) {
	n, err := slotCount(capacity, sizeOf[T]())
	if err != nil {
		return nil, err
	}
	return &SPSC[T]{buf: make([]T, n), mask: n - 1, cap: uint64(capacity)}, nil
}

// room returns how many slots the producer may fill after position t, up
// to want, reloading head only when the cached copy is not enough.
func (r *SPSC[T]) room(t, want uint64) uint64 {
	free := r.cap - (t-r.headCache)&posMask
	if free < want {
		r.headCache = r.head.Load() // load-acquire, pairs with the consumer's store of head
		free = r.cap - (t-r.headCache)&posMask
	}
	return min(free, want)
}

// avail returns how many elements the consumer may take from position h, up
// to want, reloading tail only when the cached copy is not enough.
func (r *SPSC[T]) avail(h, want uint64) uint64 {
	n := (r.tailCache - h) & posMask
	if n < want {
		r.tailCache = r.tail.Load() & posMask // load-acquire, pairs with the producer's CAS of tail
		n = (r.tailCache - h) & posMask
	}
	return min(n, want)
}

// TryEnqueue adds v and reports whether it did; it fails when the ring is
// full or closed.
func (r *SPSC[T]) TryEnqueue(v T) bool {
	t := r.tail.Load()
	if t&closedBit != 0 || r.room(t, 1) == 0 {
		return false
	}
	r.buf[t&r.mask] = v
	return r.publish(t, 1)
}

// publish makes the k slots written from position t visible to the
// consumer. It fails, and clears those slots again, only when the ring was
// closed after t was read.
func (r *SPSC[T]) publish(t, k uint64) bool {
	if !r.tail.CompareAndSwap(t, add(t, k)) { // store-release of the slots
		r.clear(t, k)
		return false
	}
	if r.consWait.Waiting() { // after the CAS: see package wait
		r.consWait.Wake(int(k))
	}
	return true
}

// TryDequeue removes and returns the oldest element; ok is false when the
// ring is empty.
func (r *SPSC[T]) TryDequeue() (v T, ok bool) {
	h := r.head.Load()
	if r.avail(h, 1) == 0 {
		return v, false
	}
	i := h & r.mask
	v = r.buf[i]
	var zero T
	r.buf[i] = zero
	r.release(h, 1)
	return v, true
}

// release hands the k slots from position h back to the producer.
func (r *SPSC[T]) release(h, k uint64) {
	r.head.Store(add(h, k)) // store-release of the cleared slots
	if r.prodWait.Waiting() {
		r.prodWait.Wake(int(k))
	}
}

// EnqueueBurst adds as many elements of src as fit, in order, and returns
// how many it added. It publishes them with one index update.
func (r *SPSC[T]) EnqueueBurst(src []T) int {
	return r.enqueueN(src, false)
}

// EnqueueBulk adds all of src, or nothing if they do not all fit.
func (r *SPSC[T]) EnqueueBulk(src []T) bool {
	return r.enqueueN(src, true) == len(src)
}

func (r *SPSC[T]) enqueueN(src []T, all bool) int {
	t := r.tail.Load()
	if t&closedBit != 0 || len(src) == 0 {
		return 0
	}
	k := r.room(t, uint64(len(src)))
	if k == 0 || all && k < uint64(len(src)) {
		return 0
	}
	a, b := r.span(t, k)
	copy(b, src[copy(a, src):])
	if !r.publish(t, k) {
		return 0
	}
	return int(k)
}

// DequeueBurst takes up to len(dst) elements into dst and returns how many.
func (r *SPSC[T]) DequeueBurst(dst []T) int {
	return r.dequeueN(dst, false)
}

// DequeueBulk fills all of dst, or takes nothing if the ring holds fewer
// than len(dst) elements.
func (r *SPSC[T]) DequeueBulk(dst []T) bool {
	return r.dequeueN(dst, true) == len(dst)
}

func (r *SPSC[T]) dequeueN(dst []T, all bool) int {
	if len(dst) == 0 {
		return 0
	}
	h := r.head.Load()
	k := r.avail(h, uint64(len(dst)))
	if k == 0 || all && k < uint64(len(dst)) {
		return 0
	}
	a, b := r.span(h, k)
	copy(dst[copy(dst, a):], b)
	clear(a)
	clear(b)
	r.release(h, k)
	return int(k)
}

// span returns the slots of positions [p, p+k) as one or two slices, capped
// so that appending to them cannot reach other slots.
func (r *SPSC[T]) span(p, k uint64) (a, b []T) {
	i := p & r.mask
	n := uint64(len(r.buf))
	if i+k <= n {
		return r.buf[i : i+k : i+k], nil
	}
	return r.buf[i:n:n], r.buf[: i+k-n : i+k-n]
}

// clear zeroes the slots of positions [p, p+k).
func (r *SPSC[T]) clear(p, k uint64) {
	a, b := r.span(p, k)
	clear(a)
	clear(b)
}

// Reserve hands the producer up to n free slots to fill in place, as one
// slice or, when the region wraps around the end of the buffer, two; the
// second is nil otherwise. Fill the first len(first)+len(second) slots you
// want to publish, in order, then call Commit. The slices stay valid, and
// belong to the producer alone, until the next Commit, Reserve or other
// enqueue; the consumer cannot see them before Commit. Reserve returns no
// slots when the ring is full or closed.
func (r *SPSC[T]) Reserve(n int) (first, second []T) {
	r.resvLen = 0
	t := r.tail.Load()
	if t&closedBit != 0 || n <= 0 {
		return nil, nil
	}
	k := r.room(t, uint64(n))
	r.resvPos, r.resvLen = t, k
	if k == 0 {
		return nil, nil
	}
	return r.span(t, k)
}

// Commit publishes the first k slots of the last Reservation to the
// consumer, which sees them in order. k must not exceed what Reserve
// returned, and no other enqueue may have run since; otherwise Commit
// publishes nothing and returns an error wrapping ErrSpan. On a ring closed
// since the Reserve, it publishes nothing and returns ErrClosed.
func (r *SPSC[T]) Commit(k int) error {
	t := r.tail.Load()
	switch {
	case k < 0 || uint64(k) > r.resvLen:
		return spanError("commit", k, r.resvLen)
	case t&^closedBit != r.resvPos:
		return movedError("commit")
	}
	n := r.resvLen
	r.resvLen = 0
	if t&closedBit != 0 {
		r.clear(r.resvPos, n)
		return ErrClosed
	}
	r.clear(add(t, uint64(k)), n-uint64(k)) // reserved but not committed
	if k > 0 && !r.publish(t, uint64(k)) {
		return ErrClosed
	}
	return nil
}

// Peek hands the consumer up to n of the oldest elements in place, as one
// slice or, when they wrap around the end of the buffer, two; the second is
// nil otherwise. The elements stay in the ring: the slices stay valid, and
// the producer does not touch them, until the next Release, Peek or other
// dequeue. Release(k) then removes the first k of them.
func (r *SPSC[T]) Peek(n int) (first, second []T) {
	r.peekLen = 0
	if n <= 0 {
		return nil, nil
	}
	h := r.head.Load()
	k := r.avail(h, uint64(n))
	r.peekPos, r.peekLen = h, k
	if k == 0 {
		return nil, nil
	}
	return r.span(h, k)
}

// Release removes the first k elements that the last Peek handed out,
// clears their slots and gives them back to the producer. k must not exceed
// what Peek returned, and no other dequeue may have run since; otherwise
// nothing is released and the error wraps ErrSpan.
func (r *SPSC[T]) Release(k int) error {
	h := r.head.Load()
	switch {
	case k < 0 || uint64(k) > r.peekLen:
		return spanError("release", k, r.peekLen)
	case h != r.peekPos:
		return movedError("release")
	}
	r.peekLen = 0
	if k > 0 {
		r.clear(h, uint64(k))
		r.release(h, uint64(k))
	}
	return nil
}

// Enqueue adds v, waiting for room while the ring is full. It returns
// ctx.Err() if ctx ends first and ErrClosed if the ring is closed, in both
// cases leaving the ring unchanged. It spins briefly before it parks; a
// parked Enqueue costs no CPU.
func (r *SPSC[T]) Enqueue(ctx context.Context, v T) error {
	if r.TryEnqueue(v) {
		return nil
	}
	return enqueueWait[T](ctx, r, v)
}

// Dequeue removes and returns the oldest element, waiting while the ring is
// empty. After Close it still returns the elements left, then ErrClosed. It
// returns ctx.Err() if ctx ends first, taking nothing.
func (r *SPSC[T]) Dequeue(ctx context.Context) (T, error) {
	if v, ok := r.TryDequeue(); ok {
		return v, nil
	}
	return dequeueWait[T](ctx, r)
}

// Close closes the ring: every later enqueue fails (Enqueue with
// ErrClosed), while dequeues go on taking what is left. Every waiting
// Enqueue and Dequeue is woken. Close is idempotent and always returns nil.
func (r *SPSC[T]) Close() error {
	closeTail(&r.tail)
	r.prodWait.WakeAll()
	r.consWait.WakeAll()
	return nil
}

// Len returns the number of elements in the ring. It is exact when no
// operation runs concurrently, and otherwise a value the ring held at some
// moment during the call or in between two such values.
func (r *SPSC[T]) Len() int { return length(&r.head, &r.tail, r.cap) }

// Cap returns the capacity the ring was created with.
func (r *SPSC[T]) Cap() int { return int(r.cap) }

func (r *SPSC[T]) closed() bool { return r.tail.Load()&closedBit != 0 }

func (r *SPSC[T]) queues() (producers, consumers *wait.Queue) {
	return &r.prodWait, &r.consWait
}

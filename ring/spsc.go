package ring

import (
	"context"

	"github.com/ringkit/ringkit/internal/pad"
	"github.com/ringkit/ringkit/internal/tail"
	"github.com/ringkit/ringkit/internal/wait"
)

// SPSC is a bounded FIFO ring for exactly one producer goroutine and one
// consumer goroutine at a time. Producer methods (TryEnqueue, EnqueueBurst,
// EnqueueBulk, Enqueue, Reserve, Commit) may run concurrently with consumer
// methods (TryDequeue, DequeueBurst, DequeueBulk, Dequeue, Peek, Release);
// two producer calls, or two consumer calls, must not overlap. Len, Cap and
// Close may be called from any goroutine.
//
// It is the head/tail ring of DPDK's single-producer/single-consumer mode
// with rigtorp's cached indices: the producer publishes by storing its index
// (tail) after filling the slots, the consumer hands slots back by storing
// its index (head) after emptying them, and each side reads the other's index
// only when its cached copy runs out: the consumer when it has taken every
// element it knew of, the producer when the ring looks full. So a burst of k
// elements costs each side one atomic store, and a consumer that finds k
// elements waiting takes them all on one read of the producer's index.
// The producer's store is a compare-and-swap, so that Close, which sets a
// bit in the same word, either comes before an enqueue (which then fails
// and publishes nothing) or after it.
//
// An SPSC must not be copied after first use.
type SPSC[T any] struct {
	_ pad.NoCopy
	_ pad.Line // the previous allocation vs the consumer fields

	// head is the next position the consumer reads. The consumer stores
	// it after each release (store-release: hands the released slots back
	// to the producer, which loads it when its writable runs out).
	head     atomic64
	readable uint64   // tail as last loaded: positions before it are published; consumer-owned
	peekPos  uint64   // head at the last Peek; consumer-owned
	peekLen  uint64   // slots handed out by the last Peek; consumer-owned
	_        pad.Line // consumer fields vs producer fields

	// tail is the next position the producer fills, with closedBit set
	// once the ring is closed. The producer publishes the slots it filled
	// by a compare-and-swap from t to t+k (release: pairs with the
	// consumer's load of tail); Close sets closedBit with one, so an
	// enqueue either publishes before the close or fails.
	tail     atomic64
	writable uint64 // head+cap as last loaded: positions before it are free; producer-owned
	resvPos  uint64 // tail at the last Reserve; producer-owned
	// resvLen is the number of slots the open reservation holds, from
	// resvPos on; 0 when none is open. Every producer operation but a
	// valid Commit ends an open reservation first (abandon), so the tail
	// has not moved since the Reserve while resvLen is not 0.
	resvLen uint64   // producer-owned
	_       pad.Line // producer fields vs the read-mostly fields below

	buf  []T // position p lives in buf[p&mask]
	mask uint64
	size uint64 // len(buf)
	cap  uint64
	ptrs bool // T holds pointers: slots are cleared when they are freed

	prodWait wait.Queue // producers parked for room; woken by the consumer
	consWait wait.Queue // consumers parked for an element; woken by the producer
}

// NewSPSC returns an empty SPSC that holds exactly capacity elements. Its
// slots may take at most DefaultMaxBytes unless opts say otherwise.
func NewSPSC[T any](capacity int, opts ...Option) (*SPSC[T], error) {
	n, err := slotCount(capacity, sizeOf[T](), opts)
	if err != nil {
		return nil, err
	}
	r := &SPSC[T]{buf: make([]T, n), mask: n - 1, size: n, cap: uint64(capacity), ptrs: hasPointers[T]()}
	r.setPos(0)
	return r, nil
}

// setPos starts an empty ring at position p.
func (r *SPSC[T]) setPos(p uint64) {
	p &= posMask
	r.head.Store(p)
	r.tail.Store(p)
	r.readable, r.writable = p, add(p, r.cap)
}

// room returns how many positions from t on the producer may fill, up to
// want. Position u is free once the element of u-cap has been released;
// the producer checks that in order of position, from the first one it
// does not already know to be free.
func (r *SPSC[T]) room(t, want uint64) uint64 {
	if dist(r.writable, add(t, want)) < 0 {
		// load-acquire: pairs with the consumer's store of head, after
		// which it no longer touches the slots before it.
		r.writable = add(r.head.Load(), r.cap)
	}
	return uint64(max(0, min(dist(r.writable, t), int64(want))))
}

// avail returns how many elements from position h on are published, up to
// want. It loads tail only when the copy the consumer has says too few.
func (r *SPSC[T]) avail(h, want uint64) uint64 {
	if dist(r.readable, add(h, want)) < 0 {
		// load-acquire: pairs with the producer's compare-and-swap of
		// tail, which publishes the slots before it.
		r.readable = r.tail.Load() & posMask
	}
	return uint64(max(0, min(dist(r.readable, h), int64(want))))
}

// publish makes the k filled slots from position t visible to the consumer.
// It fails, and clears those slots again, only when the ring was closed
// after t was read.
func (r *SPSC[T]) publish(t, k uint64) bool {
	if !r.tail.CompareAndSwap(t, add(t, k)) { // release: publishes [t, t+k)
		r.clear(t, k)
		return false
	}
	if r.consWait.Waiting() { // after the publish: see package wait
		r.consWait.Wake(int(k))
	}
	return true
}

// release clears the k slots from position h and hands them back to the
// producer.
func (r *SPSC[T]) release(h, k uint64) {
	r.clear(h, k)
	r.head.Store(add(h, k)) // store-release: hands [h, h+k) back to the producer
	if r.prodWait.Waiting() {
		r.prodWait.Wake(int(k))
	}
}

// TryEnqueue adds v and reports whether it did; it fails when the ring is
// full or closed.
func (r *SPSC[T]) TryEnqueue(v T) bool {
	if r.resvLen != 0 {
		r.abandon()
	}
	t := r.tail.Load()
	if t&closedBit != 0 {
		return false
	}
	if r.writable == t { // the check of room, for one slot, inlined
		r.writable = add(r.head.Load(), r.cap) // load-acquire, as in room
		if r.writable == t {
			return false
		}
	}
	i := t & r.mask
	r.buf[i] = v
	if !r.tail.CompareAndSwap(t, add(t, 1)) { // release: publishes buf[i]
		r.clear(t, 1)
		return false // closed since t was read
	}
	if r.consWait.Waiting() {
		r.consWait.Wake(1)
	}
	return true
}

// TryDequeue removes and returns the oldest element; ok is false when the
// ring is empty.
func (r *SPSC[T]) TryDequeue() (v T, ok bool) {
	h := r.head.Load()
	i := h & r.mask
	if r.readable == h { // the check of avail, for one slot, inlined
		r.readable = r.tail.Load() & posMask // load-acquire, as in avail
		if r.readable == h {
			return v, false
		}
	}
	v = r.buf[i]
	if r.ptrs {
		var zero T
		r.buf[i] = zero
	}
	r.head.Store(add(h, 1)) // store-release: hands buf[i] back to the producer
	if r.prodWait.Waiting() {
		r.prodWait.Wake(1)
	}
	return v, true
}

// EnqueueBurst adds as many elements of src as fit, in order, and returns
// how many it added. It publishes them with one atomic store.
func (r *SPSC[T]) EnqueueBurst(src []T) int {
	return r.enqueueN(src, false)
}

// EnqueueBulk adds all of src, or nothing if they do not all fit.
func (r *SPSC[T]) EnqueueBulk(src []T) bool {
	return r.enqueueN(src, true) == len(src)
}

func (r *SPSC[T]) enqueueN(src []T, all bool) int {
	if r.resvLen != 0 {
		r.abandon()
	}
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
// It releases their slots with one atomic store.
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
	r.release(h, k)
	return int(k)
}

// span returns the slots of positions [p, p+k) as one or two slices, capped
// so that appending to them cannot reach other slots.
func (r *SPSC[T]) span(p, k uint64) (a, b []T) {
	i := p & r.mask
	if i+k <= r.size {
		return r.buf[i : i+k : i+k], nil
	}
	return r.buf[i:r.size:r.size], r.buf[: i+k-r.size : i+k-r.size]
}

// clear zeroes the slots of positions [p, p+k), so that the ring keeps no
// reference to what they held. For a pointer-free T it does nothing: there
// is nothing to keep alive, and zeroing would have the consumer write the
// cache lines the producer writes next.
func (r *SPSC[T]) clear(p, k uint64) {
	if !r.ptrs {
		return // nothing for the garbage collector to keep alive
	}
	a, b := r.span(p, k)
	clear(a)
	clear(b)
}

// Reserve hands the producer up to n free slots to fill in place, as one
// slice or, when the region wraps around the end of the buffer, two; the
// second is nil otherwise. Fill the first len(first)+len(second) slots you
// want to publish, in order, then call Commit. The slices stay valid, and
// belong to the producer alone, until the next Commit, Reserve or other
// enqueue; the consumer cannot see them before Commit. The slots hold zero
// values. Reserve returns no slots when the ring is full or closed.
//
// A reservation ends at the next Commit, Reserve or other enqueue. Slots
// it held that no Commit published are cleared then, so a reservation
// that is given up keeps nothing reachable and hands nothing to the next.
func (r *SPSC[T]) Reserve(n int) (first, second []T) {
	if r.resvLen != 0 {
		r.abandon()
	}
	t := r.tail.Load()
	r.resvPos = t &^ closedBit
	if t&closedBit != 0 || n <= 0 {
		return nil, nil
	}
	k := r.room(t, uint64(n))
	r.resvLen = k
	if k == 0 {
		return nil, nil
	}
	first, second = r.span(t, k)
	if !r.ptrs {
		// Freed slots of a pointer-free type keep their old bits (see
		// clear); zero them here, in lines the producer is about to fill.
		clear(first)
		clear(second)
	}
	return first, second
}

// Commit publishes the first k slots of the last Reserve to the consumer,
// which sees them in order, with one atomic store, and ends the
// reservation, clearing the slots it does not publish. k must not exceed
// what Reserve returned, and no other enqueue may have run since;
// otherwise Commit publishes nothing, clears every reserved slot and
// returns an error wrapping ErrSpan. On a ring closed since the Reserve,
// it publishes nothing and returns ErrClosed.
func (r *SPSC[T]) Commit(k int) error {
	n := r.resvLen
	r.resvLen = 0
	t := r.tail.Load()
	switch {
	case t&^closedBit != r.resvPos:
		return movedError("commit") // the enqueue that moved it ended the reservation: n is 0
	case k < 0 || uint64(k) > n:
		r.clear(r.resvPos, n)
		return spanError("commit", k, n)
	case t&closedBit != 0:
		r.clear(r.resvPos, n)
		return ErrClosed
	}
	r.clear(add(t, uint64(k)), n-uint64(k)) // reserved but not committed
	if k > 0 && !r.publish(t, uint64(k)) {
		return ErrClosed
	}
	return nil
}

// abandon ends the open reservation, which no Commit published: its slots
// may hold what the producer wrote into them. The tail has not moved since
// the Reserve (see resvLen), so they are still the producer's to clear.
func (r *SPSC[T]) abandon() {
	r.clear(r.resvPos, r.resvLen)
	r.resvLen = 0
}

// Peek hands the consumer up to n of the oldest elements in place, as one
// slice or, when they wrap around the end of the buffer, two; the second is
// nil otherwise. The elements stay in the ring: the slices stay valid, and
// the producer does not touch them, until the next Release, Peek or other
// dequeue. Release(k) then removes the first k of them.
func (r *SPSC[T]) Peek(n int) (first, second []T) {
	r.peekLen = 0
	h := r.head.Load()
	r.peekPos = h
	if n <= 0 {
		return nil, nil
	}
	k := r.avail(h, uint64(n))
	r.peekLen = k
	if k == 0 {
		return nil, nil
	}
	return r.span(h, k)
}

// Release removes the first k elements that the last Peek handed out,
// clears their slots and gives them back to the producer with one atomic
// store, and ends the peek. k must not exceed what Peek returned, and no
// other dequeue may have run since; otherwise nothing is released, the
// peek ends all the same (the elements stay in the ring, for the next
// Peek or dequeue) and the error wraps ErrSpan.
func (r *SPSC[T]) Release(k int) error {
	n := r.peekLen
	r.peekLen = 0
	h := r.head.Load()
	switch {
	case h != r.peekPos:
		return movedError("release")
	case k < 0 || uint64(k) > n:
		return spanError("release", k, n)
	}
	if k > 0 {
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
	tail.Close(&r.tail)
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

func (r *SPSC[T]) closed() bool { return tail.IsClosed(&r.tail) }

func (r *SPSC[T]) queues() (producers, consumers *wait.Queue) {
	return &r.prodWait, &r.consWait
}

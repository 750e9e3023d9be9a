package ring

import (
	"context"

	"github.com/ringkit/ringkit/internal/pad"
	"github.com/ringkit/ringkit/internal/release"
	"github.com/ringkit/ringkit/internal/wait"
)

// SPSC is a bounded FIFO ring for exactly one producer goroutine and one
// consumer goroutine at a time. Producer methods (TryEnqueue, EnqueueBurst,
// EnqueueBulk, Enqueue, Reserve, Commit) may run concurrently with consumer
// methods (TryDequeue, DequeueBurst, DequeueBulk, Dequeue, Peek, Release);
// two producer calls, or two consumer calls, must not overlap. Len, Cap and
// Close may be called from any goroutine.
//
// The elements live in one contiguous buffer (so that Reserve and Peek can
// hand out slices of it), and each slot has a sequence word beside it, in
// an array of their own: the producer publishes an element by a
// compare-and-swap of its slot's word, and the consumer finds it there, in
// the line it reads next anyway. Neither side reads a word the other writes
// on every operation: the consumer never reads the producer's index, and
// the producer reads the consumer's (head) only when the room it knew of
// runs out (rigtorp's cached index). So one element handed between two
// cores moves the lines it lives in and nothing else; a head/tail ring
// (DPDK's, xsync's SPSCQueue) also moves the tail's line to the consumer
// and back on every element when the consumer keeps pace, which costs two
// cache-line transfers per element (measured: BENCHMARKS.md).
//
// A burst fills its slots, stores the words of all but its first with
// release stores and publishes the first last, with the compare-and-swap:
// a consumer reads in order, so it sees the whole burst or none of it.
//
// Close marks the slot of the producer's next position closed, by a
// compare-and-swap of its word from "free" (what the producer expects
// there); the producer's compare-and-swap then fails, so an enqueue either
// publishes before the close or fails and publishes nothing, and a
// consumer that reaches the marked position knows the ring is closed and
// empty. A slot whose element has not been taken yet can be marked for the
// next lap's position: the mark then also says the element is there.
//
// An SPSC must not be copied after first use.
type SPSC[T any] struct {
	_ pad.NoCopy
	_ pad.Line // the previous allocation vs the consumer fields

	// head is the next position the consumer reads. The consumer stores
	// it after taking elements (store-release: hands their slots back to
	// the producer, which loads it when its writable runs out).
	head    atomic64
	peekPos uint64   // head at the last Peek; consumer-owned
	peekLen uint64   // slots handed out by the last Peek; consumer-owned
	_       pad.Line // consumer fields vs producer fields

	// next is the next position the producer fills; producer-owned.
	next     uint64
	writable uint64 // head+cap as last loaded: positions before it are free; producer-owned
	resvPos  uint64 // next at the last Reserve; producer-owned
	// resvLen is the number of slots the open reservation holds, from
	// resvPos on; 0 when none is open. Every producer operation but a
	// valid Commit ends an open reservation first (abandon), so next has
	// not moved since the Reserve while resvLen is not 0.
	resvLen uint64 // producer-owned
	// tail is next as the producer last stored it, after each publish
	// (release store). Only Len and Close read it, as a place to start
	// from: they walk on over the slots published since.
	tail atomic64
	_    pad.Line // producer fields vs the read-mostly fields below

	buf  []T        // position p lives in buf[p&mask]
	seq  []atomic64 // seq[p&mask] says whether p is published (see seqPub)
	mask uint64
	size uint64 // len(buf)
	cap  uint64
	ptrs bool // T holds pointers: slots are cleared when they are freed

	// isClosed is set by Close once the producer's next position is
	// marked, before it wakes the waiters.
	isClosed atomicBool
	// beforeMark, when set (by tests), runs in Close between its reading
	// a free slot at position p and marking it.
	beforeMark func(p uint64)
	// inLen, when set (by tests), runs in Len between its loading head
	// and the tail it starts from and its walk over the slots.
	inLen func()

	prodWait wait.Queue // producers parked for room; woken by the consumer
	consWait wait.Queue // consumers parked for an element; woken by the producer
}

// A slot's sequence word holds, for the positions p and p+size that share
// the slot:
//
//	seqPub(p)         the element of p is published (and, until the
//	                  consumer takes it, the slot is not free for p+size);
//	                  the producer of p+size expects this value there
//	seqClosed(p+size) the ring was closed at p+size, and the element of p
//	                  is still in the slot if the consumer has not taken it
//
// Every value is a distinct 63-bit position (closed ones with bit 63 set),
// so a word is never mistaken for another lap's.
func seqPub(p uint64) uint64    { return add(p, 1) }
func seqClosed(p uint64) uint64 { return add(p, 1) | closedBit }

// seqFree is the word the producer of p expects in its slot: that of the
// position a lap before it, published.
func (r *SPSC[T]) seqFree(p uint64) uint64 { return seqPub(p - r.size) }

// holds reports whether the sequence word s says position p is published.
func (r *SPSC[T]) holds(s, p uint64) bool {
	return s == seqPub(p) || s == seqClosed(p+r.size)
}

// NewSPSC returns an empty SPSC that holds exactly capacity elements. Its
// slots (elements and sequence words) may take at most DefaultMaxBytes
// unless opts say otherwise.
func NewSPSC[T any](capacity int, opts ...Option) (*SPSC[T], error) {
	n, err := slotCount(capacity, sizeOf[T]()+8, opts)
	if err != nil {
		return nil, err
	}
	r := &SPSC[T]{buf: make([]T, n), seq: make([]atomic64, n), mask: n - 1, size: n, cap: uint64(capacity), ptrs: hasPointers[T]()}
	r.setPos(0)
	return r, nil
}

// setPos starts an empty ring at position p.
func (r *SPSC[T]) setPos(p uint64) {
	p &= posMask
	r.head.Store(p)
	r.tail.Store(p)
	r.next, r.writable = p, add(p, r.cap)
	for j := range r.size {
		q := add(p, j)
		r.seq[q&r.mask].Store(r.seqFree(q))
	}
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
// want, reading their sequence words in order.
func (r *SPSC[T]) avail(h, want uint64) uint64 {
	var k uint64
	for k < want && r.holds(r.seq[add(h, k)&r.mask].Load(), add(h, k)) { // load-acquire: pairs with the producer's publish
		k++
	}
	return k
}

// publish makes the k filled slots from position t visible to the
// consumer. It fails, and clears those slots again, only when Close has
// marked t.
func (r *SPSC[T]) publish(t, k uint64) bool {
	if k > 1 {
		// Invisible until t is published: the consumer reads in order,
		// and Close marks the first slot that is not published.
		r.storeSeqs(add(t, 1), k-1)
	}
	if !r.seq[t&r.mask].CompareAndSwap(r.seqFree(t), seqPub(t)) { // release: publishes [t, t+k)
		// The words after t stay as stored: nothing reads past a
		// closed mark (the consumer, Close and Len stop at it).
		r.clear(t, k)
		return false
	}
	r.next = add(t, k)
	release.Store64(&r.tail, r.next)
	if r.consWait.Waiting() { // after the publish: see package wait
		r.consWait.Wake(int(k))
	}
	return true
}

// storeSeqs stores the sequence words of the k positions from p as
// published (release stores), one call per run of consecutive words: at
// most two, or three where the positions wrap.
func (r *SPSC[T]) storeSeqs(p, k uint64) {
	v := seqPub(p)
	for k > 0 {
		i := p & r.mask
		n := min(k, r.size-i, posMask-v+1) // to the buffer's end, and below the wrap of v
		release.Run64(&r.seq[i], 8, n, v)
		p, v, k = add(p, n), add(v, n), k-n
	}
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
	t := r.next
	if r.writable == t { // the check of room, for one slot, inlined
		r.writable = add(r.head.Load(), r.cap) // load-acquire, as in room
		if r.writable == t {
			return false
		}
	}
	i := t & r.mask
	r.buf[i] = v
	if !r.seq[i].CompareAndSwap(r.seqFree(t), seqPub(t)) { // release: publishes buf[i]
		r.clear(t, 1)
		return false // Close has marked t
	}
	r.next = add(t, 1)
	release.Store64(&r.tail, r.next)
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
	if !r.holds(r.seq[i].Load(), h) { // load-acquire: pairs with the producer's publish
		return v, false
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
// how many it added. It publishes them with one compare-and-swap.
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
	t := r.next
	if len(src) == 0 || r.isClosed.Load() {
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
	t := r.next
	r.resvPos = t
	if n <= 0 || r.isClosed.Load() {
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
// which sees them in order, with one compare-and-swap, and ends the
// reservation, clearing the slots it does not publish. k must not exceed
// what Reserve returned, and no other enqueue may have run since;
// otherwise Commit publishes nothing, clears every reserved slot and
// returns an error wrapping ErrSpan. On a ring closed since the Reserve,
// it publishes nothing and returns ErrClosed.
func (r *SPSC[T]) Commit(k int) error {
	n := r.resvLen
	r.resvLen = 0
	t := r.next
	switch {
	case t != r.resvPos:
		return movedError("commit") // the enqueue that moved it ended the reservation: n is 0
	case k < 0 || uint64(k) > n:
		r.clear(r.resvPos, n)
		return spanError("commit", k, n)
	case r.isClosed.Load():
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
// may hold what the producer wrote into them. next has not moved since the
// Reserve (see resvLen), so they are still the producer's to clear.
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
	// Mark the producer's next position: the first whose slot is not
	// published, found from the producer's last stored tail.
	p := r.tail.Load()
	for {
		i := p & r.mask
		switch s := r.seq[i].Load(); {
		case s == seqClosed(p) || s == seqClosed(p+r.size):
			// Closed already (at p, or at the next lap's position
			// with p's element still in the slot).
		case s == seqPub(p):
			p = add(p, 1) // published since the tail was stored
			continue
		case s == r.seqFree(p):
			if r.beforeMark != nil {
				r.beforeMark(p)
			}
			if !r.seq[i].CompareAndSwap(s, seqClosed(p)) {
				continue // the producer published p meanwhile
			}
		default:
			p = r.tail.Load() // a lap behind the producer: start again
			continue
		}
		break
	}
	r.isClosed.Store(true)
	r.prodWait.WakeAll()
	r.consWait.WakeAll()
	return nil
}

// Len returns the number of elements in the ring. It is exact when no
// operation runs concurrently, and otherwise a value the ring held at some
// moment during the call. It walks from the producer's last stored tail
// over the slots published since, and counts from a head that did not move
// during the walk, taking the new head and walking on when it did; so a
// consumer that keeps taking elements can make it look again, as many
// times as the walk is overtaken.
func (r *SPSC[T]) Len() int {
	h := r.head.Load()
	t := r.tail.Load()
	if r.inLen != nil {
		r.inLen()
	}
	for {
		if dist(t, h) < 0 {
			t = h // the producer has published past the tail it stored
		}
		for dist(t, h) < int64(r.cap) && r.holds(r.seq[t&r.mask].Load(), t) {
			t = add(t, 1)
		}
		// With head unchanged, the slots [h, t) held elements throughout
		// the walk and t was not published when it was read: t-h is the
		// count at that moment.
		h2 := r.head.Load()
		if h2 == h {
			return int(dist(t, h))
		}
		h = h2
	}
}

// Cap returns the capacity the ring was created with.
func (r *SPSC[T]) Cap() int { return int(r.cap) }

func (r *SPSC[T]) closed() bool { return r.isClosed.Load() }

func (r *SPSC[T]) queues() (producers, consumers *wait.Queue) {
	return &r.prodWait, &r.consWait
}

package ring

import (
	"context"
	"unsafe"

	"github.com/ringkit/ringkit/internal/pad"
	"github.com/ringkit/ringkit/internal/release"
	"github.com/ringkit/ringkit/internal/tail"
	"github.com/ringkit/ringkit/internal/wait"
)

// MPMC is a bounded FIFO ring for any number of producer and consumer
// goroutines. Every method may be called from any goroutine.
//
// The algorithm is Dmitry Vyukov's bounded MPMC queue (per-slot sequence
// numbers), with three changes:
//
//   - The head and tail counters, not the slots, decide "full" and "empty":
//     a slot that is claimed but not yet filled or emptied never makes an
//     operation report a full or empty ring that is neither, so every
//     operation is linearizable (Vyukov's original can fail an enqueue while
//     a consumer is still copying out of a ring that is no longer full).
//   - A burst claims all its slots with one compare-and-swap of the counter
//     (DPDK's head/tail reservation), then fills or empties them.
//   - Producers publish, and consumers release, each slot through its own
//     sequence number, never through an in-order tail update. A producer
//     preempted between claiming a position and publishing it therefore
//     holds up no other producer, and in the end only the consumer of that
//     one position: a consumer that reaches the position waits for the
//     element (FIFO demands it), spinning and then yielding the processor
//     so that the producer can run and finish; if it is still waiting after
//     a few yields (the wait is stalled, see internal/wait), it claims the
//     position and waits for exactly that element, and the consumers after
//     it move on to the elements behind it, or report the ring empty. So
//     the convoy that DPDK's plain head/tail suffers (and its RTS/HTS modes
//     address) does not form. Mirrored, a consumer preempted between
//     claiming an element and releasing its slot holds up no other
//     consumer, and in the end only the producer of that slot's next
//     position. Bursts and bulks claim their positions first and wait for
//     each slot in turn. (Claiming at once, rather than after a stall, made
//     an oversubscribed ring several times slower: a waiter that has
//     claimed must itself be scheduled again, where any waiter could take a
//     position that is ready.)
//
// A slot's sequence number only needs a release store (its element is
// written before it, and its reader loads it with acquire), and on amd64
// that is a plain store, where Go's atomic Store is an XCHG, a locked
// instruction that waits for the slot's cache line to be owned exclusively.
// Nothing else needs more: full and empty are decided by the counters,
// which move by compare-and-swap (sequentially consistent), never by a
// slot, so a slot whose store is still on its way only makes the one
// goroutine that claimed it wait a little longer, as it waits for a
// preempted producer or consumer; and the check for parked waiters that
// follows pairs with the compare-and-swap that claimed the position (see
// internal/wait), which a waiter's re-check reads. So every operation,
// single or burst, costs one locked instruction: its claim.
//
// The consumer of a claimed but unpublished position waits rather than
// report the ring empty: the enqueue took effect when its producer claimed
// the position, which a dequeue cannot tell from the slot alone (a burst or
// bulk enqueue is one operation over several positions: once one of them
// has been dequeued, the others are in the ring, published or not).
//
// An MPMC must not be copied after first use.
type MPMC[T any] struct{ core[T] }

// MPSC is a bounded FIFO ring for any number of producers and one consumer
// at a time: consumer methods must not overlap. It runs the MPMC algorithm;
// on a single consumer the counter's compare-and-swap never fails and costs
// what a plain store-release of the index would on amd64, where both are
// locked instructions.
type MPSC[T any] struct{ core[T] }

// SPMC is a bounded FIFO ring for one producer at a time and any number of
// consumers: producer methods must not overlap. It runs the MPMC algorithm,
// as MPSC does.
type SPMC[T any] struct{ core[T] }

// NewMPMC returns an empty MPMC that holds exactly capacity elements. Its
// slots may take at most DefaultMaxBytes unless opts say otherwise.
func NewMPMC[T any](capacity int, opts ...Option) (*MPMC[T], error) {
	r := new(MPMC[T])
	if err := r.init(capacity, opts); err != nil {
		return nil, err
	}
	return r, nil
}

// NewMPSC returns an empty MPSC that holds exactly capacity elements. Its
// slots may take at most DefaultMaxBytes unless opts say otherwise.
func NewMPSC[T any](capacity int, opts ...Option) (*MPSC[T], error) {
	r := new(MPSC[T])
	if err := r.init(capacity, opts); err != nil {
		return nil, err
	}
	return r, nil
}

// NewSPMC returns an empty SPMC that holds exactly capacity elements. Its
// slots may take at most DefaultMaxBytes unless opts say otherwise.
func NewSPMC[T any](capacity int, opts ...Option) (*SPMC[T], error) {
	r := new(SPMC[T])
	if err := r.init(capacity, opts); err != nil {
		return nil, err
	}
	return r, nil
}

// core is the multi-producer multi-consumer ring behind MPMC, MPSC and SPMC.
type core[T any] struct {
	_ pad.NoCopy
	_ pad.Line // the previous allocation vs the producer index

	// tail is the next position a producer claims, with closedBit set once
	// the ring is closed. Producers claim [t, t+k) by a compare-and-swap
	// from t to t+k; Close sets closedBit with a compare-and-swap, so an
	// enqueue either claims before the close or fails.
	tail atomic64
	// headCache is a copy of head some producer loaded; head only grows, so
	// it underestimates free room and is reloaded when it says too little.
	headCache atomic64
	_         pad.Line // producer index vs consumer index

	// head is the next position a consumer claims, by a compare-and-swap
	// from h to h+k.
	head      atomic64
	tailCache atomic64 // as headCache, for consumers
	_         pad.Line // consumer index vs the read-mostly fields below

	// slots holds position p in slots[p&mask]. A slot's seq says whose it
	// is: seq == p, the producer that claims p may fill it; seq == p+1,
	// it holds the element of p for the consumer that claims p.
	slots []slot[T]
	mask  uint64
	size  uint64 // len(slots)
	cap   uint64
	// ptrs says T holds pointers: a slot's value is cleared when its
	// element is taken, so that the ring keeps nothing reachable. A
	// pointer-free value is left as it is: nothing to keep alive, and
	// the consumer does not write the value's bytes.
	ptrs bool

	// inLen, when set (by tests), runs in Len between its loads of head
	// and tail.
	inLen func()

	prodWait wait.Queue // producers parked for room; woken by consumers
	consWait wait.Queue // consumers parked for an element; woken by producers
}

type slot[T any] struct {
	// seq is stored (store-release) by the producer after writing val, and
	// by the consumer after reading and clearing it; the other side loads
	// it (load-acquire) before touching val.
	seq atomic64
	val T
}

// storeSeqs stores the sequence words of the k slots of the positions from
// p: position q's word gets q+off (release stores, in one call per run of
// slots to the end of the array or the wrap of the values). off is 1 to
// publish the values, size to hand the slots to the next lap's producers.
func (r *core[T]) storeSeqs(p, k, off uint64) {
	stride := unsafe.Sizeof(r.slots[0])
	for k > 0 {
		i := p & r.mask
		v := add(p, off)
		n := min(k, r.size-i, posMask-v+1)
		release.Run64(&r.slots[i].seq, stride, n, v)
		p, k = add(p, n), k-n
	}
}

func (r *core[T]) init(capacity int, opts []Option) error {
	n, err := slotCount(capacity, sizeOf[slot[T]](), opts)
	if err != nil {
		return err
	}
	r.slots = make([]slot[T], n)
	for i := range r.slots {
		r.slots[i].seq.Store(uint64(i))
	}
	r.mask, r.size, r.cap = n-1, n, uint64(capacity)
	r.ptrs = hasPointers[T]()
	return nil
}

// TryEnqueue adds v and reports whether it did; it fails when the ring is
// full or closed.
func (r *core[T]) TryEnqueue(v T) bool {
	var b wait.Backoff
	for {
		t := r.tail.Load()
		if t&closedBit != 0 {
			return false
		}
		s := &r.slots[t&r.mask]
		seq := s.seq.Load()
		switch d := dist(seq, t); {
		case d == 0: // free: claim it unless the ring is full
			if r.cap != r.size && r.room(t, 1) == 0 {
				if r.tail.Load() == t {
					return false // full: tail = t throughout and head was reloaded
				}
				continue
			}
			if r.tail.CompareAndSwap(t, add(t, 1)) {
				s.val = v
				release.Store64(&s.seq, add(t, 1)) // publishes val (see "A slot's sequence number")
				if r.consWait.Waiting() {
					r.consWait.Wake(1)
				}
				return true
			}
		case d < 0: // still holds the element of t-size
			switch used := dist(t, r.head.Load()); {
			case used >= int64(r.cap):
				return false // full: tail ≥ t and head = h at this load
			case !b.Stalled():
				b.Pause() // a consumer has claimed t-size and is emptying it
			case used >= 0 && r.tail.CompareAndSwap(t, add(t, 1)):
				// The consumer of t-size has stalled (see wait.Backoff):
				// wait for it having claimed t, so that the producers
				// behind this one go on.
				r.fillClaimed(t, v)
				return true
			}
		}
		// d > 0: another producer has claimed t; t is stale.
	}
}

// fillClaimed completes the enqueue of v at position t, which the caller
// has claimed: it waits until the consumer of t-size has released the
// slot, fills it and publishes it.
func (r *core[T]) fillClaimed(t uint64, v T) {
	s := &r.slots[t&r.mask]
	var b wait.Backoff
	for s.seq.Load() != t {
		b.Pause() // the consumer of t-size is still emptying the slot
	}
	s.val = v
	release.Store64(&s.seq, add(t, 1)) // publishes val (see "A slot's sequence number")
	if r.consWait.Waiting() {
		r.consWait.Wake(1)
	}
}

// TryDequeue removes and returns the oldest element; ok is false when the
// ring is empty.
func (r *core[T]) TryDequeue() (v T, ok bool) {
	var b wait.Backoff
	for {
		h := r.head.Load()
		s := &r.slots[h&r.mask]
		seq := s.seq.Load()
		next := add(h, 1)
		switch d := dist(seq, next); {
		case d == 0: // holds the element of h
			if r.head.CompareAndSwap(h, next) {
				v = s.val
				if r.ptrs {
					var zero T
					s.val = zero
				}
				release.Store64(&s.seq, add(h, r.size)) // hands the slot to the producer of h+size
				if r.prodWait.Waiting() {
					r.prodWait.Wake(1)
				}
				return v, true
			}
		case d < 0: // the element of h is not published yet
			switch {
			case r.tail.Load()&posMask == h:
				return v, false // empty: head = h = tail at this load
			case !b.Stalled():
				b.Pause() // a producer has claimed h and is filling it
			case r.head.CompareAndSwap(h, next):
				// The producer of h has stalled (see wait.Backoff): wait
				// for it having claimed h, so that the consumers behind
				// this one go on.
				return r.takeClaimed(h), true
			}
		}
		// d > 0: another consumer has taken h; h is stale.
	}
}

// takeClaimed completes the dequeue of position h, which the caller has
// claimed: it waits until the producer of h has published it, takes the
// element, clears the slot and hands it to the producer of h+size.
func (r *core[T]) takeClaimed(h uint64) T {
	s := &r.slots[h&r.mask]
	var b wait.Backoff
	for s.seq.Load() != add(h, 1) {
		b.Pause() // the producer of h is still filling it
	}
	v := s.val
	if r.ptrs {
		var zero T
		s.val = zero
	}
	release.Store64(&s.seq, add(h, r.size)) // hands the slot to the producer of h+size
	if r.prodWait.Waiting() {
		r.prodWait.Wake(1)
	}
	return v
}

// room returns how many slots producers may claim after position t, up to
// want, or 0 if t is stale.
func (r *core[T]) room(t, want uint64) uint64 {
	used := dist(t, r.headCache.Load())
	if used < 0 || uint64(used)+want > r.cap {
		h := r.head.Load()
		release.Store64(&r.headCache, h) // a hint: a stale one only means another reload
		used = dist(t, h)
		if used < 0 {
			return 0 // t is stale; the caller's CAS will fail
		}
	}
	return min(r.cap-min(uint64(used), r.cap), want)
}

// avail returns how many elements consumers may claim from position h, up
// to want.
func (r *core[T]) avail(h, want uint64) uint64 {
	n := dist(r.tailCache.Load(), h)
	if n < 0 || uint64(n) < want {
		t := r.tail.Load() & posMask
		release.Store64(&r.tailCache, t) // a hint, as headCache
		n = dist(t, h)
	}
	return min(uint64(max(n, 0)), want)
}

// EnqueueBurst adds as many elements of src as fit, in order, and returns
// how many it added. It claims them all with one compare-and-swap.
func (r *core[T]) EnqueueBurst(src []T) int { return r.enqueueN(src, false) }

// EnqueueBulk adds all of src, or nothing if they do not all fit.
func (r *core[T]) EnqueueBulk(src []T) bool { return r.enqueueN(src, true) == len(src) }

func (r *core[T]) enqueueN(src []T, all bool) int {
	want := uint64(len(src))
	if want == 0 {
		return 0
	}
	for {
		t := r.tail.Load()
		if t&closedBit != 0 {
			return 0
		}
		k := r.room(t, want)
		if k == 0 || all && k < want {
			if r.tail.Load() != t {
				continue // t was stale: decide again
			}
			return 0
		}
		if !r.tail.CompareAndSwap(t, add(t, k)) {
			continue
		}
		var b wait.Backoff
		for done := uint64(0); done < k; { // runs of slots to the array's end
			p := add(t, done)
			i := p & r.mask
			run := r.slots[i:min(i+k-done, r.size)]
			vals := src[done : done+uint64(len(run))]
			for j := range run {
				for run[j].seq.Load() != add(p, uint64(j)) {
					b.Pause() // the consumer of the position a lap before is still emptying it
				}
				run[j].val = vals[j]
			}
			done += uint64(len(run))
		}
		r.storeSeqs(t, k, 1) // publishes the values
		if r.consWait.Waiting() {
			r.consWait.Wake(int(k))
		}
		return int(k)
	}
}

// DequeueBurst takes up to len(dst) elements into dst and returns how many.
// It claims them all with one compare-and-swap.
func (r *core[T]) DequeueBurst(dst []T) int { return r.dequeueN(dst, false) }

// DequeueBulk fills all of dst, or takes nothing if the ring holds fewer
// than len(dst) elements.
func (r *core[T]) DequeueBulk(dst []T) bool { return r.dequeueN(dst, true) == len(dst) }

func (r *core[T]) dequeueN(dst []T, all bool) int {
	want := uint64(len(dst))
	if want == 0 {
		return 0
	}
	for {
		h := r.head.Load()
		k := r.avail(h, want)
		if k == 0 || all && k < want {
			if r.head.Load() != h {
				continue // h was stale: decide again
			}
			return 0
		}
		if !r.head.CompareAndSwap(h, add(h, k)) {
			continue
		}
		var b wait.Backoff
		var zero T
		for done := uint64(0); done < k; { // runs of slots to the array's end
			p := add(h, done)
			i := p & r.mask
			run := r.slots[i:min(i+k-done, r.size)]
			out := dst[done : done+uint64(len(run))]
			for j := range run {
				for run[j].seq.Load() != add(p, uint64(j)+1) {
					b.Pause() // the producer of this position is still filling it
				}
				out[j] = run[j].val
				if r.ptrs {
					run[j].val = zero
				}
			}
			done += uint64(len(run))
		}
		r.storeSeqs(h, k, r.size) // hands the slots to the producers of the next lap
		if r.prodWait.Waiting() {
			r.prodWait.Wake(int(k))
		}
		return int(k)
	}
}

// Enqueue adds v, waiting for room while the ring is full. It returns
// ctx.Err() if ctx ends first and ErrClosed if the ring is closed, in both
// cases leaving the ring unchanged. It spins briefly before it parks; a
// parked Enqueue costs no CPU.
func (r *core[T]) Enqueue(ctx context.Context, v T) error {
	if r.TryEnqueue(v) {
		return nil
	}
	return enqueueWait[T](ctx, r, v)
}

// Dequeue removes and returns the oldest element, waiting while the ring is
// empty. After Close it still returns the elements left, then ErrClosed. It
// returns ctx.Err() if ctx ends first, taking nothing.
func (r *core[T]) Dequeue(ctx context.Context) (T, error) {
	if v, ok := r.TryDequeue(); ok {
		return v, nil
	}
	return dequeueWait[T](ctx, r)
}

// Close closes the ring: every later enqueue fails (Enqueue with
// ErrClosed), while dequeues go on taking what is left. Every waiting
// Enqueue and Dequeue is woken. Close is idempotent and always returns nil.
func (r *core[T]) Close() error {
	tail.Close(&r.tail)
	r.prodWait.WakeAll()
	r.consWait.WakeAll()
	return nil
}

// Len returns the number of elements in the ring. It is exact when no
// operation runs concurrently, and otherwise a value the ring held at some
// moment during the call: it loads tail, head and tail again, and counts
// when the two tails agree (tail then had that value when head was
// loaded); a producer that claimed in between makes it look again.
func (r *core[T]) Len() int {
	t := r.tail.Load() & posMask
	for {
		h := r.head.Load()
		if r.inLen != nil {
			r.inLen()
		}
		t2 := r.tail.Load() & posMask
		if t2 == t {
			return length(h, t, r.cap)
		}
		t = t2
	}
}

// Cap returns the capacity the ring was created with.
func (r *core[T]) Cap() int { return int(r.cap) }

func (r *core[T]) closed() bool { return tail.IsClosed(&r.tail) }

func (r *core[T]) queues() (producers, consumers *wait.Queue) {
	return &r.prodWait, &r.consWait
}

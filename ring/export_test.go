package ring

// SetPos starts an empty, unused SPSC at position p, so that tests can run
// the counters across their wrap point.
func (r *SPSC[T]) SetPos(p uint64) { r.setPos(p) }

// SetBeforeMark sets a function that Close runs between reading the free
// slot of the producer's next position and marking it closed: the window
// in which the producer may publish that position.
func (r *SPSC[T]) SetBeforeMark(f func(p uint64)) { r.beforeMark = f }

// SetInLen sets a function that Len runs after loading head and before
// it has found the tail (between loading the tail the producer stored and
// walking the slots published since): the window in which the producer
// and the consumer may move on.
func (r *SPSC[T]) SetInLen(f func()) { r.inLen = f }

// SetInLen sets a function that Len runs between loading head and loading
// tail, as SPSC.SetInLen.
func (r *core[T]) SetInLen(f func()) { r.inLen = f }

// SetPos starts an empty, unused ring at position p: the counters and every
// slot's sequence number are set as if p elements had passed through.
func (r *core[T]) SetPos(p uint64) {
	p &= posMask
	r.head.Store(p)
	r.tail.Store(p)
	r.headCache.Store(p)
	r.tailCache.Store(p)
	for i := range r.slots {
		q := p + (uint64(i)-p)&r.mask // the position in [p, p+size) that maps to slot i
		r.slots[i].seq.Store(q & posMask)
	}
}

// WrapPoint is the position at which the counters wrap.
const WrapPoint = posMask + 1

// Slots returns a copy of every slot's value in slot order, so that tests
// can check that the slots outside [head, tail) are cleared. It must not
// run concurrently with other operations.
func (r *SPSC[T]) Slots() []T { return append([]T(nil), r.buf...) }

// Slots returns a copy of every slot's value in slot order, as SPSC.Slots.
func (r *core[T]) Slots() []T {
	vals := make([]T, len(r.slots))
	for i := range r.slots {
		vals[i] = r.slots[i].val
	}
	return vals
}

// Parked reports whether some producer and some consumer is registered to
// park (between wait.Queue.Prepare and its end).
func (r *SPSC[T]) Parked() (producers, consumers bool) {
	return r.prodWait.Waiting(), r.consWait.Waiting()
}

// Parked reports whether some producer and some consumer is registered to
// park, as SPSC.Parked.
func (r *core[T]) Parked() (producers, consumers bool) {
	return r.prodWait.Waiting(), r.consWait.Waiting()
}

// HasPointers reports whether the rings treat T as holding pointers, which
// decides whether an SPSC clears the slots it frees.
func HasPointers[T any]() bool { return hasPointers[T]() }

// HoldEnqueue claims the next position for one element by the tail's
// compare-and-swap, as TryEnqueue does, and returns the function that
// completes the enqueue of v there (waiting for the slot, as TryEnqueue
// does): between the two, the ring is as it is when a producer is
// preempted after claiming and before publishing. ok is false, and nothing
// is claimed, when the ring is full or closed.
func (r *core[T]) HoldEnqueue() (publish func(v T), ok bool) {
	for {
		t := r.tail.Load()
		if t&closedBit != 0 || dist(t, r.head.Load()) >= int64(r.cap) {
			return nil, false
		}
		if r.tail.CompareAndSwap(t, add(t, 1)) {
			return func(v T) { r.fillClaimed(t, v) }, true
		}
	}
}

// HoldDequeue claims the oldest element by the head's compare-and-swap, as
// TryDequeue does, and returns the function that completes the dequeue
// (waiting for the element, as TryDequeue does): between the two, the ring
// is as it is when a consumer is preempted after claiming and before
// releasing the slot. ok is false, and nothing is claimed, when the ring
// is empty.
func (r *core[T]) HoldDequeue() (release func() T, ok bool) {
	for {
		h := r.head.Load()
		if r.tail.Load()&posMask == h {
			return nil, false
		}
		if r.head.CompareAndSwap(h, add(h, 1)) {
			return func() T { return r.takeClaimed(h) }, true
		}
	}
}

package ring

// SetPos starts an empty, unused SPSC at position p, so that tests can run
// the counters across their wrap point.
func (r *SPSC[T]) SetPos(p uint64) { r.setPos(p) }

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

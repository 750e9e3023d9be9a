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

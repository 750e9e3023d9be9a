package descriptor

// SetPos starts an empty, unused RxRing (no buffer posted) at position p,
// so that tests can run the counters across the 32-bit stamp wrap. Call
// Refill afterwards to post buffers.
func (r *RxRing) SetPos(p uint64) {
	for q := r.next; q != r.posted; q++ {
		_ = r.cache.Put(r.descs[q&r.mask].pkt.Buf)
	}
	r.setPos(p)
}

// SetPos starts an empty, unused TxRing at position p.
func (r *TxRing) SetPos(p uint64) { r.setPos(p) }

// DriverView returns the driver's positions: next to examine and tail as
// posted. Driver side.
func (r *RxRing) DriverView() (next, tail uint64) { return r.next, r.posted }

// NICHead returns the NIC's next position. NIC side.
func (r *RxRing) NICHead() uint64 { return r.head }

// InFlight returns the number of descriptors between clean and tail.
// Driver side.
func (r *TxRing) InFlight() int { return int(r.posted - r.clean) }

// PoolID returns the id bits of p's Bufs.
func (p *Pool) PoolID() uint32 { return p.id }

// IndexBits is the number of low bits of a Buf holding the buffer index.
const IndexBits = indexBits

// Holds reports whether b is the buffer of a descriptor between clean and
// tail. Driver side.
func (r *TxRing) Holds(b Buf) bool {
	for q := r.clean; q != r.posted; q++ {
		if r.descs[q&r.mask].pkt.Buf == b {
			return true
		}
	}
	return false
}

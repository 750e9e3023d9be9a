package descriptor

import (
	"fmt"
	"math/bits"
	"sync/atomic"

	"github.com/ringkit/ringkit/internal/pad"
)

// Defaults and limits of the descriptor rings, as DPDK's ixgbe driver's
// (512 descriptors, bursts of 32, refill in batches of rx_free_thresh 32).
const (
	DefaultDescs      = 512
	DefaultBurst      = 32
	DefaultFreeThresh = 32
	MaxDescs          = 1 << 16
)

// RxConfig sizes an RxRing. The zero value of each field selects its
// default.
type RxConfig struct {
	// Descs is the number of descriptors N, a power of two from 2 to
	// MaxDescs (DefaultDescs).
	Descs int
	// Burst is the most packets one Receive returns (DefaultBurst).
	Burst int
	// FreeThresh is the refill batch: the driver posts buffers FreeThresh
	// at a time, with one doorbell store per refill (DefaultFreeThresh,
	// at most N-1).
	FreeThresh int
	// Cache is where the ring gets its buffers and Free puts them. It must
	// be a Cache of the ring's Pool owned by the driver goroutine; nil
	// makes the ring its own, which Close flushes.
	Cache *Cache
}

// rxDesc is one receive descriptor.
type rxDesc struct {
	// pkt.Buf is written by the driver when it posts the slot, before the
	// doorbell store that hands the slot to the NIC; the NIC reads it. The
	// other fields of pkt are written by the NIC before done.
	pkt Packet
	// done is the done stamp: uint32(p+1) once the NIC has filled position
	// p. The NIC stores it (store-release: publishes pkt and the frame
	// bytes); the driver loads it (load-acquire) at the position it
	// expects, so a stamp of an earlier lap never reads as done, and the
	// driver never clears it.
	done atomic.Uint32
}

// RxRing is a receive descriptor ring shared by a NIC queue and the driver
// goroutine that serves it, in the manner of DPDK's ixgbe/i40e receive
// path: N descriptors, each pointing at a buffer of a Pool; the NIC copies
// each frame it receives into the buffer of the next descriptor it owns and
// sets that descriptor's done stamp; the driver takes bursts of done
// descriptors and refills the slots they leave from the Pool in batches,
// publishing each refill with one store of the tail index (the doorbell).
//
// Positions are free-running 64-bit counters; position p uses descriptor
// p mod N. With next the driver's next position to examine, head the NIC's
// next position to fill, and tail the doorbell:
//
//	[next, head)      done: filled by the NIC, not yet taken by the driver
//	[head, tail)      NIC-owned: posted buffers waiting for frames
//	[tail, next+N)    empty: taken by the driver, waiting for a refill
//
// The driver keeps tail-next ≤ N-1, so the NIC never owns more than N-1
// descriptors and at least one slot is always the driver's, as the tail
// register of a real NIC stays one behind its head. The driver learns what
// is done from the done stamps alone and never reads head; the NIC reads
// tail only when its cached copy of it says it owns no more descriptors
// (AF_XDP's cached producer index).
//
// When the NIC owns no descriptor, the frame is counted as missed and
// dropped; what was received before is untouched. When the Pool is empty, a
// refill is counted as failed and tried again at the next Receive or
// Refill, so the ring recovers as soon as buffers come back.
//
// Methods are of two sides. The driver side (Receive, Refill, Free, Cache,
// Close) must be called by one goroutine at a time, the NIC side (every
// method named NIC*) by one other goroutine at a time: each side is single
// producer and single consumer of the other's, and neither uses a
// compare-and-swap. Stats may be called from any goroutine. An RxRing must
// not be copied after first use.
type RxRing struct {
	_ pad.NoCopy

	descs    []rxDesc
	mask     uint64
	size     uint64
	burst    int
	thresh   uint64
	pool     *Pool
	slab     []byte // pool.slab, for the NIC's copy without a second validity check
	stride   int
	headroom int
	dataRoom int

	_ pad.Line // the read-only fields above vs the driver's fields

	// Driver side, private to the driver goroutine.
	next     uint64 // next position to examine for a done stamp
	posted   uint64 // tail as the driver last stored it
	cache    *Cache
	ownCache bool
	closed   bool
	scratch  []Buf // one refill batch
	// refillFailed counts refills the Pool could not serve; written by the
	// driver, read by Stats.
	refillFailed atomic.Uint64

	_ pad.Line // the driver's fields vs the doorbell

	// tail is the doorbell: the driver stores it (store-release) after
	// writing the Bufs of the slots it posts, which publishes them to the
	// NIC; the NIC loads it (load-acquire) when its cached copy runs out.
	tail atomic.Uint64

	_ pad.Line // the doorbell vs the NIC's fields

	// NIC side, private to the NIC goroutine.
	head      uint64 // next position to fill
	tailCache uint64 // the NIC's copy of tail; head ≤ tailCache ≤ tail
	// taken is the NIC's next position to take a buffer from (NICTake):
	// the buffers of [head, taken) are out with the NIC's zero-copy
	// receiver (an AF_XDP fill ring). It trails head on a ring whose NIC
	// side copies (NICPlace), and is then read as head.
	taken uint64
	// missed and errors count frames the NIC could not place: no descriptor
	// owned, or a frame that is empty or longer than the data room. Written
	// by the NIC, read by Stats.
	missed atomic.Uint64
	errors atomic.Uint64

	_ pad.Line // the NIC's fields vs the next allocation
}

// NewRxRing returns a receive ring over pool with as many descriptors
// posted as the Pool can fill, in FreeThresh batches up to N-1.
func NewRxRing(pool *Pool, cfg RxConfig) (*RxRing, error) {
	n, burst, thresh, err := ringConfig("rx", pool, cfg.Descs, cfg.Burst, cfg.FreeThresh, cfg.Cache)
	if err != nil {
		return nil, err
	}
	r := &RxRing{
		descs:    make([]rxDesc, n),
		mask:     uint64(n - 1),
		size:     uint64(n),
		burst:    burst,
		thresh:   uint64(thresh),
		pool:     pool,
		slab:     pool.slab,
		stride:   pool.stride,
		headroom: pool.headroom,
		dataRoom: pool.dataRoom,
		cache:    cfg.Cache,
		scratch:  make([]Buf, thresh),
	}
	if r.cache == nil {
		r.cache, r.ownCache = pool.NewCache(), true
	}
	r.setPos(0)
	r.Refill()
	return r, nil
}

// ringConfig checks and completes the sizes common to RxRing and TxRing.
func ringConfig(kind string, pool *Pool, descs, burst, thresh int, cache *Cache) (n, b, t int, err error) {
	if pool == nil {
		return 0, 0, 0, fmt.Errorf("%w: %s ring without a pool", ErrConfig, kind)
	}
	if descs == 0 {
		descs = DefaultDescs
	}
	if descs < 2 || descs > MaxDescs || bits.OnesCount(uint(descs)) != 1 {
		return 0, 0, 0, fmt.Errorf("%w: %s ring of %d descriptors (want a power of two, 2..%d)", ErrConfig, kind, descs, MaxDescs)
	}
	if burst == 0 {
		burst = DefaultBurst
	}
	if burst < 1 {
		return 0, 0, 0, fmt.Errorf("%w: %s burst %d (want ≥ 1)", ErrConfig, kind, burst)
	}
	if thresh == 0 {
		thresh = min(DefaultFreeThresh, descs-1)
	}
	if thresh < 1 || thresh > descs-1 {
		return 0, 0, 0, fmt.Errorf("%w: %s free threshold %d (want 1..%d)", ErrConfig, kind, thresh, descs-1)
	}
	if cache != nil && cache.pool != pool {
		return 0, 0, 0, fmt.Errorf("%w: %s ring cache is of another pool", ErrConfig, kind)
	}
	return descs, burst, thresh, nil
}

// setPos starts an empty, unused ring at position p, with every done stamp
// set to what its slot held one lap before p (never the stamp of a
// position the driver will examine in the first lap).
func (r *RxRing) setPos(p uint64) {
	r.next, r.posted, r.head, r.tailCache, r.taken = p, p, p, p, p
	r.tail.Store(p)
	for i := range r.descs {
		q := p + (uint64(i)-p)&r.mask // the position in [p, p+N) that uses slot i
		r.descs[i].done.Store(uint32(q + 1 - r.size))
	}
}

// Pool returns the Pool the ring's buffers come from.
func (r *RxRing) Pool() *Pool { return r.pool }

// Size returns the number of descriptors N.
func (r *RxRing) Size() int { return int(r.size) }

// Burst returns the most packets one Receive returns.
func (r *RxRing) Burst() int { return r.burst }

// Receive takes up to min(len(dst), Burst()) done packets, in the order the
// NIC placed them, and returns how many. The driver owns each returned
// packet's buffer: it hands it on or frees it (Free, or Put to the Pool).
// Then, if at least FreeThresh slots are empty, Receive refills them. It
// never allocates and never blocks.
//
// The NIC's placing of a frame synchronizes before the Receive that returns
// it: the frame's bytes and metadata are visible to the driver.
func (r *RxRing) Receive(dst []Packet) int {
	n := min(len(dst), r.burst)
	p := r.next
	i := 0
	for ; i < n; i++ {
		q := p + uint64(i)
		d := &r.descs[q&r.mask]
		if d.done.Load() != uint32(q+1) { // load-acquire, pairs with NICPlace's store
			break
		}
		dst[i] = d.pkt
	}
	r.next = p + uint64(i)
	if r.next+r.size-1-r.posted >= r.thresh {
		r.refill()
	}
	return i
}

// DequeueBurst is Receive under the name the rings of packets use, so that
// an RxRing is a burst source wherever one of them is: a classify.Stage's
// Input, a sched.Queue's producer side.
func (r *RxRing) DequeueBurst(dst []Packet) int { return r.Receive(dst) }

// Refill posts buffers to the empty slots, FreeThresh at a time, while at
// least FreeThresh slots are empty, and rings the doorbell once. It returns
// how many descriptors it posted. Receive calls it; a driver calls it
// directly only to restock a ring that receives nothing (after the Pool ran
// empty while traffic stopped). A refill the Pool cannot serve is counted in
// Stats().RefillFailed and left for the next call.
func (r *RxRing) Refill() int {
	return r.refill()
}

func (r *RxRing) refill() int {
	if r.closed {
		return 0
	}
	start := r.posted
	for r.next+r.size-1-r.posted >= r.thresh {
		if !r.cache.GetBulk(r.scratch) {
			r.refillFailed.Add(1)
			break
		}
		for i, b := range r.scratch {
			r.descs[(r.posted+uint64(i))&r.mask].pkt.Buf = b
		}
		r.posted += r.thresh
	}
	if r.posted == start {
		return 0
	}
	r.tail.Store(r.posted) // store-release: the doorbell, publishes the Bufs posted above
	return int(r.posted - start)
}

// Cache returns the Cache the driver side gets buffers from.
func (r *RxRing) Cache() *Cache { return r.cache }

// Free returns the buffers of pkts to the ring's Cache, for the driver once
// it is done with packets it received (or any packets of the same Pool). A
// bad Buf is left out and reported as Cache.Put reports it. Driver side.
func (r *RxRing) Free(pkts []Packet) error {
	var first error
	for i := range pkts {
		if err := r.cache.Put(pkts[i].Buf); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Close returns every buffer the ring holds to the Pool: those of the
// NIC-owned descriptors and those of frames placed but not received (which
// it drops, and returns how many). If the ring made its own Cache, Close
// flushes it. After Close, Receive and Refill do nothing.
//
// The NIC side must have stopped: its last call must synchronize before
// Close (nicsim's queue and NIC Stop do this). Driver side.
func (r *RxRing) Close() (dropped int, err error) {
	if r.closed {
		return 0, nil
	}
	r.closed = true
	for q := r.next; q != r.posted; q++ {
		d := &r.descs[q&r.mask]
		if d.done.Load() == uint32(q+1) {
			dropped++
		}
		if e := r.cache.Put(d.pkt.Buf); e != nil && err == nil {
			err = e
		}
	}
	r.next = r.posted
	r.head, r.tailCache = r.posted, r.posted // a stray NICPlace now finds nothing owned
	if r.ownCache {
		if e := r.cache.Flush(); e != nil && err == nil {
			err = e
		}
	}
	return dropped, err
}

// NICPlace is the NIC's DMA of one received frame: it copies frame into the
// buffer of the next descriptor the NIC owns, fills the descriptor from
// meta (its Buf and Len are replaced by the descriptor's buffer and the
// frame's length), and sets the done stamp. It returns false, placing
// nothing, when the NIC owns no descriptor (counted in Stats().Missed) or
// when frame is empty or longer than the Pool's data room (counted in
// Stats().Errors). It never allocates and never reads frame beyond its
// length. NIC side.
func (r *RxRing) NICPlace(frame []byte, meta Packet) bool {
	n := len(frame)
	if n == 0 || n > r.dataRoom {
		r.errors.Add(1)
		return false
	}
	h := r.head
	if h == r.tailCache {
		r.tailCache = r.tail.Load() // load-acquire, pairs with the doorbell store in refill
		if h == r.tailCache {
			r.missed.Add(1)
			return false
		}
	}
	d := &r.descs[h&r.mask]
	b := d.pkt.Buf
	off := int(uint32(b)&indexMask)*r.stride + r.headroom
	copy(r.slab[off:off+n], frame)
	meta.Buf, meta.Len = b, uint16(n)
	d.pkt = meta
	d.done.Store(uint32(h + 1)) // store-release: publishes pkt and the frame to the driver
	r.head = h + 1
	return true
}

// NICOwned returns the number of descriptors the NIC owns: posted buffers
// not yet filled. It reloads the doorbell. NIC side.
func (r *RxRing) NICOwned() int {
	r.tailCache = r.tail.Load() // load-acquire, as in NICPlace
	return int(r.tailCache - r.head)
}

// RxStats are an RxRing's counters.
type RxStats struct {
	Missed       uint64 // frames dropped because the NIC owned no descriptor
	Errors       uint64 // frames dropped because they were empty or too long
	RefillFailed uint64 // refills the Pool could not serve
}

// String says what the counters show in one line.
func (s RxStats) String() string {
	return fmt.Sprintf("%d frames missed (no NIC-owned descriptor), %d refused (empty or too long), %d refills the pool could not serve",
		s.Missed, s.Errors, s.RefillFailed)
}

// Stats returns the ring's counters. Any goroutine may call it.
func (r *RxRing) Stats() RxStats {
	return RxStats{Missed: r.missed.Load(), Errors: r.errors.Load(), RefillFailed: r.refillFailed.Load()}
}

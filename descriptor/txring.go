package descriptor

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/ringkit/ringkit/internal/pad"
)

// ErrLength is returned, wrapped, by TxRing.Transmit for a packet whose Len
// is 0 or exceeds its Pool's data room.
var ErrLength = errors.New("descriptor: packet length out of range")

// TxConfig sizes a TxRing. The zero value of each field selects its
// default.
type TxConfig struct {
	// Descs is the number of descriptors N, a power of two from 2 to
	// MaxDescs (DefaultDescs).
	Descs int
	// FreeThresh is the reclaim batch: completed buffers go back to the
	// Pool FreeThresh at a time, when fewer than FreeThresh descriptors
	// are free (DefaultFreeThresh, at most N-1).
	FreeThresh int
	// Cache is where reclaimed buffers go. It must be a Cache of the
	// ring's Pool owned by the driver goroutine; nil makes the ring its
	// own, which Close flushes.
	Cache *Cache
}

// txDesc is one transmit descriptor.
type txDesc struct {
	// pkt is written by the driver before the doorbell store that hands the
	// slot to the NIC, and read by the NIC after it loads the doorbell.
	pkt Packet
	// done is the completion stamp: uint32(p+1) once the NIC is done with
	// position p. The NIC stores it (store-release: the NIC has finished
	// reading the buffer); the driver loads it (load-acquire) before it
	// frees the buffer.
	done atomic.Uint32
}

// TxRing is a transmit descriptor ring shared by a driver goroutine and a
// NIC queue, in the manner of DPDK's ixgbe transmit path: the driver posts
// packets and rings the doorbell (one store of the tail index per burst);
// the NIC fetches posted descriptors in order, sends their frames, and marks
// them complete with a done stamp; the driver frees completed buffers lazily,
// FreeThresh at a time, when it runs short of free descriptors, checking only
// the last descriptor of each batch (the NIC completes in order, as ixgbe's
// tx_next_dd check relies on).
//
// Positions are free-running 64-bit counters; with clean the oldest
// position whose buffer the driver has not freed, done the NIC's next
// position to complete, head its next position to fetch, and tail the
// doorbell:
//
//	[clean, done)     completed: buffers waiting to be freed by the driver
//	[done, tail)      NIC-owned: [done, head) fetched, [head, tail) posted
//	[tail, clean+N)   free descriptors
//
// The driver keeps tail-clean ≤ N-1, as RxRing does.
//
// The driver side (Transmit, Reclaim, Cache, Close) must be called by one
// goroutine at a time, the NIC side (every method named NIC*) by one other
// goroutine at a time; neither uses a compare-and-swap. Stats may be called
// from any goroutine. A TxRing must not be copied after first use.
type TxRing struct {
	_ pad.NoCopy

	descs  []txDesc
	mask   uint64
	size   uint64
	thresh uint64
	pool   *Pool

	_ pad.Line // the read-only fields above vs the driver's fields

	// Driver side, private to the driver goroutine.
	posted   uint64 // tail as the driver last stored it
	clean    uint64 // oldest position whose buffer is not yet freed
	cache    *Cache
	ownCache bool
	closed   bool
	scratch  []Buf // one reclaim batch
	// sent counts packets the driver posted; written by the driver, read
	// by Stats.
	sent atomic.Uint64
	// badFrees counts completed buffers the Pool refused (see free);
	// written by the driver, read by Stats.
	badFrees atomic.Uint64

	_ pad.Line // the driver's fields vs the doorbell

	// tail is the doorbell: the driver stores it (store-release) after
	// writing the descriptors it posts, publishing them and their frames to
	// the NIC; the NIC loads it (load-acquire) when its cached copy runs
	// out.
	tail atomic.Uint64

	_ pad.Line // the doorbell vs the NIC's fields

	// NIC side, private to the NIC goroutine.
	head      uint64 // next position to fetch
	done      uint64 // next position to complete
	tailCache uint64 // the NIC's copy of tail
	// completed counts descriptors the NIC completed; written by the NIC,
	// read by Stats.
	completed atomic.Uint64

	_ pad.Line // the NIC's fields vs the next allocation
}

// NewTxRing returns an empty transmit ring whose packets are buffers of
// pool.
func NewTxRing(pool *Pool, cfg TxConfig) (*TxRing, error) {
	n, _, thresh, err := ringConfig("tx", pool, cfg.Descs, 1, cfg.FreeThresh, cfg.Cache)
	if err != nil {
		return nil, err
	}
	r := &TxRing{
		descs:   make([]txDesc, n),
		mask:    uint64(n - 1),
		size:    uint64(n),
		thresh:  uint64(thresh),
		pool:    pool,
		cache:   cfg.Cache,
		scratch: make([]Buf, thresh),
	}
	if r.cache == nil {
		r.cache, r.ownCache = pool.NewCache(), true
	}
	r.setPos(0)
	return r, nil
}

// setPos starts an empty, unused ring at position p, with every done stamp
// set to what its slot held one lap before p.
func (r *TxRing) setPos(p uint64) {
	r.posted, r.clean, r.head, r.done, r.tailCache = p, p, p, p, p
	r.tail.Store(p)
	for i := range r.descs {
		q := p + (uint64(i)-p)&r.mask
		r.descs[i].done.Store(uint32(q + 1 - r.size))
	}
}

// Pool returns the Pool of the ring's packets.
func (r *TxRing) Pool() *Pool { return r.pool }

// Size returns the number of descriptors N.
func (r *TxRing) Size() int { return int(r.size) }

// Cache returns the Cache the driver side frees buffers into.
func (r *TxRing) Cache() *Cache { return r.cache }

// Transmit posts as many packets of pkts as there are free descriptors, in
// order, with one doorbell store, and returns how many it accepted; the
// NIC owns their buffers from then on, and the ring frees them to the Pool
// once the NIC has completed them. The caller keeps the packets it did not
// accept. When fewer than FreeThresh descriptors (or fewer than len(pkts))
// are free, Transmit first frees completed buffers in batches.
//
// A packet whose Buf is not of the ring's Pool, or whose Len is 0 or longer
// than the data room, stops the burst: Transmit accepts the packets before
// it and returns an error naming it (wrapping ErrForeign or ErrLength).
//
// It never allocates and never blocks. Posting synchronizes before the NIC
// fetch that returns the packet: what the driver wrote into the buffer is
// visible to the NIC. Driver side.
func (r *TxRing) Transmit(pkts []Packet) (int, error) {
	if r.closed {
		return 0, nil
	}
	free := r.clean + r.size - 1 - r.posted
	if free < r.thresh || free < uint64(len(pkts)) {
		r.reclaimBatches()
		free = r.clean + r.size - 1 - r.posted
	}
	k := min(uint64(len(pkts)), free)
	var err error
	for i := range k {
		pk := &pkts[i]
		if _, ok := r.pool.index(pk.Buf); !ok {
			k, err = i, fmt.Errorf("descriptor: transmit packet %d (%#x): %w", i, uint32(pk.Buf), ErrForeign)
			break
		}
		if pk.Len == 0 || int(pk.Len) > r.pool.dataRoom {
			k, err = i, fmt.Errorf("descriptor: transmit packet %d: %w: %d (want 1..%d)", i, ErrLength, pk.Len, r.pool.dataRoom)
			break
		}
		r.descs[(r.posted+i)&r.mask].pkt = *pk
	}
	if k > 0 {
		r.posted += k
		r.tail.Store(r.posted) // store-release: the doorbell, publishes the descriptors and frames
		r.sent.Add(k)
	}
	return int(k), err
}

// reclaimBatches frees completed buffers FreeThresh at a time, checking the
// done stamp of the last descriptor of each batch.
func (r *TxRing) reclaimBatches() {
	for r.posted-r.clean >= r.thresh {
		last := r.clean + r.thresh - 1
		if r.descs[last&r.mask].done.Load() != uint32(last+1) { // load-acquire, pairs with NICComplete
			return
		}
		for i := range r.scratch {
			r.scratch[i] = r.descs[(r.clean+uint64(i))&r.mask].pkt.Buf
		}
		r.clean += r.thresh
		r.free(r.scratch)
	}
}

// free puts reclaimed buffers to the Cache. Transmit checked every Buf, so
// a bad one can only be a buffer that the caller also freed after
// transmitting it (detected with PoolConfig.Check): it is already back in
// the Pool, is not put twice, and is counted in Stats().BadFrees.
func (r *TxRing) free(bs []Buf) {
	for _, b := range bs {
		if r.cache.Put(b) != nil {
			r.badFrees.Add(1)
		}
	}
}

// Reclaim frees every completed buffer now, whatever FreeThresh, and
// returns how many. Driver side.
func (r *TxRing) Reclaim() int {
	n := 0
	for {
		k := 0
		for k < len(r.scratch) && r.clean != r.posted {
			d := &r.descs[r.clean&r.mask]
			if d.done.Load() != uint32(r.clean+1) { // load-acquire, pairs with NICComplete
				break
			}
			r.scratch[k] = d.pkt.Buf
			k++
			r.clean++
		}
		if k == 0 {
			return n
		}
		r.free(r.scratch[:k])
		n += k
	}
}

// Close frees every buffer the ring holds: completed ones and those posted
// but never completed, which it drops and returns how many. If the ring
// made its own Cache, Close flushes it. After Close, Transmit accepts
// nothing.
//
// The NIC side must have stopped: its last call must synchronize before
// Close (nicsim's queue and NIC Stop do this). Driver side.
func (r *TxRing) Close() (dropped int, err error) {
	if r.closed {
		return 0, nil
	}
	r.closed = true
	for q := r.clean; q != r.posted; q++ {
		d := &r.descs[q&r.mask]
		if d.done.Load() != uint32(q+1) {
			dropped++
		}
		if e := r.cache.Put(d.pkt.Buf); e != nil {
			r.badFrees.Add(1)
			if err == nil {
				err = e
			}
		}
	}
	r.clean = r.posted
	r.head, r.done, r.tailCache = r.posted, r.posted, r.posted
	if r.ownCache {
		if e := r.cache.Flush(); e != nil && err == nil {
			err = e
		}
	}
	return dropped, err
}

// NICFetch takes up to len(dst) posted packets, in the order they were
// posted, and returns how many. The NIC reads their frames (Pool().Bytes)
// and then completes them with NICComplete, in the same order. It never
// allocates. NIC side.
func (r *TxRing) NICFetch(dst []Packet) int {
	want := uint64(len(dst))
	if r.tailCache-r.head < want {
		r.tailCache = r.tail.Load() // load-acquire, pairs with the doorbell store in Transmit
	}
	k := min(r.tailCache-r.head, want)
	for i := range k {
		dst[i] = r.descs[(r.head+i)&r.mask].pkt
	}
	r.head += k
	return int(k)
}

// NICComplete marks the n oldest fetched and not yet completed descriptors
// done, handing their buffers back to the driver. It panics if fewer than n
// are fetched and not completed, a programmer error of the NIC model. NIC
// side.
func (r *TxRing) NICComplete(n int) {
	if n < 0 || uint64(n) > r.head-r.done {
		panic(fmt.Sprintf("descriptor: NICComplete(%d) with %d fetched descriptors outstanding", n, r.head-r.done))
	}
	for range n {
		r.descs[r.done&r.mask].done.Store(uint32(r.done + 1)) // store-release: the NIC no longer reads the buffer
		r.done++
	}
	r.completed.Add(uint64(n))
}

// NICPending returns the number of posted descriptors not yet fetched. It
// reloads the doorbell. NIC side.
func (r *TxRing) NICPending() int {
	r.tailCache = r.tail.Load() // load-acquire, as in NICFetch
	return int(r.tailCache - r.head)
}

// TxStats are a TxRing's counters.
type TxStats struct {
	Posted    uint64 // packets the driver posted
	Completed uint64 // descriptors the NIC completed
	BadFrees  uint64 // completed buffers the Pool refused: freed by the caller too
}

// String says what the counters show in one line.
func (s TxStats) String() string {
	return fmt.Sprintf("%d packets posted, %d completed by the NIC, %d completed buffers the pool refused (freed twice)",
		s.Posted, s.Completed, s.BadFrees)
}

// Stats returns the ring's counters. Any goroutine may call it.
func (r *TxRing) Stats() TxStats {
	return TxStats{Posted: r.sent.Load(), Completed: r.completed.Load(), BadFrees: r.badFrees.Load()}
}

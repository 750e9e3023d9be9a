package descriptor

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"sync/atomic"

	"github.com/ringkit/ringkit/internal/mem"
	"github.com/ringkit/ringkit/internal/pad"
	"github.com/ringkit/ringkit/ring"
)

// Errors of the Pool. They are returned wrapped with the Buf and the
// operation that found them; test with errors.Is.
var (
	// ErrForeign: a Buf that this Pool did not hand out (another Pool's, a
	// zero Buf, or an index out of range).
	ErrForeign = errors.New("descriptor: buffer is not of this pool")
	// ErrDoubleFree: a Buf put back while the Pool already holds it.
	ErrDoubleFree = errors.New("descriptor: buffer freed twice")
	// ErrConfig: a constructor argument out of range.
	ErrConfig = errors.New("descriptor: bad configuration")
)

// Defaults of PoolConfig, as DPDK's RTE_MBUF_DEFAULT_DATAROOM and
// RTE_PKTMBUF_HEADROOM, and a cache size in the range rte_mempool users pick.
const (
	DefaultDataRoom  = 2048
	DefaultHeadroom  = 128
	DefaultCacheSize = 256
	// DefaultMaxBytes is the most memory a Pool may take (its slab, its
	// free list and its ownership words) unless PoolConfig.MaxBytes says
	// otherwise: 4 GiB, about two million buffers of the default size.
	DefaultMaxBytes = 4 << 30
)

// A Buf is the pool's id in its upper idBits and the buffer's index in the
// lower indexBits. Ids run from 1 to maxPoolID and are handed out in turn,
// so the zero Buf is never valid and a Buf of another Pool is recognised by
// one compare (unless 255 Pools were created in between, when ids repeat;
// the index range check still applies).
const (
	indexBits = 24
	indexMask = 1<<indexBits - 1
	maxPoolID = 1<<(32-indexBits) - 1

	// MaxBuffers is the largest number of buffers one Pool can hold.
	MaxBuffers = 1 << indexBits
	// MaxDataRoom is the largest data room of a buffer: a Packet's Len is
	// 16 bits.
	MaxDataRoom = 1<<16 - 1
)

var lastPoolID atomic.Uint32 // the id of the latest Pool, before reduction to 1..maxPoolID

// PoolConfig sizes a Pool. The zero value of each field but Buffers selects
// its default.
type PoolConfig struct {
	// Buffers is the number of buffers, 1 to MaxBuffers.
	Buffers int
	// DataRoom is the bytes of frame a buffer holds (DefaultDataRoom).
	DataRoom int
	// Headroom is reserved in front of each buffer's data room, for headers
	// a pipeline prepends (DefaultHeadroom). Set NoHeadroom for none.
	Headroom int
	// NoHeadroom makes Headroom 0.
	NoHeadroom bool
	// CacheSize is the number of buffers a Cache keeps at its usual fill
	// (DefaultCacheSize). It holds up to 1.5 × CacheSize before it flushes.
	CacheSize int
	// Check keeps an ownership state per buffer, so that every double free
	// is detected (one compare-and-swap per get and per put, on a word
	// other goroutines' gets and puts share, and 4 bytes per buffer).
	// Without it, a foreign or out-of-range Buf is still always detected,
	// and a double free is detected only when it would overfill the Pool.
	// In a build with the race detector (go test -race), where that cost is
	// lost in the detector's own, the checks are on whatever Check says.
	Check bool
	// Align, if not 0, is the alignment in bytes of the slab's first byte,
	// a power of two up to 1 MiB: a slab registered with a kernel as an
	// AF_XDP UMEM must start on a page (see Slab).
	Align int
	// MaxBytes is the most memory the Pool may take: Buffers × (Headroom
	// + DataRoom) bytes of slab, 16 bytes per buffer (rounded up to a
	// power of two) of free list, and 4 per buffer of ownership words when
	// checked. Zero selects DefaultMaxBytes. NewPool refuses a Pool that
	// would take more, before allocating anything: Go cannot recover from
	// an allocation the machine cannot serve, and the process would die.
	MaxBytes int64
}

// Pool is a set of fixed-size packet buffers in one slab, with a lock-free
// free list, in the manner of DPDK's rte_mempool: the free list is a
// ring.MPMC of Bufs, and each worker goroutine keeps a Cache in front of it
// so that most gets and puts touch no shared memory and the shared ring is
// moved in bulk.
//
// A Buf is owned either by the Pool (in its free list or in some Cache) or
// by whoever got it, until they put it back. A Put synchronizes before the
// Get that hands the same buffer out again: what the owner wrote into the
// buffer before Put is visible to the next owner after Get, because the Buf
// passes through the free list ring (or a Cache, which one goroutine owns).
//
// Every method of Pool may be called from any goroutine. A Pool must not be
// copied after first use.
type Pool struct {
	_ pad.NoCopy

	slab     []byte // buffer i is slab[i*stride : (i+1)*stride]: headroom, then data room
	stride   int
	headroom int
	dataRoom int
	n        int
	id       uint32 // shifted into place: the upper bits of every Buf of this Pool
	cacheSz  int

	free *ring.MPMC[Buf] // the shared free list: every free buffer not in a Cache

	// state, with Check, holds one word per buffer: stateFree while the
	// Pool holds it (ring or Cache), stateUsed while someone got it. Get
	// swaps free→used and Put used→free with a compare-and-swap, so the
	// second of two Puts of one buffer fails.
	state []atomic.Uint32

	_ pad.Line // the read-mostly fields above vs the counters below
	// cached is the number of buffers held in all Caches, added to at a
	// refill and subtracted from at a flush (in bulk: the Cache's own count
	// is private to its goroutine).
	cached atomic.Int64
	// hits counts gets served by a Cache without touching the free list,
	// published by each Cache at its refills and flushes.
	hits atomic.Uint64
	// empty counts gets that failed because the Pool had too few buffers.
	empty atomic.Uint64
	_     pad.Line // the counters vs the next allocation
}

const (
	stateFree = iota
	stateUsed
)

// NewPool returns a Pool with every buffer free.
func NewPool(cfg PoolConfig) (*Pool, error) {
	if cfg.Buffers < 1 || cfg.Buffers > MaxBuffers {
		return nil, fmt.Errorf("%w: %d buffers (want 1..%d)", ErrConfig, cfg.Buffers, MaxBuffers)
	}
	if cfg.DataRoom == 0 {
		cfg.DataRoom = DefaultDataRoom
	}
	if cfg.DataRoom < 1 || cfg.DataRoom > MaxDataRoom {
		return nil, fmt.Errorf("%w: data room %d (want 1..%d)", ErrConfig, cfg.DataRoom, MaxDataRoom)
	}
	switch {
	case cfg.NoHeadroom:
		cfg.Headroom = 0
	case cfg.Headroom == 0:
		cfg.Headroom = DefaultHeadroom
	}
	if cfg.Headroom < 0 || cfg.Headroom > MaxDataRoom {
		return nil, fmt.Errorf("%w: headroom %d (want 0..%d)", ErrConfig, cfg.Headroom, MaxDataRoom)
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.CacheSize < 1 || cfg.CacheSize > MaxBuffers {
		return nil, fmt.Errorf("%w: cache size %d (want 1..%d)", ErrConfig, cfg.CacheSize, MaxBuffers)
	}
	switch {
	case cfg.MaxBytes == 0:
		cfg.MaxBytes = DefaultMaxBytes
	case cfg.MaxBytes < 0:
		return nil, fmt.Errorf("%w: MaxBytes %d (want 0 for the default, or a positive limit)", ErrConfig, cfg.MaxBytes)
	}
	stride := cfg.Headroom + cfg.DataRoom
	check := cfg.Check || raceEnabled
	if err := mem.Check(ErrConfig, fmt.Sprintf("a pool of %d buffers of %d bytes", cfg.Buffers, stride),
		poolBytes(cfg.Buffers, stride, check), uint64(cfg.MaxBytes), "PoolConfig.MaxBytes"); err != nil {
		return nil, err
	}
	slab, err := newSlab(stride*cfg.Buffers, cfg.Align)
	if err != nil {
		return nil, err
	}
	free, err := ring.NewMPMC[Buf](cfg.Buffers, ring.WithMaxBytes(int(min(cfg.MaxBytes, math.MaxInt))))
	if err != nil {
		return nil, fmt.Errorf("descriptor: free list: %w", err)
	}
	p := &Pool{
		slab:     slab,
		stride:   stride,
		headroom: cfg.Headroom,
		dataRoom: cfg.DataRoom,
		n:        cfg.Buffers,
		id:       (lastPoolID.Add(1)%maxPoolID + 1) << indexBits,
		cacheSz:  cfg.CacheSize,
		free:     free,
	}
	if check {
		p.state = make([]atomic.Uint32, cfg.Buffers)
	}
	var batch [64]Buf
	for i := 0; i < p.n; {
		k := 0
		for ; k < len(batch) && i < p.n; k, i = k+1, i+1 {
			batch[k] = Buf(p.id | uint32(i))
		}
		p.free.EnqueueBulk(batch[:k]) // cannot fail: the ring holds exactly n
	}
	return p, nil
}

// poolBytes returns the memory of a Pool of n buffers of stride bytes: the
// slab, the free list (a ring.MPMC of Bufs: a power of two number of slots
// of a 4-byte Buf and an 8-byte sequence number, padded to 16) and, when
// checked, one 4-byte ownership word per buffer.
func poolBytes(n, stride int, checked bool) uint64 {
	slots := uint64(1) << bits.Len64(uint64(n)-1)
	b := mem.Add(mem.Size(uint64(n), uint64(stride)), mem.Size(max(slots, 2), 16))
	if checked {
		b = mem.Add(b, mem.Size(uint64(n), 4))
	}
	return b
}

// Buffers returns the number of buffers of the Pool.
func (p *Pool) Buffers() int { return p.n }

// DataRoom returns the bytes of frame a buffer holds.
func (p *Pool) DataRoom() int { return p.dataRoom }

// Headroom returns the bytes reserved in front of each buffer's data room.
func (p *Pool) Headroom() int { return p.headroom }

// Checked reports whether the Pool keeps per-buffer ownership state:
// PoolConfig.Check, or any Pool in a build with the race detector.
func (p *Pool) Checked() bool { return p.state != nil }

// index returns b's buffer index, or false if b is not a Buf of p.
func (p *Pool) index(b Buf) (int, bool) {
	i := int(uint32(b) & indexMask)
	return i, uint32(b)&^indexMask == p.id && i < p.n
}

// Owns reports whether b names a buffer of p (whoever holds it now).
func (p *Pool) Owns(b Buf) bool {
	_, ok := p.index(b)
	return ok
}

// Index returns the position of b in the Pool's slab, 0 to Buffers()-1, so
// that a user can keep per-buffer state in a slice. It panics if b is not a
// Buf of p, which is a programmer error.
func (p *Pool) Index(b Buf) int {
	i, ok := p.index(b)
	if !ok {
		panic(fmt.Sprintf("descriptor: Index of %#x: %v", uint32(b), ErrForeign))
	}
	return i
}

// Data returns the whole data room of b, DataRoom() bytes, for the NIC to
// copy a frame into. It never allocates. The slice aliases the buffer and
// is valid only while the caller owns b. It panics if b is not a Buf of p,
// which is a programmer error (a Buf is never external input).
func (p *Pool) Data(b Buf) []byte {
	i, ok := p.index(b)
	if !ok {
		panic(fmt.Sprintf("descriptor: Data of %#x: %v", uint32(b), ErrForeign))
	}
	off := i*p.stride + p.headroom
	return p.slab[off : off+p.dataRoom : off+p.dataRoom]
}

// Bytes returns the frame of pk: the first pk.Len bytes of its buffer's
// data room, with the rest of the data room as spare capacity (so an append
// that fits stays in the buffer). It never allocates. The slice aliases the
// buffer and is valid only while the caller owns pk.Buf. It panics if pk.Buf
// is not a Buf of p or pk.Len exceeds the data room, which are programmer
// errors.
func (p *Pool) Bytes(pk Packet) []byte {
	i, ok := p.index(pk.Buf)
	if !ok || int(pk.Len) > p.dataRoom {
		panic(fmt.Sprintf("descriptor: Bytes of %#x length %d: not a buffer of this pool or longer than its data room %d", uint32(pk.Buf), pk.Len, p.dataRoom))
	}
	off := i*p.stride + p.headroom
	return p.slab[off : off+int(pk.Len) : off+p.dataRoom]
}

// HeadroomOf returns the headroom in front of b's data room, for a header to
// be prepended in place. Its validity and panics are those of Data.
func (p *Pool) HeadroomOf(b Buf) []byte {
	i, ok := p.index(b)
	if !ok {
		panic(fmt.Sprintf("descriptor: HeadroomOf %#x: %v", uint32(b), ErrForeign))
	}
	off := i * p.stride
	return p.slab[off : off+p.headroom : off+p.headroom]
}

// Get takes one free buffer from the shared free list; ok is false when
// there is none. Goroutines that get and put often should use a Cache.
func (p *Pool) Get() (b Buf, ok bool) {
	b, ok = p.free.TryDequeue()
	if !ok {
		p.empty.Add(1)
		return 0, false
	}
	p.acquired(b)
	return b, true
}

// GetBulk fills dst with free buffers from the shared free list, all or
// nothing: it reports false, taking none, if the Pool has fewer than
// len(dst) free buffers in its free list.
func (p *Pool) GetBulk(dst []Buf) bool {
	if len(dst) == 0 {
		return true
	}
	if !p.free.DequeueBulk(dst) {
		p.empty.Add(1)
		return false
	}
	if p.state != nil {
		for _, b := range dst {
			p.acquired(b)
		}
	}
	return true
}

// Put returns b to the shared free list. It returns an error wrapping
// ErrForeign if b is not a Buf of p, and one wrapping ErrDoubleFree if p
// already holds b (always detected with PoolConfig.Check; without it, only
// when the free list is already full). On error the Pool is unchanged.
func (p *Pool) Put(b Buf) error {
	if err := p.release(b, "put"); err != nil {
		return err
	}
	if !p.free.TryEnqueue(b) {
		p.unrelease(b)
		return fmt.Errorf("descriptor: put %#x: %w (the free list is full)", uint32(b), ErrDoubleFree)
	}
	return nil
}

// PutBulk returns every buffer of bs to the shared free list. A bad Buf
// (see Put) is left out and the others are returned; the error names the
// first bad one.
func (p *Pool) PutBulk(bs []Buf) error {
	var first error
	var batch [64]Buf
	k := 0
	flush := func() {
		if n := p.free.EnqueueBurst(batch[:k]); n < k {
			for _, b := range batch[n:k] {
				p.unrelease(b)
			}
			if first == nil {
				first = fmt.Errorf("descriptor: put %#x: %w (the free list is full)", uint32(batch[n]), ErrDoubleFree)
			}
		}
		k = 0
	}
	for _, b := range bs {
		if err := p.release(b, "put"); err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		batch[k] = b
		k++
		if k == len(batch) {
			flush()
		}
	}
	if k > 0 {
		flush()
	}
	return first
}

// acquired records that b left the Pool.
func (p *Pool) acquired(b Buf) {
	if p.state == nil {
		return
	}
	i := int(uint32(b) & indexMask)
	// The free list held b, so its state is free unless the Pool's own
	// bookkeeping is broken, which nothing a caller does can cause.
	if !p.state[i].CompareAndSwap(stateFree, stateUsed) {
		panic(fmt.Sprintf("descriptor: buffer %#x handed out while in use", uint32(b)))
	}
}

// release checks that b may come back to the Pool and records that it has.
func (p *Pool) release(b Buf, op string) error {
	i, ok := p.index(b)
	if !ok {
		return fmt.Errorf("descriptor: %s %#x: %w", op, uint32(b), ErrForeign)
	}
	if p.state != nil && !p.state[i].CompareAndSwap(stateUsed, stateFree) {
		return fmt.Errorf("descriptor: %s %#x: %w", op, uint32(b), ErrDoubleFree)
	}
	return nil
}

// unrelease undoes release for a buffer that could not be stored.
func (p *Pool) unrelease(b Buf) {
	if p.state != nil {
		p.state[uint32(b)&indexMask].Store(stateUsed)
	}
}

// PoolStats is a snapshot of a Pool's counters.
type PoolStats struct {
	Buffers int // total buffers
	Free    int // in the shared free list
	// Cached counts the buffers in Caches as each Cache last published its
	// fill (at its refills and flushes): a Cache's gets and puts in between
	// touch no shared counter.
	Cached int
	// InUse is Buffers - Free - Cached: out of the Pool, up to what Caches
	// did since they last published. It is exact once every Cache has
	// flushed, as after Close of every ring.
	InUse int
	// CacheHits counts gets a Cache served without touching the free list,
	// as published at each Cache's last refill or flush.
	CacheHits uint64
	// Empty counts gets (single or bulk, from the Pool or a Cache) that
	// failed for lack of free buffers.
	Empty uint64
}

// String says where the buffers are in one line.
func (s PoolStats) String() string {
	return fmt.Sprintf("%d buffers: %d free, %d in caches, %d in use; %d gets served by a cache, %d failed for want of a buffer",
		s.Buffers, s.Free, s.Cached, s.InUse, s.CacheHits, s.Empty)
}

// Stats returns the Pool's counters. It is exact when no goroutine gets or
// puts concurrently; otherwise each field is a value it held during the
// call and InUse is derived from them.
func (p *Pool) Stats() PoolStats {
	free := p.free.Len()
	cached := int(max(p.cached.Load(), 0))
	return PoolStats{
		Buffers:   p.n,
		Free:      free,
		Cached:    cached,
		InUse:     max(p.n-free-cached, 0),
		CacheHits: p.hits.Load(),
		Empty:     p.empty.Load(),
	}
}

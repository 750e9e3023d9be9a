package nicsim

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/ringkit/ringkit/classify"
	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/internal/mem"
	"github.com/ringkit/ringkit/internal/wait"
	"github.com/ringkit/ringkit/port"
)

var _ port.Port = (*Port)(nil)

// Port is one port of a NIC: RX/TX queue pairs with their descriptor
// rings, RSS, a link, an optional wire to another port and an optional
// traffic generator.
//
// A port has two engines, each serialized by its own mutex, as the
// hardware's receive and transmit paths are. The receive engine (rxMu)
// parses each arriving frame, hashes it, picks an RX queue through the
// redirection table and places it into that queue's RxRing; frames arrive
// from the port's generator, from the wire (the peer's transmit engine) or
// from Receive, so one RxRing never sees two NIC-side callers at once. The
// transmit engine (txMu) fetches posted packets from each TX queue, sends
// them onto the wire and completes them. A transmit engine may take the
// peer's rxMu while holding its own txMu, never the reverse, so the two
// never deadlock.
//
// Every method may be called from any goroutine, but Step must not run
// concurrently with itself or with Run.
type Port struct {
	nic      *NIC
	id       int
	name     string
	pool     *descriptor.Pool
	maxFrame int
	noRSS    bool // Config.NoRSS: no hash, every frame to queue 0
	queues   []queue

	// rxMu serializes the receive engine and guards rss, reta and each
	// queue's rxOn.
	rxMu     sync.Mutex
	rss      *classify.Toeplitz
	reta     []uint16
	retaMask uint32

	// txMu serializes the transmit engine and guards each queue's txOn and
	// the scratch slices below.
	txMu     sync.Mutex
	txPkts   []descriptor.Packet
	txFrames [][]byte

	src  atomic.Pointer[source] // the source and its frame buffers; used by the engine only
	peer atomic.Pointer[Port]   // the other end of the wire, or nil
	down atomic.Bool            // link down; the zero value is up
	// linkDrops counts frames that arrived while the link was down.
	linkDrops atomic.Uint64

	// engine is set while an engine drives the port: the port's own Run
	// or Step, or its NIC's.
	engine atomic.Bool
	runMu  sync.Mutex    // held by the port's Run; Close takes it to wait for Run's return
	stop   chan struct{} // closed by Close
	closed sync.Once
}

// source is a Source with the buffers its frames are built in.
type source struct {
	src    port.Source
	bufs   [][]byte
	frames [][]byte
}

// queue is one RX/TX queue pair.
type queue struct {
	// rx and tx are the queue's rings; SetRings replaces them under both
	// mutexes, the engines load them under theirs, accessors at any time.
	rx   atomic.Pointer[descriptor.RxRing]
	tx   atomic.Pointer[descriptor.TxRing]
	rxOn bool // under rxMu
	txOn bool // under txMu

	stopped atomic.Bool // as StopQueue and StartQueue last set it, for Stats

	// Counters the engines add to once per burst; read by Stats. The
	// ring's own counters (missed for lack of a descriptor, frames it
	// refused) are added in Stats.
	rxPackets, rxBytes atomic.Uint64
	rxMissed           atomic.Uint64 // frames for a stopped queue
	rxErrors           atomic.Uint64 // runts and over-long frames
	// ringMissed, ringErrors and refillFailed hold the counters of rings
	// SetRings replaced.
	ringMissed, ringErrors, refillFailed atomic.Uint64
	txPackets, txBytes                   atomic.Uint64
	txErrors                             atomic.Uint64 // posted packets too short or too long to send
	txDropped                            atomic.Uint64 // packets sent while the link was down

	// Per-burst tallies of the receive engine, under rxMu.
	pend struct{ pkts, bytes, missed, errs uint64 }
}

// portBytes returns the memory one port of cfg takes (see
// Config.MaxBytes), or the rings' error for sizes they refuse.
func portBytes(cfg *Config) (uint64, error) {
	rx, err := cfg.Pool.RxRingBytes(cfg.Rx)
	if err != nil {
		return 0, err
	}
	tx, err := cfg.Pool.TxRingBytes(cfg.Tx)
	if err != nil {
		return 0, err
	}
	var (
		p   Port
		q   queue
		pkt descriptor.Packet
		f   []byte
	)
	queue := uint64(unsafe.Sizeof(q)) + rx + tx
	b := mem.Add(uint64(unsafe.Sizeof(p)), mem.Size(uint64(cfg.Queues), queue))
	b = mem.Add(b, mem.Size(uint64(cfg.RETASize), 2*2)) // the table New builds, and the port's copy
	// The engine's burst (a packet and a frame slice each) and a source's
	// (two frame slices and a buffer of MaxFrame bytes each).
	perFrame := uint64(unsafe.Sizeof(pkt)) + 3*uint64(unsafe.Sizeof(f)) + uint64(cfg.MaxFrame)
	return mem.Add(b, mem.Size(uint64(cfg.Burst), perFrame)), nil
}

func newPort(nic *NIC, id int, cfg *Config) (*Port, error) {
	p := &Port{
		nic:      nic,
		id:       id,
		name:     fmt.Sprintf("%s.%d", cfg.Name, id),
		stop:     make(chan struct{}),
		pool:     cfg.Pool,
		maxFrame: cfg.MaxFrame,
		noRSS:    cfg.NoRSS,
		queues:   make([]queue, cfg.Queues),
		txPkts:   make([]descriptor.Packet, cfg.Burst),
		txFrames: make([][]byte, 0, cfg.Burst),
	}
	reta := make([]uint16, cfg.RETASize)
	for i := range reta {
		reta[i] = uint16(i % cfg.Queues)
	}
	if err := p.setRSS(cfg.RSSKey, reta); err != nil {
		return nil, err
	}
	for i := range p.queues {
		q := &p.queues[i]
		rx, err := descriptor.NewRxRing(cfg.Pool, cfg.Rx)
		if err != nil {
			return nil, fmt.Errorf("queue %d: %w", i, err)
		}
		tx, err := descriptor.NewTxRing(cfg.Pool, cfg.Tx)
		if err != nil {
			return nil, fmt.Errorf("queue %d: %w", i, err)
		}
		q.rx.Store(rx)
		q.tx.Store(tx)
		q.rxOn, q.txOn = true, true
	}
	return p, nil
}

// Name returns the port's name: the NIC's Config.Name, a dot, its index.
func (p *Port) Name() string { return p.name }

// ID returns the port's index in its NIC.
func (p *Port) ID() int { return p.id }

// Queues returns the number of RX/TX queue pairs.
func (p *Port) Queues() int { return len(p.queues) }

// RxRing returns RX queue q's ring, whose driver side belongs to the
// driver goroutine of that queue. It panics if q is out of range.
func (p *Port) RxRing(q int) *descriptor.RxRing { return p.queues[q].rx.Load() }

// TxRing returns TX queue q's ring, whose driver side belongs to the driver
// goroutine of that queue. It panics if q is out of range.
func (p *Port) TxRing(q int) *descriptor.TxRing { return p.queues[q].tx.Load() }

// SetRSS replaces the RSS key (classify.KeySize bytes) and the redirection
// table (a power-of-two number of entries, each a queue index). Frames
// received after SetRSS returns use them (unless Config.NoRSS turned RSS
// off: the port keeps them but hashes nothing).
func (p *Port) SetRSS(key []byte, reta []uint16) error {
	p.rxMu.Lock()
	defer p.rxMu.Unlock()
	return p.setRSS(key, reta)
}

func (p *Port) setRSS(key []byte, reta []uint16) error {
	if len(reta) == 0 || len(reta) > 1<<16 || bits.OnesCount(uint(len(reta))) != 1 {
		return fmt.Errorf("%w: redirection table of %d entries (want a power of two up to 65536)", ErrConfig, len(reta))
	}
	for i, q := range reta {
		if int(q) >= len(p.queues) {
			return fmt.Errorf("%w: redirection entry %d is queue %d of %d", ErrConfig, i, q, len(p.queues))
		}
	}
	t, err := classify.NewToeplitz(key)
	if err != nil {
		return fmt.Errorf("%w: RSS key: %w", ErrConfig, err)
	}
	p.rss, p.reta, p.retaMask = t, append([]uint16(nil), reta...), uint32(len(reta)-1)
	return nil
}

// RETA returns a copy of the redirection table.
func (p *Port) RETA() []uint16 {
	p.rxMu.Lock()
	defer p.rxMu.Unlock()
	return append([]uint16(nil), p.reta...)
}

// SetLink brings the link up or down. While it is down, arriving frames
// are dropped (PortStats.LinkDrops) and transmitted packets are completed
// without being sent (QueueStats.TxDropped).
func (p *Port) SetLink(up bool) { p.down.Store(!up) }

// LinkUp reports whether the link is up.
func (p *Port) LinkUp() bool { return !p.down.Load() }

// Attach makes src the port's traffic source (nil detaches it): a
// Generator, a capture being replayed, any port.Source. Each round of the
// engine takes frames from it and receives them. src must not be used
// elsewhere.
func (p *Port) Attach(src port.Source) {
	if src == nil {
		p.src.Store(nil)
		return
	}
	n := p.nic.burst
	s := &source{src: src, bufs: make([][]byte, n), frames: make([][]byte, n)}
	for i := range s.bufs {
		s.bufs[i] = make([]byte, 0, p.maxFrame)
	}
	p.src.Store(s)
}

// StopQueue stops queue q: frames RSS sends to it are dropped and counted
// as missed, and its posted packets stay in its TxRing. When StopQueue
// returns, the NIC no longer touches the queue's rings, and its last access
// synchronizes before the return, so a driver may Close them.
func (p *Port) StopQueue(q int) error { return p.setQueue(q, false) }

// StartQueue starts queue q again.
func (p *Port) StartQueue(q int) error { return p.setQueue(q, true) }

func (p *Port) setQueue(q int, on bool) error {
	if q < 0 || q >= len(p.queues) {
		return fmt.Errorf("%w: queue %d of %d", ErrConfig, q, len(p.queues))
	}
	p.rxMu.Lock()
	p.queues[q].rxOn = on
	p.rxMu.Unlock()
	p.txMu.Lock()
	p.queues[q].txOn = on
	p.txMu.Unlock()
	p.queues[q].stopped.Store(!on)
	return nil
}

// SetRings gives stopped queue q new rings, for a queue whose driver side
// moves elsewhere (migration): the old rings are the caller's to Close.
// Both rings must use the port's Pool. It returns ErrConfig if q is out of
// range, not stopped, or a ring is nil or of another Pool.
func (p *Port) SetRings(q int, rx *descriptor.RxRing, tx *descriptor.TxRing) error {
	if q < 0 || q >= len(p.queues) {
		return fmt.Errorf("%w: queue %d of %d", ErrConfig, q, len(p.queues))
	}
	if rx == nil || tx == nil || rx.Pool() != p.pool || tx.Pool() != p.pool {
		return fmt.Errorf("%w: queue %d: rings must be non-nil and use the port's pool", ErrConfig, q)
	}
	p.rxMu.Lock()
	defer p.rxMu.Unlock()
	p.txMu.Lock()
	defer p.txMu.Unlock()
	if p.queues[q].rxOn || p.queues[q].txOn {
		return fmt.Errorf("%w: queue %d is not stopped", ErrConfig, q)
	}
	qu := &p.queues[q]
	old := qu.rx.Load().Stats()
	qu.ringMissed.Add(old.Missed)
	qu.ringErrors.Add(old.Errors)
	qu.refillFailed.Add(old.RefillFailed)
	qu.rx.Store(rx)
	qu.tx.Store(tx)
	return nil
}

// Receive is the port's receive engine for frames arriving on its
// connector: each frame is parsed (classify.Parse; a frame parsed without
// fault is marked descriptor.FlagParsed, its metadata the parse), hashed with the RSS
// key (classify's Toeplitz over addresses and ports) and placed into the
// RX queue the redirection table names for the hash (queue 0 for a frame
// without an IP header, and every frame when Config.NoRSS turned RSS off),
// the NIC's copy into that queue's next descriptor.
// A frame shorter than MinFrame or longer than MaxFrame is counted as an
// error, one for a stopped queue or a full ring as missed; none is kept.
// Receive never reads outside a frame and never allocates. The port
// serializes it with every other arrival.
func (p *Port) Receive(frames [][]byte) {
	if len(frames) == 0 {
		return
	}
	if p.down.Load() {
		p.linkDrops.Add(uint64(len(frames)))
		return
	}
	p.rxMu.Lock()
	defer p.rxMu.Unlock()
	for _, f := range frames {
		meta := descriptor.Packet{Port: uint16(p.id)}
		if classify.Parse(f, &meta) == classify.OK {
			meta.Flags |= descriptor.FlagParsed // the packet type offload: no need to parse again
		}
		qi := 0
		if !p.noRSS { // RSS off: queue 0, no hash
			if h, ok := p.rss.HashFrame(f, &meta, true); ok {
				meta.Hash, meta.Flags = h, meta.Flags|descriptor.FlagHash
				qi = int(p.reta[h&p.retaMask])
			}
		}
		meta.Queue = uint16(qi)
		q := &p.queues[qi]
		switch {
		case len(f) < MinFrame || len(f) > p.maxFrame:
			q.pend.errs++
		case !q.rxOn:
			q.pend.missed++
		case q.rx.Load().NICPlace(f, meta):
			q.pend.pkts++
			q.pend.bytes += uint64(len(f))
		}
	}
	for i := range p.queues {
		q := &p.queues[i]
		if q.pend == (struct{ pkts, bytes, missed, errs uint64 }{}) {
			continue
		}
		addNonZero(&q.rxPackets, q.pend.pkts)
		addNonZero(&q.rxBytes, q.pend.bytes)
		addNonZero(&q.rxMissed, q.pend.missed)
		addNonZero(&q.rxErrors, q.pend.errs)
		q.pend.pkts, q.pend.bytes, q.pend.missed, q.pend.errs = 0, 0, 0, 0
	}
}

func addNonZero(c *atomic.Uint64, n uint64) {
	if n != 0 {
		c.Add(n)
	}
}

// generate takes frames from the port's source and receives them: up to
// burst, as many as the source's rate allows at now when paced.
func (p *Port) generate(now time.Duration, paced bool, burst int) int {
	s := p.src.Load()
	if s == nil {
		return 0
	}
	n := min(burst, len(s.bufs))
	if paced {
		n = min(n, s.src.Due(now))
	}
	k := 0
	for ; k < n && !s.src.Done(); k++ {
		f := s.src.Next(s.bufs[k])
		if cap(f) > cap(s.bufs[k]) {
			s.bufs[k] = f[:0] // a frame larger than the buffers: keep the larger one
		}
		s.frames[k] = f
	}
	p.Receive(s.frames[:k])
	return k
}

// transmit is the port's transmit engine: a burst from each started TX
// queue is fetched, sent to the peer port (which copies the frames into its
// own buffers before this returns) and completed.
func (p *Port) transmit(burst int) int {
	p.txMu.Lock()
	defer p.txMu.Unlock()
	peer := p.peer.Load()
	up := !p.down.Load()
	moved := 0
	for i := range p.queues {
		q := &p.queues[i]
		if !q.txOn {
			continue
		}
		tx := q.tx.Load()
		k := tx.NICFetch(p.txPkts[:min(burst, len(p.txPkts))])
		if k == 0 {
			continue
		}
		moved += k
		frames := p.txFrames[:0]
		var pkts, bytes, errs, drops uint64
		for _, pk := range p.txPkts[:k] {
			f := p.pool.Bytes(pk) // TxRing.Transmit checked Buf and Len
			switch {
			case len(f) < MinFrame || len(f) > p.maxFrame:
				errs++
			case !up:
				drops++
			default:
				pkts++
				bytes += uint64(len(f))
				frames = append(frames, f) // within cap: k ≤ burst
			}
		}
		if peer != nil {
			peer.Receive(frames)
		}
		tx.NICComplete(k)
		addNonZero(&q.txPackets, pkts)
		addNonZero(&q.txBytes, bytes)
		addNonZero(&q.txErrors, errs)
		addNonZero(&q.txDropped, drops)
	}
	return moved
}

// Connect wires a and b: what one transmits, the other receives. A port
// transmitting without a wire sends into the void (counted as sent). It
// returns ErrConnected if either already has a wire; a port may be wired to
// itself (a loopback plug).
func Connect(a, b *Port) error {
	if !a.peer.CompareAndSwap(nil, b) {
		return fmt.Errorf("nicsim: connect port %d: %w", a.id, ErrConnected)
	}
	if a != b && !b.peer.CompareAndSwap(nil, a) {
		a.peer.Store(nil)
		return fmt.Errorf("nicsim: connect port %d: %w", b.id, ErrConnected)
	}
	return nil
}

// Disconnect unplugs p's wire, from both ends.
func (p *Port) Disconnect() {
	if peer := p.peer.Swap(nil); peer != nil {
		peer.peer.CompareAndSwap(p, nil)
	}
}

// Step does one round of the port's engine alone: a burst from its source
// is received, a burst from each TX queue is sent and completed. It
// returns the frames moved, or an error wrapping port.ErrRunning while an
// engine runs the port (its Run, or its NIC's Step or Run) and
// port.ErrClosed after Close.
func (p *Port) Step() (int, error) {
	if p.isClosed() {
		return 0, fmt.Errorf("nicsim: %s: %w", p.name, port.ErrClosed)
	}
	if !p.engine.CompareAndSwap(false, true) {
		return 0, fmt.Errorf("nicsim: %s: %w", p.name, port.ErrRunning)
	}
	defer p.engine.Store(false)
	n := p.generate(0, false, p.nic.burst) + p.transmit(p.nic.burst)
	p.nic.rounds.Add(1)
	return n, nil
}

// Run does rounds of the port's engine alone on the caller's goroutine
// until ctx ends (it returns ctx.Err()) or Close (it returns nil), pacing
// the source by the monotonic clock from Run's start. It returns an error
// wrapping port.ErrRunning while another engine runs the port.
func (p *Port) Run(ctx context.Context) error {
	if !p.engine.CompareAndSwap(false, true) {
		if p.isClosed() {
			return nil
		}
		return fmt.Errorf("nicsim: %s: %w", p.name, port.ErrRunning)
	}
	defer p.engine.Store(false)
	p.runMu.Lock() // Close waits for it; the engine flag keeps every other engine out
	defer p.runMu.Unlock()
	if p.isClosed() {
		return nil
	}
	start := time.Now()
	burst := p.nic.burst
	return wait.Loop(ctx, p.stop, 50*time.Microsecond, func() (int, error) {
		n := p.generate(time.Since(start), true, burst) + p.transmit(burst)
		p.nic.rounds.Add(1)
		return n, nil
	})
}

// Close stops the port's Run and waits for it, stops every queue (the NIC's
// engine lets go of their rings) and closes the rings, which return every
// buffer they hold to the pool. Drivers must have stopped using the rings;
// a driver that closed a ring itself (to count what it dropped) may: Close
// of a closed ring does nothing. The port's wire is unplugged. Close is
// idempotent and returns the first error of a ring's Close.
func (p *Port) Close() error {
	p.closed.Do(func() { close(p.stop) })
	p.runMu.Lock() // the port's Run has returned; one that starts later sees stop closed
	defer p.runMu.Unlock()
	p.Disconnect()
	var errs []error
	for q := range p.queues {
		_ = p.setQueue(q, false) // the engines take rxMu and txMu: none is inside a ring after this
		qu := &p.queues[q]
		if _, err := qu.rx.Load().Close(); err != nil {
			errs = append(errs, fmt.Errorf("nicsim: %s queue %d: %w", p.name, q, err))
		}
		if _, err := qu.tx.Load().Close(); err != nil {
			errs = append(errs, fmt.Errorf("nicsim: %s queue %d: %w", p.name, q, err))
		}
	}
	return errors.Join(errs...)
}

func (p *Port) isClosed() bool {
	select {
	case <-p.stop:
		return true
	default:
		return false
	}
}

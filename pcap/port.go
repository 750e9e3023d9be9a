package pcap

import (
	"context"
	"errors"
	"fmt"
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

// ErrConfig is wrapped by NewPort's errors.
var ErrConfig = errors.New("pcap: bad port configuration")

// RecordSource is a port.Source whose frames are records of a capture,
// with times and wire lengths of their own: Time and Original describe the
// frame Next returned last. Replay is one.
type RecordSource interface {
	port.Source
	Time() time.Time
	Original() int
}

// PortConfig configures a Port.
type PortConfig struct {
	Name   string           // in reports ("pcap0" when empty)
	Pool   *descriptor.Pool // the buffers received frames are copied into
	Queues int              // queue pairs (1 when 0); software RSS spreads received frames over them
	Rx     descriptor.RxConfig
	Tx     descriptor.TxConfig
	// Source is what the port receives (a Replay); nil receives nothing.
	// The port holds a frame for which a queue has no buffer until it
	// has one: a capture is replayed without loss.
	Source port.Source
	// Sink is where the port's transmitted frames are written; nil counts
	// them as dropped.
	Sink *Writer
	// Burst is the most frames each way per queue in one round (32 when 0).
	Burst int
	// NoOffload leaves received packets unparsed and unhashed.
	NoOffload bool
	// MaxBytes is the most memory the port may take: each queue's RX and
	// TX rings (descriptor.Pool.RxRingBytes and TxRingBytes), its burst,
	// a record's scratch buffer (MaxRecord) and a stamp for each buffer of
	// the pool. Zero selects DefaultMaxBytes. NewPort refuses a port that
	// would take more before allocating anything: Go cannot recover from
	// an allocation the machine cannot serve.
	MaxBytes int64
}

// DefaultMaxBytes is the most memory a Port may take unless
// PortConfig.MaxBytes says otherwise: 1 GiB.
const DefaultMaxBytes = 1 << 30

// Port is a port.Port on capture files: what it receives comes from a
// Source, what it transmits is written to a Writer. A frame transmitted
// from a buffer this port received keeps the time and wire length its
// Source gave it (a RecordSource's), so a capture replayed through the port and sent back out
// is written again with its own times; any other frame is written with the
// time it is sent.
type Port struct {
	name  string
	pool  *descriptor.Pool
	rx    []*descriptor.RxRing
	tx    []*descriptor.TxRing
	src   port.Source
	timed RecordSource
	sink  *Writer
	burst int
	off   *classify.Offload

	scratch []byte
	// frame (in scratch) is the frame the source gave last, with its time;
	// held says it is waiting for a buffer.
	frame []byte
	time  time.Time
	orig  int
	held  bool
	pkts  []descriptor.Packet
	// stamps[i] is the source's time of the frame this port last placed
	// into buffer i, with the frame's length and first bytes to tell it
	// from another frame later built into the same buffer.
	stamps []stamp

	engine atomic.Bool // an engine (Step or Run) is running
	runMu  sync.Mutex  // held by Run; Close waits on it
	stop   chan struct{}
	closed sync.Once

	cnt []counters // per queue
}

// counters are one queue's, added to by the engine, read by Stats.
type counters struct {
	rxPackets, rxBytes, rxMissed, rxErrors atomic.Uint64
	txPackets, txBytes, txErrors, txDrops  atomic.Uint64
}

type stamp struct {
	t    time.Time
	n    int
	orig int // the frame's length on the capture's wire
	head [16]byte
}

var _ port.Port = (*Port)(nil)

// NewPort returns a capture port.
func NewPort(cfg PortConfig) (*Port, error) {
	if cfg.Pool == nil {
		return nil, fmt.Errorf("%w: no pool", ErrConfig)
	}
	if cfg.Name == "" {
		cfg.Name = "pcap0"
	}
	if cfg.Burst == 0 {
		cfg.Burst = 32
	}
	if cfg.Burst < 1 || cfg.Queues < 0 {
		return nil, fmt.Errorf("%w: burst %d, %d queues", ErrConfig, cfg.Burst, cfg.Queues)
	}
	queues := max(cfg.Queues, 1)
	if err := checkMemory(&cfg, queues); err != nil {
		return nil, err
	}
	p := &Port{name: cfg.Name, pool: cfg.Pool, src: cfg.Source, sink: cfg.Sink, burst: cfg.Burst,
		off: classify.NewOffload(queues, !cfg.NoOffload), scratch: make([]byte, MaxRecord),
		pkts: make([]descriptor.Packet, cfg.Burst), stamps: make([]stamp, cfg.Pool.Buffers()), stop: make(chan struct{}), cnt: make([]counters, queues)}
	p.timed, _ = cfg.Source.(RecordSource)
	for q := range queues {
		rx, err := descriptor.NewRxRing(cfg.Pool, cfg.Rx)
		if err == nil {
			p.rx = append(p.rx, rx)
			var tx *descriptor.TxRing
			if tx, err = descriptor.NewTxRing(cfg.Pool, cfg.Tx); err == nil {
				p.tx = append(p.tx, tx)
			}
		}
		if err != nil {
			p.closeRings()
			return nil, fmt.Errorf("%w: queue %d: %w", ErrConfig, q, err)
		}
	}
	return p, nil
}

// checkMemory checks what NewPort would allocate for cfg against its
// MaxBytes.
func checkMemory(cfg *PortConfig, queues int) error {
	limit := cfg.MaxBytes
	switch {
	case limit == 0:
		limit = DefaultMaxBytes
	case limit < 0:
		return fmt.Errorf("%w: MaxBytes %d (want 0 for the default, or a positive limit)", ErrConfig, limit)
	}
	rx, err := cfg.Pool.RxRingBytes(cfg.Rx)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	tx, err := cfg.Pool.TxRingBytes(cfg.Tx)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	var (
		c   counters
		pkt descriptor.Packet
		st  stamp
	)
	need := mem.Size(uint64(queues), mem.Add(mem.Add(rx, tx), uint64(unsafe.Sizeof(c))))
	need = mem.Add(need, mem.Size(uint64(cfg.Burst), uint64(unsafe.Sizeof(pkt))))
	need = mem.Add(need, mem.Size(uint64(cfg.Pool.Buffers()), uint64(unsafe.Sizeof(st))))
	need = mem.Add(need, MaxRecord)
	return mem.Check(ErrConfig, fmt.Sprintf("a port of %d queues and bursts of %d", queues, cfg.Burst), need, uint64(limit), "PortConfig.MaxBytes")
}

// Name returns the port's name.
func (p *Port) Name() string { return p.name }

// Queues returns the number of queue pairs.
func (p *Port) Queues() int { return len(p.rx) }

// RxRing returns RX queue q's ring. It panics if q is out of range.
func (p *Port) RxRing(q int) *descriptor.RxRing { return p.rx[q] }

// TxRing returns TX queue q's ring. It panics if q is out of range.
func (p *Port) TxRing(q int) *descriptor.TxRing { return p.tx[q] }

// Step does one round: up to a burst of the source's frames, unpaced, into
// the RX rings, and a burst of each TX ring into the sink.
func (p *Port) Step() (int, error) {
	if p.isClosed() {
		return 0, fmt.Errorf("pcap: %s: %w", p.name, port.ErrClosed)
	}
	if !p.engine.CompareAndSwap(false, true) {
		return 0, fmt.Errorf("pcap: %s: %w", p.name, port.ErrRunning)
	}
	defer p.engine.Store(false)
	p.runMu.Lock() // Close waits for the round
	defer p.runMu.Unlock()
	if p.isClosed() {
		return 0, fmt.Errorf("pcap: %s: %w", p.name, port.ErrClosed)
	}
	return p.round(-1)
}

// Run does rounds until ctx ends (returning ctx.Err()) or Close (returning
// nil), pacing the source from Run's start; it returns a sink's write error.
func (p *Port) Run(ctx context.Context) error {
	if !p.engine.CompareAndSwap(false, true) {
		if p.isClosed() {
			return nil
		}
		return fmt.Errorf("pcap: %s: %w", p.name, port.ErrRunning)
	}
	defer p.engine.Store(false)
	p.runMu.Lock()
	defer p.runMu.Unlock()
	if p.isClosed() {
		return nil
	}
	start := time.Now()
	return wait.Loop(ctx, p.stop, 200*time.Microsecond, func() (int, error) {
		return p.round(time.Since(start))
	})
}

// round moves frames both ways; now < 0 takes the source unpaced.
func (p *Port) round(now time.Duration) (int, error) {
	moved := p.receive(now)
	n, err := p.transmit()
	return moved + n, err
}

func (p *Port) receive(now time.Duration) int {
	n := p.burst
	if !p.held {
		if p.src == nil || p.src.Done() {
			return 0
		}
		if now >= 0 {
			n = min(n, p.src.Due(now))
		}
	}
	var b [1]descriptor.Buf
	for i := range n {
		if !p.held {
			if p.src.Done() {
				return i
			}
			p.frame, p.time, p.orig = p.src.Next(p.scratch[:0]), time.Time{}, 0
			if p.timed != nil {
				p.time, p.orig = p.timed.Time(), p.timed.Original()
			}
		}
		f := p.frame
		meta, q := p.off.Meta(f, 0)
		rx, c := p.rx[q], &p.cnt[q]
		p.held = false
		switch {
		case len(f) == 0 || len(f) > p.pool.DataRoom():
			c.rxErrors.Add(1)
		case rx.NICTake(b[:]) == 0:
			// The queue has no buffer posted: unlike a wire, a capture
			// can wait, so the frame is held until the driver refills.
			p.held = true
			return i
		default:
			copy(p.pool.Data(b[0]), f)
			// The buffer was just taken and the length checked: placing
			// cannot fail.
			_ = rx.NICPlaceBuf(b[0], len(f), meta)
			if p.timed != nil {
				s := &p.stamps[p.pool.Index(b[0])]
				s.t, s.n, s.orig = p.time, len(f), p.orig
				copy(s.head[:], f)
			}
			c.rxPackets.Add(1)
			c.rxBytes.Add(uint64(len(f)))
		}
	}
	return n
}

func (p *Port) transmit() (int, error) {
	moved := 0
	for q, tx := range p.tx {
		c := &p.cnt[q]
		k := tx.NICFetch(p.pkts)
		var err error
		for _, pk := range p.pkts[:k] {
			f := p.pool.Bytes(pk)
			if p.sink == nil {
				c.txDrops.Add(1)
				continue
			}
			if err == nil {
				t, orig := p.recordOf(pk.Buf, f)
				err = p.sink.Write(t, f, orig)
			}
			if err != nil {
				c.txErrors.Add(1)
				continue
			}
			c.txPackets.Add(1)
			c.txBytes.Add(uint64(len(f)))
		}
		tx.NICComplete(k)
		moved += k
		if err != nil {
			return moved, fmt.Errorf("pcap: %s: %w", p.name, err)
		}
	}
	return moved, nil
}

// recordOf returns the source's time and wire length of frame f in
// buffer b if this port received it, and the time now and f's length
// otherwise.
func (p *Port) recordOf(b descriptor.Buf, f []byte) (time.Time, int) {
	if p.timed != nil {
		s := &p.stamps[p.pool.Index(b)]
		var head [16]byte
		copy(head[:], f)
		if s.n == len(f) && s.head == head && !s.t.IsZero() {
			t := s.t
			s.t = time.Time{}
			return t, s.orig
		}
	}
	return time.Now(), len(f)
}

// Stats returns the port's counters.
func (p *Port) Stats() port.Stats {
	s := port.Stats{Name: p.name, LinkUp: true, Queues: make([]port.QueueStats, len(p.rx))}
	for q, rx := range p.rx {
		c := &p.cnt[q]
		rs := rx.Stats()
		qs := port.QueueStats{
			RxPackets: c.rxPackets.Load(), RxBytes: c.rxBytes.Load(), RxMissed: c.rxMissed.Load(), RxErrors: c.rxErrors.Load() + rs.Errors,
			RefillFailed: rs.RefillFailed,
			TxPackets:    c.txPackets.Load(), TxBytes: c.txBytes.Load(), TxErrors: c.txErrors.Load(), TxDropped: c.txDrops.Load(),
		}
		s.Queues[q] = qs
		s.Total.Add(qs)
	}
	return s
}

// Close stops Run and waits for it, flushes the sink and returns every
// buffer of the rings to the pool. Drivers must have stopped using the
// rings. Close is idempotent; the sink's underlying writer stays open.
func (p *Port) Close() error {
	first := false
	p.closed.Do(func() { close(p.stop); first = true })
	p.runMu.Lock() // a Run or Step has returned; none starts after stop
	defer p.runMu.Unlock()
	if !first {
		return nil
	}
	var errs []error
	if p.sink != nil {
		errs = append(errs, p.sink.Flush())
	}
	errs = append(errs, p.closeRings())
	return errors.Join(errs...)
}

func (p *Port) closeRings() error {
	var errs []error
	for _, r := range p.rx {
		_, err := r.Close()
		errs = append(errs, err)
	}
	for _, r := range p.tx {
		_, err := r.Close()
		errs = append(errs, err)
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

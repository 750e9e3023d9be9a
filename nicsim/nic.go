package nicsim

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringkit/ringkit/classify"
	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/internal/mem"
	"github.com/ringkit/ringkit/internal/pad"
	"github.com/ringkit/ringkit/internal/wait"
	"github.com/ringkit/ringkit/port"
)

// Errors of the package, returned wrapped with context; test with
// errors.Is.
var (
	// ErrConfig: a constructor or setter argument out of range.
	ErrConfig = errors.New("nicsim: bad configuration")
	// ErrConnected: a port given to Connect already has a wire.
	ErrConnected = errors.New("nicsim: port already connected")
)

// Defaults of Config.
const (
	DefaultRETASize = 128 // redirection table entries, as ixgbe's
	DefaultBurst    = 32  // frames per source and per TX queue in one round
	// MinFrame is the shortest frame a port accepts: an Ethernet header.
	// Shorter frames are counted as errors.
	MinFrame = 14
	// MaxRETASize is the largest redirection table.
	MaxRETASize = 1 << 16
	// DefaultMaxBytes is the most memory a NIC may take unless
	// Config.MaxBytes says otherwise: 1 GiB, about 16000 queues with the
	// default rings.
	DefaultMaxBytes = 1 << 30
)

// Config describes a NIC. The zero value of each field but Pool selects
// its default.
type Config struct {
	// Ports is the number of ports (1).
	Ports int
	// Queues is the number of RX/TX queue pairs of each port (1).
	Queues int
	// Pool holds the buffers of every RX and TX ring. Required.
	Pool *descriptor.Pool
	// Rx and Tx size each queue's rings; their Cache must be nil (each ring
	// gets its own, for the driver goroutine of that queue).
	Rx descriptor.RxConfig
	Tx descriptor.TxConfig
	// RSSKey is the Toeplitz key, classify.KeySize bytes
	// (classify.DefaultKey). classify.SymmetricKey gives both directions of
	// a flow the same queue.
	RSSKey []byte
	// RETASize is the number of redirection table entries, a power of two
	// (DefaultRETASize). Entry i starts as queue i mod Queues.
	RETASize int
	// Burst is the most frames a round takes from each traffic source and
	// from each TX queue (DefaultBurst).
	Burst int
	// MaxFrame is the longest frame a port accepts (the Pool's data room,
	// and at most that). Longer frames are counted as errors.
	MaxFrame int
	// NoRSS turns receive-side scaling off, as a NIC configured without
	// multi-queue receive (DPDK's RTE_ETH_MQ_RX_NONE): frames are parsed
	// but not hashed, have no FlagHash, and all go to queue 0. A port whose
	// driver reads one queue saves the hash.
	NoRSS bool
	// Name names the NIC in port names and errors ("nicsim"); port i is
	// "Name.i".
	Name string
	// MaxBytes is the most memory the NIC may take: for each port, the
	// RX and TX rings of every queue (descriptor.Pool.RxRingBytes and
	// TxRingBytes, their own Caches included), the redirection table, the
	// engine's burst and the frames a source is read into (Burst ×
	// MaxFrame bytes, allocated by Attach). Zero selects DefaultMaxBytes.
	// New refuses a NIC that would take more, before allocating anything:
	// Go cannot recover from an allocation the machine cannot serve, and
	// the process would die with "fatal error: out of memory".
	MaxBytes int64
}

// NIC is an in-memory network card: ports with RX/TX queue pairs whose
// descriptor rings a driver serves, RSS spreading received frames over the
// RX queues, wires to other NICs' ports and traffic sources. It plays the
// NIC side of every ring (descriptor.RxRing.NICPlace, TxRing.NICFetch and
// NICComplete); drivers play the other. Each Port is a port.Port.
//
// Its engine runs as every long-running part of ringkit does. Step does
// one round on the caller's goroutine, with no clock: a test is then
// deterministic. Run does rounds on the caller's goroutine until its
// context ends or Close, pacing sources by the monotonic clock from Run's
// start. A round takes a burst from each port's source and receives it,
// then fetches a burst from each TX queue, sends it onto the wire (the
// peer port receives it within the same call) and completes it. A port's
// own Step and Run do the same for that port alone.
type NIC struct {
	_     pad.NoCopy
	ports []*Port
	burst int
	name  string

	runMu  sync.Mutex    // held by Run; Close takes it to wait for Run's return
	stop   chan struct{} // closed by Close
	closed sync.Once
	rounds atomic.Uint64 // rounds done, by any of the engines
}

// New returns a NIC with every link up and every queue started.
func New(cfg Config) (*NIC, error) {
	if cfg.Pool == nil {
		return nil, fmt.Errorf("%w: no pool", ErrConfig)
	}
	if cfg.Ports == 0 {
		cfg.Ports = 1
	}
	if cfg.Queues == 0 {
		cfg.Queues = 1
	}
	if cfg.Ports < 1 || cfg.Ports > 1<<16 || cfg.Queues < 1 || cfg.Queues > 1<<16 {
		return nil, fmt.Errorf("%w: %d ports of %d queues (want 1..65536 each)", ErrConfig, cfg.Ports, cfg.Queues)
	}
	if cfg.Rx.Cache != nil || cfg.Tx.Cache != nil {
		return nil, fmt.Errorf("%w: ring caches are made per queue", ErrConfig)
	}
	if cfg.RSSKey == nil {
		cfg.RSSKey = classify.DefaultKey[:]
	}
	if cfg.RETASize == 0 {
		cfg.RETASize = DefaultRETASize
	}
	if cfg.Burst == 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.Burst < 1 {
		return nil, fmt.Errorf("%w: burst %d", ErrConfig, cfg.Burst)
	}
	if cfg.MaxFrame == 0 {
		cfg.MaxFrame = cfg.Pool.DataRoom()
	}
	if cfg.MaxFrame < MinFrame || cfg.MaxFrame > cfg.Pool.DataRoom() {
		return nil, fmt.Errorf("%w: max frame %d (want %d..%d, the pool's data room)", ErrConfig, cfg.MaxFrame, MinFrame, cfg.Pool.DataRoom())
	}
	if cfg.RETASize < 1 || cfg.RETASize > MaxRETASize || cfg.RETASize&(cfg.RETASize-1) != 0 {
		return nil, fmt.Errorf("%w: redirection table of %d entries (want a power of two up to %d)", ErrConfig, cfg.RETASize, MaxRETASize)
	}
	if cfg.Name == "" {
		cfg.Name = "nicsim"
	}
	switch {
	case cfg.MaxBytes == 0:
		cfg.MaxBytes = DefaultMaxBytes
	case cfg.MaxBytes < 0:
		return nil, fmt.Errorf("%w: MaxBytes %d (want 0 for the default, or a positive limit)", ErrConfig, cfg.MaxBytes)
	}
	each, err := portBytes(&cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if err := mem.Check(ErrConfig, fmt.Sprintf("a NIC of Ports %d, Queues %d", cfg.Ports, cfg.Queues),
		mem.Size(uint64(cfg.Ports), each), uint64(cfg.MaxBytes), "Config.MaxBytes"); err != nil {
		return nil, err
	}
	n := &NIC{burst: cfg.Burst, name: cfg.Name, stop: make(chan struct{})}
	for i := range cfg.Ports {
		p, err := newPort(n, i, &cfg)
		if err != nil {
			n.Close()
			return nil, fmt.Errorf("nicsim: port %d: %w", i, err)
		}
		n.ports = append(n.ports, p)
	}
	return n, nil
}

// Ports returns the number of ports.
func (n *NIC) Ports() int { return len(n.ports) }

// Port returns port i. It panics if i is out of range.
func (n *NIC) Port(i int) *Port { return n.ports[i] }

// Rounds returns the number of rounds done.
func (n *NIC) Rounds() uint64 { return n.rounds.Load() }

// Step does one round (see NIC) and returns the number of frames it moved:
// received from sources plus fetched from TX queues. It returns an error
// wrapping port.ErrRunning while Run runs (the NIC's or a port's) and
// port.ErrClosed after Close. Step must not run concurrently with itself;
// Steps of different NICs, wired or not, may run at once (each port
// serializes what reaches it).
func (n *NIC) Step() (int, error) {
	if err := n.claim(); err != nil {
		return 0, err
	}
	defer n.release(len(n.ports))
	return n.round(0, false), nil
}

// claim marks every port as driven by the NIC's engine, or none of them.
func (n *NIC) claim() error {
	if n.isClosed() {
		return fmt.Errorf("nicsim: %s: %w", n.name, port.ErrClosed)
	}
	for i, p := range n.ports {
		if !p.engine.CompareAndSwap(false, true) {
			n.release(i)
			return fmt.Errorf("nicsim: %s: %w", p.Name(), port.ErrRunning)
		}
	}
	return nil
}

// release gives back the first k ports claim marked.
func (n *NIC) release(k int) {
	for _, p := range n.ports[:k] {
		p.engine.Store(false)
	}
}

func (n *NIC) isClosed() bool {
	select {
	case <-n.stop:
		return true
	default:
		return false
	}
}

// round does one round of every port. With paced, sources send what their
// rate allows at now; without, a burst each.
func (n *NIC) round(now time.Duration, paced bool) int {
	moved := 0
	for _, p := range n.ports {
		moved += p.generate(now, paced, n.burst)
	}
	for _, p := range n.ports {
		moved += p.transmit(n.burst)
	}
	n.rounds.Add(1)
	return moved
}

// Run does rounds on the caller's goroutine until ctx ends (it returns
// ctx.Err()) or Close (it returns nil). Sources are paced by the monotonic
// clock from Run's start. An idle NIC (no source due, nothing to transmit)
// backs off to short sleeps (internal/wait.Poller), costing little CPU. It
// returns an error wrapping port.ErrRunning if the NIC or one of its ports
// is already running. When Run returns, the NIC touches no ring any more
// and its last access to each ring synchronizes before the return.
func (n *NIC) Run(ctx context.Context) error {
	if err := n.claim(); err != nil {
		if n.isClosed() {
			return nil
		}
		return err
	}
	defer n.release(len(n.ports))
	n.runMu.Lock() // Close waits for it; the claim keeps every other engine out
	defer n.runMu.Unlock()
	if n.isClosed() {
		return nil
	}
	start := time.Now()
	return wait.Loop(ctx, n.stop, 50*time.Microsecond, func() (int, error) {
		return n.round(time.Since(start), true), nil
	})
}

// Close stops Run and waits for it to return, then closes every port
// (Port.Close: their rings give every buffer back to the pool). Drivers
// must have stopped using the rings. It is idempotent.
func (n *NIC) Close() error {
	n.closed.Do(func() { close(n.stop) })
	n.runMu.Lock() // Run has returned; one that starts later sees stop closed
	defer n.runMu.Unlock()
	var errs []error
	for _, p := range n.ports {
		errs = append(errs, p.Close())
	}
	return errors.Join(errs...)
}

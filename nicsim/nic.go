package nicsim

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringkit/ringkit/classify"
	"github.com/ringkit/ringkit/descriptor"
)

// Errors of the package, returned wrapped with context; test with
// errors.Is.
var (
	// ErrConfig: a constructor or setter argument out of range.
	ErrConfig = errors.New("nicsim: bad configuration")
	// ErrRunning: Step or a second Start while the NIC's goroutine runs.
	ErrRunning = errors.New("nicsim: NIC is running")
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
}

// NIC is an in-memory network card: ports with RX/TX queue pairs whose
// descriptor rings a driver serves, RSS spreading received frames over the
// RX queues, wires to other NICs' ports and traffic generators. It plays
// the NIC side of every ring (descriptor.RxRing.NICPlace, TxRing.NICFetch
// and NICComplete); drivers play the other.
//
// It runs in one of two modes. Start runs a goroutine that does rounds
// until Stop, pacing generators by the clock. Without Start, the caller
// drives it with Step, one round per call, no goroutine and no clock: a
// test is then deterministic. A round takes a burst from each port's
// generator and receives it, then fetches a burst from each TX queue,
// sends it onto the wire (the peer port receives it within the same call)
// and completes it.
type NIC struct {
	_     noCopy
	ports []*Port
	burst int

	running atomic.Bool // set by Start, cleared by Stop; Step refuses while set
	mu      sync.Mutex  // serializes Start and Stop
	stop    chan struct{}
	done    chan struct{}
	rounds  atomic.Uint64 // rounds done, by either mode
}

type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

// New returns a stopped NIC with every link up and every queue started.
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
	n := &NIC{burst: cfg.Burst}
	for i := range cfg.Ports {
		p, err := newPort(i, &cfg)
		if err != nil {
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
// received from generators plus fetched from TX queues. It returns
// ErrRunning while the NIC's goroutine runs. Step must not run
// concurrently with itself; Steps of different NICs, wired or not, may run
// at once (each port serializes what reaches it).
func (n *NIC) Step() (int, error) {
	if n.running.Load() {
		return 0, ErrRunning
	}
	return n.round(0, false), nil
}

// round does one round. With paced, generators send what their rate
// allows at now; without, a burst each.
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

// Start runs the NIC in its own goroutine until Stop. Generators are paced
// by the monotonic clock from Start. An idle NIC (no generator due, no
// packet to transmit) backs off to short sleeps, costing little CPU.
func (n *NIC) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.running.Load() {
		return ErrRunning
	}
	n.running.Store(true)
	n.stop, n.done = make(chan struct{}), make(chan struct{})
	go n.run(n.stop, n.done)
	return nil
}

func (n *NIC) run(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	start := time.Now()
	idle := 0
	for {
		select {
		case <-stop:
			return
		default:
		}
		if n.round(time.Since(start), true) > 0 {
			idle = 0
			continue
		}
		idle++
		switch {
		case idle < 64:
			// A driver is likely about to post or refill: poll again.
		case idle < 128:
			time.Sleep(0) // yields the processor
		default:
			time.Sleep(50 * time.Microsecond)
		}
	}
}

// Stop ends the goroutine Start started and waits for it. When Stop
// returns, the NIC touches no ring any more, and its last access to each
// ring synchronizes before Stop's return: drivers may Close their rings.
// Stop of a stopped NIC does nothing.
func (n *NIC) Stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.running.Load() {
		return
	}
	close(n.stop)
	<-n.done
	n.running.Store(false)
}

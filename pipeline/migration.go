package pipeline

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/migrate"
	"github.com/ringkit/ringkit/nicsim"
	"github.com/ringkit/ringkit/tcpip"
)

// MigrationConfig is the live migration of a run: a VM with Sessions TCP
// sessions to its peers, each peer streaming to it, is moved to a second
// host At (a fraction of the run) while the peers keep sending.
type MigrationConfig struct {
	Sessions int `json:"sessions"` // 16
	// At is when the migration starts, as a fraction of the run (0.5).
	At float64 `json:"at"`
	// Rate is the bytes each peer sends per millisecond (512).
	Rate int `json:"rate"`
	// Hold is how long the VM stays suspended before its journal is
	// sealed: the time the rest of its memory takes to move (10ms).
	Hold Duration `json:"hold"`
}

func (m *MigrationConfig) validate() error {
	if m.Sessions == 0 {
		m.Sessions = 16
	}
	if m.At == 0 {
		m.At = 0.5
	}
	if m.Rate == 0 {
		m.Rate = 512
	}
	if m.Hold == 0 {
		m.Hold = Duration(10 * time.Millisecond)
	}
	switch {
	case m.Sessions < 1 || m.Sessions > 1000:
		return fmt.Errorf("%w: migration.sessions: %d (want 1..1000)", ErrConfig, m.Sessions)
	case !(m.At > 0 && m.At < 1):
		return fmt.Errorf("%w: migration.at: %v (want a fraction of the run, between 0 and 1)", ErrConfig, m.At)
	case m.Rate < 1 || m.Rate > 1<<20:
		return fmt.Errorf("%w: migration.rate: %d (want 1..1048576 bytes per millisecond)", ErrConfig, m.Rate)
	case time.Duration(m.Hold) < 0 || time.Duration(m.Hold) > 10*time.Second:
		return fmt.Errorf("%w: migration.hold: %v (want 0..10s)", ErrConfig, time.Duration(m.Hold))
	}
	return nil
}

// Phases as the live view names them.
var phaseNames = [...]string{0: "running on the source", migrate.PhasePreCopy: "pre-copy",
	migrate.PhaseSuspended: "suspended (the circuit answers)", migrate.PhaseSealed: "sealed (journal moving)",
	migrate.PhaseCommitted: "go-ahead given",
	migrate.PhaseMoved:     "moved: running on the destination", migrate.PhaseResumed: "resumed on the source"}

// vmWorld is the migration's world, after the migrate package's own test
// bed but on the real clock: a peer host whose NIC has two ports, wired to
// the source host and to the destination host (as a switch reaches both);
// the source runs the VM behind a migrate.Circuit, the destination a
// migrate.Destination; the peers learn from the destination's
// announcements where the VM went. One goroutine runs its rounds (loop);
// the migration runs in another, its transfer over loopback TCP.
type vmWorld struct {
	cfg MigrationConfig

	peerNIC, srcNIC, dstNIC    *nicsim.NIC
	peerHost, srcHost, dstHost *tcpip.Host
	peers                      *tcpip.Stack
	circuit                    *migrate.Circuit
	dest                       *migrate.Destination
	vmAddr, peerAddr           netip.Addr

	// Owned by the loop goroutine (and by whoever runs after it ends).
	senders map[uint16]*stream // the peers' side, by the VM's port
	readers map[uint16]*stream // the VM's side
	buf     []byte
	stopped bool // senders stopped: the run is draining

	phase   atomic.Uint32 // migrate.Phase, set by the migration goroutine
	started atomic.Bool
	done    chan struct{} // closed when the migration has returned
	metrics migrate.Metrics
	err     error
}

// stream is one session's byte stream: the peer writes a pattern derived
// from the port and the offset, the VM reads and checks every byte.
type stream struct {
	port uint16
	conn *tcpip.Conn
	off  int
	crc  uint32
	bad  int // first out-of-place offset + 1
}

func pattern(port uint16, off int) byte {
	x := uint32(off)*2654435761 + uint32(port)*40503
	return byte(x>>24) ^ byte(off>>8)
}

func newVMWorld(cfg MigrationConfig) (*vmWorld, error) {
	w := &vmWorld{cfg: cfg, vmAddr: netip.MustParseAddr("10.9.0.10"), peerAddr: netip.MustParseAddr("10.9.1.1"),
		senders: map[uint16]*stream{}, readers: map[uint16]*stream{}, buf: make([]byte, 64<<10),
		done: make(chan struct{})}
	// Each NIC's pool must hold, besides what is in flight, every buffer
	// its rings can keep: the posted RX descriptors, the completed TX
	// descriptors (a TX ring frees them lazily, only when it runs short of
	// descriptors, so a port that stops sending keeps up to Descs-1 of
	// them for good), and the rings' caches. A pool smaller than that runs
	// dry, and a Link then drops what it is asked to send.
	const descs = 256
	nic := func(ports int) (*nicsim.NIC, error) {
		rings := 2 * ports
		pool, err := descriptor.NewPool(descriptor.PoolConfig{
			Buffers: rings*(descs+descriptor.DefaultCacheSize*3/2) + 2048})
		if err != nil {
			return nil, err
		}
		return nicsim.New(nicsim.Config{Pool: pool, Ports: ports, Rx: descriptor.RxConfig{Descs: descs}, Tx: descriptor.TxConfig{Descs: descs}})
	}
	var err error
	if w.peerNIC, err = nic(2); err != nil {
		return nil, err
	}
	if w.srcNIC, err = nic(1); err != nil {
		return nil, err
	}
	if w.dstNIC, err = nic(1); err != nil {
		return nil, err
	}
	if err := nicsim.Connect(w.peerNIC.Port(0), w.srcNIC.Port(0)); err != nil {
		return nil, err
	}
	if err := nicsim.Connect(w.peerNIC.Port(1), w.dstNIC.Port(0)); err != nil {
		return nil, err
	}
	var links [4]*tcpip.Link
	for i, p := range []*nicsim.Port{w.peerNIC.Port(0), w.peerNIC.Port(1), w.srcNIC.Port(0), w.dstNIC.Port(0)} {
		if links[i], err = tcpip.NewLink(p, 0); err != nil {
			return nil, err
		}
	}
	w.peerHost = tcpip.NewHost(links[0], links[1])
	w.srcHost = tcpip.NewHost(links[2])
	w.dstHost = tcpip.NewHost(links[3])
	pc := tcpip.StackConfig{MAC: [6]byte{2, 9, 0, 0, 0, 2}, Addrs: []netip.Prefix{netip.PrefixFrom(w.peerAddr, 16)}, Seed: 1}
	if w.peers, err = tcpip.NewStack(pc, w.peerHost.Send); err != nil {
		return nil, err
	}
	w.peerHost.SetHandler(w.peers)
	accept := func(c *tcpip.Conn) {
		p := c.Tuple().Dst.Port()
		w.senders[p] = &stream{port: p, conn: c}
	}
	if err := w.peers.Listen(netip.AddrPortFrom(w.peerAddr, 80), accept); err != nil {
		return nil, err
	}
	vc := tcpip.StackConfig{MAC: [6]byte{2, 9, 0, 0, 0, 1}, Addrs: []netip.Prefix{netip.PrefixFrom(w.vmAddr, 16)}, Seed: 2}
	if w.circuit, err = migrate.NewCircuit(migrate.CircuitConfig{Stack: vc}, w.srcHost.Send); err != nil {
		return nil, err
	}
	w.srcHost.SetHandler(w.circuit)
	// The destination's VM stack takes its MAC and addresses from the VM.
	if w.dest, err = migrate.NewDestination(migrate.DestinationConfig{Stack: tcpip.StackConfig{Seed: 3}}, w.dstHost.Send); err != nil {
		return nil, err
	}
	w.dstHost.SetHandler(w.dest)
	for i := range cfg.Sessions {
		port := uint16(40000 + i)
		var derr error
		w.circuit.Do(func(vm *tcpip.Stack) {
			_, derr = vm.Dial(netip.AddrPortFrom(w.vmAddr, port), netip.AddrPortFrom(w.peerAddr, 80))
		})
		if derr != nil {
			return nil, derr
		}
		w.readers[port] = &stream{port: port}
	}
	for deadline := time.Now().Add(5 * time.Second); len(w.senders) < cfg.Sessions; {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("pipeline: migration: %d of %d sessions established", len(w.senders), cfg.Sessions)
		}
		w.round()
		time.Sleep(100 * time.Microsecond)
	}
	return w, nil
}

// vm runs fn with the VM's stack wherever it runs now.
func (w *vmWorld) vm(fn func(vm *tcpip.Stack)) bool { return w.circuit.Do(fn) || w.dest.Do(fn) }

// round lets the peers write, the VM read, and the NICs and hosts run
// until no frame moves.
func (w *vmWorld) round() {
	if !w.stopped {
		for _, s := range w.senders {
			if s.conn.Live() && s.conn.State() == tcpip.Established {
				n := w.cfg.Rate
				for i := range n {
					w.buf[i] = pattern(s.port, s.off+i)
				}
				k, _ := s.conn.Write(w.buf[:n])
				s.crc = crc32.Update(s.crc, crc32.IEEETable, w.buf[:k])
				s.off += k
			}
		}
	}
	w.vm(func(vm *tcpip.Stack) {
		for _, c := range vm.Conns() {
			if r := w.readers[c.Tuple().Src.Port()]; r != nil {
				r.take(c, w.buf)
			}
		}
	})
	for range 64 {
		moved := 0
		for _, n := range []*nicsim.NIC{w.peerNIC, w.srcNIC, w.dstNIC} {
			k, _ := n.Step() // never Started: no ErrRunning
			moved += k
		}
		moved += w.peerHost.Poll() + w.srcHost.Poll() + w.dstHost.Poll()
		if moved == 0 {
			break
		}
	}
}

func (r *stream) take(c *tcpip.Conn, buf []byte) {
	for {
		n, err := c.Read(buf)
		for i := range n {
			if r.bad == 0 && buf[i] != pattern(r.port, r.off+i) {
				r.bad = r.off + i + 1
			}
		}
		r.crc = crc32.Update(r.crc, crc32.IEEETable, buf[:n])
		r.off += n
		if n == 0 || err == io.EOF {
			return
		}
	}
}

// loop runs a round every millisecond until stop is closed.
func (w *vmWorld) loop(stop <-chan struct{}) {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			w.round()
		}
	}
}

// migrate moves the VM to the destination over loopback TCP; it runs in
// its own goroutine while loop goes on, and closes w.done when over. The
// caller sets w.started before it starts the goroutine.
func (w *vmWorld) migrate(ctx context.Context) {
	defer close(w.done)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		w.err = err
		return
	}
	// The destination serves every connection the source opens: after a
	// cut the source comes back on a new one to resume the journal or to
	// settle the migration by its id (see migrate's doc, "Faults").
	serveErr := make(chan error, 1)
	go func() {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var first error
		served := false
		for {
			c, err := ln.Accept()
			if err != nil {
				break // closed once Migrate has returned
			}
			wg.Go(func() {
				err := w.dest.Serve(ctx, c)
				c.Close()
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					served = true
				} else if first == nil {
					first = err
				}
			})
		}
		wg.Wait()
		if served {
			first = nil // a connection cut on the way does not matter once one served
		}
		serveErr <- first
	}()
	dial := func(ctx context.Context) (io.ReadWriteCloser, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", ln.Addr().String())
	}
	hold := time.Duration(w.cfg.Hold)
	w.metrics, w.err = w.circuit.Migrate(ctx, []migrate.Dialer{dial}, migrate.MigrateConfig{
		Phase: func(p migrate.Phase) { w.phase.Store(uint32(p)) },
		Hold: func(ctx context.Context) {
			t := time.NewTimer(hold)
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
			}
		},
	})
	ln.Close()
	if err := <-serveErr; w.err == nil && err != nil && !errors.Is(err, net.ErrClosed) {
		w.err = err
	}
}

// Phase names the migration's phase now.
func (w *vmWorld) Phase() string {
	if w == nil {
		return "off"
	}
	p := w.phase.Load()
	if int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return fmt.Sprintf("phase %d", p)
}

// finish stops the peers' senders, runs rounds until every stream is read
// to its end (at most limit), and reports: a session is lost if its peer
// connection broke or was reset, or its stream is not byte-exact.
func (w *vmWorld) finish(limit time.Duration) *MigrationReport {
	w.stopped = true
	for end := time.Now().Add(limit); time.Now().Before(end); {
		w.round()
		all := true
		for p, r := range w.readers {
			if s := w.senders[p]; s == nil || r.off != s.off {
				all = false
			}
		}
		if all {
			break
		}
		time.Sleep(200 * time.Microsecond)
	}
	m := w.metrics
	rep := &MigrationReport{Ran: w.started.Load(), Sessions: len(w.readers), Downtime: Duration(m.Downtime),
		Hold: Duration(m.Hold), Records: m.RecordsReplayed, Bytes: uint64(m.BytesPreCopy + m.BytesDowntime), Phase: w.Phase(),
		Keepalives: m.KeepalivesAnswered}
	var broken, short, damaged int
	for p, r := range w.readers {
		s := w.senders[p]
		switch {
		case s == nil || s.conn.Err() != nil || s.conn.Stats().ResetReceived:
			broken++
		case r.bad != 0 || r.crc != s.crc && r.off == s.off:
			damaged++
		case r.off != s.off:
			short++
		}
		if s != nil {
			rep.StreamBytes += uint64(s.off)
		}
	}
	rep.SessionsLost = max(broken+damaged+short, m.SessionsLost)
	var notes []string
	if w.err != nil {
		notes = append(notes, w.err.Error())
	}
	if broken+damaged+short > 0 {
		notes = append(notes, fmt.Sprintf("%d sessions broken or reset, %d streams damaged, %d not read to their end within %v",
			broken, damaged, short, limit))
	}
	if m.SessionsLost > 0 {
		notes = append(notes, fmt.Sprintf("the migration counted %d sessions lost", m.SessionsLost))
	}
	rep.Note = strings.Join(notes, "; ")
	return rep
}

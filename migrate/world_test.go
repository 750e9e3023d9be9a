package migrate

import (
	"context"
	"errors"
	"hash/crc32"
	"io"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/nicsim"
	"github.com/ringkit/ringkit/tcpip"
)

// A world is the test bed of a migration, all of it on a simulated clock
// and NICs in Step mode: a peer host whose NIC has two ports, port 0 wired
// to the source host and port 1 to the destination host (as a switch
// would reach both); the source host runs a Circuit with the VM behind
// it, the destination host a Destination. The peer host learns from the
// destination's announcements which port reaches the VM.
//
// The loop advances the clock by one millisecond per round, and not at
// all while frozen: during a migration, simulated time runs only for the
// hold (the transfers run in real time between goroutines; freezing
// simulated time around them gives every run the same timeline: the
// suspension starts when Migrate is called and lasts exactly the hold).
type world struct {
	t     testing.TB
	clock *tcpip.SimClock
	mu    sync.Mutex // held by each round of the loop

	peerNIC, srcNIC, dstNIC    *nicsim.NIC
	peerHost, srcHost, dstHost *tcpip.Host
	peers                      *tcpip.Stack
	circuit                    *Circuit
	dest                       *Destination

	vmAddr, peerAddr netip.Addr
	senders          map[uint16]*sender // by the VM's port
	readers          map[uint16]*reader
	peerWriters      map[uint16]*reader // bytes the VM sent, as the peer reads them
	frozen           atomic.Bool
	holdUntil        atomic.Int64 // unix ns of the simulated clock; 0: no hold
	holdDone         chan struct{}
	vmOff            map[uint16]int // bytes the VM wrote on each session (VM memory: it moves with the VM)
	onRound          func()         // called in each round, under mu, before the applications act
	rate             int            // bytes per session per millisecond from each peer
	vmRate           int            // bytes per session per millisecond from the VM
	readRate         int            // bytes per session per round the VM's applications read (0: all)
	vmSends          bool           // the VM sends its own streams (vmRate), which checkStreams checks
	// paused stops the loop of during: rounds run only where the test
	// calls round itself (from a migration's Phase hook, say).
	paused atomic.Bool
}

type worldConfig struct {
	sessions    int
	rate        int
	vmRate      int
	readRate    int
	journalSize int
	resumeWait  time.Duration     // the destination's ResumeWait
	peer        tcpip.StackConfig // Clock, MAC are set by the world
	vm          tcpip.StackConfig
}

// sender is a peer application writing a deterministic stream.
type sender struct {
	port   uint16
	conn   *tcpip.Conn
	off    int // bytes the connection took
	budget int
	crc    uint32
	stop   bool
}

// reader is an application reading a stream and checking each byte
// against the sender's pattern: a gap, a duplicate or a corruption shows
// as a mismatch at the first byte out of place.
type reader struct {
	port    uint16
	off     int
	crc     uint32
	bad     int // first mismatching offset + 1
	eof     bool
	scratch [64 << 10]byte
}

func pattern(port uint16, off int) byte {
	x := uint32(off)*2654435761 + uint32(port)*40503
	return byte(x>>24) ^ byte(off>>8)
}

func (r *reader) take(c *tcpip.Conn, limit int) {
	for left := limit; limit == 0 || left > 0; {
		buf := r.scratch[:]
		if limit > 0 {
			buf = buf[:min(left, len(buf))]
		}
		n, err := c.Read(buf)
		left -= n
		for i := range n {
			if r.bad == 0 && r.scratch[i] != pattern(r.port, r.off+i) {
				r.bad = r.off + i + 1
			}
		}
		r.crc = crc32.Update(r.crc, crc32.IEEETable, r.scratch[:n])
		r.off += n
		if err == io.EOF {
			r.eof = true
		}
		if n == 0 {
			return
		}
	}
}

// write offers the peer's connection what its budget allows; the budget
// grows by rate for each simulated millisecond (ms is 1 when the clock
// advanced this round), so that the peers send at their rate in simulated
// time, and nothing more while it stands still.
func (s *sender) write(buf []byte, rate, ms int) {
	if s.conn == nil || s.stop || !s.conn.Live() {
		return
	}
	if st := s.conn.State(); st != tcpip.Established && st != tcpip.CloseWait {
		return
	}
	s.budget = min(s.budget+rate*ms, 64<<10)
	n := min(s.budget, len(buf), 8<<10) // a few segments a round: no need to build bytes a shut window refuses
	for i := range n {
		buf[i] = pattern(s.port, s.off+i)
	}
	k, _ := s.conn.Write(buf[:n])
	s.crc = crc32.Update(s.crc, crc32.IEEETable, buf[:k])
	s.off += k
	s.budget -= k
}

var (
	vmMAC   = [6]byte{2, 0, 0, 0, 0, 1}
	peerMAC = [6]byte{2, 0, 0, 0, 0, 2}
	dstMAC  = [6]byte{2, 0, 0, 0, 0, 3}
)

func newNIC(t testing.TB, ports int) *nicsim.NIC {
	pool, err := descriptor.NewPool(descriptor.PoolConfig{Buffers: 16384})
	if err != nil {
		t.Fatal(err)
	}
	n, err := nicsim.New(nicsim.Config{Pool: pool, Ports: ports, Rx: descriptor.RxConfig{Descs: 1024}, Tx: descriptor.TxConfig{Descs: 1024}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// newLink drives queue 0 of p.
func newLink(t testing.TB, p *nicsim.Port) *tcpip.Link {
	l, err := tcpip.NewLink(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func newWorld(t testing.TB, cfg worldConfig) *world {
	w := &world{
		t: t, clock: tcpip.NewSimClock(time.Unix(1_700_000_000, 0)),
		vmAddr: netip.MustParseAddr("10.0.0.10"), peerAddr: netip.MustParseAddr("10.0.1.1"),
		senders: map[uint16]*sender{}, readers: map[uint16]*reader{}, peerWriters: map[uint16]*reader{}, vmOff: map[uint16]int{},
		holdDone: make(chan struct{}), rate: cfg.rate, vmRate: cfg.vmRate, readRate: cfg.readRate, vmSends: cfg.vmRate > 0,
	}
	w.peerNIC, w.srcNIC, w.dstNIC = newNIC(t, 2), newNIC(t, 1), newNIC(t, 1)
	for _, pair := range [][2]*nicsim.Port{{w.peerNIC.Port(0), w.srcNIC.Port(0)}, {w.peerNIC.Port(1), w.dstNIC.Port(0)}} {
		if err := nicsim.Connect(pair[0], pair[1]); err != nil {
			t.Fatal(err)
		}
	}
	w.peerHost = tcpip.NewHost(newLink(t, w.peerNIC.Port(0)), newLink(t, w.peerNIC.Port(1)))
	w.srcHost = tcpip.NewHost(newLink(t, w.srcNIC.Port(0)))
	w.dstHost = tcpip.NewHost(newLink(t, w.dstNIC.Port(0)))

	pc := cfg.peer
	pc.Clock, pc.MAC, pc.Seed = w.clock, peerMAC, 1
	pc.Addrs = []netip.Prefix{netip.PrefixFrom(w.peerAddr, 16)}
	var err error
	if w.peers, err = tcpip.NewStack(pc, w.peerHost.Send); err != nil {
		t.Fatal(err)
	}
	w.peerHost.SetHandler(w.peers)
	accept := func(c *tcpip.Conn) {
		p := c.Tuple().Dst.Port()
		w.senders[p] = &sender{port: p, conn: c}
		w.peerWriters[p] = &reader{port: p}
	}
	if err := w.peers.Listen(netip.AddrPortFrom(w.peerAddr, 80), accept); err != nil {
		t.Fatal(err)
	}
	vc := cfg.vm
	vc.Clock, vc.MAC, vc.Seed = w.clock, vmMAC, 2
	vc.Addrs = []netip.Prefix{netip.PrefixFrom(w.vmAddr, 16)}
	if w.circuit, err = NewCircuit(CircuitConfig{Stack: vc, JournalSize: cfg.journalSize}, w.srcHost.Send); err != nil {
		t.Fatal(err)
	}
	w.srcHost.SetHandler(w.circuit)
	dc := vc // the VM's MAC and addresses come with it
	dc.MAC, dc.Addrs, dc.Seed = dstMAC, nil, 3
	if w.dest, err = NewDestination(DestinationConfig{Stack: dc, ResumeWait: cfg.resumeWait}, w.dstHost.Send); err != nil {
		t.Fatal(err)
	}
	w.dstHost.SetHandler(w.dest)

	for i := range cfg.sessions {
		w.dial(uint16(40000 + i))
	}
	w.run(20 * time.Millisecond)
	for p := range w.readers {
		if s := w.senders[p]; s == nil || s.conn.State() != tcpip.Established {
			t.Fatalf("session on port %d not established", p)
		}
	}
	return w
}

// dial opens a session from the VM to the peers (inside a round).
func (w *world) dial(port uint16) {
	w.vm(func(vm *tcpip.Stack) {
		if _, err := vm.Dial(netip.AddrPortFrom(w.vmAddr, port), netip.AddrPortFrom(w.peerAddr, 80)); err != nil {
			w.t.Fatal(err)
		}
	})
	w.readers[port] = &reader{port: port}
}

// vm runs fn with the VM's stack wherever it runs; false if it runs
// nowhere (suspended or moving).
func (w *world) vm(fn func(vm *tcpip.Stack)) bool {
	return w.circuit.Do(fn) || w.dest.Do(fn)
}

// round is one simulated millisecond (none while frozen): the NICs and
// hosts run until no frame moves, then the applications act.
func (w *world) round() {
	w.mu.Lock()
	defer w.mu.Unlock()
	ms := 0
	if !w.frozen.Load() {
		w.clock.Advance(time.Millisecond)
		ms = 1
	}
	if h := w.holdUntil.Load(); h != 0 && !w.clock.Now().Before(time.Unix(0, h)) {
		w.holdUntil.Store(0)
		w.frozen.Store(true) // until the migration ends
		close(w.holdDone)
	}
	if w.onRound != nil {
		w.onRound()
	}
	var buf [64 << 10]byte
	for s := range w.senders {
		w.senders[s].write(buf[:], w.rate, ms)
	}
	w.vm(func(vm *tcpip.Stack) {
		for _, c := range vm.Conns() {
			p := c.Tuple().Src.Port()
			if r := w.readers[p]; r != nil {
				r.take(c, w.readRate)
			}
			if w.vmRate > 0 && c.State() == tcpip.Established {
				s := &sender{port: p + 10000, conn: c}
				w.vmSend(s, buf[:])
			}
		}
	})
	for i := 0; i < 64; i++ {
		moved := 0
		for _, n := range []*nicsim.NIC{w.peerNIC, w.srcNIC, w.dstNIC} {
			k, err := n.Step()
			if err != nil {
				w.t.Fatal(err)
			}
			moved += k
		}
		moved += w.peerHost.Poll() + w.srcHost.Poll() + w.dstHost.Poll()
		if moved == 0 {
			break
		}
	}
	for p, s := range w.senders {
		if r := w.peerWriters[p]; r != nil && s.conn != nil {
			r.port = p + 10000
			r.take(s.conn, 0)
		}
	}
}

func (w *world) vmSend(s *sender, buf []byte) {
	off := w.vmOff[s.port]
	for i := range w.vmRate {
		buf[i] = pattern(s.port, off+i)
	}
	k, _ := s.conn.Write(buf[:w.vmRate])
	w.vmOff[s.port] = off + k
}

func (w *world) run(d time.Duration) {
	end := w.clock.Now().Add(d)
	for w.clock.Now().Before(end) {
		w.round()
	}
}

// migrate runs a migration in its own goroutine while the loop goes on,
// with the VM held suspended for hold of simulated time, and returns its
// result once it is over. killed reports that the migration's goroutine
// died before Migrate returned (runtime.Goexit in a hook, as a process is
// killed).
func (w *world) migrate(ctx context.Context, hold time.Duration, dests []Dialer, cfg MigrateConfig) (m Metrics, err error) {
	m, _, err = w.migrateOrKill(ctx, hold, dests, cfg)
	return m, err
}

func (w *world) migrateOrKill(ctx context.Context, hold time.Duration, dests []Dialer, cfg MigrateConfig) (m Metrics, killed bool, err error) {
	phase := cfg.Phase
	cfg.Phase = func(p Phase) {
		if p == PhasePreCopy {
			w.frozen.Store(true) // until the hold
		}
		if phase != nil {
			phase(p)
		}
	}
	hook := cfg.Hold
	cfg.Hold = func(ctx context.Context) {
		if hook != nil {
			hook(ctx)
		}
		w.holdUntil.Store(w.clock.Now().Add(hold).UnixNano())
		w.frozen.Store(false)
		select {
		case <-w.holdDone:
		case <-ctx.Done():
		}
	}
	killed = true
	w.during(func() {
		m, err = w.circuit.Migrate(ctx, dests, cfg)
		killed = false
	})
	return m, killed, err
}

// during runs fn in a goroutine of its own while the loop goes on, and
// returns once that goroutine has ended, whether fn returned or the
// goroutine died in it (runtime.Goexit). Simulated time stands still
// from the end of a hold to the end of fn.
func (w *world) during(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	for {
		select {
		case <-done:
			w.frozen.Store(false)
			return
		default:
			if w.paused.Load() {
				time.Sleep(20 * time.Microsecond)
				continue
			}
			w.round()
			if w.frozen.Load() {
				time.Sleep(20 * time.Microsecond)
			}
		}
	}
}

// serve returns a Dialer to d, each connection served by a goroutine of
// the destination's own (its context is not the dialer's), and a function
// that waits for them all.
func serve(d *Destination, wrap func(io.ReadWriteCloser) io.ReadWriteCloser) (Dialer, func() error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var serveErr error
	dial := func(ctx context.Context) (io.ReadWriteCloser, error) {
		a, b := newPipe()
		wg.Add(1)
		go func() {
			defer wg.Done()
			var conn io.ReadWriteCloser = b
			if wrap != nil {
				conn = wrap(b)
			}
			defer conn.Close() // also when the goroutine dies: a process's connections close with it
			err := d.Serve(context.Background(), conn)
			mu.Lock()
			serveErr = errors.Join(serveErr, err)
			mu.Unlock()
		}()
		return a, nil
	}
	return dial, func() error { wg.Wait(); return serveErr }
}

// drain stops the peers' senders and runs until every stream is read to
// its end, or limit passes.
func (w *world) drain(limit time.Duration) {
	for _, s := range w.senders {
		s.stop = true
	}
	w.readRate, w.vmRate = 0, 0
	end := w.clock.Now().Add(limit)
	for w.clock.Now().Before(end) {
		w.round()
		all := true
		for p, r := range w.readers {
			if s := w.senders[p]; s == nil || r.off != s.off {
				all = false
			}
			if r := w.peerWriters[p]; r != nil && w.vmSends && r.off != w.vmOff[p+10000] {
				all = false
			}
		}
		if all {
			return
		}
	}
}

// checkStreams checks every stream byte for byte and every peer
// connection alive and never reset.
func (w *world) checkStreams() {
	t := w.t
	t.Helper()
	for p, r := range w.readers {
		s := w.senders[p]
		switch {
		case s == nil:
			t.Errorf("port %d: no peer connection", p)
		case r.bad != 0:
			t.Errorf("port %d: byte %d out of place (a gap, a duplicate or damage)", p, r.bad-1)
		case r.off != s.off || r.crc != s.crc:
			t.Errorf("port %d: VM read %d bytes crc %08x, peer sent %d crc %08x", p, r.off, r.crc, s.off, s.crc)
		}
		if pr := w.peerWriters[p]; pr != nil && w.vmSends && (pr.bad != 0 || pr.off != w.vmOff[p+10000]) {
			t.Errorf("port %d: the peer read %d bytes of the VM's %d (first out of place: %d)", p, pr.off, w.vmOff[p+10000], pr.bad-1)
		}
		if s != nil && s.conn.Err() != nil {
			t.Errorf("port %d: peer connection lost: %v", p, s.conn.Err())
		}
		if s != nil && s.conn.Stats().ResetReceived {
			t.Errorf("port %d: peer received a reset", p)
		}
	}
	if st := w.peers.Stats(); st.PAWSDropped != 0 || st.ResetsSent != 0 {
		t.Errorf("peers: %d segments dropped by PAWS, %d resets sent", st.PAWSDropped, st.ResetsSent)
	}
}

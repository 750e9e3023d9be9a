package tcpip

import (
	"errors"
	"hash/crc32"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/ringkit/ringkit/descriptor"
	eth "github.com/ringkit/ringkit/frame"
	"github.com/ringkit/ringkit/nicsim"
)

// A pair is the test bed of the endpoint: a VM host and a peer host, each
// a one-port nicsim NIC driven by a Host running a Stack, wired to each
// other, on a simulated clock with the NICs in Step mode. The VM dials
// sessions to the peer's listener; the peer's applications write a
// deterministic stream on each at a steady rate; the VM's application
// reads and checks every byte.
type pair struct {
	t                testing.TB
	clock            *SimClock
	vmNIC, peerNIC   *nicsim.NIC
	vmHost, peerHost *Host
	vm, peer         *Stack
	vmAddr, peerAddr netip.Addr
	senders          map[uint16]*sender // by the VM's port
	readers          map[uint16]*reader
	rate             int // bytes per session per millisecond from each peer
	// tap, when set, sees every frame a stack sends ("vm" or "peer").
	tap func(from string, f []byte)
}

type pairConfig struct {
	sessions int
	rate     int
	vm, peer StackConfig // Clock, MAC, Addrs and Seed are set by the pair
}

var (
	vmMAC   = [6]byte{2, 0, 0, 0, 0, 1}
	peerMAC = [6]byte{2, 0, 0, 0, 0, 2}
)

// sender is a peer application writing a deterministic stream.
type sender struct {
	port   uint16
	conn   *Conn
	off    int // bytes the connection took
	budget int
	crc    uint32
}

// reader is an application reading a stream and checking each byte
// against the sender's pattern: a gap, a duplicate or a corruption shows
// as a mismatch at the first byte out of place.
type reader struct {
	port uint16
	off  int
	crc  uint32
	bad  int // first mismatching offset + 1
	buf  [64 << 10]byte
}

func pattern(port uint16, off int) byte {
	x := uint32(off)*2654435761 + uint32(port)*40503
	return byte(x>>24) ^ byte(off>>8)
}

func (r *reader) take(c *Conn) {
	for {
		n, _ := c.Read(r.buf[:])
		for i := range n {
			if r.bad == 0 && r.buf[i] != pattern(r.port, r.off+i) {
				r.bad = r.off + i + 1
			}
		}
		r.crc = crc32.Update(r.crc, crc32.IEEETable, r.buf[:n])
		r.off += n
		if n == 0 {
			return
		}
	}
}

func (s *sender) write(buf []byte, rate int) {
	if s.conn == nil || !s.conn.Live() || s.conn.State() != Established {
		return
	}
	s.budget = min(s.budget+rate, 64<<10)
	n := min(s.budget, len(buf), 8<<10)
	for i := range n {
		buf[i] = pattern(s.port, s.off+i)
	}
	k, _ := s.conn.Write(buf[:n])
	s.crc = crc32.Update(s.crc, crc32.IEEETable, buf[:k])
	s.off += k
	s.budget -= k
}

func newTestNIC(t testing.TB) *nicsim.NIC {
	pool, err := descriptor.NewPool(descriptor.PoolConfig{Buffers: 8192})
	if err != nil {
		t.Fatal(err)
	}
	n, err := nicsim.New(nicsim.Config{Pool: pool, Ports: 1, Rx: descriptor.RxConfig{Descs: 1024}, Tx: descriptor.TxConfig{Descs: 1024}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func newTestLink(t testing.TB, p *nicsim.Port) *Link {
	l, err := NewLink(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func newPair(t testing.TB, cfg pairConfig) *pair {
	return newPairTapped(t, cfg, nil)
}

func newPairTapped(t testing.TB, cfg pairConfig, tap func(from string, f []byte)) *pair {
	w := &pair{t: t, clock: NewSimClock(time.Unix(1_700_000_000, 0)),
		vmAddr: netip.MustParseAddr("10.0.0.10"), peerAddr: netip.MustParseAddr("10.0.0.1"),
		senders: map[uint16]*sender{}, readers: map[uint16]*reader{}, rate: cfg.rate, tap: tap}
	w.vmNIC, w.peerNIC = newTestNIC(t), newTestNIC(t)
	if err := nicsim.Connect(w.vmNIC.Port(0), w.peerNIC.Port(0)); err != nil {
		t.Fatal(err)
	}
	w.vmHost, w.peerHost = NewHost(newTestLink(t, w.vmNIC.Port(0))), NewHost(newTestLink(t, w.peerNIC.Port(0)))
	pc := cfg.peer
	pc.Clock, pc.MAC, pc.Seed = w.clock, peerMAC, 1
	pc.Addrs = []netip.Prefix{netip.PrefixFrom(w.peerAddr, 24)}
	var err error
	if w.peer, err = NewStack(pc, w.tapped("peer", w.peerHost)); err != nil {
		t.Fatal(err)
	}
	w.peerHost.SetHandler(w.peer)
	vc := cfg.vm
	vc.Clock, vc.MAC, vc.Seed = w.clock, vmMAC, 2
	vc.Addrs = []netip.Prefix{netip.PrefixFrom(w.vmAddr, 24)}
	if w.vm, err = NewStack(vc, w.tapped("vm", w.vmHost)); err != nil {
		t.Fatal(err)
	}
	w.vmHost.SetHandler(w.vm)
	accept := func(c *Conn) {
		p := c.Tuple().Dst.Port()
		w.senders[p] = &sender{port: p, conn: c}
	}
	if err := w.peer.Listen(netip.AddrPortFrom(w.peerAddr, 80), accept); err != nil {
		t.Fatal(err)
	}
	for i := range cfg.sessions {
		port := uint16(40000 + i)
		if _, err := w.vm.Dial(netip.AddrPortFrom(w.vmAddr, port), netip.AddrPortFrom(w.peerAddr, 80)); err != nil {
			t.Fatal(err)
		}
		w.readers[port] = &reader{port: port}
	}
	w.run(20 * time.Millisecond)
	for p := range w.readers {
		if s := w.senders[p]; s == nil || s.conn.State() != Established {
			t.Fatalf("session on port %d not established", p)
		}
	}
	return w
}

// tapped is h.Send, shown to the tap first.
func (w *pair) tapped(from string, h *Host) func([]byte) {
	return func(f []byte) {
		if w.tap != nil {
			w.tap(from, f)
		}
		h.Send(f)
	}
}

// round is one simulated millisecond: the peers write, the VM reads, and
// the NICs and hosts run until no frame moves.
func (w *pair) round() {
	w.clock.Advance(time.Millisecond)
	var buf [8 << 10]byte
	for _, s := range w.senders {
		s.write(buf[:], w.rate)
	}
	for _, c := range w.vm.Conns() {
		if r := w.readers[c.Tuple().Src.Port()]; r != nil {
			r.take(c)
		}
	}
	for range 64 {
		moved := 0
		for _, n := range []*nicsim.NIC{w.vmNIC, w.peerNIC} {
			k, err := n.Step()
			if err != nil {
				w.t.Fatal(err)
			}
			moved += k
		}
		moved += w.vmHost.Poll() + w.peerHost.Poll()
		if moved == 0 {
			break
		}
	}
}

func (w *pair) run(d time.Duration) {
	for end := w.clock.Now().Add(d); w.clock.Now().Before(end); {
		w.round()
	}
}

// drain stops the peers' senders and runs until every stream is read to
// its end, or limit passes.
func (w *pair) drain(limit time.Duration) {
	w.rate = 0
	for end := w.clock.Now().Add(limit); w.clock.Now().Before(end); {
		w.round()
		all := true
		for p, r := range w.readers {
			if s := w.senders[p]; s == nil || r.off != s.off {
				all = false
			}
		}
		if all {
			return
		}
	}
}

// checkStreams checks every stream byte for byte and every connection
// alive.
func (w *pair) checkStreams() {
	t := w.t
	t.Helper()
	for p, r := range w.readers {
		s := w.senders[p]
		switch {
		case s == nil:
			t.Errorf("port %d: no peer connection", p)
		case r.bad != 0:
			t.Errorf("port %d: byte %d out of place", p, r.bad-1)
		case r.off != s.off || r.crc != s.crc:
			t.Errorf("port %d: VM read %d bytes crc %08x, peer sent %d crc %08x", p, r.off, r.crc, s.off, s.crc)
		}
		if s != nil && (s.conn.Err() != nil || s.conn.Stats().ResetReceived) {
			t.Errorf("port %d: peer connection lost: %v", p, s.conn.Err())
		}
	}
	if st := w.peer.Stats(); st.PAWSDropped != 0 || st.ResetsSent != 0 {
		t.Errorf("peer: %d segments dropped by PAWS, %d resets sent", st.PAWSDropped, st.ResetsSent)
	}
}

// A connection that closed first waits in TIME_WAIT for StackConfig.TimeWait,
// acknowledging its peer's FIN sent again (which restarts the wait), then
// closes with what it received still there to read; its address pair may
// then be dialed again, and the new connection carries a stream. Before the
// wait is over, the pair is refused.
func TestTimeWaitEnds(t *testing.T) {
	const wait = 5 * time.Second
	w := newPair(t, pairConfig{sessions: 1, rate: 64, vm: StackConfig{TimeWait: wait}})
	w.run(20 * time.Millisecond)
	w.drain(time.Second)
	local, remote := netip.AddrPortFrom(w.vmAddr, 40000), netip.AddrPortFrom(w.peerAddr, 80)
	vc := w.vm.Conns()[0]
	if err := vc.Close(); err != nil { // the VM closes first
		t.Fatal(err)
	}
	w.run(10 * time.Millisecond)
	s := w.senders[40000]
	if err := s.conn.Close(); err != nil {
		t.Fatal(err)
	}
	w.run(10 * time.Millisecond)
	if vc.State() != TimeWait {
		t.Fatalf("VM's side %v after both FINs, want TIME_WAIT", vc.State())
	}
	if _, err := w.vm.Dial(local, remote); !errors.Is(err, ErrConnState) {
		t.Fatalf("dial of a pair in TIME_WAIT: %v, want ErrConnState", err)
	}
	// Halfway, the peer's FIN comes again: acknowledged, and the wait
	// starts over.
	w.run(wait / 2)
	fin := eth.Spec{DstMAC: vmMAC, SrcMAC: peerMAC, Src: w.peerAddr, Dst: w.vmAddr, Proto: eth.ProtoTCP, SrcPort: 80, DstPort: 40000,
		Seq: vc.Session().RcvNxt - 1, Ack: vc.Session().SndNxt, TCPFlags: eth.TCPAck | eth.TCPFin}
	acks := w.vm.Stats().SegmentsOut
	w.vm.Input(eth.Build(nil, &fin))
	if w.vm.Stats().SegmentsOut == acks {
		t.Error("the FIN sent again in TIME_WAIT was not acknowledged")
	}
	w.run(wait/2 + 100*time.Millisecond)
	if vc.State() != TimeWait {
		t.Fatalf("VM's side %v %v after the FIN came again, want TIME_WAIT still", vc.State(), wait/2)
	}
	w.run(wait / 2)
	if vc.State() != Closed || vc.Err() != nil {
		t.Fatalf("VM's side %v (err %v) after TIME_WAIT, want CLOSED", vc.State(), vc.Err())
	}
	if r := w.readers[40000]; r.off != s.off {
		t.Fatalf("VM read %d of %d bytes", r.off, s.off)
	}
	if _, err := vc.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read after TIME_WAIT: %v, want EOF", err)
	}
	for _, c := range w.vm.Export() {
		t.Errorf("exported after TIME_WAIT: session %d in %v", c.ID, c.State)
	}
	// The pair again: a new connection, a new stream.
	nc, err := w.vm.Dial(local, remote)
	if err != nil {
		t.Fatalf("dial after TIME_WAIT: %v", err)
	}
	w.readers[40000] = &reader{port: 40000}
	w.rate = 64
	w.run(20 * time.Millisecond)
	if nc.State() != Established || w.senders[40000].conn == s.conn {
		t.Fatalf("the new connection is %v, a new peer connection %v", nc.State(), w.senders[40000].conn != s.conn)
	}
	w.run(50 * time.Millisecond)
	w.drain(time.Second)
	w.checkStreams()
	if w.senders[40000].off == 0 {
		t.Error("no bytes on the new connection")
	}
}

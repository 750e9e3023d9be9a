//go:build linux

package migrate_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/internal/seqnum"
	"github.com/ringkit/ringkit/internal/wait"
	"github.com/ringkit/ringkit/linuxport"
	"github.com/ringkit/ringkit/linuxport/netns"
	"github.com/ringkit/ringkit/migrate"
	"github.com/ringkit/ringkit/tcpip"
)

// The kernel bed: one network namespace made for the test, holding the
// Linux kernel's TCP stack (the peers) on a bridge, br0, with the peers'
// address, and two TAP devices on the bridge, one for each host of the
// VM: the source host runs a Circuit on its TAP, the destination host a
// Destination on its own. The bridge learns, as a top-of-rack switch does,
// which TAP reaches the VM's MAC, and learns it again from the
// destination's announcement after the move. The hosts move the VM over a
// Unix socket in the test's temporary directory: nothing leaves the
// namespace, and the machine's own interfaces carry nothing.
var (
	kPeerAddr = netip.MustParsePrefix("198.18.5.1/24")
	kVMAddr   = netip.MustParseAddr("198.18.5.10")
	kVMMAC    = [6]byte{2, 0, 0, 0, 5, 10}
)

const (
	kVMListen   = 80   // the VM's server port
	kPeerListen = 9000 // the kernel's server port
)

// kernelConfig shapes one run on the bed.
type kernelConfig struct {
	conns    int                                                     // connections: the first half dialed by the kernel, the rest by the VM
	bytes    int                                                     // each way on each connection, but the short ones
	short    int                                                     // each way on about one connection in eight (streamLen)
	rate     int                                                     // bytes per second each side sends on each connection
	hold     time.Duration                                           // suspension before the journal is sealed
	wrap     func(conn int, c io.ReadWriteCloser) io.ReadWriteCloser // the source's n-th migration connection
	dialers  int                                                     // the destination, listed this many times (1)
	deadline time.Duration                                           // for the streams to end after the migration
}

type kernelBed struct {
	t     *testing.T
	cfg   kernelConfig
	ns    *netns.NS
	ctx   context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup
	pools []*descriptor.Pool
	taps  []*linuxport.TAP
	links []*tcpip.Link

	circuit *migrate.Circuit
	dest    *migrate.Destination
	vm      *vmApp
	wire    *wireWatch
	before  netns.Counters

	sock     string // the destination's migration socket
	ln       net.Listener
	serveMu  sync.Mutex
	serveErr []error

	kstreams []*kernelStream
	kerrs    chan error
}

func newKernelBed(t *testing.T, cfg kernelConfig) *kernelBed {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: makes a network namespace, a bridge and TAP devices for the kernel's TCP peers")
	}
	if cfg.dialers == 0 {
		cfg.dialers = 1
	}
	ns, err := netns.New("kmig")
	if errors.Is(err, netns.ErrPermission) || errors.Is(err, netns.ErrUnsupported) {
		t.Skipf("the kernel refuses a network namespace: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	b := &kernelBed{t: t, cfg: cfg, ns: ns, wire: &wireWatch{last: map[[2]uint16]uint32{}}, kerrs: make(chan error, 4*cfg.conns)}
	b.ctx, b.stop = context.WithCancel(context.Background())
	t.Cleanup(b.close)
	if err := ns.AddBridge("br0"); err != nil {
		t.Fatal(err)
	}
	if err := ns.AddAddr("br0", kPeerAddr); err != nil {
		t.Fatal(err)
	}
	b.vm = newVMApp(cfg)

	vmCfg := tcpip.StackConfig{MAC: kVMMAC, Addrs: []netip.Prefix{netip.PrefixFrom(kVMAddr, kPeerAddr.Bits())}}
	srcTAP, srcHost := b.host("rksrc")
	b.circuit, err = migrate.NewCircuit(migrate.CircuitConfig{Stack: vmCfg, JournalSize: 16 << 20}, b.wire.out("source", srcHost.Send))
	if err != nil {
		t.Fatal(err)
	}
	srcHost.SetHandler(b.wire.in(b.circuit))
	dstTAP, dstHost := b.host("rkdst")
	dc := vmCfg
	dc.MAC, dc.Addrs = [6]byte{2, 0, 0, 0, 5, 99}, nil // the VM's come with it
	b.dest, err = migrate.NewDestination(migrate.DestinationConfig{Stack: dc}, b.wire.out("destination", dstHost.Send))
	if err != nil {
		t.Fatal(err)
	}
	dstHost.SetHandler(b.wire.in(b.dest))
	b.run(srcTAP, srcHost, func() { b.circuit.Do(func(vm *tcpip.Stack) { b.vm.step("source", vm) }) })
	b.run(dstTAP, dstHost, func() { b.dest.Do(func(vm *tcpip.Stack) { b.vm.step("destination", vm) }) })

	b.sock = filepath.Join(t.TempDir(), "migrate.sock")
	if b.ln, err = net.Listen("unix", b.sock); err != nil {
		t.Fatal(err)
	}
	b.wg.Add(1)
	go b.serve()
	if b.before, err = ns.Counters(); err != nil {
		t.Fatal(err)
	}
	return b
}

// host opens a TAP on the bridge and a host over it.
func (b *kernelBed) host(name string) (*linuxport.TAP, *tcpip.Host) {
	t := b.t
	pool, err := descriptor.NewPool(descriptor.PoolConfig{Buffers: 8192})
	if err != nil {
		t.Fatal(err)
	}
	b.pools = append(b.pools, pool)
	tap, err := linuxport.OpenTAP(name, linuxport.TAPConfig{Pool: pool, NS: b.ns,
		Rx: descriptor.RxConfig{Descs: 1024}, Tx: descriptor.TxConfig{Descs: 4096}})
	if errors.Is(err, linuxport.ErrPermission) || errors.Is(err, linuxport.ErrUnsupported) {
		t.Skipf("the kernel refuses a TAP device: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	b.taps = append(b.taps, tap)
	if err := b.ns.SetMaster(name, "br0"); err != nil {
		t.Fatal(err)
	}
	link, err := tcpip.NewLink(tap, 0)
	if err != nil {
		t.Fatal(err)
	}
	b.links = append(b.links, link)
	return tap, tcpip.NewHost(link)
}

// run drives a host on a goroutine of its own until the bed closes: the
// TAP's rounds, the host's poll (frames to the handler, its timers), then
// the VM's application if the VM runs there.
func (b *kernelBed) run(tap *linuxport.TAP, h *tcpip.Host, app func()) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		_ = wait.Loop(b.ctx, nil, 200*time.Microsecond, func() (int, error) {
			n := 0
			for range 64 { // until the TAP's queue is drained, or a bound
				k, err := tap.Step()
				if err != nil {
					return 0, err
				}
				k += h.Poll()
				n += k
				if k == 0 {
					break
				}
			}
			app()
			k, err := tap.Step() // what the application sent
			return n + k, err
		})
	}()
}

// serve takes the source's migration connections, each in a Serve of its
// own (a resumed journal transfer comes on a new one).
func (b *kernelBed) serve() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			err := b.dest.Serve(b.ctx, c)
			c.Close()
			b.serveMu.Lock()
			b.serveErr = append(b.serveErr, err)
			b.serveMu.Unlock()
		}()
	}
}

func (b *kernelBed) close() {
	b.stop()
	if b.ln != nil {
		b.ln.Close()
	}
	for _, s := range b.kstreams {
		s.conn.Close()
	}
	b.wg.Wait()
	for _, tap := range b.taps {
		if err := tap.Close(); err != nil {
			b.t.Error(err)
		}
	}
	for _, p := range b.pools {
		if st := p.Stats(); st.InUse != 0 || st.Free+st.Cached != st.Buffers {
			b.t.Errorf("pool not full after the TAPs closed: %+v", st)
		}
	}
	if err := b.ns.Close(); err != nil {
		b.t.Error(err)
	}
	if netns.Held(b.ns.ID(), 2*time.Second) {
		b.t.Errorf("%v still held", b.ns)
	}
}

// connect makes the connections: the kernel dials the VM's server on the
// first half, the VM dials the kernel's on the rest, and the kernel's side
// of each starts streaming.
func (b *kernelBed) connect() {
	t := b.t
	var ln net.Listener
	if err := b.ns.Do(func() (err error) {
		ln, err = net.Listen("tcp4", netip.AddrPortFrom(kPeerAddr.Addr(), kPeerListen).String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	b.circuit.Do(func(vm *tcpip.Stack) { b.vm.listen(vm) })
	dialed := b.cfg.conns / 2
	var conns []net.Conn
	if err := b.ns.Do(func() error {
		d := net.Dialer{Timeout: 5 * time.Second}
		for range dialed {
			c, err := d.Dial("tcp4", netip.AddrPortFrom(kVMAddr, kVMListen).String())
			if err != nil {
				return err
			}
			conns = append(conns, c)
		}
		return nil
	}); err != nil {
		t.Fatalf("the kernel dials the VM: %v", err)
	}
	for i := range b.cfg.conns - dialed {
		var err error
		b.circuit.Do(func(vm *tcpip.Stack) {
			_, err = vm.Dial(netip.AddrPortFrom(kVMAddr, uint16(41000+i)), netip.AddrPortFrom(kPeerAddr.Addr(), kPeerListen))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	_ = ln.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
	for range b.cfg.conns - dialed {
		c, err := ln.Accept()
		if err != nil {
			t.Fatalf("the VM dials the kernel: %v", err)
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		s := newKernelStream(c, b.cfg)
		b.kstreams = append(b.kstreams, s)
		b.wg.Add(2)
		go func() { defer b.wg.Done(); b.kerrs <- s.write(b.ctx) }()
		go func() { defer b.wg.Done(); b.kerrs <- s.read() }()
	}
}

// migrate moves the VM to the destination with the bed's hold.
func (b *kernelBed) migrate() (migrate.Metrics, error) {
	var n atomic.Int32
	dial := func(ctx context.Context) (io.ReadWriteCloser, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "unix", b.sock)
		if err != nil || b.cfg.wrap == nil {
			return c, err
		}
		return b.cfg.wrap(int(n.Add(1))-1, c), nil
	}
	dests := make([]migrate.Dialer, b.cfg.dialers)
	for i := range dests {
		dests[i] = dial
	}
	return b.circuit.Migrate(b.ctx, dests, migrate.MigrateConfig{
		Hold: func(ctx context.Context) {
			select {
			case <-time.After(b.cfg.hold):
			case <-ctx.Done():
			}
		},
		Deadline: 5 * time.Second,
	})
}

// finish waits for every stream to end both ways and checks what the
// kernel, the VM and the wire saw.
func (b *kernelBed) finish() {
	t := b.t
	end := time.After(b.cfg.deadline)
	for range 2 * len(b.kstreams) {
		select {
		case err := <-b.kerrs:
			if err != nil {
				t.Error(err)
			}
		case <-end:
			t.Fatalf("streams not done within %v: kernel %v; VM %v", b.cfg.deadline, b.kernelProgress(), b.vm)
		}
	}
	for !b.vm.done() {
		select {
		case <-end:
			t.Fatalf("the VM's streams not done within %v: %v", b.cfg.deadline, b.vm)
		case <-time.After(5 * time.Millisecond):
		}
	}
	if err := b.vm.err(); err != nil {
		t.Error(err)
	}
	after, err := b.ns.Counters()
	if err != nil {
		t.Fatal(err)
	}
	tcp := after.Sub(b.before).TCP()
	t.Logf("the kernel's TCP: %v", tcp)
	if !tcp.Clean() {
		t.Errorf("the kernel aborted, reset or rejected: %v", tcp)
	}
	if want := int64(b.cfg.conns); tcp.ActiveOpens+tcp.PassiveOpens != want {
		t.Errorf("the kernel opened %d connections, want %d", tcp.ActiveOpens+tcp.PassiveOpens, want)
	}
	for i, name := range []string{"rksrc", "rkdst"} {
		l, _ := b.ns.Link(name)
		t.Logf("%s: the kernel sent %d frames into it and dropped %d; the host dropped %d for a full TX ring",
			name, l.TxPackets, l.TxDropped, b.links[i].TxDropped)
	}
	cs := b.circuit.Stats()
	t.Logf("source: %d frames for the VM dropped while nobody answered; the circuit's stack took %d segments out of order",
		cs.Dropped, cs.Stack.OutOfOrder)
	b.dest.Do(func(vm *tcpip.Stack) {
		st := vm.Stats()
		t.Logf("destination: %d segments in, %d out, %d retransmitted, %d out of order", st.SegmentsIn, st.SegmentsOut, st.Retransmits, st.OutOfOrder)
	})
	if err := b.wire.err(); err != nil {
		t.Error(err)
	}
	if b.wire.frames.Load() == 0 {
		t.Error("no TCP frame from the VM seen")
	}
}

func (b *kernelBed) kernelProgress() string {
	var rd, wr int
	for _, s := range b.kstreams {
		rd += int(s.rd.Load())
		wr += int(s.wr.Load())
	}
	return fmt.Sprintf("%d connections, %d bytes read, %d written", len(b.kstreams), rd, wr)
}

// streamLen is how many bytes each side sends on connection key: short
// on about one in eight, so that those connections are over, both ends
// closed (the VM's in TIME_WAIT, or the kernel's), when the VM moves.
func (c kernelConfig) streamLen(key uint32) int {
	if key*2654435761>>29 == 0 {
		return c.short
	}
	return c.bytes
}

// streamKey names a connection the same on both sides: the VM's port and
// the kernel's.
func streamKey(vmPort, peerPort uint16) uint32 { return uint32(vmPort)<<16 | uint32(peerPort) }

// kpattern is byte off of the stream key sends toward the VM (toVM) or
// from it.
func kpattern(key uint32, toVM bool, off int) byte {
	x := uint32(off)*2654435761 + key*40503
	if toVM {
		x ^= 0x5bd1e995
	}
	return byte(x>>24) ^ byte(off>>8)
}

// kernelStream is the kernel's side of one connection: a paced writer of
// its stream, a reader checking the VM's.
type kernelStream struct {
	conn   net.Conn
	key    uint32
	cfg    kernelConfig
	rd, wr atomic.Int64
	eof    chan struct{} // closed when the VM's stream has ended
}

func newKernelStream(c net.Conn, cfg kernelConfig) *kernelStream {
	la, ra := c.LocalAddr().(*net.TCPAddr), c.RemoteAddr().(*net.TCPAddr)
	vmPort, peerPort := uint16(ra.Port), uint16(la.Port)
	return &kernelStream{conn: c, key: streamKey(vmPort, peerPort), cfg: cfg, eof: make(chan struct{})}
}

func (s *kernelStream) write(ctx context.Context) error {
	buf := make([]byte, 16<<10)
	start := time.Now()
	size := s.cfg.streamLen(s.key)
	for off := 0; off < size; {
		// Pace: no further ahead than rate allows since the start.
		ahead := off - int(float64(s.cfg.rate)*time.Since(start).Seconds())
		if ahead > 0 {
			select {
			case <-time.After(time.Duration(float64(ahead) / float64(s.cfg.rate) * float64(time.Second))):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		n := min(len(buf), size-off)
		for i := range n {
			buf[i] = kpattern(s.key, true, off+i)
		}
		if _, err := s.conn.Write(buf[:n]); err != nil {
			return fmt.Errorf("kernel stream %08x: write at %d: %w", s.key, off, err)
		}
		off += n
		s.wr.Store(int64(off))
	}
	if size == s.cfg.short {
		// On a short stream the kernel closes second: its socket is gone
		// as soon as its FIN is acknowledged, while the VM waits in
		// TIME_WAIT, and moves so.
		select {
		case <-s.eof:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := s.conn.(*net.TCPConn).CloseWrite(); err != nil {
		return fmt.Errorf("kernel stream %08x: close write: %w", s.key, err)
	}
	return nil
}

func (s *kernelStream) read() error {
	buf := make([]byte, 32<<10)
	off := 0
	for {
		n, err := s.conn.Read(buf)
		for i := range n {
			if buf[i] != kpattern(s.key, false, off+i) {
				return fmt.Errorf("kernel stream %08x: byte %d from the VM is %#x, want %#x", s.key, off+i, buf[i], kpattern(s.key, false, off+i))
			}
		}
		off += n
		s.rd.Store(int64(off))
		if err == io.EOF {
			close(s.eof)
			if want := s.cfg.streamLen(s.key); off != want {
				return fmt.Errorf("kernel stream %08x: %d bytes from the VM, want %d", s.key, off, want)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("kernel stream %08x: read at %d: %w", s.key, off, err)
		}
	}
}

// vmApp is the VM's application: it reads and checks each connection's
// stream from the kernel and writes its own, paced, closing after the last
// byte. Its state is the VM's memory, so it moves with the VM: it runs on
// whichever host runs the VM (inside Do), and notes if that ever goes back
// to the source after the destination ran it.
type vmApp struct {
	mu      sync.Mutex
	cfg     kernelConfig
	streams map[uint32]*vmStream
	start   time.Time
	buf     []byte
	where   string
	moves   int
	problem error
	listens map[*tcpip.Stack]bool
}

type vmStream struct {
	rd, wr      int
	eof, closed bool
	lost        error
}

func newVMApp(cfg kernelConfig) *vmApp {
	return &vmApp{cfg: cfg, streams: map[uint32]*vmStream{}, buf: make([]byte, 64<<10), listens: map[*tcpip.Stack]bool{}}
}

func (a *vmApp) listen(vm *tcpip.Stack) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.listenLocked(vm)
}

// listenLocked opens the VM's server port on the stack the VM runs on:
// what listens is the application's, and it listens again wherever it
// runs.
func (a *vmApp) listenLocked(vm *tcpip.Stack) {
	if a.listens[vm] {
		return
	}
	a.listens[vm] = true
	if err := vm.Listen(netip.AddrPortFrom(kVMAddr, kVMListen), func(*tcpip.Conn) {}); err != nil && a.problem == nil {
		a.problem = err
	}
}

func (a *vmApp) step(host string, vm *tcpip.Stack) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.where != host {
		if a.where == "destination" && a.problem == nil {
			a.problem = errors.New("the VM ran on the source again after the destination ran it")
		}
		if a.where != "" {
			a.moves++
		}
		a.where = host
	}
	a.listenLocked(vm)
	if a.start.IsZero() {
		a.start = time.Now()
	}
	allowed := int(float64(a.cfg.rate) * time.Since(a.start).Seconds())
	for _, c := range vm.Conns() {
		tu := c.Tuple()
		key := streamKey(tu.Src.Port(), tu.Dst.Port())
		s := a.streams[key]
		if s == nil {
			if c.State() != tcpip.Established {
				continue
			}
			s = &vmStream{}
			a.streams[key] = s
		}
		if err := c.Err(); err != nil {
			if s.lost == nil {
				s.lost = err
			}
			continue
		}
		for !s.eof {
			n, err := c.Read(a.buf)
			for i := range n {
				if a.buf[i] != kpattern(key, true, s.rd+i) && a.problem == nil {
					a.problem = fmt.Errorf("VM stream %08x: byte %d from the kernel is %#x, want %#x", key, s.rd+i, a.buf[i], kpattern(key, true, s.rd+i))
				}
			}
			s.rd += n
			if err == io.EOF {
				s.eof = true
			}
			if n == 0 {
				break
			}
		}
		// Whole segments, not a trickle of small ones, unless it is the last.
		size := a.cfg.streamLen(key)
		if n := min(allowed, size) - s.wr; n > 0 && !s.closed && (n >= 1460 || s.wr+n == size) {
			n = min(n, len(a.buf))
			for i := range n {
				a.buf[i] = kpattern(key, false, s.wr+i)
			}
			k, err := c.Write(a.buf[:n])
			if err != nil && s.lost == nil {
				s.lost = err
			}
			s.wr += k
		}
		if s.wr == size && !s.closed {
			if err := c.Close(); err == nil {
				s.closed = true
			}
		}
	}
}

// done reports whether every stream was read to its end and written
// whole.
func (a *vmApp) done() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.streams) < a.cfg.conns {
		return false
	}
	for _, s := range a.streams {
		if s.lost != nil {
			return true
		}
		if !s.eof || !s.closed {
			return false
		}
	}
	return true
}

func (a *vmApp) err() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	errs := []error{a.problem}
	for k, s := range a.streams {
		if s.lost != nil {
			errs = append(errs, fmt.Errorf("VM stream %08x lost: %w", k, s.lost))
		}
		if want := a.cfg.streamLen(k); s.rd != want {
			errs = append(errs, fmt.Errorf("VM stream %08x: %d bytes from the kernel, want %d", k, s.rd, want))
		}
	}
	return errors.Join(errs...)
}

func (a *vmApp) String() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var rd, wr, eof int
	for _, s := range a.streams {
		rd += s.rd
		wr += s.wr
		if s.eof {
			eof++
		}
	}
	return fmt.Sprintf("%d streams on the %s, %d bytes read (%d ended), %d written", len(a.streams), a.where, rd, eof, wr)
}

// wireWatch checks, on the wire, every frame the VM sends from either
// host: on each connection the timestamp value (TSval) never goes back,
// no segment resets, and it counts the announcements each host sends from
// the VM's MAC (gratuitous ARP for the VM's address, RARP). It sees the
// frames the VM receives too: the kernel may reset a connection only
// that it has forgotten after closing it, once both directions have
// ended: its FIN reached the VM and it acknowledged the VM's FIN. A
// late answer from the VM then draws a reset that ends nothing (an
// acknowledgement of a FIN retransmitted to it, the kernel having closed
// on the first; a retransmission the VM's timer sent before the kernel's
// acknowledgement reached it on a loaded machine). Any other reset is one
// the VM drew by sending what it should not have.
type wireWatch struct {
	mu     sync.Mutex
	last   map[[2]uint16]uint32
	bad    []string
	resets int
	garp   map[string]int
	rarp   map[string]int
	frames atomic.Int64
	// By the VM's port and the kernel's: the FIN received (its sequence
	// number + 1; 0: none yet) and whether it came again.
	fin      map[[2]uint16]uint32
	finAgain map[[2]uint16]bool
	// The VM's FIN (its sequence number + 1) and whether the kernel has
	// acknowledged it.
	vmFin      map[[2]uint16]uint32
	vmFinAcked map[[2]uint16]bool
	badRST     []string
}

// in wraps a host's handler, watching the frames the VM receives.
func (w *wireWatch) in(h tcpip.Handler) tcpip.Handler {
	wh := &watchedHandler{Handler: h, w: w}
	wh.p = gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &wh.eth, &wh.ip4, &wh.tcp)
	wh.p.IgnoreUnsupported = true
	return wh
}

type watchedHandler struct {
	tcpip.Handler
	w       *wireWatch
	p       *gopacket.DecodingLayerParser
	eth     layers.Ethernet
	ip4     layers.IPv4
	tcp     layers.TCP
	decoded []gopacket.LayerType
}

func (h *watchedHandler) Input(f []byte) {
	if h.p.DecodeLayers(f, &h.decoded) == nil && slices.Contains(h.decoded, layers.LayerTypeTCP) {
		h.w.received(&h.tcp)
	}
	h.Handler.Input(f)
}

func (w *wireWatch) received(tcp *layers.TCP) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.init()
	k := [2]uint16{uint16(tcp.DstPort), uint16(tcp.SrcPort)}
	if fin, ok := w.vmFin[k]; ok && tcp.ACK && !seqnum.LT(tcp.Ack, fin) {
		w.vmFinAcked[k] = true
	}
	ended := w.finAgain[k] || w.fin[k] != 0 && w.vmFinAcked[k]
	switch end := tcp.Seq + uint32(len(tcp.Payload)) + 1; {
	case tcp.RST && !ended && len(w.badRST) < 10:
		w.badRST = append(w.badRST, fmt.Sprintf("%d→%d", k[1], k[0]))
	case tcp.FIN && w.fin[k] == end:
		w.finAgain[k] = true
	case tcp.FIN:
		w.fin[k] = end
	}
}

func (w *wireWatch) init() {
	if w.fin == nil {
		w.fin, w.finAgain = map[[2]uint16]uint32{}, map[[2]uint16]bool{}
		w.vmFin, w.vmFinAcked = map[[2]uint16]uint32{}, map[[2]uint16]bool{}
	}
}

// out wraps the send function of host.
func (w *wireWatch) out(host string, send func([]byte)) func([]byte) {
	var eth layers.Ethernet
	var ip4 layers.IPv4
	var tcp layers.TCP
	var arp layers.ARP
	p := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &ip4, &tcp, &arp)
	p.IgnoreUnsupported = true
	var decoded []gopacket.LayerType
	return func(f []byte) {
		_ = p.DecodeLayers(f, &decoded)
		switch {
		case slices.Contains(decoded, layers.LayerTypeTCP):
			w.check(&tcp)
		case slices.Contains(decoded, layers.LayerTypeARP) && [6]byte(eth.SrcMAC) == kVMMAC &&
			[6]byte(arp.SourceHwAddress) == kVMMAC && bytes.Equal(arp.SourceProtAddress, kVMAddr.AsSlice()) &&
			bytes.Equal(arp.DstProtAddress, kVMAddr.AsSlice()):
			w.count(&w.garp, host)
		case eth.EthernetType == 0x8035 && [6]byte(eth.SrcMAC) == kVMMAC: // RARP
			w.count(&w.rarp, host)
		}
		send(f)
	}
}

func (w *wireWatch) count(m *map[string]int, host string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if *m == nil {
		*m = map[string]int{}
	}
	(*m)[host]++
}

// announcements returns the gratuitous ARP and RARP frames host sent.
func (w *wireWatch) announcements(host string) (garp, rarp int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.garp[host], w.rarp[host]
}

func (w *wireWatch) check(tcp *layers.TCP) {
	w.frames.Add(1)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.init()
	if tcp.RST {
		w.resets++
	}
	if tcp.FIN {
		w.vmFin[[2]uint16{uint16(tcp.SrcPort), uint16(tcp.DstPort)}] = tcp.Seq + uint32(len(tcp.Payload)) + 1
	}
	for _, o := range tcp.Options {
		if o.OptionType != layers.TCPOptionKindTimestamps || len(o.OptionData) != 8 {
			continue
		}
		v := uint32(o.OptionData[0])<<24 | uint32(o.OptionData[1])<<16 | uint32(o.OptionData[2])<<8 | uint32(o.OptionData[3])
		k := [2]uint16{uint16(tcp.SrcPort), uint16(tcp.DstPort)}
		if last, ok := w.last[k]; ok && seqnum.LT(v, last) && len(w.bad) < 10 {
			w.bad = append(w.bad, fmt.Sprintf("%d→%d: TSval %d after %d", k[0], k[1], v, last))
		}
		w.last[k] = v
	}
}

func (w *wireWatch) err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var errs []error
	if len(w.bad) > 0 {
		errs = append(errs, fmt.Errorf("TSval went back: %v", w.bad))
	}
	if w.resets > 0 {
		errs = append(errs, fmt.Errorf("the VM sent %d resets", w.resets))
	}
	if len(w.badRST) > 0 {
		errs = append(errs, fmt.Errorf("the kernel reset connections before both their directions had ended: %v", w.badRST))
	}
	return errors.Join(errs...)
}

// migrateAndCheck runs a migration on a bed whose connections stream,
// then waits for every stream to end and checks the bytes, the kernel's
// counters and the wire. Whatever fault the bed's connection wrapper
// injects, the VM must end up running on exactly one host with every
// session alive: on the destination after a migration that succeeded, on
// either after one that failed.
func migrateAndCheck(t *testing.T, cfg kernelConfig) {
	b := newKernelBed(t, cfg)
	b.connect()
	time.Sleep(300 * time.Millisecond)
	m, err := b.migrate()
	t.Logf("migration: %v (%v)", &m, err)
	// The destination may still be activating, on a go-ahead whose answer
	// the source did not get.
	onSource, onDest := b.circuit.Mode() == migrate.Running, b.dest.Active()
	for end := time.Now().Add(2 * time.Second); onSource == onDest && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
		onSource, onDest = b.circuit.Mode() == migrate.Running, b.dest.Active()
	}
	if !onSource && !onDest {
		t.Fatalf("the VM runs on neither host: the source is %v, the destination not active", b.circuit.Mode())
	}
	b.finish()
	onSource, onDest = b.circuit.Mode() == migrate.Running, b.dest.Active()
	switch {
	case err == nil && !onDest:
		t.Errorf("migrated, but the destination is not active (the source is %v)", b.circuit.Mode())
	case err != nil && !errors.Is(err, migrate.ErrMigration):
		t.Errorf("migrate: %v, not an ErrMigration", err)
	case onSource == onDest:
		t.Errorf("the source is %v and the destination active %v: the VM runs on %s",
			b.circuit.Mode(), onDest, map[bool]string{false: "neither host", true: "both hosts"}[onDest])
	}
	b.serveMu.Lock()
	t.Logf("the destination's Serve returned %v", b.serveErr)
	b.serveMu.Unlock()
	if m.SessionsLost != 0 {
		t.Errorf("%d sessions lost", m.SessionsLost)
	}
	b.checkAnnounced(onDest)
}

// checkAnnounced checks where the bridge reaches the VM's MAC, and that
// a VM that moved was announced from its MAC on QEMU's schedule: five
// rounds of a gratuitous ARP for its address and a RARP.
func (b *kernelBed) checkAnnounced(moved bool) {
	t := b.t
	host, port := "source", "rksrc"
	if moved {
		host, port = "destination", "rkdst"
		for end := time.Now().Add(time.Second); b.dest.Announced() < tcpip.AnnounceRounds && time.Now().Before(end); {
			time.Sleep(10 * time.Millisecond)
		}
		garp, rarp := b.wire.announcements(host)
		if garp != tcpip.AnnounceRounds || rarp != tcpip.AnnounceRounds {
			t.Errorf("the destination announced the VM with %d gratuitous ARPs and %d RARPs, want %d of each",
				garp, rarp, tcpip.AnnounceRounds)
		}
	}
	if garp, rarp := b.wire.announcements("source"); garp+rarp != 0 {
		t.Errorf("the source announced the VM (%d gratuitous ARPs, %d RARPs)", garp, rarp)
	}
	if got := b.bridgePort(kVMMAC); got != port {
		t.Errorf("the bridge reaches the VM's MAC through %q, want %q (the %s)", got, port, host)
	}
}

// bridgePort returns the port of br0 whose forwarding entry holds mac.
func (b *kernelBed) bridgePort(mac [6]byte) string {
	nl := b.ns.Netlink()
	fdb, err := nl.NeighList(0, unix.AF_BRIDGE)
	if err != nil {
		b.t.Fatal(err)
	}
	for _, n := range fdb {
		if bytes.Equal(n.HardwareAddr, mac[:]) {
			if l, err := nl.LinkByIndex(n.LinkIndex); err == nil {
				return l.Attrs().Name
			}
		}
	}
	return ""
}

func kernelRun() kernelConfig {
	return kernelConfig{conns: 64, bytes: 256 << 10, short: 16 << 10, rate: 128 << 10, hold: 500 * time.Millisecond, deadline: 15 * time.Second}
}

// TestKernelMigration moves a VM with 64 connections to the Linux
// kernel's TCP (half dialed by the kernel, half by the VM), streaming both
// ways, through a migration with a 500 ms hold: every byte arrives once
// and in order both ways, the kernel aborts, resets and PAWS-rejects
// nothing, and no TSval the VM sends goes back.
func TestKernelMigration(t *testing.T) {
	cfg := kernelRun()
	cfg.wrap = func(n int, c io.ReadWriteCloser) io.ReadWriteCloser {
		if n > 0 {
			t.Error("a clean migration redialed")
		}
		return c
	}
	migrateAndCheck(t, cfg)
}

// TestKernelMigrationCut cuts the migration connection once per run, at
// points a seeded generator picks: inside the pre-copy or the journal (a
// uniformly random share of its bytes), or at a control message (the
// source's hello lost on the way, the destination's ready, active or
// served never read), each kind of point once, in a seeded order (the
// go-ahead's own test covers it). The destination is listed twice, so a
// migration cut before the go-ahead can start again there; a journal cut
// short is resumed on a new connection.
func TestKernelMigrationCut(t *testing.T) {
	runs := 6
	if testing.Short() {
		runs = 3
	}
	for i, p := range randomCuts(rand.New(rand.NewPCG(14, 1)), runs) {
		t.Run(fmt.Sprintf("%d/%v", i, p), func(t *testing.T) {
			cfg := kernelRun()
			cfg.dialers = 2
			cfg.wrap = p.wrap
			migrateAndCheck(t, cfg)
		})
	}
}

// TestKernelMigrationGoAheadLost cuts the migration connection as the
// source sends the go-ahead: lost on the way (the source believes it
// sent it), or delivered with the destination's answer lost.
func TestKernelMigrationGoAheadLost(t *testing.T) {
	for _, p := range []cutPoint{{what: "go"}, {what: "go", deliver: true}} {
		t.Run(p.String(), func(t *testing.T) {
			cfg := kernelRun()
			cfg.dialers = 2
			cfg.wrap = p.wrap
			migrateAndCheck(t, cfg)
		})
	}
}

// cutPoint is where a cutConn cuts a migration connection.
type cutPoint struct {
	// what: "pre-copy" or "journal" (the stream, frac of the way through
	// its bytes), "hello" or "go" (the source's control message, lost on
	// the way), "ready", "active" or "served" (the destination's, never
	// read).
	what    string
	frac    float64
	deliver bool // "go": delivered, then the connection is cut
}

// randomCuts returns n cut points of different kinds, in an order and
// with stream shares rng picks.
func randomCuts(rng *rand.Rand, n int) []cutPoint {
	kinds := []cutPoint{{what: "pre-copy"}, {what: "journal"}, {what: "hello"}, {what: "ready"},
		{what: "active"}, {what: "served"}}
	rng.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	kinds = kinds[:min(n, len(kinds))]
	for i := range kinds {
		kinds[i].frac = rng.Float64()
	}
	return kinds
}

func (p cutPoint) String() string {
	switch {
	case p.what == "pre-copy" || p.what == "journal":
		return fmt.Sprintf("%s-at-%.0f%%", p.what, 100*p.frac)
	case p.deliver:
		return p.what + "-delivered-answer-lost"
	case p.what == "hello" || p.what == "go":
		return p.what + "-lost"
	}
	return p.what + "-unread"
}

// wrap cuts the source's first connection at p; later ones are left alone.
func (p cutPoint) wrap(n int, c io.ReadWriteCloser) io.ReadWriteCloser {
	if n > 0 {
		return c
	}
	return &cutConn{ReadWriteCloser: c, p: p}
}

// cutConn closes a migration connection at its cut point. It reads the
// messages the source writes (each Write is one message: a 32-byte
// control message, or a transfer message whose hello names its stream and
// size) and counts the control messages it reads (each read of one starts
// with a Read of 32 bytes; transfer messages are read as a 24-byte header
// and a payload).
type cutConn struct {
	io.ReadWriteCloser
	p cutPoint

	mu         sync.Mutex
	stream     string
	size, sent int64
	reads      int
	cut        bool
}

var errCut = errors.New("the test cut the connection")

func (c *cutConn) doCut() {
	c.cut = true
	c.ReadWriteCloser.Close()
}

func (c *cutConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cut {
		return 0, errCut
	}
	switch {
	case len(b) == 32 && string(b[:4]) == "RKMC":
		if name := map[byte]string{1: "hello", 4: "go"}[b[4]]; name == c.p.what {
			if c.p.deliver {
				n, err := c.ReadWriteCloser.Write(b)
				c.doCut()
				return n, err
			}
			c.doCut()
			return len(b), nil // lost on the way: the source cannot tell
		}
	case len(b) == 48 && b[0] == 1: // a transfer's hello: stream u64 | size u64
		c.stream = map[uint64]string{1: "pre-copy", 2: "journal"}[binary.LittleEndian.Uint64(b[24:])]
		c.size, c.sent = int64(binary.LittleEndian.Uint64(b[32:])), 0
	case len(b) >= 24 && b[0] == 3 && c.stream == c.p.what: // data
		c.sent += int64(len(b) - 24)
		if c.sent >= int64(c.p.frac*float64(c.size)) {
			c.doCut()
			return len(b), nil
		}
	}
	return c.ReadWriteCloser.Write(b)
}

func (c *cutConn) Read(b []byte) (int, error) {
	c.mu.Lock()
	if c.cut {
		c.mu.Unlock()
		return 0, errCut
	}
	if len(b) == 32 {
		c.reads++
		if [...]string{"", "ready", "active", "served"}[min(c.reads, 3)] == c.p.what && c.reads <= 3 {
			c.doCut()
			c.mu.Unlock()
			return 0, errCut
		}
	}
	c.mu.Unlock()
	return c.ReadWriteCloser.Read(b) // outside the lock: a reader waits here while the source writes
}

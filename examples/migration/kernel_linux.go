//go:build linux

package main

// The -kernel mode: the VM's peers are the Linux kernel's own TCP.
//
// The source (this process) makes a network namespace holding a bridge,
// br0, with the peers' address: the kernel's TCP there is the VM's peer,
// through plain Go sockets opened inside the namespace. The source host's
// TAP device, rksrc, is a port of the bridge; the source starts the
// destination host, a second process, inside the namespace, and that
// process opens its own TAP, rkdst, on the bridge. The VM (a tcpip
// stack behind a migrate.Circuit) runs on the source: the kernel dials
// half of its connections to the VM's server, the VM dials the other half
// to the kernel's, and both sides stream a checked pattern both ways. Mid-
// stream the VM moves to the destination over a Unix socket; its
// application's memory (how far each stream got) moves during the hold, on
// another. The bridge learns the VM's new port from the destination's
// announcements (gratuitous ARP and RARP from the VM's MAC), as a switch
// does. Once every stream has ended, the destination reports what the VM
// read; the source prints the sessions lost, the streams differing, the
// downtime and the kernel's own TCP counters of the namespace, then
// removes the namespace (and with it the bridge and the TAPs) and its
// socket directory. Nothing is sent on the machine's own interfaces.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/internal/wait"
	"github.com/ringkit/ringkit/linuxport"
	"github.com/ringkit/ringkit/linuxport/netns"
	"github.com/ringkit/ringkit/migrate"
	"github.com/ringkit/ringkit/tcpip"
)

// The namespace's addresses (198.18.0.0/15 is set aside for benchmarks,
// RFC 2544, and lives only inside the namespace).
var (
	kPeer  = netip.MustParsePrefix("198.18.7.1/24")
	kVM    = netip.MustParseAddr("198.18.7.10")
	kVMMAC = [6]byte{2, 0, 0, 0, 7, 10}
)

const (
	kVMPort   = 80   // the VM's server
	kPeerPort = 9000 // the kernel's server
	kBridge   = "br0"
)

func kernelMain(role string, opt kernelOptions) {
	opt.dir = *dirFlag
	opt.streamLen = int(float64(opt.rate) * (2*opt.run + opt.hold).Seconds())
	var err error
	if role == "dest" {
		err = kernelDestination(opt)
	} else {
		err = kernelSource(opt)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", role, err)
		os.Exit(1)
	}
}

// khost is a host of the VM: a TAP on the bridge, driven with a
// tcpip.Host by a goroutine of its own, which also runs the VM's
// application where the VM runs.
type khost struct {
	tap  *linuxport.TAP
	host *tcpip.Host
	pool *descriptor.Pool
}

func openKHost(ns *netns.NS, name string) (*khost, error) {
	pool, err := descriptor.NewPool(descriptor.PoolConfig{Buffers: 8192})
	if err != nil {
		return nil, err
	}
	tap, err := linuxport.OpenTAP(name, linuxport.TAPConfig{Pool: pool, NS: ns,
		Rx: descriptor.RxConfig{Descs: 1024}, Tx: descriptor.TxConfig{Descs: 4096}})
	if err != nil {
		return nil, err
	}
	if err := ns.SetMaster(name, kBridge); err != nil {
		tap.Close()
		return nil, err
	}
	link, err := tcpip.NewLink(tap, 0)
	if err != nil {
		tap.Close()
		return nil, err
	}
	return &khost{tap: tap, host: tcpip.NewHost(link), pool: pool}, nil
}

// run drives the host until ctx ends: the TAP's rounds and the host's
// polls until the device's queue is drained (or a bound), then app, then
// what app sent.
func (h *khost) run(ctx context.Context, wg *sync.WaitGroup, app func()) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = wait.Loop(ctx, nil, 200*time.Microsecond, func() (int, error) {
			n := 0
			for range 64 {
				k, err := h.tap.Step()
				if err != nil {
					return 0, err
				}
				if k += h.host.Poll(); k == 0 {
					break
				}
				n += k
			}
			app()
			k, err := h.tap.Step()
			return n + k, err
		})
	}()
}

// kkey names a connection alike on both sides: the VM's port and the
// kernel's.
func kkey(vmPort, peerPort uint16) uint32 { return uint32(vmPort)<<16 | uint32(peerPort) }

// kpattern is byte off of the stream of connection key toward the VM
// (toVM) or from it.
func kpattern(key uint32, toVM bool, off int) byte {
	x := uint32(off)*2654435761 + key*40503
	if toVM {
		x ^= 0x5bd1e995
	}
	return byte(x>>24) ^ byte(off>>8)
}

// vmApp is the VM's application: on every connection it reads and checks
// the kernel's stream and writes its own, paced, closing after the last
// byte. Its state is the VM's memory: it runs wherever the VM runs (inside
// Do) and moves with the VM.
type vmApp struct {
	mu      sync.Mutex
	opt     kernelOptions
	streams map[uint32]*vmStream
	start   time.Time
	buf     []byte
	listen  *tcpip.Stack // the stack the VM's server listens on
	have    bool         // the memory is here (the destination waits for it)
}

// vmStream is the VM's side of one connection.
type vmStream struct {
	rd, wr      int
	eof, closed bool
	bad         int // first byte out of place + 1
	lost        string
}

func newVMApp(opt kernelOptions, have bool) *vmApp {
	return &vmApp{opt: opt, streams: map[uint32]*vmStream{}, buf: make([]byte, 64<<10), have: have}
}

func (a *vmApp) step(vm *tcpip.Stack) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.have {
		return
	}
	if a.listen != vm { // what listens is the application's: it listens again where it runs
		a.listen = vm
		_ = vm.Listen(netip.AddrPortFrom(kVM, kVMPort), func(*tcpip.Conn) {})
	}
	if a.start.IsZero() {
		a.start = time.Now()
	}
	allowed := min(int(float64(a.opt.rate)*time.Since(a.start).Seconds()), a.opt.streamLen)
	for _, c := range vm.Conns() {
		tu := c.Tuple()
		key := kkey(tu.Src.Port(), tu.Dst.Port())
		s := a.streams[key]
		if s == nil {
			if c.State() != tcpip.Established {
				continue
			}
			s = &vmStream{}
			a.streams[key] = s
		}
		if err := c.Err(); err != nil {
			if s.lost == "" {
				s.lost = err.Error()
			}
			continue
		}
		for !s.eof {
			n, err := c.Read(a.buf)
			for i := range n {
				if s.bad == 0 && a.buf[i] != kpattern(key, true, s.rd+i) {
					s.bad = s.rd + i + 1
				}
			}
			s.rd += n
			s.eof = err == io.EOF
			if n == 0 {
				break
			}
		}
		// Whole segments, not a trickle of small ones, but for the last.
		if n := allowed - s.wr; !s.closed && n > 0 && (n >= 1460 || allowed == a.opt.streamLen) {
			n = min(n, len(a.buf))
			for i := range n {
				a.buf[i] = kpattern(key, false, s.wr+i)
			}
			k, _ := c.Write(a.buf[:n])
			s.wr += k
		}
		if !s.closed && s.wr == a.opt.streamLen && c.Close() == nil {
			s.closed = true
		}
	}
}

// appendMemory writes the application's state, one line per stream.
func (a *vmApp) appendMemory(w io.Writer) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "START %d\n", a.start.UnixNano())
	for k, s := range a.streams {
		fmt.Fprintf(bw, "S %d %d %d %t %t %d\n", k, s.rd, s.wr, s.eof, s.closed, s.bad)
	}
	fmt.Fprintln(bw, "END")
	return bw.Flush()
}

// loadMemory reads what appendMemory wrote; a line that is not one of
// its lines is an error naming it, and nothing is loaded.
func (a *vmApp) loadMemory(r io.Reader) error {
	sc := bufio.NewScanner(r)
	streams := map[uint32]*vmStream{}
	var start int64
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		switch {
		case len(f) == 1 && f[0] == "END":
			a.mu.Lock()
			a.streams, a.start, a.have = streams, time.Unix(0, start), true
			a.mu.Unlock()
			return nil
		case len(f) == 2 && f[0] == "START":
			var err error
			if start, err = strconv.ParseInt(f[1], 10, 64); err != nil {
				return fmt.Errorf("memory line %q: %w", line, err)
			}
		case len(f) == 7 && f[0] == "S":
			k, err := strconv.ParseUint(f[1], 10, 32)
			var ints [3]int
			for i, v := range []string{f[2], f[3], f[6]} {
				n, perr := strconv.Atoi(v)
				if perr == nil && (n < 0 || n > a.opt.streamLen+1) {
					perr = fmt.Errorf("%d outside [0, %d]", n, a.opt.streamLen+1)
				}
				err = errors.Join(err, perr)
				ints[i] = n
			}
			eof, eerr := strconv.ParseBool(f[4])
			closed, cerr := strconv.ParseBool(f[5])
			if err := errors.Join(err, eerr, cerr); err != nil {
				return fmt.Errorf("memory line %q: %w", line, err)
			}
			streams[uint32(k)] = &vmStream{rd: ints[0], wr: ints[1], bad: ints[2], eof: eof, closed: closed}
		default:
			return fmt.Errorf("memory line %q: not a line of the VM's memory", line)
		}
	}
	return fmt.Errorf("memory ended before its END line: %w", errors.Join(sc.Err(), io.ErrUnexpectedEOF))
}

// report prints one line per stream for the source to read.
func (a *vmApp) report(w io.Writer) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, s := range a.streams {
		lost := s.lost
		if lost == "" {
			lost = "-"
		}
		fmt.Fprintf(w, "STREAM %d %d %t %d %q\n", k, s.rd, s.eof, s.bad, lost)
	}
}

// kstream is the kernel's side of one connection: a paced writer of its
// stream and a reader checking the VM's.
type kstream struct {
	conn net.Conn
	key  uint32
	got  int    // bytes read from the VM, all in place
	err  string // what went wrong, "" when nothing did
}

func (s *kstream) run(ctx context.Context, opt kernelOptions) {
	var wg sync.WaitGroup
	var werr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		werr = s.write(ctx, opt)
	}()
	rerr := s.read(opt)
	wg.Wait()
	if err := errors.Join(werr, rerr); err != nil {
		s.err = err.Error()
	}
	s.conn.Close()
}

func (s *kstream) write(ctx context.Context, opt kernelOptions) error {
	buf := make([]byte, 16<<10)
	start := time.Now()
	for off := 0; off < opt.streamLen; {
		if ahead := off - int(float64(opt.rate)*time.Since(start).Seconds()); ahead > 0 {
			select {
			case <-time.After(time.Duration(float64(ahead) / float64(opt.rate) * float64(time.Second))):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		n := min(len(buf), opt.streamLen-off)
		for i := range n {
			buf[i] = kpattern(s.key, true, off+i)
		}
		if _, err := s.conn.Write(buf[:n]); err != nil {
			return fmt.Errorf("write at %d: %w", off, err)
		}
		off += n
	}
	return s.conn.(*net.TCPConn).CloseWrite()
}

func (s *kstream) read(opt kernelOptions) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := s.conn.Read(buf)
		for i := range n {
			if buf[i] != kpattern(s.key, false, s.got+i) {
				return fmt.Errorf("byte %d from the VM out of place", s.got+i)
			}
		}
		s.got += n
		if err == io.EOF {
			if s.got != opt.streamLen {
				return fmt.Errorf("%d bytes from the VM, want %d", s.got, opt.streamLen)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("read at %d: %w", s.got, err)
		}
	}
}

func kernelSource(opt kernelOptions) (err error) {
	if os.Geteuid() != 0 {
		return errors.New("-kernel needs root: it makes a network namespace, a bridge and TAP devices")
	}
	if opt.sessions < 2 || opt.rate < 1 || opt.streamLen < 1 {
		return fmt.Errorf("-kernel needs at least 2 sessions and a rate, got %d sessions at %d B/s", opt.sessions, opt.rate)
	}
	ns, err := netns.New("ringkit-migration")
	if err != nil {
		return err
	}
	defer func() {
		id := ns.ID()
		if cerr := ns.Close(); cerr != nil && err == nil {
			err = cerr
		}
		if netns.Held(id, 2*time.Second) && err == nil {
			err = fmt.Errorf("%v still held", ns)
		}
		fmt.Println("removed: the namespace (its bridge and TAP devices with it) and the socket directory")
	}()
	if err := ns.AddBridge(kBridge); err != nil {
		return err
	}
	if err := ns.AddAddr(kBridge, kPeer); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "ringkit-migration-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	src, err := openKHost(ns, "rksrc")
	if err != nil {
		return err
	}
	// Ctrl-C ends the run early; everything made is removed all the same.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var wg sync.WaitGroup
	defer func() {
		stop()
		wg.Wait()
		src.tap.Close()
	}()

	// The destination host: this program again, started inside the namespace.
	self, err := os.Executable()
	if err != nil {
		return err
	}
	child := exec.Command(self, "-role=dest", "-kernel", "-dir", dir,
		fmt.Sprintf("-sessions=%d", opt.sessions), fmt.Sprintf("-rate=%d", opt.rate),
		fmt.Sprintf("-hold=%v", opt.hold), fmt.Sprintf("-run=%v", opt.run))
	child.Stderr = os.Stderr
	childIn, err := child.StdinPipe()
	if err != nil {
		return err
	}
	childOut, err := child.StdoutPipe()
	if err != nil {
		return err
	}
	if err := ns.Do(child.Start); err != nil { // forked from a thread inside: the child runs there
		return fmt.Errorf("start the destination: %w", err)
	}
	defer func() {
		childIn.Close()
		if werr := child.Wait(); werr != nil && err == nil {
			err = fmt.Errorf("the destination: %w", werr)
		}
	}()
	lines := bufio.NewScanner(childOut)
	if !lines.Scan() || lines.Text() != "READY" {
		child.Process.Kill()
		return errors.New("the destination did not start")
	}

	vmCfg := tcpip.StackConfig{MAC: kVMMAC, Addrs: []netip.Prefix{netip.PrefixFrom(kVM, kPeer.Bits())}}
	circuit, err := migrate.NewCircuit(migrate.CircuitConfig{Stack: vmCfg, JournalSize: opt.journal}, src.host.Send)
	if err != nil {
		return err
	}
	src.host.SetHandler(circuit)
	app := newVMApp(opt, true)
	src.run(ctx, &wg, func() { circuit.Do(app.step) })
	before, err := ns.Counters()
	if err != nil {
		return err
	}

	// The connections: the kernel dials the VM's server on half, the VM
	// the kernel's on the other half.
	circuit.Do(app.step) // the VM's server listens from the application's first step
	conns, err := kernelConnect(ns, circuit, opt.sessions)
	if err != nil {
		return err
	}
	streams := make([]*kstream, len(conns))
	var swg sync.WaitGroup
	for i, c := range conns {
		la, ra := c.LocalAddr().(*net.TCPAddr), c.RemoteAddr().(*net.TCPAddr)
		streams[i] = &kstream{conn: c, key: kkey(uint16(ra.Port), uint16(la.Port))}
		swg.Add(1)
		go func() { defer swg.Done(); streams[i].run(ctx, opt) }()
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
		swg.Wait()
	}()
	fmt.Printf("source: %d kernel TCP connections to the VM in namespace %v (%d dialed by the kernel, %d by the VM), "+
		"each streaming %d bytes both ways at %d B/s; the VM's hosts are TAP devices on bridge %s (%v): rksrc here, rkdst in process %d\n",
		len(conns), ns, len(conns)/2, len(conns)-len(conns)/2, opt.streamLen, opt.rate, kBridge, kPeer, child.Process.Pid)
	select {
	case <-time.After(opt.run):
	case <-ctx.Done():
	}

	dial := func(ctx context.Context) (io.ReadWriteCloser, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", filepath.Join(dir, "migrate.sock"))
	}
	m, merr := circuit.Migrate(ctx, []migrate.Dialer{dial}, migrate.MigrateConfig{
		// The rest of the VM's memory moves during the hold: the
		// application's state with it.
		Hold: func(ctx context.Context) {
			end := time.After(opt.hold)
			if c, err := net.Dial("unix", filepath.Join(dir, "memory.sock")); err == nil {
				_ = app.appendMemory(c)
				c.Close()
			}
			select {
			case <-end:
			case <-ctx.Done():
			}
		},
	})
	if merr != nil {
		fmt.Printf("migration failed: %v\n", merr)
	}
	moved := circuit.Mode() == migrate.Moved

	// Every stream ends by itself: wait for them, bounded.
	done := make(chan struct{})
	go func() { swg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(opt.run + opt.hold + 30*time.Second):
		fmt.Println("source: streams still open after the deadline; closing them")
		for _, c := range conns {
			c.Close()
		}
		<-done
	case <-ctx.Done():
		for _, c := range conns {
			c.Close()
		}
		<-done
		return errors.New("interrupted")
	}
	after, err := ns.Counters()
	if err != nil {
		return err
	}

	// What the VM read: the destination's report, or the source's own if
	// the VM never left.
	childIn.Close()
	vmSide := map[uint32]vmStream{}
	for lines.Scan() {
		var k uint32
		var s vmStream
		if _, err := fmt.Sscanf(lines.Text(), "STREAM %d %d %t %d %q", &k, &s.rd, &s.eof, &s.bad, &s.lost); err == nil {
			vmSide[k] = s
			continue
		}
		fmt.Println("destination:", lines.Text())
	}
	if !moved {
		app.mu.Lock()
		for k, s := range app.streams {
			vmSide[k] = *s
		}
		app.mu.Unlock()
	}
	lost, differ := 0, 0
	for _, s := range streams {
		v, ok := vmSide[s.key]
		if s.err != "" || !ok || v.lost != "-" && v.lost != "" {
			lost++
			fmt.Printf("session %08x lost: kernel: %q, VM: %q\n", s.key, s.err, v.lost)
		}
		if s.got != opt.streamLen || !ok || v.rd != opt.streamLen || !v.eof || v.bad != 0 {
			differ++
			fmt.Printf("session %08x: the kernel read %d of %d bytes in place; the VM %d (end %v, first out of place %d)\n",
				s.key, s.got, opt.streamLen, v.rd, v.eof, v.bad-1)
		}
	}
	tcp := after.Sub(before).TCP()
	fmt.Printf("migration: %v\n", &m)
	fmt.Printf("sessions lost = %d, streams differing = %d, downtime = %v (%v beyond the hold)\n",
		lost+m.SessionsLost, differ, m.Downtime.Round(10*time.Microsecond), m.BeyondHold().Round(10*time.Microsecond))
	fmt.Printf("the kernel's TCP in the peer namespace: %v\n", tcp)
	switch {
	case merr != nil || !moved:
		return errors.New("the VM did not move")
	case lost+m.SessionsLost != 0 || differ != 0:
		return errors.New("the migration lost sessions or data")
	case !tcp.Clean():
		return errors.New("the kernel aborted, reset or rejected segments")
	}
	return nil
}

// kernelConnect makes n connections between the kernel's TCP in ns and
// the VM behind circuit: the kernel dials the VM's server on the first
// half, the VM dials the kernel's on the rest. It returns the kernel's
// sockets.
func kernelConnect(ns *netns.NS, circuit *migrate.Circuit, n int) ([]net.Conn, error) {
	var ln net.Listener
	if err := ns.Do(func() (err error) {
		ln, err = net.Listen("tcp4", netip.AddrPortFrom(kPeer.Addr(), kPeerPort).String())
		return err
	}); err != nil {
		return nil, err
	}
	defer ln.Close()
	var conns []net.Conn
	fail := func(err error) ([]net.Conn, error) {
		for _, c := range conns {
			c.Close()
		}
		return nil, err
	}
	dialed := n / 2
	err := ns.Do(func() error {
		d := net.Dialer{Timeout: 5 * time.Second}
		for range dialed {
			c, err := d.Dial("tcp4", netip.AddrPortFrom(kVM, kVMPort).String())
			if err != nil {
				return fmt.Errorf("the kernel dials the VM: %w", err)
			}
			conns = append(conns, c)
		}
		return nil
	})
	if err != nil {
		return fail(err)
	}
	for i := range n - dialed {
		circuit.Do(func(vm *tcpip.Stack) {
			_, err = vm.Dial(netip.AddrPortFrom(kVM, uint16(41000+i)), netip.AddrPortFrom(kPeer.Addr(), kPeerPort))
		})
		if err != nil {
			return fail(err)
		}
	}
	_ = ln.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
	for range n - dialed {
		c, err := ln.Accept()
		if err != nil {
			return fail(fmt.Errorf("the VM dials the kernel: %w", err))
		}
		conns = append(conns, c)
	}
	return conns, nil
}

// kernelDestination is the destination host, started by the source inside
// its namespace: it opens its TAP on the bridge, takes the VM's memory and
// the migration on the source's sockets, runs the VM once it is here, and
// when its standard input closes reports what the VM read and exits.
func kernelDestination(opt kernelOptions) (err error) {
	if opt.dir == "" {
		return errors.New("-role=dest -kernel is started by the source, with -dir")
	}
	ns, err := netns.Current("ringkit-migration")
	if err != nil {
		return err
	}
	defer ns.Close()
	if _, err := ns.Link(kBridge); err != nil {
		return fmt.Errorf("not inside the source's namespace: %w", err)
	}
	dst, err := openKHost(ns, "rkdst")
	if err != nil {
		return err
	}
	defer dst.tap.Close()
	dc := tcpip.StackConfig{MAC: [6]byte{2, 0, 0, 0, 7, 99}} // the VM's MAC and addresses come with it
	dest, err := migrate.NewDestination(migrate.DestinationConfig{Stack: dc}, dst.host.Send)
	if err != nil {
		return err
	}
	dst.host.SetHandler(dest)
	mig, err := net.Listen("unix", filepath.Join(opt.dir, "migrate.sock"))
	if err != nil {
		return err
	}
	defer mig.Close()
	mem, err := net.Listen("unix", filepath.Join(opt.dir, "memory.sock"))
	if err != nil {
		return err
	}
	defer mem.Close()

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() {
		stop()
		mig.Close()
		mem.Close()
		wg.Wait()
	}()
	app := newVMApp(opt, false)
	dst.run(ctx, &wg, func() { dest.Do(app.step) })
	wg.Add(2)
	go func() { // the VM's memory, during the hold
		defer wg.Done()
		c, err := mem.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if err := app.loadMemory(c); err != nil {
			fmt.Fprintln(os.Stderr, "dest: memory:", err)
		}
	}()
	var mu sync.Mutex
	var serveErrs []error
	go func() { // the migration, and its connections after a cut
		defer wg.Done()
		for {
			c, err := mig.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := dest.Serve(ctx, c)
				c.Close()
				mu.Lock()
				serveErrs = append(serveErrs, err)
				mu.Unlock()
			}()
		}
	}()
	fmt.Println("READY")

	// The source closes our standard input once its streams have ended.
	_, _ = io.Copy(io.Discard, os.Stdin)
	// Let the announcements run their schedule (800 ms from activation).
	for end := time.Now().Add(time.Second); dest.Active() && dest.Announced() < tcpip.AnnounceRounds && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	mig.Close()
	mem.Close()
	wg.Wait()
	if dest.Active() {
		fmt.Printf("active: replayed %d records, announced the VM %d times\n", dest.Replay().Applied, dest.Announced())
		app.report(os.Stdout)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, err := range serveErrs {
		if err != nil && !errors.Is(err, context.Canceled) {
			fmt.Printf("a migration connection ended with: %v\n", err)
		}
	}
	return nil
}

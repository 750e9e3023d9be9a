// Migrate moves a VM with live TCP sessions from one process to another
// over a real TCP connection on loopback, while its peers keep sending.
//
//	go run ./examples/migration                       # 64 sessions, 200 ms suspension
//	go run ./examples/migration -sessions 256 -hold 500ms
//	go run ./examples/migration -http localhost:9101  # Prometheus metrics while it runs
//	sudo go run ./examples/migration -kernel          # the peers are the Linux kernel's TCP (kernel_linux.go)
//
// The program is the source host: it starts itself again with -role=dest
// as the destination host. Each host has an in-memory NIC (nicsim). The
// peers live in the source process behind a two-port NIC: port 0 is wired to
// the source host, port 1 reaches the destination host's NIC through a
// frame tunnel (a second TCP connection), as a switch would. The VM dials
// its sessions from the source; the peers send a deterministic stream on
// each at a steady rate. The VM's application does not read on the source,
// so what arrives there waits in the sessions' receive queues and moves
// with them.
//
// The migration: the session table is pre-copied over the migration
// connection while the VM runs; the VM is suspended and the circuit answers
// for it (keepalives, acknowledgements of what it journals) for -hold; the
// journal is sealed, sent and replayed on the destination, which activates
// the VM and announces its address five times at growing intervals; the
// peers' switch learns the new port from the first announcement. The
// destination's application then reads every stream from its first byte,
// checks each byte, and reports what it read; the source compares with what
// the peers sent and prints the migration's metrics: the downtime as the
// hold (the suspension chosen with -hold) plus what the migration added,
// the bytes moved before and during it, the journal. The exit status is 1
// if a session was lost or a stream differs.
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/migrate"
	"github.com/ringkit/ringkit/nicsim"
	"github.com/ringkit/ringkit/tcpip"
)

var (
	vmAddr   = netip.MustParseAddr("10.0.0.10")
	peerAddr = netip.MustParseAddr("10.0.1.1")
)

func main() {
	role := flag.String("role", "source", "source (runs the peers and starts the destination) or dest")
	sessions := flag.Int("sessions", 64, "TCP sessions of the VM")
	rate := flag.Int("rate", 100_000, "bytes per second each peer sends")
	hold := flag.Duration("hold", 200*time.Millisecond, "how long the VM stays suspended before the journal is sealed")
	run := flag.Duration("run", time.Second, "how long the peers send before and after the migration")
	journal := flag.Int("journal", 64<<20, "journal capacity in bytes")
	flag.Parse()
	if *kernelFlag { // the peers are the Linux kernel's TCP: kernel_linux.go
		kernelMain(*role, kernelOptions{sessions: *sessions, rate: *rate, hold: *hold, run: *run, journal: *journal})
		return
	}
	var err error
	if *role == "dest" {
		err = destination(*sessions)
	} else {
		err = source(*sessions, *rate, *hold, *run, *journal)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", *role, err)
		os.Exit(1)
	}
}

// pattern is byte off of the stream of the session whose VM port is port.
func pattern(port uint16, off int) byte {
	x := uint32(off)*2654435761 + uint32(port)*40503
	return byte(x>>24) ^ byte(off>>8)
}

func stackConfig(mac byte, addr netip.Addr) tcpip.StackConfig {
	return tcpip.StackConfig{
		MAC:   [6]byte{2, 0, 0, 0, 0, mac},
		Addrs: []netip.Prefix{netip.PrefixFrom(addr, 16)},
		// Peers probe after 300 ms of silence, every 100 ms, 3 times.
		KeepaliveIdle: 300 * time.Millisecond, KeepaliveInterval: 100 * time.Millisecond, KeepaliveProbes: 3,
		MaxFlight: 16 << 10,
	}
}

func newNIC(ports int) (*nicsim.NIC, error) {
	pool, err := descriptor.NewPool(descriptor.PoolConfig{Buffers: 16384})
	if err != nil {
		return nil, err
	}
	return nicsim.New(nicsim.Config{Pool: pool, Ports: ports,
		Rx: descriptor.RxConfig{Descs: 1024}, Tx: descriptor.TxConfig{Descs: 1024}})
}

// tunnel carries the frames a capture port receives to conn, and the frames
// read from conn into port inject: a wire between two processes.
func tunnel(ctx context.Context, wg *sync.WaitGroup, conn net.Conn, capture *nicsim.Port, inject *nicsim.Port) error {
	link, err := tcpip.NewLink(capture, 0)
	if err != nil {
		return err
	}
	wg.Add(2)
	go func() { // capture → conn
		defer wg.Done()
		w := bufio.NewWriter(conn)
		for ctx.Err() == nil {
			n := link.Receive(func(f []byte) {
				var h [2]byte
				binary.BigEndian.PutUint16(h[:], uint16(len(f)))
				_, _ = w.Write(h[:])
				_, _ = w.Write(f)
			})
			if n == 0 {
				_ = w.Flush()
				time.Sleep(50 * time.Microsecond)
			}
		}
	}()
	go func() { // conn → inject
		defer wg.Done()
		r := bufio.NewReader(conn)
		buf := make([]byte, 2048)
		frames := [][]byte{nil}
		for {
			var h [2]byte
			if _, err := io.ReadFull(r, h[:]); err != nil {
				return
			}
			n := int(binary.BigEndian.Uint16(h[:]))
			if n > len(buf) {
				return
			}
			if _, err := io.ReadFull(r, buf[:n]); err != nil {
				return
			}
			frames[0] = buf[:n]
			inject.Receive(frames)
		}
	}()
	return nil
}

// loop polls a host every 100 µs until ctx ends, running app after each
// poll (in the host's goroutine, the only one that sends on its links).
func loop(ctx context.Context, wg *sync.WaitGroup, h *tcpip.Host, app func()) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			if h.Poll() == 0 {
				time.Sleep(100 * time.Microsecond)
			}
			if app != nil {
				app()
			}
		}
	}()
}

type stream struct {
	conn     *tcpip.Conn
	port     uint16
	off      int
	crc      uint32
	budget   float64
	closed   bool
	lastTick time.Time
}

func source(sessions, rate int, hold, run time.Duration, journal int) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	child := exec.Command(self, "-role=dest", fmt.Sprintf("-sessions=%d", sessions))
	child.Stderr = os.Stderr
	out, err := child.StdoutPipe()
	if err != nil {
		return err
	}
	if err := child.Start(); err != nil {
		return err
	}
	defer child.Wait()
	lines := bufio.NewScanner(out)
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), "LISTEN ") {
		return errors.New("the destination did not start")
	}
	destAddr := strings.TrimPrefix(lines.Text(), "LISTEN ")
	tun, err := net.Dial("tcp", destAddr)
	if err != nil {
		return err
	}
	defer tun.Close()

	peerNIC, err := newNIC(2)
	if err != nil {
		return err
	}
	srcNIC, err := newNIC(1)
	if err != nil {
		return err
	}
	capNIC, err := newNIC(1)
	if err != nil {
		return err
	}
	if err := nicsim.Connect(peerNIC.Port(0), srcNIC.Port(0)); err != nil {
		return err
	}
	if err := nicsim.Connect(peerNIC.Port(1), capNIC.Port(0)); err != nil {
		return err
	}
	var links [3]*tcpip.Link
	for i, p := range []*nicsim.Port{peerNIC.Port(0), peerNIC.Port(1), srcNIC.Port(0)} {
		if links[i], err = tcpip.NewLink(p, 0); err != nil {
			return err
		}
	}
	peerHost := tcpip.NewHost(links[0], links[1])
	srcHost := tcpip.NewHost(links[2])
	peers, err := tcpip.NewStack(stackConfig(2, peerAddr), peerHost.Send)
	if err != nil {
		return err
	}
	peerHost.SetHandler(peers)
	vmCfg := stackConfig(1, vmAddr)
	vmCfg.KeepaliveProbes = 0
	// The journal holds the sessions changed since the pre-copy, whole
	// (receive queues included), and what arrives during the suspension.
	circuit, err := migrate.NewCircuit(migrate.CircuitConfig{Stack: vmCfg, JournalSize: journal}, srcHost.Send)
	if err != nil {
		return err
	}
	srcHost.SetHandler(circuit)

	var mu sync.Mutex // the peers' streams, shared with the main goroutine
	streams := map[uint16]*stream{}
	var sending atomic.Bool
	sending.Store(true)
	if err := peers.Listen(netip.AddrPortFrom(peerAddr, 80), func(c *tcpip.Conn) {
		mu.Lock()
		streams[c.Tuple().Dst.Port()] = &stream{conn: c, port: c.Tuple().Dst.Port(), lastTick: time.Now()}
		mu.Unlock()
	}); err != nil {
		return err
	}
	watched := &watch{circuit: circuit, nics: map[string]*nicsim.NIC{"peers": peerNIC, "source": srcNIC, "tunnel": capNIC},
		streams: func() (int, uint64) {
			mu.Lock()
			defer mu.Unlock()
			var n uint64
			for _, s := range streams {
				n += uint64(s.off)
			}
			return len(streams), n
		}}
	waitMetrics, stopMetrics, err := serveMetrics(watched, os.Stdout)
	if err != nil {
		return err
	}
	defer stopMetrics()
	buf := make([]byte, 64<<10)
	peerApp := func() {
		watched.peersPolled(peers.Stats())
		mu.Lock()
		defer mu.Unlock()
		now := time.Now()
		for _, s := range streams {
			if !s.conn.Live() || s.closed {
				continue
			}
			if !sending.Load() {
				s.closed = true
				_ = s.conn.Close()
				continue
			}
			s.budget = min(s.budget+float64(rate)*now.Sub(s.lastTick).Seconds(), float64(len(buf)))
			s.lastTick = now
			n := int(s.budget)
			if n < 1460 {
				continue // whole segments, not a trickle of tiny ones
			}
			for i := range n {
				buf[i] = pattern(s.port, s.off+i)
			}
			k, _ := s.conn.Write(buf[:n])
			s.crc = crc32.Update(s.crc, crc32.IEEETable, buf[:k])
			s.off += k
			s.budget -= float64(k)
		}
	}

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop()
	for _, n := range []*nicsim.NIC{peerNIC, srcNIC, capNIC} {
		runNIC(ctx, &wg, n)
	}
	if err := tunnel(ctx, &wg, tun, capNIC.Port(0), peerNIC.Port(1)); err != nil {
		return err
	}
	loop(ctx, &wg, peerHost, peerApp)
	loop(ctx, &wg, srcHost, nil)

	for i := range sessions {
		circuit.Do(func(vm *tcpip.Stack) {
			_, err = vm.Dial(netip.AddrPortFrom(vmAddr, uint16(40000+i)), netip.AddrPortFrom(peerAddr, 80))
		})
		if err != nil {
			return err
		}
	}
	time.Sleep(run)
	mu.Lock()
	up := len(streams)
	mu.Unlock()
	fmt.Printf("source: %d sessions up, the peers sending %d bytes/s on each; migrating to the destination at %s\n", up, rate, destAddr)

	dial := func(ctx context.Context) (io.ReadWriteCloser, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", destAddr)
	}
	m, err := circuit.Migrate(ctx, []migrate.Dialer{dial}, migrate.MigrateConfig{
		Phase: func(p migrate.Phase) { watched.phase.Store(uint32(p)) },
		Hold: func(ctx context.Context) {
			select {
			case <-time.After(hold):
			case <-ctx.Done():
			}
		},
	})
	if err != nil {
		return err
	}
	watched.migrated(m)
	time.Sleep(run)
	sending.Store(false)

	// The destination reports each stream it read to the end.
	got := map[uint16][2]uint64{}
	for lines.Scan() {
		var port uint16
		var n, crc uint64
		if _, err := fmt.Sscanf(lines.Text(), "STREAM %d %d %x", &port, &n, &crc); err == nil {
			got[port] = [2]uint64{n, crc}
			continue
		}
		fmt.Println("dest:", lines.Text())
	}
	stop()

	mu.Lock()
	r := result{sessions: sessions, streams: len(streams), hold: hold, m: m, peers: peers.Stats(), mac: vmCfg.MAC,
		announces: peerHost.Announcements}
	for port, s := range streams {
		if s.conn.Err() != nil || s.conn.Stats().ResetReceived {
			r.lost++
			fmt.Printf("session %d lost: %v\n", port, s.conn.Err())
		}
		if g := got[port]; g[0] != uint64(s.off) || uint32(g[1]) != s.crc {
			r.differ++
			fmt.Printf("session %d: the peer sent %d bytes (CRC-32 %08x), the VM read %d (CRC-32 %08x)\n", port, s.off, s.crc, g[0], g[1])
		}
		r.peerBytes += s.off
	}
	mu.Unlock()
	r.link, _ = peerHost.LinkOf(vmCfg.MAC)
	r.write(os.Stdout)
	waitMetrics()
	if !r.ok() {
		return errors.New("the migration lost data or sessions")
	}
	return nil
}

func destination(sessions int) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Printf("LISTEN %s\n", ln.Addr())
	tun, err := ln.Accept()
	if err != nil {
		return err
	}
	defer tun.Close()

	dstNIC, err := newNIC(1)
	if err != nil {
		return err
	}
	capNIC, err := newNIC(1)
	if err != nil {
		return err
	}
	if err := nicsim.Connect(dstNIC.Port(0), capNIC.Port(0)); err != nil {
		return err
	}
	dstLink, err := tcpip.NewLink(dstNIC.Port(0), 0)
	if err != nil {
		return err
	}
	dstHost := tcpip.NewHost(dstLink)
	vmCfg := stackConfig(3, vmAddr) // the VM's own MAC and addresses come with it
	vmCfg.KeepaliveProbes = 0
	dest, err := migrate.NewDestination(migrate.DestinationConfig{Stack: vmCfg}, dstHost.Send)
	if err != nil {
		return err
	}
	dstHost.SetHandler(dest)

	type reader struct {
		off int
		crc uint32
		bad int
		eof bool
	}
	readers := map[uint16]*reader{}
	done := make(chan struct{})
	buf := make([]byte, 64<<10)
	app := func() {
		dest.Do(func(vm *tcpip.Stack) {
			ended := 0
			for _, c := range vm.Conns() {
				port := c.Tuple().Src.Port()
				r := readers[port]
				if r == nil {
					r = &reader{}
					readers[port] = r
				}
				for !r.eof {
					n, err := c.Read(buf)
					for i := range n {
						if r.bad == 0 && buf[i] != pattern(port, r.off+i) {
							r.bad = r.off + i + 1
						}
					}
					r.crc = crc32.Update(r.crc, crc32.IEEETable, buf[:n])
					r.off += n
					if err == io.EOF {
						r.eof = true
						_ = c.Close()
					}
					if n == 0 {
						break
					}
				}
				// A stream has ended once the VM read it to the end and
				// its own FIN was acknowledged (or the connection failed):
				// the destination shuts the VM down only then, so that no
				// peer is left waiting for a FIN that never leaves.
				if r.eof && (c.State() == tcpip.Closed || c.Err() != nil) {
					ended++
				}
			}
			if ended == sessions && done != nil {
				close(done)
				done = nil
			}
		})
	}

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, n := range []*nicsim.NIC{dstNIC, capNIC} {
		runNIC(ctx, &wg, n)
	}
	if err := tunnel(ctx, &wg, tun, capNIC.Port(0), dstNIC.Port(0)); err != nil {
		stop()
		wg.Wait()
		return err
	}
	finished := done
	loop(ctx, &wg, dstHost, app)
	shutdown := func() {
		stop()
		tun.Close()
		wg.Wait() // the NICs' Run have returned
	}
	defer shutdown()

	if err := serveAll(ctx, ln, dest); err != nil {
		return err
	}
	fmt.Printf("the VM is active here: %v; %d announcement rounds sent\n", dest.Replay(), dest.Announced())
	select {
	case <-finished:
	case <-time.After(30 * time.Second):
		return errors.New("streams did not end")
	}
	stop()
	tun.Close()
	wg.Wait()
	for port, r := range readers {
		if r.bad != 0 {
			fmt.Printf("stream %d: byte %d out of place\n", port, r.bad-1)
			continue
		}
		fmt.Printf("STREAM %d %d %x\n", port, r.off, r.crc)
	}
	return nil
}

// runNIC runs n's engine on a goroutine of wg's until ctx ends.
func runNIC(ctx context.Context, wg *sync.WaitGroup, n *nicsim.NIC) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = n.Run(ctx) // ends with ctx.Err()
	}()
}

// serveAll serves every connection the source opens until one of them
// leaves the VM running here: after a cut, the source comes back on a new
// connection to resume the journal or to settle the migration by its id
// (see migrate's doc, "Faults"). A connection that fails on the way is
// reported and the next one awaited.
func serveAll(ctx context.Context, ln net.Listener, dest *migrate.Destination) error {
	served := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	defer wg.Wait()
	accepted := make(chan error, 1)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				accepted <- err
				return
			}
			wg.Go(func() {
				defer conn.Close()
				if err := dest.Serve(ctx, conn); err != nil {
					fmt.Fprintf(os.Stderr, "migration: a connection of the source ended: %v (waiting for it to come back)\n", err)
					return
				}
				once.Do(func() { close(served) })
			})
		}
	}()
	select {
	case <-served:
		return nil
	case err := <-accepted:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

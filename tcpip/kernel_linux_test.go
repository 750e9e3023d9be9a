//go:build linux

package tcpip_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/internal/wait"
	"github.com/ringkit/ringkit/linuxport"
	"github.com/ringkit/ringkit/linuxport/netns"
	"github.com/ringkit/ringkit/tcpip"
)

// lossy is a handler that drops every nth TCP segment carrying new
// payload (never one sent again) before the stack sees it, as a congested
// link would.
type lossy struct {
	st      *tcpip.Stack
	every   int
	seen    int
	dropped int
	highest uint32 // the end of the payload seen so far, 0: none yet
}

func (l *lossy) Input(f []byte) {
	// Ethernet, IPv4 without options, TCP: a segment with payload is
	// longer than its headers.
	if len(f) > 14+20+20 && f[12] == 0x08 && f[13] == 0 && f[23] == 6 {
		tcp := f[14+20:]
		hdr := int(tcp[12]>>4) * 4
		if n := len(f) - 14 - 20 - hdr; n > 0 {
			seq := binary.BigEndian.Uint32(tcp[4:])
			end := seq + uint32(n)
			if l.highest == 0 || int32(end-l.highest) > 0 {
				l.highest = end
				if l.seen++; l.seen%l.every == 0 {
					l.dropped++
					return
				}
			}
		}
	}
	l.st.Input(f)
}

func (l *lossy) Tick() { l.st.Tick() }

// TestKernelOutOfOrder streams from the Linux kernel's TCP to the stack
// over a TAP, losing one data segment in 50 on the way: the segments
// behind each loss are held until the kernel's fast retransmission fills
// the gap, so the kernel sends again little more than what was lost, and
// the stream arrives whole.
func TestKernelOutOfOrder(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: makes a network namespace and a TAP device for the kernel's TCP peer")
	}
	ns, err := netns.New("kooo")
	if errors.Is(err, netns.ErrPermission) || errors.Is(err, netns.ErrUnsupported) {
		t.Skipf("the kernel refuses a network namespace: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		id := ns.ID()
		if err := ns.Close(); err != nil {
			t.Error(err)
		}
		if netns.Held(id, 2*time.Second) {
			t.Errorf("%v still held", ns)
		}
	}()
	peer := netip.MustParsePrefix("198.18.6.1/24")
	vmAddr := netip.MustParseAddr("198.18.6.10")
	pool, err := descriptor.NewPool(descriptor.PoolConfig{Buffers: 4096})
	if err != nil {
		t.Fatal(err)
	}
	tap, err := linuxport.OpenTAP("rkooo", linuxport.TAPConfig{Pool: pool, NS: ns, Addr: peer,
		Rx: descriptor.RxConfig{Descs: 1024}, Tx: descriptor.TxConfig{Descs: 1024}})
	if errors.Is(err, linuxport.ErrPermission) || errors.Is(err, linuxport.ErrUnsupported) {
		t.Skipf("the kernel refuses a TAP device: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	link, err := tcpip.NewLink(tap, 0)
	if err != nil {
		t.Fatal(err)
	}
	host := tcpip.NewHost(link)
	st, err := tcpip.NewStack(tcpip.StackConfig{MAC: [6]byte{2, 0, 0, 0, 6, 10},
		Addrs: []netip.Prefix{netip.PrefixFrom(vmAddr, 24)}}, host.Send)
	if err != nil {
		t.Fatal(err)
	}
	h := &lossy{st: st, every: 50}
	host.SetHandler(h)
	const size = 4 << 20
	var (
		mu  sync.Mutex
		got int
		bad = -1
		eof bool
	)
	if err := st.Listen(netip.AddrPortFrom(vmAddr, 80), func(*tcpip.Conn) {}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = wait.Loop(ctx, nil, 200*time.Microsecond, func() (int, error) {
			n := 0
			for range 64 {
				k, err := tap.Step()
				if err != nil {
					return 0, err
				}
				if k += host.Poll(); k == 0 {
					break
				}
				n += k
			}
			mu.Lock()
			for _, c := range st.Conns() {
				for {
					k, err := c.Read(buf)
					for i := range k {
						if bad < 0 && buf[i] != byte(got+i) {
							bad = got + i
						}
					}
					got += k
					if err == io.EOF && !eof {
						eof = true
						_ = c.Close()
					}
					if k == 0 {
						break
					}
				}
			}
			mu.Unlock()
			k, err := tap.Step()
			return n + k, err
		})
	}()
	defer func() {
		stop()
		wg.Wait()
		if err := tap.Close(); err != nil {
			t.Error(err)
		}
	}()

	before, err := ns.Counters()
	if err != nil {
		t.Fatal(err)
	}
	l0, err := ns.Link("rkooo")
	if err != nil {
		t.Fatal(err)
	}
	tapDropped := l0.TxDropped
	var c net.Conn
	if err := ns.Do(func() (err error) {
		c, err = net.DialTimeout("tcp4", netip.AddrPortFrom(vmAddr, 80).String(), 5*time.Second)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	out := make([]byte, size)
	for i := range out {
		out[i] = byte(i)
	}
	if _, err := c.Write(out); err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, c); err != nil { // until the stack's FIN
		t.Fatal(err)
	}
	after, err := ns.Counters()
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got != size || bad >= 0 || !eof {
		t.Fatalf("the stack read %d of %d bytes, first wrong at %d, FIN %v", got, size, bad, eof)
	}
	tcp := after.Sub(before).TCP()
	stats := st.Stats()
	// Besides the test's own drops, a loaded machine loses frames on the
	// way: the kernel drops into the TAP when its queue is full, the port
	// when its RX ring is.
	kl, err := ns.Link("rkooo")
	if err != nil {
		t.Fatal(err)
	}
	missed := tap.Stats().Total.RxMissed
	lost := uint64(h.dropped) + (kl.TxDropped - tapDropped) + missed
	t.Logf("%d segments dropped on the way (%d by the test, %d by the kernel into the TAP, %d by the port); the stack held %d out of order; the kernel: %v",
		lost, h.dropped, kl.TxDropped-tapDropped, missed, stats.OutOfOrder, tcp)
	if !tcp.Clean() {
		t.Errorf("the kernel aborted, reset or rejected: %v", tcp)
	}
	// Each loss costs a retransmission, and sometimes one more (a tail
	// loss probe, a retransmission lost again). A retransmission timeout
	// (a loss with too few duplicate acknowledgements behind it, or the
	// stack answering late on a loaded machine) makes the kernel, which
	// has no SACK here, take everything in flight as lost and send up to
	// a receive window again; the budget allows two such windows. Never
	// the segments behind each loss: with the queue off, the kernel sends
	// nearly the whole stream (about 2600 of 2900 segments) again.
	window := int64(256<<10) / 1448 // the stack's default RecvBuffer in segments
	if budget := 2*int64(lost) + 2*window; h.dropped == 0 || tcp.RetransSegs > budget {
		t.Errorf("%d segments lost, %d retransmission timeouts: the kernel sent %d again, more than %d", lost, tcp.Timeouts, tcp.RetransSegs, budget)
	}
}

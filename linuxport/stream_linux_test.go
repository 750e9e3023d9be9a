//go:build linux

package linuxport_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/linuxport"
	"github.com/ringkit/ringkit/port"
)

// sender is a TPACKET port on the bed's "vsend" that transmits the test
// stream to "vrecv".
type sender struct {
	t    testing.TB
	b    *bed
	p    *linuxport.Packet
	pool *descriptor.Pool
	base uint64 // vsend's TX counter when the sender opened
	seq  uint64
	pkts []descriptor.Packet
}

func newSender(t testing.TB, b *bed) *sender {
	t.Helper()
	pool, err := descriptor.NewPool(descriptor.PoolConfig{Buffers: 1024})
	if err != nil {
		t.Fatal(err)
	}
	p, err := linuxport.OpenPacket("vsend", linuxport.PacketConfig{Pool: pool, NS: b.send})
	skipUnlessKernel(t, "sender", err)
	l, err := b.send.Link("vsend")
	if err != nil {
		t.Fatal(err)
	}
	s := &sender{t: t, b: b, p: p, pool: pool, base: l.TxPackets, pkts: make([]descriptor.Packet, 64)}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
		wantPoolFull(t, pool)
	})
	return s
}

// send posts k frames of size bytes and pushes them out.
func (s *sender) send(k, size int) {
	s.t.Helper()
	k = min(k, len(s.pkts))
	tx := s.p.TxRing(0)
	tx.Reclaim()
	for i := range k {
		b, ok := tx.Cache().Get()
		if !ok {
			s.t.Fatal("sender pool empty")
		}
		f := testFrame(s.pool.Data(b), s.seq, size, s.b.sendMAC, s.b.recvMAC, addrA.Addr(), addrB.Addr())
		s.pkts[i] = descriptor.Packet{Buf: b, Len: uint16(len(f))}
		s.seq++
	}
	for off := 0; off < k; {
		n, err := tx.Transmit(s.pkts[off:k])
		if err != nil {
			s.t.Fatal(err)
		}
		off += n
		if _, err := s.p.Step(); err != nil {
			s.t.Fatal(err)
		}
	}
}

// counted returns the frames vsend counted as sent since the sender opened.
func (s *sender) counted() uint64 {
	l, err := s.b.send.Link("vsend")
	if err != nil {
		s.t.Fatal(err)
	}
	return l.TxPackets - s.base
}

// streamTest sends n frames, paced, from the bed's sender to port p on
// "vrecv" and checks that each arrives exactly once with good checksums,
// that the sender's interface counted n, and that p's received frames
// plus the drops the kernel reports for it are what the sender's interface
// counted.
func streamTest(t *testing.T, b *bed, p port.Port, n int) {
	t.Helper()
	s := newSender(t, b)
	r := newReceiver(t, p)
	const burst = 16
	for sent := 0; sent < n; sent += burst {
		s.send(min(burst, n-sent), 60+sent%1400)
		r.poll()
		time.Sleep(50 * time.Microsecond) // paced: well below what the receiver takes
	}
	r.until(5*time.Second, func() bool { return len(r.seen) == n })
	for range 4 { // the sender's ring drains; nothing more may arrive
		s.p.Step()
		r.poll()
	}
	if len(r.seen) != n {
		t.Errorf("%d of %d frames arrived", len(r.seen), n)
	}
	st := p.Stats()
	counted := s.counted()
	received := uint64(len(r.seen) + r.foreign)
	t.Logf("sent %d, the sender's link counted %d, received %d (%d not of the stream), kernel drops %d", n, counted, received, r.foreign, st.Total.RxMissed)
	if counted != uint64(n) {
		t.Errorf("the sender's link counted %d frames, %d were sent", counted, n)
	}
	if received+st.Total.RxMissed != counted || st.Total.RxPackets != received {
		t.Errorf("received %d (port counted %d) + kernel drops %d != %d counted by the sender", received, st.Total.RxPackets, st.Total.RxMissed, counted)
	}
}

// TestKernelPacket receives a paced stream on a TPACKET port (V3 receive
// ring) from a TPACKET sender (V2 transmit ring, qdisc bypass) across a
// veth pair, with two queues fed by software RSS.
func TestKernelPacket(t *testing.T) {
	b := newBed(t, 1)
	pool := umemPool(t, 1024)
	p, err := linuxport.OpenPacket("vrecv", linuxport.PacketConfig{Pool: pool, Queues: 2, NS: b.recv,
		Rx: descriptor.RxConfig{Descs: 256}})
	skipUnlessKernel(t, "OpenPacket", err)
	n := 3000
	if testing.Short() {
		n = 1000
	}
	streamTest(t, b, p, n)
	st := p.Stats()
	if st.Queues[0].RxPackets == 0 || st.Queues[1].RxPackets == 0 {
		t.Errorf("software RSS used one queue: %v", st)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	wantPoolFull(t, pool)
}

// TestKernelFallback asks for an AF_XDP port the kernel refuses (zero-copy
// on veth, whose driver has none) and gets the TPACKET port instead, which
// receives the stream as TestKernelPacket's; the refused attempt left no
// program attached.
func TestKernelFallback(t *testing.T) {
	b := newBed(t, 1)
	pool := umemPool(t, 2048)
	cfg := linuxport.XDPConfig{Pool: pool, NS: b.recv, Mode: linuxport.ModeDriver, ZeroCopy: true,
		Rx: descriptor.RxConfig{Descs: 256}, Tx: descriptor.TxConfig{Descs: 256}}
	if _, err := linuxport.OpenXDP("vrecv", cfg); !errors.Is(err, linuxport.ErrUnsupported) {
		t.Fatalf("zero-copy AF_XDP on veth: %v, want ErrUnsupported", err)
	}
	wantNoXDP(t, b)
	p, err := linuxport.Open("vrecv", cfg)
	skipUnlessKernel(t, "Open", err)
	if _, ok := p.(*linuxport.Packet); !ok {
		t.Fatalf("Open gave a %T, want the TPACKET fallback", p)
	}
	streamTest(t, b, p, 500)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	wantPoolFull(t, pool)
	wantNoXDP(t, b)
}

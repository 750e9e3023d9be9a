//go:build linux

package linuxport_test

import (
	"testing"
	"time"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/linuxport"
)

// TestKernelXDP receives a paced stream on an AF_XDP port, in skb and in
// driver mode, from a TPACKET sender across a veth pair: every frame once,
// checksums good, received plus XDP_STATISTICS drops equal to what the
// sender's interface counted, every buffer back in the pool after Close.
func TestKernelXDP(t *testing.T) {
	for _, mode := range []linuxport.XDPMode{linuxport.ModeSKB, linuxport.ModeDriver} {
		t.Run(mode.String(), func(t *testing.T) {
			b := newBed(t, 1)
			pool := umemPool(t, 4096)
			p, err := linuxport.OpenXDP("vrecv", linuxport.XDPConfig{Pool: pool, Mode: mode, NS: b.recv,
				Rx: descriptor.RxConfig{Descs: 512}, Tx: descriptor.TxConfig{Descs: 512}})
			skipUnlessKernel(t, "OpenXDP", err)
			if p.Mode() != mode {
				t.Fatalf("attached in %v mode, asked %v", p.Mode(), mode)
			}
			n := 5000
			if testing.Short() {
				n = 1500
			}
			streamTest(t, b, p, n)
			xs := p.XDPStats(0)
			t.Logf("mode %v, zero-copy %v, XDP_STATISTICS %+v", p.Mode(), p.ZeroCopy(), xs)
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			wantPoolFull(t, pool)
			if l, _ := b.recv.Link("vrecv"); l.Index == 0 {
				t.Fatal("vrecv vanished")
			}
			wantNoXDP(t, b)
		})
	}
}

// wantNoXDP fails if an XDP program is still attached to vrecv.
func wantNoXDP(t testing.TB, b *bed) {
	t.Helper()
	l, err := b.recv.Netlink().LinkByName("vrecv")
	if err != nil {
		t.Fatal(err)
	}
	if x := l.Attrs().Xdp; x != nil && x.Attached {
		t.Fatalf("an XDP program (id %d) is still attached to vrecv", x.ProgId)
	}
}

// TestKernelXDPDrops overruns an AF_XDP port on purpose: the sender sends
// while the port's engine does not run, so the kernel finds the fill ring
// empty and drops. Every frame the sender's link counted is either
// received or among the drops XDP_STATISTICS reports.
func TestKernelXDPDrops(t *testing.T) {
	b := newBed(t, 1)
	pool := umemPool(t, 1024)
	p, err := linuxport.OpenXDP("vrecv", linuxport.XDPConfig{Pool: pool, Mode: linuxport.ModeSKB, NS: b.recv,
		Rx: descriptor.RxConfig{Descs: 64}, Tx: descriptor.TxConfig{Descs: 64}})
	skipUnlessKernel(t, "OpenXDP", err)
	s := newSender(t, b)
	const n = 640
	for range n / 64 {
		s.send(64, 60) // the receiver's engine is not stepped
	}
	r := newReceiver(t, p)
	r.until(300*time.Millisecond, func() bool { return false }) // takes what the kernel kept
	st, xs := p.Stats(), p.XDPStats(0)
	counted := s.counted()
	t.Logf("sender counted %d, received %d, XDP_STATISTICS %+v", counted, len(r.seen), xs)
	if counted != n || len(r.seen) == 0 || len(r.seen) >= n {
		t.Fatalf("counted %d, received %d: want some but not all of %d", counted, len(r.seen), n)
	}
	if uint64(len(r.seen))+st.Total.RxMissed != counted || st.Total.RxMissed != xs.RxDropped+xs.RxRingFull {
		t.Fatalf("received %d + missed %d != counted %d (XDP_STATISTICS %+v)", len(r.seen), st.Total.RxMissed, counted, xs)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	wantPoolFull(t, pool)
}

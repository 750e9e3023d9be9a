//go:build linux

package linuxport_test

import (
	"testing"

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

//go:build linux

package linuxport_test

import (
	"testing"
	"time"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/linuxport"
	"github.com/ringkit/ringkit/linuxport/netns"
)

// TestKernelXDPForward forwards a paced stream from one AF_XDP port to
// another on the same pool (one UMEM, XDP_SHARED_UMEM): each packet
// received on vrecv is put, buffer and all, on vout's TX ring, and a
// TPACKET port on vout's peer receives every frame once, intact.
//
//	send ns: vsend ──► vrecv :recv ns: [A: AF_XDP] ─forward─► [B: AF_XDP] vout ──► vback (TPACKET sink)
func TestKernelXDPForward(t *testing.T) {
	b := newBed(t, 1)
	if err := netns.AddVeth(b.recv, "vout", b.send, "vback", netns.VethConfig{}); err != nil {
		t.Fatal(err)
	}
	pool := umemPool(t, 4096)
	cfg := linuxport.XDPConfig{Pool: pool, NS: b.recv, Rx: descriptor.RxConfig{Descs: 512}, Tx: descriptor.TxConfig{Descs: 512}}
	a, err := linuxport.OpenXDP("vrecv", cfg)
	skipUnlessKernel(t, "OpenXDP vrecv", err)
	out, err := linuxport.OpenXDP("vout", cfg)
	if err != nil {
		a.Close()
		t.Fatal(err)
	}
	if shared, sockets := linuxport.SharesUMEM(a, out); !shared || sockets != 2 {
		t.Fatalf("ports on one pool: shared UMEM %v with %d sockets, want 2", shared, sockets)
	}
	sinkPool, _ := descriptor.NewPool(descriptor.PoolConfig{Buffers: 1024})
	sink, err := linuxport.OpenPacket("vback", linuxport.PacketConfig{Pool: sinkPool, NS: b.send})
	if err != nil {
		t.Fatal(err)
	}
	s := newSender(t, b)
	r := newReceiver(t, sink)
	burst := make([]descriptor.Packet, 64)
	var forwarded int
	forward := func() {
		if _, err := a.Step(); err != nil {
			t.Fatal(err)
		}
		k := a.RxRing(0).Receive(burst)
		n, err := out.TxRing(0).Transmit(burst[:k])
		if err != nil {
			t.Fatal(err)
		}
		_ = a.RxRing(0).Free(burst[n:k]) // no room: dropped here, and seen missing below
		forwarded += n
		if _, err := out.Step(); err != nil {
			t.Fatal(err)
		}
	}
	n := 3000
	if testing.Short() {
		n = 1000
	}
	for sent := 0; sent < n; sent += 16 {
		s.send(min(16, n-sent), 64+sent%1000)
		forward()
		r.poll()
		time.Sleep(50 * time.Microsecond)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(r.seen) < n && time.Now().Before(deadline) {
		forward()
		r.poll()
	}
	if len(r.seen) != n || forwarded != n {
		t.Fatalf("forwarded %d, the sink received %d of %d", forwarded, len(r.seen), n)
	}
	ost := out.Stats()
	if ost.Total.TxPackets != uint64(n) || ost.Total.TxErrors != 0 {
		t.Fatalf("out port: %v", ost)
	}
	for _, p := range []interface{ Close() error }{a, out, sink} {
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
	}
	wantPoolFull(t, pool)
	wantPoolFull(t, sinkPool)
	wantNoXDP(t, b)
}

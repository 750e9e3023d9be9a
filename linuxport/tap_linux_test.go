//go:build linux

package linuxport_test

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/frame"
	"github.com/ringkit/ringkit/linuxport"
)

// TestKernelTAP opens a two-queue TAP in a fresh namespace with an address
// on the kernel's side, and checks both ways through the kernel's own
// stack: UDP datagrams the kernel sends to the port's address arrive on the
// port exactly once with good checksums, and frames the port transmits
// arrive at a kernel UDP socket exactly once; then the device, the
// namespace and every buffer are gone or back.
func TestKernelTAP(t *testing.T) {
	ns := newNS(t, "tap")
	pool := umemPool(t, 1024)
	kernelAddr := netip.MustParsePrefix("198.18.1.1/24")
	portAddr := netip.MustParseAddr("198.18.1.2")
	portMAC := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02}
	rx := descriptor.RxConfig{Descs: 128}
	p, err := linuxport.OpenTAP("rktap0", linuxport.TAPConfig{Pool: pool, Queues: 2, NS: ns, Addr: kernelAddr, Rx: rx})
	skipUnlessKernel(t, "OpenTAP", err)
	defer func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
		if names, _ := ns.Links(); len(names) != 1 {
			t.Errorf("links left after Close: %v", names)
		}
		wantPoolFull(t, pool)
	}()
	if err := ns.SetNeigh("rktap0", portAddr, portMAC); err != nil {
		t.Fatal(err)
	}
	link, err := ns.Link("rktap0")
	if err != nil {
		t.Fatal(err)
	}

	// Kernel → port.
	var conn *net.UDPConn
	err = ns.Do(func() (err error) {
		conn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: kernelAddr.Addr().AsSlice(), Port: 9000})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const n = 200
	got := map[string]bool{}
	for i := range n {
		msg := []byte{byte(i), byte(i >> 8), 'k'}
		if _, err := conn.WriteToUDP(msg, &net.UDPAddr{IP: portAddr.AsSlice(), Port: 9000}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	burst := make([]descriptor.Packet, 64)
	for len(got) < n && time.Now().Before(deadline) {
		if _, err := p.Step(); err != nil {
			t.Fatal(err)
		}
		for q := range p.Queues() {
			k := p.RxRing(q).Receive(burst)
			for _, pk := range burst[:k] {
				f := pool.Bytes(pk)
				if len(f) < 14+20+8+3 || f[12] != 8 || f[23] != 17 {
					continue // not one of the datagrams
				}
				if err := frame.Verify(f); err != nil {
					t.Fatalf("datagram: %v", err)
				}
				f = f[:14+20+8+3] // the frame may be padded to 60 bytes
				if !pk.Flags.Has(descriptor.FlagParsed) || int(pk.Queue) != q {
					t.Fatalf("packet metadata %+v on queue %d", pk, q)
				}
				if got[string(f[42:])] {
					t.Fatalf("datagram %v received twice", f[42:])
				}
				got[string(f[42:])] = true
			}
			_ = p.RxRing(q).Free(burst[:k])
		}
	}
	if len(got) != n {
		t.Fatalf("%d datagrams of %d arrived on the port", len(got), n)
	}

	// Port → kernel.
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2048)
	tx := p.TxRing(1)
	seen := map[uint64]bool{}
	for i := range uint64(n) {
		b, ok := pool.Get()
		if !ok {
			t.Fatal("pool empty")
		}
		f := testFrame(pool.Data(b), i, 100, portMAC, link.MAC, portAddr, kernelAddr.Addr())
		pk := []descriptor.Packet{{Buf: b, Len: uint16(len(f))}}
		for {
			k, err := tx.Transmit(pk)
			if err != nil {
				t.Fatal(err)
			}
			if k == 1 {
				break
			}
			_, _ = p.Step()
		}
		if _, err := p.Step(); err != nil {
			t.Fatal(err)
		}
		k, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		// The kernel verified the checksums; the payload is the stream's.
		seq := binary.BigEndian.Uint64(buf[:k])
		if k != 100-42 || seq != i || seen[seq] {
			t.Fatalf("datagram %d carries %d (seen %v)", i, seq, seen[seq])
		}
		seen[seq] = true
	}
	tx.Reclaim()
	st := p.Stats()
	if st.Total.TxPackets != n || st.Total.RxPackets < n {
		t.Fatalf("stats: %v", st)
	}
}

package tcpip

import (
	"net/netip"
	"testing"

	"github.com/ringkit/ringkit/descriptor"
	eth "github.com/ringkit/ringkit/frame"
	"github.com/ringkit/ringkit/nicsim"
)

type handlerFunc func(f []byte)

func (h handlerFunc) Input(f []byte) { h(f) }
func (handlerFunc) Tick()            {}

// A host with two links learns from each frame's source MAC which link
// reaches it, as a switch does: frames to a learned MAC go out of its
// link alone, broadcasts and unknown MACs out of both; a gratuitous ARP or
// a RARP from the MAC on the other link moves it there at once.
func TestHostLearnsWhereMACsAre(t *testing.T) {
	pool, err := descriptor.NewPool(descriptor.PoolConfig{Buffers: 4096})
	if err != nil {
		t.Fatal(err)
	}
	hostNIC, err := nicsim.New(nicsim.Config{Pool: pool, Ports: 2, Rx: descriptor.RxConfig{Descs: 64}, Tx: descriptor.TxConfig{Descs: 64}})
	if err != nil {
		t.Fatal(err)
	}
	a, b := newTestNIC(t), newTestNIC(t)
	for i, n := range []*nicsim.NIC{a, b} {
		if err := nicsim.Connect(hostNIC.Port(i), n.Port(0)); err != nil {
			t.Fatal(err)
		}
	}
	h := NewHost(newTestLink(t, hostNIC.Port(0)), newTestLink(t, hostNIC.Port(1)))
	var handled int
	h.SetHandler(handlerFunc(func([]byte) { handled++ }))
	la, lb := newTestLink(t, a.Port(0)), newTestLink(t, b.Port(0))
	run := func() {
		for range 4 {
			for _, n := range []*nicsim.NIC{hostNIC, a, b} {
				if _, err := n.Step(); err != nil {
					t.Fatal(err)
				}
			}
			h.Poll()
		}
	}
	received := func() (na, nb int) {
		run()
		na = la.Receive(func([]byte) {})
		nb = lb.Receive(func([]byte) {})
		return na, nb
	}

	vm := [6]byte{2, 0, 0, 0, 0, 0x10}
	ipFrame := func(dst, src [6]byte) []byte {
		return eth.Build(nil, &eth.Spec{DstMAC: dst, SrcMAC: src, Src: vmIP, Dst: peerIP, Proto: eth.ProtoUDP, PadTo: 60})
	}
	la.Send(ipFrame(peerMAC, vm))
	run()
	if l, ok := h.LinkOf(vm); handled != 1 || !ok || l != 0 || h.Moves != 0 {
		t.Fatalf("after a frame from the VM on link 0: handled %d, link %d (%v), moves %d", handled, l, ok, h.Moves)
	}
	for _, tc := range []struct {
		name   string
		dst    [6]byte
		na, nb int
	}{{"to the VM", vm, 1, 0}, {"broadcast", broadcastMAC, 1, 1}, {"unknown MAC", gwMAC, 1, 1}} {
		h.Send(ipFrame(tc.dst, peerMAC))
		if na, nb := received(); na != tc.na || nb != tc.nb {
			t.Errorf("%s: %d frames out of link 0, %d out of link 1; want %d, %d", tc.name, na, nb, tc.na, tc.nb)
		}
	}

	garp := eth.ARP{Op: eth.ARPRequest, SenderIP: vmIP, TargetIP: vmIP}
	lb.Send(arpFrame(broadcastMAC, vm, garp)) // the VM moved behind link 1 and announces itself
	run()
	if l, _ := h.LinkOf(vm); l != 1 || h.Moves != 1 || h.Announcements != 1 {
		t.Fatalf("after a gratuitous ARP on link 1: link %d, moves %d, announcements %d", l, h.Moves, h.Announcements)
	}
	h.Send(ipFrame(vm, peerMAC))
	if na, nb := received(); na != 0 || nb != 1 {
		t.Errorf("to the moved VM: %d frames out of link 0, %d out of link 1", na, nb)
	}
	rarp := eth.ARP{Op: eth.RARPRequest, SenderMAC: vm, SenderIP: netip.IPv4Unspecified(), TargetMAC: vm, TargetIP: netip.IPv4Unspecified()}
	la.Send(eth.Build(nil, &eth.Spec{DstMAC: broadcastMAC, SrcMAC: vm, EtherType: eth.EtherTypeRARP, Payload: eth.AppendARP(nil, &rarp), PadTo: 60}))
	run()
	if l, _ := h.LinkOf(vm); l != 0 || h.Moves != 2 || h.Announcements != 2 {
		t.Fatalf("after a RARP on link 0: link %d, moves %d, announcements %d", l, h.Moves, h.Announcements)
	}
}

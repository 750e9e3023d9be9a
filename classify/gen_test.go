package classify

import (
	"math/rand/v2"
	"net/netip"

	"github.com/ringkit/ringkit/frame"
)

// randAddr returns a random IPv4 or IPv6 address.
func randAddr(r *rand.Rand, v6 bool) netip.Addr {
	if v6 {
		var a [16]byte
		for i := range a {
			a[i] = byte(r.Uint32())
		}
		return netip.AddrFrom16(a)
	}
	var a [4]byte
	for i := range a {
		a[i] = byte(r.Uint32())
	}
	return netip.AddrFrom4(a)
}

var tcpOptionChoices = [][]byte{
	{2, 4, 5, 0xb4},                 // MSS
	{1},                             // NOP
	{3, 3, 7},                       // window scale
	{4, 2},                          // SACK permitted
	{8, 10, 1, 2, 3, 4, 5, 6, 7, 8}, // timestamps
}

// randSpec returns a random valid frame description covering every layer
// the parser knows: 0-2 VLAN tags, IPv4 with and without options and
// fragment fields, IPv6 with extension headers, TCP with options, UDP,
// ICMP, ICMPv6, another protocol, and non-IP frames.
func randSpec(r *rand.Rand) frame.Spec {
	s := frame.Spec{
		SrcMAC: [6]byte{2, 0, 0, 0, 0, byte(r.Uint32())}, DstMAC: [6]byte{2, 0, 0, 0, 1, byte(r.Uint32())},
		VLANs: r.IntN(3), VLAN: [2]uint16{uint16(r.Uint32()), uint16(r.Uint32())},
		DSCP: uint8(r.IntN(64)), ECN: uint8(r.IntN(4)), TTL: uint8(r.IntN(256)),
		SrcPort: uint16(r.Uint32()), DstPort: uint16(r.Uint32()),
		Seq: r.Uint32(), Ack: r.Uint32(), TCPFlags: uint8(r.Uint32()), Window: uint16(r.Uint32()),
		ICMPType: uint8(r.Uint32()), ICMPCode: uint8(r.Uint32()), ICMPID: uint16(r.Uint32()), ICMPSeq: uint16(r.Uint32()),
		PayloadLen: r.IntN(200), IPID: r.Uint32(),
	}
	if r.IntN(4) == 0 {
		s.PadTo = 60
	}
	if r.IntN(20) == 0 {
		s.EtherType = 0x0806 // an ARP request
		s.Payload = []byte{0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2}
		return s
	}
	v6 := r.IntN(2) == 0
	s.Src, s.Dst = randAddr(r, v6), randAddr(r, v6)
	s.FlowLabel = r.Uint32() & 0xfffff
	protos := []uint8{frame.ProtoTCP, frame.ProtoTCP, frame.ProtoUDP, frame.ProtoUDP, frame.ProtoICMP, 47}
	if v6 {
		protos[4] = frame.ProtoICMPv6
	}
	s.Proto = protos[r.IntN(len(protos))]
	if s.Proto == frame.ProtoTCP {
		for range r.IntN(4) {
			s.TCPOptions = append(s.TCPOptions, tcpOptionChoices[r.IntN(len(tcpOptionChoices))]...)
		}
	}
	frag := r.IntN(8) == 0
	if frag {
		s.MoreFragments = r.IntN(2) == 0
		if !s.MoreFragments || r.IntN(2) == 0 {
			s.FragOffset = uint16(1 + r.IntN(100))
		}
	}
	if v6 {
		kinds := []uint8{frame.ExtHopByHop, frame.ExtRouting, frame.ExtDestOpts}
		for range r.IntN(3) {
			k := kinds[r.IntN(len(kinds))]
			var data []byte
			switch k {
			case frame.ExtRouting:
				// type 0 (the one gopacket decodes), segments left 0, one address
				data = append([]byte{0, 0, 0, 0, 0, 0}, randAddr(r, true).AsSlice()...)
			case frame.ExtDestOpts:
				data = []byte{0x1e, 1, 0}
			}
			s.Ext = append(s.Ext, frame.Ext{Type: k, Data: data})
		}
		if frag {
			s.Ext = append(s.Ext, frame.Ext{Type: frame.ExtFragment})
		}
	} else {
		s.DontFragment = !frag && r.IntN(2) == 0
		if r.IntN(4) == 0 {
			s.IPOptions = []byte{0x94, 4, 0, 0} // router alert
			if r.IntN(2) == 0 {
				s.IPOptions = append(s.IPOptions, 0x44, 4, 5, 0, 1, 0) // timestamp (no room for stamps), NOP, EOL
			}
		}
	}
	return s
}

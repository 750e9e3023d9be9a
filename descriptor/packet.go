package descriptor

// Packet is the handle a pipeline moves instead of a frame: the buffer that
// holds the frame, its length, and what the NIC and the parser learned about
// it, as an rte_mbuf's first cache line does. It holds no Go pointers, so a
// ring of Packets is a flat array the garbage collector never scans, and
// moving one is a 32-byte copy.
//
// The frame's bytes are Pool.Bytes(p). Offsets are from the first byte of the
// frame; a field the parser did not reach is zero.
type Packet struct {
	Buf  Buf    // the buffer holding the frame, as Pool.Get returned it
	Hash uint32 // RSS hash (Toeplitz), when Flags has FlagHash
	Len  uint16 // frame length in bytes, FCS excluded

	Port  uint16 // input port
	Queue uint16 // RX queue the frame arrived on

	Type    Type   // what the parser recognised, layer by layer
	Flags   Flags  // facts about this frame (fragment, options, hash valid...)
	L3Off   uint16 // offset of the IPv4/IPv6 header (after Ethernet and VLAN tags)
	L4Off   uint16 // offset of the TCP/UDP/ICMP header (after IP options and IPv6 extension headers)
	DataOff uint16 // offset of the L4 payload
	VLAN    uint16 // TCI of the outer VLAN tag, when Type has VLAN or QinQ

	OutPort uint16 // output port chosen by classification
	Proto   uint8  // IP protocol number of the L4 header (6 TCP, 17 UDP, ...)
	DSCP    uint8  // DSCP of the IP header (IPv4 TOS or IPv6 traffic class >> 2)
	TC      uint8  // traffic class chosen by classification
}

// Buf names one buffer of one Pool. It is opaque: only the Pool that handed
// it out can resolve it, and the Pool recognises a Buf of another Pool.
type Buf uint32

// Type is a set of bits naming the headers the parser found, one field per
// layer, in the manner of DPDK's packet types.
type Type uint16

const (
	L2Ether Type = 1 << iota // Ethernet II
	L2VLAN                   // one 802.1Q tag
	L2QinQ                   // two tags (802.1ad outer, 802.1Q inner)
	L3IPv4                   // IPv4
	L3IPv6                   // IPv6
	L4TCP                    // TCP
	L4UDP                    // UDP
	L4ICMP                   // ICMP or ICMPv6
)

// Has reports whether t has every bit of u.
func (t Type) Has(u Type) bool { return t&u == u }

// Flags are facts about a frame that are not header types.
type Flags uint16

const (
	FlagHash      Flags = 1 << iota // Hash holds the RSS hash
	FlagFragment                    // an IP fragment (L4 parsed only in the first fragment)
	FlagIPOpts                      // IPv4 header with options
	FlagIPv6Ext                     // IPv6 extension headers were walked
	FlagMalformed                   // the parser stopped at a malformed header; Type says how far it got
	// FlagParsed says the NIC parsed the whole frame without fault (DPDK's
	// packet type offload): Type, L3Off, L4Off, DataOff, VLAN, Proto and
	// DSCP are its parse, so a classifier need not parse it again. Only a
	// receive engine sets it; classify.Parse clears it, and whoever
	// rewrites the headers must clear it.
	FlagParsed
)

// Has reports whether f has every bit of g.
func (f Flags) Has(g Flags) bool { return f&g == g }

// L3Len returns the length of the IP header including options and extension
// headers, or 0 if there is none.
func (p *Packet) L3Len() int {
	if p.L4Off == 0 {
		return 0
	}
	return int(p.L4Off) - int(p.L3Off)
}

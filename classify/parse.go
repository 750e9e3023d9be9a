package classify

import (
	"encoding/binary"

	"github.com/ringkit/ringkit/descriptor"
)

// Reason says why the parser stopped at a malformed header. The zero
// value, OK, is a frame parsed as far as the parser knows its headers.
type Reason uint8

// Reasons, in the order of the layers.
const (
	OK                   Reason = iota
	ReasonTooLong               // frame longer than 65535 bytes: offsets would not fit
	ReasonEtherShort            // shorter than an Ethernet header (14 bytes)
	ReasonVLANShort             // a VLAN tag cut short
	ReasonVLANDepth             // more than two VLAN tags
	ReasonIPv4Short             // shorter than an IPv4 header (20 bytes)
	ReasonIPv4Version           // IPv4 EtherType, version field not 4
	ReasonIPv4HeaderLen         // IHL below 5 or beyond the total length
	ReasonIPv4TotalLen          // total length below the header length or beyond the frame
	ReasonIPv4Option            // an IPv4 option with a bad length
	ReasonIPv6Short             // shorter than an IPv6 header (40 bytes)
	ReasonIPv6Version           // IPv6 EtherType, version field not 6
	ReasonIPv6PayloadLen        // payload length beyond the frame
	ReasonIPv6ExtShort          // an extension header beyond the payload
	ReasonIPv6ExtDepth          // more than MaxIPv6Ext extension headers
	ReasonTCPShort              // shorter than a TCP header (20 bytes)
	ReasonTCPDataOff            // TCP data offset below 5 or beyond the segment
	ReasonUDPShort              // shorter than a UDP header (8 bytes)
	ReasonUDPLen                // UDP length below 8 or beyond the datagram
	ReasonICMPShort             // shorter than an ICMP (8 bytes) or ICMPv6 (4 bytes) header

	numReasons
)

// NumReasons is the number of Reason values, OK included.
const NumReasons = int(numReasons)

// MaxIPv6Ext bounds the IPv6 extension headers the parser walks, so a
// crafted chain costs a bounded time.
const MaxIPv6Ext = 8

var reasonNames = [numReasons]string{
	OK:                   "ok",
	ReasonTooLong:        "frame over 65535 bytes",
	ReasonEtherShort:     "ethernet header truncated",
	ReasonVLANShort:      "vlan tag truncated",
	ReasonVLANDepth:      "more than two vlan tags",
	ReasonIPv4Short:      "ipv4 header truncated",
	ReasonIPv4Version:    "ipv4 version not 4",
	ReasonIPv4HeaderLen:  "ipv4 header length invalid",
	ReasonIPv4TotalLen:   "ipv4 total length invalid",
	ReasonIPv4Option:     "ipv4 option length invalid",
	ReasonIPv6Short:      "ipv6 header truncated",
	ReasonIPv6Version:    "ipv6 version not 6",
	ReasonIPv6PayloadLen: "ipv6 payload length beyond frame",
	ReasonIPv6ExtShort:   "ipv6 extension header truncated",
	ReasonIPv6ExtDepth:   "too many ipv6 extension headers",
	ReasonTCPShort:       "tcp header truncated",
	ReasonTCPDataOff:     "tcp data offset invalid",
	ReasonUDPShort:       "udp header truncated",
	ReasonUDPLen:         "udp length invalid",
	ReasonICMPShort:      "icmp header truncated",
}

// String names the reason.
func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "unknown reason"
}

// EtherTypes and IP protocol numbers the parser knows.
const (
	etherIPv4   = 0x0800
	etherIPv6   = 0x86dd
	etherVLAN   = 0x8100 // 802.1Q
	etherQinQ   = 0x88a8 // 802.1ad
	etherQinQv1 = 0x9100 // pre-standard QinQ, still sent by some switches

	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58

	ipv6HopByHop = 0
	ipv6Routing  = 43
	ipv6Fragment = 44
	ipv6AH       = 51
	ipv6DestOpts = 60
)

func isTag(et uint16) bool { return et == etherVLAN || et == etherQinQ || et == etherQinQv1 }

// Parse parses the frame b (the Len bytes of p's buffer) and fills p's
// metadata: Type, Flags (FlagHash is kept, every other flag recomputed;
// FlagParsed, which only a NIC's receive engine sets, is cleared),
// L3Off, L4Off, DataOff, VLAN, Proto and DSCP. It never reads outside b and
// never panics. It returns OK, or the Reason of the first malformed header;
// then p.Flags has FlagMalformed and p.Type has the layers that were whole
// before it.
//
// Offsets: L3Off is the IP header; L4Off is the end of the IP header
// (options and extension headers included), where the TCP, UDP or ICMP
// header starts; DataOff is the L4 payload. For an IP packet whose L4
// header is not parsed (a non-first fragment, another protocol, ESP or
// "no next header"), L4Off and DataOff are both the end of the IP header
// and Type has no L4 bit. Bytes after the IP packet (Ethernet padding)
// are ignored. A frame that is neither IPv4 nor IPv6 is OK with Type
// L2Ether (and its VLAN bits) only.
//
// Parse allocates nothing and is safe for concurrent use on distinct
// packets.
func Parse(b []byte, p *descriptor.Packet) Reason {
	p.Type = 0
	p.Flags &= descriptor.FlagHash
	p.L3Off, p.L4Off, p.DataOff = 0, 0, 0
	p.VLAN, p.Proto, p.DSCP = 0, 0, 0
	r := parse(b, p)
	if r != OK {
		p.Flags |= descriptor.FlagMalformed
	}
	return r
}

func parse(b []byte, p *descriptor.Packet) Reason {
	if len(b) > 0xffff {
		return ReasonTooLong
	}
	if len(b) < 14 {
		return ReasonEtherShort
	}
	t := descriptor.L2Ether
	et := binary.BigEndian.Uint16(b[12:14])
	off := 14
	if isTag(et) {
		if len(b) < 18 {
			p.Type = t
			return ReasonVLANShort
		}
		p.VLAN = binary.BigEndian.Uint16(b[14:16])
		et = binary.BigEndian.Uint16(b[16:18])
		off = 18
		t |= descriptor.L2VLAN
		if isTag(et) {
			if len(b) < 22 {
				p.Type = t
				return ReasonVLANShort
			}
			et = binary.BigEndian.Uint16(b[20:22])
			off = 22
			t = descriptor.L2Ether | descriptor.L2QinQ
			if isTag(et) {
				p.Type = t
				return ReasonVLANDepth
			}
		}
	}
	p.Type = t
	switch et {
	case etherIPv4:
		return parseIPv4(b, off, p)
	case etherIPv6:
		return parseIPv6(b, off, p)
	}
	return OK
}

func parseIPv4(b []byte, off int, p *descriptor.Packet) Reason {
	p.L3Off = uint16(off)
	h := b[off:]
	if len(h) < 20 {
		return ReasonIPv4Short
	}
	if h[0]>>4 != 4 {
		return ReasonIPv4Version
	}
	hl := int(h[0]&0x0f) * 4
	if hl < 20 {
		return ReasonIPv4HeaderLen
	}
	tl := int(binary.BigEndian.Uint16(h[2:4]))
	if tl < hl {
		if tl < 20 {
			return ReasonIPv4TotalLen
		}
		return ReasonIPv4HeaderLen
	}
	if tl > len(h) {
		return ReasonIPv4TotalLen
	}
	h = h[:tl]
	if hl > 20 {
		if !ipv4OptionsOK(h[20:hl]) {
			return ReasonIPv4Option
		}
		p.Flags |= descriptor.FlagIPOpts
	}
	p.DSCP = h[1] >> 2
	p.Proto = h[9]
	p.Type |= descriptor.L3IPv4
	l4 := off + hl
	p.L4Off, p.DataOff = uint16(l4), uint16(l4)
	ff := binary.BigEndian.Uint16(h[6:8])
	if ff&0x3fff != 0 { // MF or a fragment offset
		p.Flags |= descriptor.FlagFragment
		if ff&0x1fff != 0 {
			return OK // not the first fragment: no L4 header
		}
	}
	return parseL4(h[hl:], l4, p)
}

// ipv4OptionsOK walks the options (RFC 791 §3.1): End of Options ends
// them, No Operation is one byte, any other option has a length byte
// counting its type and length bytes, and must hold at least one data
// byte and fit in what remains.
func ipv4OptionsOK(o []byte) bool {
	for len(o) > 0 {
		switch o[0] {
		case 0:
			return true
		case 1:
			o = o[1:]
			continue
		}
		if len(o) < 2 {
			return false
		}
		n := int(o[1])
		if n < 3 || n > len(o) {
			return false
		}
		o = o[n:]
	}
	return true
}

func parseIPv6(b []byte, off int, p *descriptor.Packet) Reason {
	p.L3Off = uint16(off)
	h := b[off:]
	if len(h) < 40 {
		return ReasonIPv6Short
	}
	w := binary.BigEndian.Uint16(h[0:2])
	if w>>12 != 6 {
		return ReasonIPv6Version
	}
	end := 40 + int(binary.BigEndian.Uint16(h[4:6]))
	if end > len(h) {
		return ReasonIPv6PayloadLen
	}
	h = h[:end]
	next := h[6]
	x := 40
	later := false // a fragment that is not the first
walk:
	for n := 0; ; n++ {
		var l int
		switch next {
		case ipv6HopByHop, ipv6Routing, ipv6DestOpts, ipv6AH, ipv6Fragment:
		default:
			break walk
		}
		if n == MaxIPv6Ext {
			return ReasonIPv6ExtDepth
		}
		if len(h)-x < 8 {
			return ReasonIPv6ExtShort
		}
		switch next {
		case ipv6Fragment:
			l = 8
			fo := binary.BigEndian.Uint16(h[x+2 : x+4])
			if fo&0xfff9 != 0 { // offset or M
				p.Flags |= descriptor.FlagFragment
				later = later || fo>>3 != 0
			}
		case ipv6AH:
			l = (int(h[x+1]) + 2) * 4
		default:
			l = (int(h[x+1]) + 1) * 8
		}
		if l > len(h)-x {
			return ReasonIPv6ExtShort
		}
		p.Flags |= descriptor.FlagIPv6Ext
		next = h[x]
		x += l
		if later {
			break
		}
	}
	p.DSCP = uint8(w>>6) & 0x3f
	p.Proto = next
	p.Type |= descriptor.L3IPv6
	l4 := off + x
	p.L4Off, p.DataOff = uint16(l4), uint16(l4)
	if later {
		return OK
	}
	return parseL4(h[x:], l4, p)
}

// parseL4 parses the L4 header at the start of seg (the rest of the IP
// packet), found at frame offset l4.
func parseL4(seg []byte, l4 int, p *descriptor.Packet) Reason {
	switch p.Proto {
	case ProtoTCP:
		if len(seg) < 20 {
			return ReasonTCPShort
		}
		d := int(seg[12]>>4) * 4
		if d < 20 || d > len(seg) {
			return ReasonTCPDataOff
		}
		p.Type |= descriptor.L4TCP
		p.DataOff = uint16(l4 + d)
	case ProtoUDP:
		if len(seg) < 8 {
			return ReasonUDPShort
		}
		if n := int(binary.BigEndian.Uint16(seg[4:6])); n < 8 || n > len(seg) {
			return ReasonUDPLen
		}
		p.Type |= descriptor.L4UDP
		p.DataOff = uint16(l4 + 8)
	case ProtoICMP, ProtoICMPv6:
		n := 8
		if p.Proto == ProtoICMPv6 {
			n = 4
		}
		if len(seg) < n {
			return ReasonICMPShort
		}
		p.Type |= descriptor.L4ICMP
		p.DataOff = uint16(l4 + n)
	}
	return OK
}

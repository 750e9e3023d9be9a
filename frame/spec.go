package frame

import "net/netip"

// IP protocol numbers the builder writes a header for.
const (
	ProtoICMP   uint8 = 1
	ProtoTCP    uint8 = 6
	ProtoUDP    uint8 = 17
	ProtoICMPv6 uint8 = 58
)

// IPv6 extension header types (their Next Header values).
const (
	ExtHopByHop uint8 = 0
	ExtRouting  uint8 = 43
	ExtFragment uint8 = 44
	ExtDestOpts uint8 = 60
)

// TCP flag bits, as in the 14th byte of the TCP header.
const (
	TCPFin uint8 = 1 << iota
	TCPSyn
	TCPRst
	TCPPsh
	TCPAck
	TCPUrg
	TCPEce
	TCPCwr
)

// EtherTypes the builder writes.
const (
	EtherTypeIPv4  uint16 = 0x0800
	EtherTypeIPv6  uint16 = 0x86dd
	EtherTypeVLAN  uint16 = 0x8100 // 802.1Q tag
	EtherTypeQinQ  uint16 = 0x88a8 // 802.1ad service tag
	minEtherFrame         = 60     // Ethernet minimum without FCS
	maxIPv4Options        = 40
	maxTCPOptions         = 40
)

// Spec describes one frame. The zero value of a field selects the usual
// default where one is named; Build fills in every length, next-header and
// checksum field, so a Spec never carries them.
type Spec struct {
	DstMAC, SrcMAC [6]byte

	// VLANs is the number of VLAN tags, 0, 1 or 2. VLAN holds their TCIs
	// (priority, DEI, VLAN ID), outer first. OuterTPID is the TPID of the
	// outer tag; 0 selects 0x8100 for a single tag and 0x88a8 (802.1ad) for
	// the outer of two. The inner tag of two is always 0x8100.
	VLANs     int
	VLAN      [2]uint16
	OuterTPID uint16

	// EtherType is used only for a frame without IP (Src and Dst invalid):
	// the frame is then Ethernet, tags, and Payload.
	EtherType uint16

	// Src and Dst are both IPv4 or both IPv6 addresses; they choose the
	// IP version. An IPv4-mapped IPv6 address counts as IPv6.
	Src, Dst netip.Addr

	DSCP uint8 // 6 bits: IPv4 TOS >> 2, IPv6 traffic class >> 2
	ECN  uint8 // 2 bits
	TTL  uint8 // IPv4 TTL or IPv6 hop limit; 0 selects 64

	// Fragment fields. IPID is the IPv4 Identification (low 16 bits) or the
	// IPv6 fragment header's Identification. FragOffset counts 8-byte units.
	// A frame with FragOffset > 0 carries no L4 header: Payload follows the
	// IP header directly. In IPv6 they are written only into an ExtFragment
	// extension header, which must be listed in Ext.
	IPID          uint32
	DontFragment  bool // IPv4 only
	MoreFragments bool
	FragOffset    uint16

	// IPOptions are IPv4 options, at most 40 bytes; Build pads them with
	// End-of-Options bytes to a multiple of 4.
	IPOptions []byte

	FlowLabel uint32 // IPv6 only, 20 bits
	// Ext lists IPv6 extension headers in the order they appear.
	Ext []Ext

	// Proto is the IP protocol number. ProtoTCP, ProtoUDP, ProtoICMP and
	// ProtoICMPv6 get their header built; any other number is written into
	// the IP header and Payload follows it.
	Proto uint8

	SrcPort, DstPort uint16 // TCP or UDP

	Seq, Ack uint32 // TCP
	TCPFlags uint8  // TCP, the TCPFin... bits
	Window   uint16 // TCP; 0 selects 65535
	Urgent   uint16 // TCP
	// TCPOptions are TCP options, at most 40 bytes; Build pads them with
	// End-of-Options bytes to a multiple of 4.
	TCPOptions []byte

	ICMPType, ICMPCode uint8
	ICMPID, ICMPSeq    uint16 // the second word of the ICMP header (echo identifier and sequence)

	// Payload is the L4 payload. When it is nil, PayloadLen bytes are
	// written instead, byte i holding byte(i), so checksums cover non-zero
	// data.
	Payload    []byte
	PayloadLen int

	// PadTo pads the frame with zero bytes after the IP packet up to PadTo
	// bytes (60 is the Ethernet minimum without FCS). IP lengths do not
	// count the padding, as on a real wire.
	PadTo int
}

// Ext is one IPv6 extension header.
type Ext struct {
	// Type is ExtHopByHop, ExtRouting, ExtFragment or ExtDestOpts.
	Type uint8
	// Data is what follows the Next Header and Hdr Ext Len bytes: options
	// for hop-by-hop and destination options (Build pads them with Pad1 or
	// PadN options to a multiple of 8 bytes with the first two), or the
	// routing type, segments left and the rest of a routing header (padded
	// with zeros). A fragment header's Data is ignored: it is built from
	// Spec's fragment fields.
	Data []byte
}

// IsIPv6 reports whether s describes an IPv6 packet.
func (s *Spec) IsIPv6() bool { return s.Src.Is6() }

// HasIP reports whether s describes an IP packet (Src is set).
func (s *Spec) HasIP() bool { return s.Src.IsValid() }

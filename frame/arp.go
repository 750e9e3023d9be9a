package frame

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// EtherTypes of address resolution.
const (
	EtherTypeARP  uint16 = 0x0806 // RFC 826
	EtherTypeRARP uint16 = 0x8035 // RFC 903; QEMU's self-announcement after a migration
)

// ARP operation codes (RFC 826, RFC 903).
const (
	ARPRequest  uint16 = 1
	ARPReply    uint16 = 2
	RARPRequest uint16 = 3 // "request reverse"
	RARPReply   uint16 = 4
)

// ARPLen is the length of an ARP packet for IPv4 over Ethernet; a frame
// carrying one is padded to the Ethernet minimum of 60 bytes.
const ARPLen = 28

// ARP is an ARP packet for IPv4 over Ethernet (RFC 826), or a RARP packet
// (RFC 903: the same layout with operations 3 and 4, carried with
// EtherType EtherTypeRARP).
//
// A gratuitous ARP announces an address: SenderIP and TargetIP are both the
// announced address. An ARP probe (RFC 5227) has an unspecified SenderIP.
type ARP struct {
	Op        uint16     // ARPRequest, ARPReply, RARPRequest or RARPReply
	SenderMAC [6]byte    // sender hardware address
	SenderIP  netip.Addr // sender protocol address (IPv4; 0.0.0.0 when unknown)
	TargetMAC [6]byte    // target hardware address (zero in a request)
	TargetIP  netip.Addr // target protocol address (IPv4)
}

// IsGratuitous reports whether a announces its sender's address: a request
// or reply whose sender and target protocol addresses are the same.
func (a *ARP) IsGratuitous() bool {
	return (a.Op == ARPRequest || a.Op == ARPReply) && a.SenderIP == a.TargetIP && !a.SenderIP.IsUnspecified()
}

// AppendARP appends the 28 bytes of a to dst: the payload of a frame whose
// EtherType is EtherTypeARP or EtherTypeRARP (see Spec.EtherType). An
// address that is not IPv4 is written as 0.0.0.0.
//
//	spec := frame.Spec{DstMAC: broadcast, SrcMAC: mac, EtherType: frame.EtherTypeARP,
//		Payload: frame.AppendARP(nil, &req), PadTo: 60}
func AppendARP(dst []byte, a *ARP) []byte {
	be := binary.BigEndian
	dst = be.AppendUint16(dst, 1) // hardware type: Ethernet
	dst = be.AppendUint16(dst, EtherTypeIPv4)
	dst = append(dst, 6, 4)
	dst = be.AppendUint16(dst, a.Op)
	dst = append(dst, a.SenderMAC[:]...)
	dst = appendIPv4(dst, a.SenderIP)
	dst = append(dst, a.TargetMAC[:]...)
	return appendIPv4(dst, a.TargetIP)
}

func appendIPv4(dst []byte, a netip.Addr) []byte {
	var v4 [4]byte
	if a.Is4() {
		v4 = a.As4()
	}
	return append(dst, v4[:]...)
}

// ParseARP reads an ARP or RARP packet for IPv4 over Ethernet from b, the
// payload of a frame (the bytes after its EtherType; padding may follow
// the packet and is not read). It checks the hardware and protocol types,
// their lengths and the operation, and never reads past b. The error wraps
// ErrMalformed and names the field.
func ParseARP(b []byte) (ARP, error) {
	if len(b) < ARPLen {
		return ARP{}, fmt.Errorf("%w: ARP packet of %d bytes (%d needed)", ErrMalformed, len(b), ARPLen)
	}
	be := binary.BigEndian
	switch {
	case be.Uint16(b[0:]) != 1:
		return ARP{}, fmt.Errorf("%w: ARP hardware type %d (1, Ethernet)", ErrMalformed, be.Uint16(b[0:]))
	case be.Uint16(b[2:]) != EtherTypeIPv4:
		return ARP{}, fmt.Errorf("%w: ARP protocol type %#04x (IPv4)", ErrMalformed, be.Uint16(b[2:]))
	case b[4] != 6 || b[5] != 4:
		return ARP{}, fmt.Errorf("%w: ARP address lengths %d and %d (6 and 4)", ErrMalformed, b[4], b[5])
	}
	a := ARP{
		Op:        be.Uint16(b[6:]),
		SenderMAC: [6]byte(b[8:14]),
		SenderIP:  netip.AddrFrom4([4]byte(b[14:18])),
		TargetMAC: [6]byte(b[18:24]),
		TargetIP:  netip.AddrFrom4([4]byte(b[24:28])),
	}
	if a.Op < ARPRequest || a.Op > RARPReply {
		return ARP{}, fmt.Errorf("%w: ARP operation %d", ErrMalformed, a.Op)
	}
	return a, nil
}

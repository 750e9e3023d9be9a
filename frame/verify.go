package frame

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Errors of Verify, wrapped with the layer at fault.
var (
	ErrChecksum  = errors.New("frame: bad checksum")
	ErrMalformed = errors.New("frame: malformed")
)

// Verify walks a frame (Ethernet II, up to two VLAN tags, IPv4 or IPv6
// with extension headers, then TCP, UDP, ICMP or ICMPv6) and checks every
// checksum it carries: the IPv4 header checksum, and the L4 checksum over
// the pseudo-header. A fragment's L4 checksum is not checked (it covers
// bytes the fragment lacks), nor is a UDP checksum of zero (none sent). A
// frame that is not IP passes. The error wraps ErrChecksum or ErrMalformed
// and names the header.
//
// Verify is a checking tool, independent of the classify parser; it does
// not aim to be fast.
func Verify(b []byte) error {
	if len(b) < 14 {
		return fmt.Errorf("%w: Ethernet header: %d bytes", ErrMalformed, len(b))
	}
	off := 12
	et := binary.BigEndian.Uint16(b[off:])
	for tags := 0; et == EtherTypeVLAN || et == EtherTypeQinQ; tags++ {
		if tags == 2 || len(b) < off+8 {
			return fmt.Errorf("%w: VLAN tag at %d", ErrMalformed, off)
		}
		off += 4
		et = binary.BigEndian.Uint16(b[off:])
	}
	l3 := off + 2
	switch et {
	case EtherTypeIPv4:
		return verifyIPv4(b[l3:])
	case EtherTypeIPv6:
		return verifyIPv6(b[l3:])
	}
	return nil
}

func verifyIPv4(h []byte) error {
	if len(h) < 20 || h[0]>>4 != 4 {
		return fmt.Errorf("%w: IPv4 header", ErrMalformed)
	}
	hl := int(h[0]&15) * 4
	tl := int(binary.BigEndian.Uint16(h[2:]))
	if hl < 20 || tl < hl || tl > len(h) {
		return fmt.Errorf("%w: IPv4 header length %d, total length %d, %d bytes", ErrMalformed, hl, tl, len(h))
	}
	if c := Checksum(h[:hl], 0); c != 0 {
		return fmt.Errorf("%w: IPv4 header (sum %#04x)", ErrChecksum, c)
	}
	ff := binary.BigEndian.Uint16(h[6:])
	if ff&0x3fff != 0 {
		return nil // a fragment
	}
	proto := h[9]
	seg := h[hl:tl]
	acc := PseudoSum(h[12:16], h[16:20], proto, len(seg))
	if proto == ProtoICMP {
		acc = 0
	}
	return verifyL4(proto, seg, acc)
}

func verifyIPv6(h []byte) error {
	if len(h) < 40 || h[0]>>4 != 6 {
		return fmt.Errorf("%w: IPv6 header", ErrMalformed)
	}
	end := 40 + int(binary.BigEndian.Uint16(h[4:]))
	if end > len(h) {
		return fmt.Errorf("%w: IPv6 payload length %d, %d bytes", ErrMalformed, end-40, len(h)-40)
	}
	next, off := h[6], 40
	for {
		switch next {
		case ExtHopByHop, ExtRouting, ExtDestOpts, ExtFragment:
			if off+8 > end {
				return fmt.Errorf("%w: IPv6 extension header %d at %d", ErrMalformed, next, off)
			}
			n := (int(h[off+1]) + 1) * 8
			if next == ExtFragment {
				if binary.BigEndian.Uint16(h[off+2:])&0xfff9 != 0 {
					return nil // a fragment
				}
				n = 8
			}
			if off+n > end {
				return fmt.Errorf("%w: IPv6 extension header %d at %d", ErrMalformed, next, off)
			}
			next = h[off]
			off += n
			continue
		}
		break
	}
	seg := h[off:end]
	return verifyL4(next, seg, PseudoSum(h[8:24], h[24:40], next, len(seg)))
}

func verifyL4(proto uint8, seg []byte, acc uint32) error {
	var name string
	switch proto {
	case ProtoTCP:
		name = "TCP"
		if len(seg) < 20 {
			return fmt.Errorf("%w: TCP header", ErrMalformed)
		}
	case ProtoUDP:
		name = "UDP"
		if len(seg) < 8 {
			return fmt.Errorf("%w: UDP header", ErrMalformed)
		}
		if int(binary.BigEndian.Uint16(seg[4:])) != len(seg) {
			return fmt.Errorf("%w: UDP length %d, %d bytes", ErrMalformed, binary.BigEndian.Uint16(seg[4:]), len(seg))
		}
		if binary.BigEndian.Uint16(seg[6:]) == 0 {
			return nil
		}
	case ProtoICMP, ProtoICMPv6:
		name = "ICMP"
		if len(seg) < 4 {
			return fmt.Errorf("%w: ICMP header", ErrMalformed)
		}
	default:
		return nil
	}
	if c := Checksum(seg, acc); c != 0 {
		return fmt.Errorf("%w: %s (sum %#04x)", ErrChecksum, name, c)
	}
	return nil
}

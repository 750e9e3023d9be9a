package frame

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// ErrSpec is wrapped by every error Append returns for a Spec that cannot
// be built.
var ErrSpec = errors.New("frame: invalid spec")

// Build appends the frame s describes to dst and returns the extended
// slice. It allocates only when dst lacks the capacity. Build panics if s
// cannot be built (see Append for the reasons); use Append when the Spec
// comes from input.
func Build(dst []byte, s *Spec) []byte {
	out, err := Append(dst, s)
	if err != nil {
		panic(err)
	}
	return out
}

// Append appends the frame s describes to dst. On error dst is returned
// unchanged with an error wrapping ErrSpec that names the bad field: more
// than two VLAN tags, IP options or TCP options over 40 bytes, addresses of
// mixed or missing versions, an extension header that does not fit its
// length field, or an IP packet over 65535 bytes.
func Append(dst []byte, s *Spec) ([]byte, error) {
	lay, err := s.layout()
	if err != nil {
		return dst, err
	}
	start := len(dst)
	total := lay.end
	if s.PadTo > total {
		total = s.PadTo
	}
	if cap(dst)-start < total {
		grown := make([]byte, start, start+total)
		copy(grown, dst)
		dst = grown
	}
	dst = dst[:start+total]
	b := dst[start:]
	clear(b)
	s.write(b, &lay)
	return dst, nil
}

// layout holds the offsets of each header of the frame being built.
type layout struct {
	l3, l4, data, end int // header offsets and the end of the IP packet
	ipOptLen          int // IPv4 options, padded
	tcpOptLen         int // TCP options, padded
	l4Hdr             bool
}

func (s *Spec) layout() (layout, error) {
	var lay layout
	if s.VLANs < 0 || s.VLANs > 2 {
		return lay, fmt.Errorf("%w: VLANs %d (0, 1 or 2)", ErrSpec, s.VLANs)
	}
	lay.l3 = 14 + 4*s.VLANs
	if !s.HasIP() {
		if s.Dst.IsValid() {
			return lay, fmt.Errorf("%w: Dst set without Src", ErrSpec)
		}
		lay.l4, lay.data = lay.l3, lay.l3
		lay.end = lay.l3 + s.payloadLen()
		return lay, nil
	}
	if s.Src.Is4() != s.Dst.Is4() || !s.Dst.IsValid() {
		return lay, fmt.Errorf("%w: Src %v and Dst %v are not of one IP version", ErrSpec, s.Src, s.Dst)
	}
	if s.IsIPv6() {
		if (s.FragOffset != 0 || s.MoreFragments) && !slices.ContainsFunc(s.Ext, func(e Ext) bool { return e.Type == ExtFragment }) {
			return lay, fmt.Errorf("%w: FragOffset or MoreFragments on IPv6 without an ExtFragment in Ext", ErrSpec)
		}
		n := 40
		for i, e := range s.Ext {
			l, err := e.size()
			if err != nil {
				return lay, fmt.Errorf("%w: Ext[%d]: %v", ErrSpec, i, err)
			}
			n += l
		}
		lay.l4 = lay.l3 + n
	} else {
		if len(s.IPOptions) > maxIPv4Options {
			return lay, fmt.Errorf("%w: IPOptions of %d bytes (at most %d)", ErrSpec, len(s.IPOptions), maxIPv4Options)
		}
		lay.ipOptLen = (len(s.IPOptions) + 3) &^ 3
		lay.l4 = lay.l3 + 20 + lay.ipOptLen
	}
	lay.l4Hdr = s.FragOffset == 0
	hdr := 0
	if lay.l4Hdr {
		switch s.Proto {
		case ProtoTCP:
			if len(s.TCPOptions) > maxTCPOptions {
				return lay, fmt.Errorf("%w: TCPOptions of %d bytes (at most %d)", ErrSpec, len(s.TCPOptions), maxTCPOptions)
			}
			lay.tcpOptLen = (len(s.TCPOptions) + 3) &^ 3
			hdr = 20 + lay.tcpOptLen
		case ProtoUDP, ProtoICMP, ProtoICMPv6:
			hdr = 8
		}
	}
	lay.data = lay.l4 + hdr
	lay.end = lay.data + s.payloadLen()
	ipLen := lay.end - lay.l3
	if s.IsIPv6() {
		ipLen -= 40
	}
	if ipLen > 0xffff {
		return lay, fmt.Errorf("%w: IP packet of %d bytes (at most 65535)", ErrSpec, ipLen)
	}
	return lay, nil
}

func (s *Spec) payloadLen() int {
	if s.Payload != nil {
		return len(s.Payload)
	}
	return max(s.PayloadLen, 0)
}

// size returns the length in bytes of the extension header e describes.
func (e *Ext) size() (int, error) {
	switch e.Type {
	case ExtFragment:
		return 8, nil
	case ExtHopByHop, ExtDestOpts, ExtRouting:
		n := (2 + len(e.Data) + 7) &^ 7
		if n > 8*256 {
			return 0, fmt.Errorf("type %d: %d data bytes do not fit Hdr Ext Len", e.Type, len(e.Data))
		}
		return n, nil
	}
	return 0, fmt.Errorf("type %d is not hop-by-hop, routing, fragment or destination options", e.Type)
}

// write fills b (zeroed, exactly the frame's length) with the frame.
func (s *Spec) write(b []byte, lay *layout) {
	copy(b[0:6], s.DstMAC[:])
	copy(b[6:12], s.SrcMAC[:])
	off := 12
	for i := 0; i < s.VLANs; i++ {
		tpid := EtherTypeVLAN
		if i == 0 {
			switch {
			case s.OuterTPID != 0:
				tpid = s.OuterTPID
			case s.VLANs == 2:
				tpid = EtherTypeQinQ
			}
		}
		binary.BigEndian.PutUint16(b[off:], tpid)
		binary.BigEndian.PutUint16(b[off+2:], s.VLAN[i])
		off += 4
	}
	et := s.EtherType
	switch {
	case !s.HasIP():
	case s.IsIPv6():
		et = EtherTypeIPv6
	default:
		et = EtherTypeIPv4
	}
	binary.BigEndian.PutUint16(b[off:], et)

	// Payload first: the checksums cover it.
	p := b[lay.data:lay.end]
	if s.Payload != nil {
		copy(p, s.Payload)
	} else {
		for i := range p {
			p[i] = byte(i)
		}
	}
	if !s.HasIP() {
		return
	}
	var pseudo uint32
	if s.IsIPv6() {
		pseudo = s.writeIPv6(b, lay)
	} else {
		pseudo = s.writeIPv4(b, lay)
	}
	if lay.l4Hdr {
		s.writeL4(b[lay.l4:lay.end], lay, pseudo)
	}
}

// writeIPv4 writes the IPv4 header and returns the pseudo-header sum of
// the L4 checksum.
func (s *Spec) writeIPv4(b []byte, lay *layout) uint32 {
	h := b[lay.l3:lay.l4]
	hl := 20 + lay.ipOptLen
	h[0] = 0x40 | byte(hl/4)
	h[1] = s.DSCP<<2 | s.ECN&3
	binary.BigEndian.PutUint16(h[2:], uint16(lay.end-lay.l3))
	binary.BigEndian.PutUint16(h[4:], uint16(s.IPID))
	ff := s.FragOffset & 0x1fff
	if s.DontFragment {
		ff |= 0x4000
	}
	if s.MoreFragments {
		ff |= 0x2000
	}
	binary.BigEndian.PutUint16(h[6:], ff)
	h[8] = s.ttl()
	h[9] = s.Proto
	src, dst := s.Src.As4(), s.Dst.As4()
	copy(h[12:16], src[:])
	copy(h[16:20], dst[:])
	copy(h[20:], s.IPOptions) // the rest is zero: End of Options
	binary.BigEndian.PutUint16(h[10:], Checksum(h[:hl], 0))
	return PseudoSum(h[12:16], h[16:20], s.Proto, lay.end-lay.l4)
}

// writeIPv6 writes the IPv6 header and its extension headers and returns
// the pseudo-header sum of the L4 checksum.
func (s *Spec) writeIPv6(b []byte, lay *layout) uint32 {
	h := b[lay.l3:]
	tc := uint32(s.DSCP<<2 | s.ECN&3)
	binary.BigEndian.PutUint32(h[0:], 6<<28|tc<<20|s.FlowLabel&0xfffff)
	binary.BigEndian.PutUint16(h[4:], uint16(lay.end-lay.l3-40))
	h[7] = s.ttl()
	src, dst := s.Src.As16(), s.Dst.As16()
	copy(h[8:24], src[:])
	copy(h[24:40], dst[:])
	next := &h[6]
	off := lay.l3 + 40
	for i := range s.Ext {
		e := &s.Ext[i]
		n, _ := e.size() // checked by layout
		x := b[off : off+n]
		*next = e.Type
		next = &x[0]
		switch e.Type {
		case ExtFragment:
			fo := s.FragOffset << 3
			if s.MoreFragments {
				fo |= 1
			}
			binary.BigEndian.PutUint16(x[2:], fo)
			binary.BigEndian.PutUint32(x[4:], s.IPID)
		default:
			x[1] = byte(n/8 - 1)
			copy(x[2:], e.Data)
			if e.Type != ExtRouting {
				padOptions(x[2+len(e.Data):])
			}
		}
		off += n
	}
	*next = s.Proto
	return PseudoSum(h[8:24], h[24:40], s.Proto, lay.end-lay.l4)
}

// padOptions fills p with one Pad1 or one PadN option (RFC 8200 §4.2).
func padOptions(p []byte) {
	switch len(p) {
	case 0:
	case 1:
		p[0] = 0 // Pad1
	default:
		p[0] = 1 // PadN
		p[1] = byte(len(p) - 2)
	}
}

func (s *Spec) ttl() uint8 {
	if s.TTL == 0 {
		return 64
	}
	return s.TTL
}

// writeL4 writes the L4 header at the start of seg (the L4 header and the
// payload) and its checksum.
func (s *Spec) writeL4(seg []byte, lay *layout, pseudo uint32) {
	switch s.Proto {
	case ProtoTCP:
		binary.BigEndian.PutUint16(seg[0:], s.SrcPort)
		binary.BigEndian.PutUint16(seg[2:], s.DstPort)
		binary.BigEndian.PutUint32(seg[4:], s.Seq)
		binary.BigEndian.PutUint32(seg[8:], s.Ack)
		seg[12] = byte((20+lay.tcpOptLen)/4) << 4
		seg[13] = s.TCPFlags
		w := s.Window
		if w == 0 {
			w = 0xffff
		}
		binary.BigEndian.PutUint16(seg[14:], w)
		binary.BigEndian.PutUint16(seg[18:], s.Urgent)
		copy(seg[20:], s.TCPOptions)
		binary.BigEndian.PutUint16(seg[16:], Checksum(seg, pseudo))
	case ProtoUDP:
		binary.BigEndian.PutUint16(seg[0:], s.SrcPort)
		binary.BigEndian.PutUint16(seg[2:], s.DstPort)
		binary.BigEndian.PutUint16(seg[4:], uint16(len(seg)))
		c := Checksum(seg, pseudo)
		if c == 0 {
			c = 0xffff // RFC 768: a computed zero is sent as all ones
		}
		binary.BigEndian.PutUint16(seg[6:], c)
	case ProtoICMP, ProtoICMPv6:
		seg[0] = s.ICMPType
		seg[1] = s.ICMPCode
		binary.BigEndian.PutUint16(seg[4:], s.ICMPID)
		binary.BigEndian.PutUint16(seg[6:], s.ICMPSeq)
		if s.Proto == ProtoICMP {
			pseudo = 0 // ICMPv4 has no pseudo-header
		}
		binary.BigEndian.PutUint16(seg[2:], Checksum(seg, pseudo))
	}
}

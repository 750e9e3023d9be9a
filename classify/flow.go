package classify

import (
	"encoding/binary"
	"math/bits"
	"net/netip"

	"github.com/ringkit/ringkit/descriptor"
)

// FlowKind says which parts of a Flow are set.
type FlowKind uint8

const (
	FlowIPv4  FlowKind = 1 << iota // addresses are IPv4 (stored IPv4-mapped)
	FlowIPv6                       // addresses are IPv6
	FlowPorts                      // SrcPort and DstPort are set (TCP or UDP, not a later fragment)
)

// Flow is the 5-tuple of a packet in a compact, comparable form: the key
// of rule matching and of the flow cache. Addresses are 128 bits as two
// big-endian halves, an IPv4 address in its IPv4-mapped form
// (::ffff:a.b.c.d), so one prefix match serves both families. A frame that
// is not IP has the zero Flow.
type Flow struct {
	SrcHi, SrcLo     uint64
	DstHi, DstLo     uint64
	SrcPort, DstPort uint16
	Proto            uint8
	Kind             FlowKind
}

const v4MappedLo = 0xffff << 32 // the low half of ::ffff:0.0.0.0

// Extract fills f from the frame b and its parsed metadata p (see Parse).
// It reads only inside b, whatever p holds.
func (f *Flow) Extract(b []byte, p *descriptor.Packet) {
	*f = Flow{}
	l3 := int(p.L3Off)
	switch {
	case p.Type&descriptor.L3IPv4 != 0:
		if l3+20 > len(b) {
			return
		}
		f.SrcLo = v4MappedLo | uint64(binary.BigEndian.Uint32(b[l3+12:]))
		f.DstLo = v4MappedLo | uint64(binary.BigEndian.Uint32(b[l3+16:]))
		f.Kind = FlowIPv4
	case p.Type&descriptor.L3IPv6 != 0:
		if l3+40 > len(b) {
			return
		}
		a := b[l3+8 : l3+40]
		f.SrcHi = binary.BigEndian.Uint64(a[0:])
		f.SrcLo = binary.BigEndian.Uint64(a[8:])
		f.DstHi = binary.BigEndian.Uint64(a[16:])
		f.DstLo = binary.BigEndian.Uint64(a[24:])
		f.Kind = FlowIPv6
	default:
		return
	}
	f.Proto = p.Proto
	l4 := int(p.L4Off)
	if p.Type&(descriptor.L4TCP|descriptor.L4UDP) != 0 && l4+4 <= len(b) {
		f.SrcPort = binary.BigEndian.Uint16(b[l4:])
		f.DstPort = binary.BigEndian.Uint16(b[l4+2:])
		f.Kind |= FlowPorts
	}
}

// Src returns the source address (invalid for a Flow that is not IP).
func (f *Flow) Src() netip.Addr { return f.addr(f.SrcHi, f.SrcLo) }

// Dst returns the destination address.
func (f *Flow) Dst() netip.Addr { return f.addr(f.DstHi, f.DstLo) }

func (f *Flow) addr(hi, lo uint64) netip.Addr {
	var a [16]byte
	binary.BigEndian.PutUint64(a[:8], hi)
	binary.BigEndian.PutUint64(a[8:], lo)
	switch {
	case f.Kind&FlowIPv4 != 0:
		return netip.AddrFrom16(a).Unmap()
	case f.Kind&FlowIPv6 != 0:
		return netip.AddrFrom16(a)
	}
	return netip.Addr{}
}

// equal is f == *g, spelled out: the compiler calls a generated
// function for a 40-byte struct compare, and this is the flow cache's hot
// path. The low address halves differ most often, so they go first.
func (f *Flow) equal(g *Flow) bool {
	return f.SrcLo == g.SrcLo && f.DstLo == g.DstLo && f.SrcPort == g.SrcPort && f.DstPort == g.DstPort &&
		f.SrcHi == g.SrcHi && f.DstHi == g.DstHi && f.Proto == g.Proto && f.Kind == g.Kind
}

// hash mixes the whole key into 64 bits for the flow cache. Any function
// of the key would be correct (the cache compares whole keys); this one
// folds the key into one word with rotations (so that swapping source and
// destination changes it) and multiplies once by an odd constant, whose
// high bits are folded down to the low bits the cache indexes with.
func (f *Flow) hash() uint64 {
	x := f.SrcLo ^ bits.RotateLeft64(f.DstLo, 23) ^ bits.RotateLeft64(f.SrcHi, 11) ^ bits.RotateLeft64(f.DstHi, 37) ^
		(uint64(f.SrcPort)<<48 | uint64(f.DstPort)<<32 | uint64(f.Proto)<<8 | uint64(f.Kind))
	h := x * 0x9e3779b97f4a7c15
	return h ^ h>>32
}

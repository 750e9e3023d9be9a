package tcpip

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/ringkit/ringkit/classify"
	"github.com/ringkit/ringkit/descriptor"
	eth "github.com/ringkit/ringkit/frame"
)

// TCP option kinds the endpoint writes and reads (RFC 9293, RFC 7323).
const (
	optEnd       = 0
	optNOP       = 1
	optMSS       = 2
	optWScale    = 3
	optTimestamp = 8
)

// segment is one TCP segment as the endpoint sees it: the addresses and
// header fields it acts on, the options it understands, and the payload
// (aliasing the frame it was parsed from).
type segment struct {
	src, dst netip.AddrPort
	seq, ack uint32
	flags    uint8
	wnd      uint16
	mss      uint16 // 0: no MSS option
	wscale   int8   // -1: no window scale option
	hasTS    bool
	tsval    uint32
	tsecr    uint32
	payload  []byte
}

func (s *segment) has(f uint8) bool { return s.flags&f != 0 }

// seqLen is the sequence space the segment takes: its bytes, plus one for
// a SYN and one for a FIN.
func (s *segment) seqLen() uint32 {
	n := uint32(len(s.payload))
	if s.has(eth.TCPSyn) {
		n++
	}
	if s.has(eth.TCPFin) {
		n++
	}
	return n
}

// parseSegment reads a TCP segment out of an Ethernet frame: IPv4 only, its
// TCP checksum checked over the pseudo-header. It reports a frame that is not
// a TCP/IPv4 segment as ok false and a damaged one as an error; it never
// reads outside b.
func parseSegment(b []byte, seg *segment) (ok bool, err error) {
	var pk descriptor.Packet
	if classify.Parse(b, &pk) != classify.OK || !pk.Type.Has(descriptor.L3IPv4|descriptor.L4TCP) ||
		pk.Flags.Has(descriptor.FlagFragment) {
		return false, nil
	}
	ip := b[pk.L3Off:]
	total := int(binary.BigEndian.Uint16(ip[2:]))
	l4 := int(pk.L4Off) - int(pk.L3Off)
	if total > len(ip) || total < l4+20 {
		return false, fmt.Errorf("tcpip: IPv4 total length %d for %d bytes: %w", total, len(ip), ErrBadSegment)
	}
	tcp := ip[l4:total]
	if eth.Checksum(tcp, eth.PseudoSum(ip[12:16], ip[16:20], eth.ProtoTCP, len(tcp))) != 0 {
		return false, fmt.Errorf("tcpip: TCP checksum: %w", ErrBadSegment)
	}
	hlen := int(tcp[12]>>4) * 4
	if hlen < 20 || hlen > len(tcp) {
		return false, fmt.Errorf("tcpip: TCP data offset %d: %w", hlen, ErrBadSegment)
	}
	be := binary.BigEndian
	src, _ := netip.AddrFromSlice(ip[12:16])
	dst, _ := netip.AddrFromSlice(ip[16:20])
	*seg = segment{
		src:     netip.AddrPortFrom(src, be.Uint16(tcp[0:])),
		dst:     netip.AddrPortFrom(dst, be.Uint16(tcp[2:])),
		seq:     be.Uint32(tcp[4:]),
		ack:     be.Uint32(tcp[8:]),
		flags:   tcp[13],
		wnd:     be.Uint16(tcp[14:]),
		wscale:  -1,
		payload: tcp[hlen:],
	}
	return true, seg.parseOptions(tcp[20:hlen])
}

func (s *segment) parseOptions(o []byte) error {
	for i := 0; i < len(o); {
		kind := o[i]
		if kind == optEnd {
			return nil
		}
		if kind == optNOP {
			i++
			continue
		}
		if i+1 >= len(o) || int(o[i+1]) < 2 || i+int(o[i+1]) > len(o) {
			return fmt.Errorf("tcpip: TCP option %d at %d overruns the header: %w", kind, i, ErrBadSegment)
		}
		n := int(o[i+1])
		v := o[i+2 : i+n]
		switch {
		case kind == optMSS && n == 4:
			s.mss = binary.BigEndian.Uint16(v)
		case kind == optWScale && n == 3:
			s.wscale = int8(min(v[0], MaxWindowScale))
		case kind == optTimestamp && n == 10:
			s.hasTS = true
			s.tsval = binary.BigEndian.Uint32(v[0:])
			s.tsecr = binary.BigEndian.Uint32(v[4:])
		}
		i += n
	}
	return nil
}

// segmentOptions writes the options of an outgoing segment into buf: MSS
// and window scale on a SYN, timestamps (after two NOPs, as stacks align
// them) when ts is set.
func segmentOptions(buf *[40]byte, syn bool, mss uint16, wscale uint8, ts bool, tsval, tsecr uint32) []byte {
	o := buf[:0]
	if syn {
		o = append(o, optMSS, 4, byte(mss>>8), byte(mss), optNOP, optWScale, 3, wscale)
	}
	if ts {
		o = append(o, optNOP, optNOP, optTimestamp, 10)
		o = binary.BigEndian.AppendUint32(o, tsval)
		o = binary.BigEndian.AppendUint32(o, tsecr)
	}
	return o
}

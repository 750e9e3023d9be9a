package classify

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/frame"
)

// view is what a parser learned about a frame, in a form both parsers
// can produce.
type view struct {
	Type                  descriptor.Type
	Frag                  bool
	L3Off, L4Off, DataOff uint16
	VLAN                  uint16
	Proto, DSCP           uint8
	SrcPort, DstPort      uint16
}

// ourView parses b with Parse. The frame is passed with its capacity cut
// to its length, so a read past the end would panic.
func ourView(b []byte) (view, Reason, descriptor.Packet) {
	var p descriptor.Packet
	r := Parse(b[:len(b):len(b)], &p)
	v := view{Type: p.Type, Frag: p.Flags.Has(descriptor.FlagFragment), L3Off: p.L3Off, L4Off: p.L4Off,
		DataOff: p.DataOff, VLAN: p.VLAN, Proto: p.Proto, DSCP: p.DSCP}
	if p.Type&(descriptor.L4TCP|descriptor.L4UDP) != 0 {
		v.SrcPort = binary.BigEndian.Uint16(b[p.L4Off:])
		v.DstPort = binary.BigEndian.Uint16(b[p.L4Off+2:])
	}
	return v, r, p
}

// feedback records whether a gopacket layer found its data short.
type feedback struct{ trunc bool }

func (f *feedback) SetTruncated() { f.trunc = true }

// gpView decodes b with gopacket's layer decoders, one layer at a time up
// to the L4 header, and reports what they found, whether a layer failed to
// decode, and whether a layer found its data short. Offsets come from the
// decoders' payload slices (a payload's offset in b is cap(b) - cap).
//
// The walk follows the parser's policy where gopacket has none: it goes on
// to the L4 header of a first fragment, and stops after the IP header of a
// later one.
func gpView(b []byte) (v view, failed, truncated bool) {
	var (
		eth  layers.Ethernet
		tags [2]layers.Dot1Q
		ip4  layers.IPv4
		ip6  layers.IPv6
		exts [MaxIPv6Ext + 1]layers.IPv6ExtensionSkipper
		tcp  layers.TCP
		udp  layers.UDP
		ic4  layers.ICMPv4
		ic6  layers.ICMPv6
	)
	ntags, next := 0, 0
	df := &feedback{}
	typ := layers.LayerTypeEthernet
	data := b
	const l4 = descriptor.L4TCP | descriptor.L4UDP | descriptor.L4ICMP
	for {
		var dl gopacket.DecodingLayer
		switch typ {
		case layers.LayerTypeEthernet:
			dl = &eth
		case layers.LayerTypeDot1Q:
			if ntags == len(tags) {
				return v, true, truncated
			}
			dl = &tags[ntags]
			ntags++
		case layers.LayerTypeIPv4:
			dl = &ip4
		case layers.LayerTypeIPv6:
			dl = &ip6
		case layers.LayerTypeIPv6HopByHop, layers.LayerTypeIPv6Routing, layers.LayerTypeIPv6Fragment, layers.LayerTypeIPv6Destination:
			if next == len(exts) {
				return v, true, truncated
			}
			dl = &exts[next]
			next++
		case layers.LayerTypeTCP:
			dl = &tcp
		case layers.LayerTypeUDP:
			dl = &udp
		case layers.LayerTypeICMPv4:
			dl = &ic4
		case layers.LayerTypeICMPv6:
			dl = &ic6
		default:
			return v, false, truncated
		}
		off := cap(b) - cap(data)
		if len(data) == 0 {
			off = len(b)
		}
		df.trunc = false
		cur := typ
		if err := dl.DecodeFromBytes(data, df); err != nil {
			return v, true, truncated || df.trunc
		}
		truncated = truncated || df.trunc
		typ, data = dl.NextLayerType(), dl.LayerPayload()
		end := off + len(dl.(interface{ LayerContents() []byte }).LayerContents())
		switch l := dl.(type) {
		case *layers.Ethernet:
			v.Type |= descriptor.L2Ether
		case *layers.Dot1Q:
			if ntags == 1 {
				v.VLAN = uint16(l.Priority)<<13 | l.VLANIdentifier
				if l.DropEligible {
					v.VLAN |= 1 << 12
				}
				v.Type |= descriptor.L2VLAN
			} else {
				v.Type = v.Type&^descriptor.L2VLAN | descriptor.L2QinQ
			}
		case *layers.IPv4:
			v.Type |= descriptor.L3IPv4
			v.L3Off, v.DSCP, v.Proto = uint16(off), l.TOS>>2, uint8(l.Protocol)
			v.Frag = l.Flags&layers.IPv4MoreFragments != 0 || l.FragOffset != 0
			v.L4Off = uint16(end)
			if l.FragOffset != 0 {
				typ = gopacket.LayerTypeZero
			} else {
				typ = l.Protocol.LayerType()
			}
		case *layers.IPv6:
			v.Type |= descriptor.L3IPv6
			v.L3Off, v.DSCP, v.Proto = uint16(off), l.TrafficClass>>2, uint8(l.NextHeader)
			if l.HopByHop != nil {
				// gopacket v1.1.19 removes the hop-by-hop header from the
				// payload, then cuts the payload to the full payload
				// length and so always finds it short; redo the check.
				truncated = truncated && 40+int(l.Length) > len(l.Contents)+len(l.HopByHop.Contents)+len(data)
				end += len(l.HopByHop.Contents)
				v.Proto = uint8(l.HopByHop.NextHeader)
			}
			v.L4Off = uint16(end)
		case *layers.IPv6ExtensionSkipper:
			v.Proto = uint8(l.NextHeader)
			v.L4Off = uint16(end)
			if cur == layers.LayerTypeIPv6Fragment {
				fo := uint16(l.Contents[2])<<8 | uint16(l.Contents[3])
				v.Frag = v.Frag || fo&0xfff9 != 0
				if fo>>3 != 0 {
					typ = gopacket.LayerTypeZero
				}
			}
		case *layers.TCP:
			v.Type |= descriptor.L4TCP
			v.DataOff = uint16(off + int(l.DataOffset)*4)
			v.SrcPort, v.DstPort = uint16(l.SrcPort), uint16(l.DstPort)
		case *layers.UDP:
			v.Type |= descriptor.L4UDP
			v.DataOff = uint16(off + 8)
			v.SrcPort, v.DstPort = uint16(l.SrcPort), uint16(l.DstPort)
		case *layers.ICMPv4:
			v.Type |= descriptor.L4ICMP
			v.DataOff = uint16(off + 8)
		case *layers.ICMPv6:
			v.Type |= descriptor.L4ICMP
			v.DataOff = uint16(off + 4)
		}
		if v.Type&l4 != 0 {
			return v, false, truncated
		}
		if v.Type&(descriptor.L3IPv4|descriptor.L3IPv6) != 0 {
			v.DataOff = v.L4Off
		}
		if typ == gopacket.LayerTypeZero {
			return v, false, truncated
		}
	}
}

// TestParseAgreesWithGopacket parses random valid frames with Parse and
// with gopacket and requires the same layers, offsets, VLAN, protocol,
// DSCP and ports. Every generated frame's checksums also verify.
func TestParseAgreesWithGopacket(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := 20000
	if testing.Short() {
		n = 3000
	}
	buf := make([]byte, 0, 2048)
	for i := range n {
		s := randSpec(r)
		buf = frame.Build(buf[:0], &s)
		if err := frame.Verify(buf); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		ours, reason, _ := ourView(buf)
		if reason != OK {
			t.Fatalf("frame %d %+v: reason %v\n% x", i, s, reason, buf)
		}
		theirs, failed, trunc := gpView(buf)
		if failed && s.IsIPv6() && len(s.Ext) == 0 && s.PayloadLen == 0 && s.Proto == 47 {
			// An IPv6 packet with an empty payload: gopacket takes payload
			// length 0 for a jumbogram and rejects it without a hop-by-hop
			// jumbo option. Parse accepts it (L3 only), and that is all
			// there is to compare.
			if ours.Type&descriptor.L3IPv6 == 0 || ours.L4Off != ours.L3Off+40 {
				t.Fatalf("frame %d: empty IPv6 packet: %+v", i, ours)
			}
			continue
		}
		if failed || trunc {
			t.Fatalf("frame %d: gopacket failed=%v truncated=%v\n% x", i, failed, trunc, buf)
		}
		if ours != theirs {
			t.Fatalf("frame %d (%+v):\nParse    %+v\ngopacket %+v\n% x", i, s, ours, theirs, buf)
		}
	}
}

// TestParseFirstFragmentL4 checks what gopacket does not: the first
// fragment's L4 header is parsed, a later fragment's is not.
func TestParseFirstFragmentL4(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		s := frame.Spec{Src: randAddr(rand.New(rand.NewPCG(1, 1)), v6), Dst: randAddr(rand.New(rand.NewPCG(2, 2)), v6),
			Proto: frame.ProtoUDP, SrcPort: 7, DstPort: 9, MoreFragments: true, PayloadLen: 40}
		if v6 {
			s.Ext = []frame.Ext{{Type: frame.ExtFragment}}
		}
		v, r, _ := ourView(frame.Build(nil, &s))
		if r != OK || !v.Frag || v.Type&descriptor.L4UDP == 0 || v.SrcPort != 7 || v.DataOff != v.L4Off+8 {
			t.Fatalf("v6=%v first fragment: %v %+v", v6, r, v)
		}
		s.FragOffset = 5
		v, r, _ = ourView(frame.Build(nil, &s))
		if r != OK || !v.Frag || v.Type&descriptor.L4UDP != 0 || v.DataOff != v.L4Off || v.Proto != frame.ProtoUDP {
			t.Fatalf("v6=%v later fragment: %v %+v", v6, r, v)
		}
	}
}

// mutate returns a copy of the frame s builds with f applied.
func mutate(s frame.Spec, f func(b []byte)) []byte {
	b := frame.Build(nil, &s)
	f(b)
	return b
}

var (
	a4, b4 = netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	a6, b6 = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	tcp4   = frame.Spec{Src: a4, Dst: b4, Proto: frame.ProtoTCP, SrcPort: 1, DstPort: 2, PayloadLen: 10}
	udp4   = frame.Spec{Src: a4, Dst: b4, Proto: frame.ProtoUDP, SrcPort: 1, DstPort: 2, PayloadLen: 10}
	tcp6   = frame.Spec{Src: a6, Dst: b6, Proto: frame.ProtoTCP, SrcPort: 1, DstPort: 2, PayloadLen: 10}
	icmp4  = frame.Spec{Src: a4, Dst: b4, Proto: frame.ProtoICMP}
	hbh6   = frame.Spec{Src: a6, Dst: b6, Proto: frame.ProtoTCP, Ext: []frame.Ext{{Type: frame.ExtHopByHop}}}
)

func with(s frame.Spec, f func(*frame.Spec)) frame.Spec { f(&s); return s }

// malformed is a corpus of hand-made malformed frames, each with the
// Reason Parse must give. gopacketLax names the cases gopacket accepts
// (it is more lenient there); every other case must make gopacket fail
// or flag truncation too.
var malformed = []struct {
	name        string
	b           []byte
	want        Reason
	gopacketLax string
}{
	{"empty", nil, ReasonEtherShort, ""},
	{"ether 13 bytes", make([]byte, 13), ReasonEtherShort, ""},
	{"vlan cut", mutate(with(tcp4, func(s *frame.Spec) { s.VLANs = 1 }), func(b []byte) {})[:16], ReasonVLANShort, ""},
	{"qinq cut", frame.Build(nil, &frame.Spec{VLANs: 2, EtherType: 0x8100})[:20], ReasonVLANShort, ""},
	{"three tags", frame.Build(nil, &frame.Spec{VLANs: 2, EtherType: 0x8100, PayloadLen: 30}), ReasonVLANDepth, "gopacket decodes any number of tags"},
	{"ipv4 cut", frame.Build(nil, &tcp4)[:30], ReasonIPv4Short, ""},
	{"ipv4 version 5", mutate(tcp4, func(b []byte) { b[14] = 0x55 }), ReasonIPv4Version, "gopacket does not check the version"},
	{"ipv4 ihl 4", mutate(tcp4, func(b []byte) { b[14] = 0x44 }), ReasonIPv4HeaderLen, ""},
	{"ipv4 ihl beyond total", mutate(tcp4, func(b []byte) { b[14] = 0x4f; binary.BigEndian.PutUint16(b[16:], 40) }), ReasonIPv4HeaderLen, ""},
	{"ipv4 total 19", mutate(tcp4, func(b []byte) { binary.BigEndian.PutUint16(b[16:], 19) }), ReasonIPv4TotalLen, ""},
	{"ipv4 total 0", mutate(tcp4, func(b []byte) { binary.BigEndian.PutUint16(b[16:], 0) }), ReasonIPv4TotalLen, "gopacket reads total length 0 as TSO, the whole frame"},
	{"ipv4 total beyond frame", mutate(tcp4, func(b []byte) { binary.BigEndian.PutUint16(b[16:], 200) }), ReasonIPv4TotalLen, ""},
	{"ipv4 option length 2", mutate(with(tcp4, func(s *frame.Spec) { s.IPOptions = []byte{0x94, 2, 0, 0} }), func([]byte) {}), ReasonIPv4Option, ""},
	{"ipv4 option beyond header", mutate(with(tcp4, func(s *frame.Spec) { s.IPOptions = []byte{1, 0x94, 9, 0} }), func([]byte) {}), ReasonIPv4Option, ""},
	{"ipv4 option length byte missing", mutate(with(tcp4, func(s *frame.Spec) { s.IPOptions = []byte{1, 1, 1, 0x94} }), func([]byte) {}), ReasonIPv4Option, ""},
	{"tcp cut", mutate(with(tcp4, func(s *frame.Spec) { s.PayloadLen = 0 }), func(b []byte) { binary.BigEndian.PutUint16(b[16:], 20+19) })[:14+39], ReasonTCPShort, ""},
	{"tcp data offset 4", mutate(tcp4, func(b []byte) { b[34+12] = 0x40 }), ReasonTCPDataOff, ""},
	{"tcp data offset beyond", mutate(tcp4, func(b []byte) { b[34+12] = 0xf0 }), ReasonTCPDataOff, ""},
	{"udp cut", mutate(with(udp4, func(s *frame.Spec) { s.PayloadLen = 0 }), func(b []byte) { binary.BigEndian.PutUint16(b[16:], 27) })[:14+27], ReasonUDPShort, ""},
	{"udp length 7", mutate(udp4, func(b []byte) { binary.BigEndian.PutUint16(b[34+4:], 7) }), ReasonUDPLen, ""},
	{"udp length beyond", mutate(udp4, func(b []byte) { binary.BigEndian.PutUint16(b[34+4:], 100) }), ReasonUDPLen, ""},
	{"icmp cut", mutate(icmp4, func(b []byte) { binary.BigEndian.PutUint16(b[16:], 27) })[:14+27], ReasonICMPShort, ""},
	{"ipv6 cut", frame.Build(nil, &tcp6)[:50], ReasonIPv6Short, ""},
	{"ipv6 version 4", mutate(tcp6, func(b []byte) { b[14] = 0x40 }), ReasonIPv6Version, "gopacket does not check the version"},
	{"ipv6 payload beyond", mutate(tcp6, func(b []byte) { binary.BigEndian.PutUint16(b[18:], 500) }), ReasonIPv6PayloadLen, ""},
	{"ipv6 ext beyond payload", mutate(hbh6, func(b []byte) { b[54+1] = 9 }), ReasonIPv6ExtShort, ""},
	{"ipv6 ext chain too long", ext6Chain(MaxIPv6Ext + 1), ReasonIPv6ExtDepth, "gopacket walks any number of extension headers"},
	{"ipv6 tcp cut", mutate(with(tcp6, func(s *frame.Spec) { s.PayloadLen = 0 }), func(b []byte) { binary.BigEndian.PutUint16(b[18:], 10) })[:14+50], ReasonTCPShort, ""},
}

// ext6Chain is a TCP/IPv6 frame with n destination-options headers.
func ext6Chain(n int) []byte {
	s := tcp6
	s.Ext = make([]frame.Ext, n)
	for i := range s.Ext {
		s.Ext[i].Type = frame.ExtDestOpts
	}
	return frame.Build(nil, &s)
}

// TestParseMalformed checks the Reason of each hand-made malformed frame,
// that FlagMalformed is set, that the layers Parse reports as whole are
// ones gopacket also decoded at the same offsets, and that gopacket also
// rejects the frame unless the case says why it does not.
func TestParseMalformed(t *testing.T) {
	for _, c := range malformed {
		t.Run(c.name, func(t *testing.T) {
			ours, r, p := ourView(c.b)
			if r != c.want {
				t.Fatalf("reason %q, want %q", r, c.want)
			}
			if !p.Flags.Has(descriptor.FlagMalformed) {
				t.Fatal("FlagMalformed not set")
			}
			theirs, failed, trunc := gpView(c.b)
			if c.gopacketLax == "" && !failed && !trunc {
				t.Fatalf("gopacket accepts it: %+v", theirs)
			}
			if ours.Type&^theirs.Type != 0 {
				t.Fatalf("Parse says %b whole, gopacket decoded %b", ours.Type, theirs.Type)
			}
			if ours.L3Off != 0 && theirs.L3Off != 0 && ours.L3Off != theirs.L3Off {
				t.Fatalf("L3Off %d, gopacket %d", ours.L3Off, theirs.L3Off)
			}
		})
	}
}

// TestParseEveryPrefix parses every prefix of many valid frames: no panic,
// and the offsets stay inside the prefix and in order.
func TestParseEveryPrefix(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	n := 300
	if testing.Short() {
		n = 60
	}
	for range n {
		s := randSpec(r)
		b := frame.Build(nil, &s)
		for k := 0; k <= len(b); k++ {
			checkInvariants(t, b[:k:k])
		}
	}
}

// checkInvariants parses b and checks what must hold for any input.
func checkInvariants(t testing.TB, b []byte) {
	var p descriptor.Packet
	p.Flags = descriptor.FlagHash | descriptor.FlagIPOpts
	r := Parse(b, &p)
	if r >= numReasons {
		t.Fatalf("reason %d out of range", r)
	}
	if (r != OK) != p.Flags.Has(descriptor.FlagMalformed) {
		t.Fatalf("reason %v, flags %b", r, p.Flags)
	}
	if !p.Flags.Has(descriptor.FlagHash) {
		t.Fatal("FlagHash cleared")
	}
	if p.Flags.Has(descriptor.FlagIPOpts) && p.Type&descriptor.L3IPv4 == 0 {
		t.Fatal("stale FlagIPOpts kept")
	}
	if int(p.DataOff) > len(b) || p.L4Off > p.DataOff && p.DataOff != 0 || p.L3Off > p.L4Off && p.L4Off != 0 {
		t.Fatalf("offsets %d %d %d outside %d bytes", p.L3Off, p.L4Off, p.DataOff, len(b))
	}
	if p.Type&(descriptor.L3IPv4|descriptor.L3IPv6) != 0 && (p.L4Off == 0 || p.L3Off == 0) {
		t.Fatalf("L3 without offsets: %+v", p)
	}
	if p.Type&(descriptor.L4TCP|descriptor.L4UDP|descriptor.L4ICMP) != 0 && p.DataOff <= p.L4Off {
		t.Fatalf("L4 without a header: %+v", p)
	}
}

func TestParseNonIP(t *testing.T) {
	b := frame.Build(nil, &frame.Spec{VLANs: 1, VLAN: [2]uint16{0x3005}, EtherType: 0x0806, PayloadLen: 28})
	v, r, _ := ourView(b)
	if r != OK || v.Type != descriptor.L2Ether|descriptor.L2VLAN || v.VLAN != 0x3005 || v.L3Off != 0 {
		t.Fatalf("%v %+v", r, v)
	}
}

func TestReasonString(t *testing.T) {
	seen := map[string]bool{}
	for r := Reason(0); r < numReasons; r++ {
		s := r.String()
		if s == "" || seen[s] {
			t.Fatalf("reason %d: name %q empty or repeated", r, s)
		}
		seen[s] = true
	}
	if Reason(200).String() != "unknown reason" {
		t.Fatal(Reason(200).String())
	}
}

func TestParseAllocs(t *testing.T) {
	b := frame.Build(nil, &tcp6)
	var p descriptor.Packet
	if a := testing.AllocsPerRun(100, func() { Parse(b, &p) }); a != 0 {
		t.Fatalf("%v allocs", a)
	}
}

func FuzzParse(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 40 {
		s := randSpec(r)
		f.Add(frame.Build(nil, &s))
	}
	for _, c := range malformed {
		f.Add(c.b)
	}
	tp, _ := NewToeplitz(DefaultKey[:])
	f.Fuzz(func(t *testing.T, b []byte) {
		b = b[:len(b):len(b)]
		checkInvariants(t, b)
		var p descriptor.Packet
		Parse(b, &p)
		tp.HashFrame(b, &p, true)
		var fl Flow
		fl.Extract(b, &p)
	})
}

func TestParseStats(t *testing.T) {
	var s ParseStats
	var p descriptor.Packet
	good := frame.Build(nil, &tcp4)
	for _, c := range malformed {
		if r := s.Parse(c.b, &p); r != c.want {
			t.Fatalf("%s: %v", c.name, r)
		}
	}
	if s.Parse(good, &p) != OK {
		t.Fatal("good frame malformed")
	}
	if got := s.Malformed(); got != uint64(len(malformed)) {
		t.Fatalf("Malformed %d, want %d", got, len(malformed))
	}
	for r := Reason(1); r < numReasons; r++ {
		want := 0
		for _, c := range malformed {
			if c.want == r {
				want++
			}
		}
		if s.Get(r) != uint64(want) {
			t.Fatalf("%v: %d, want %d", r, s.Get(r), want)
		}
	}
	udp := s.Get(ReasonUDPLen)
	s.Count(OK)
	s.Count(ReasonUDPLen)
	if s.Get(OK) != 0 || s.Get(ReasonUDPLen) != udp+1 {
		t.Fatalf("Count: ok %d, udp %d", s.Get(OK), s.Get(ReasonUDPLen))
	}
}

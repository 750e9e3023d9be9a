package frame

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

var (
	v4a = netip.MustParseAddr("10.1.2.3")
	v4b = netip.MustParseAddr("192.168.200.7")
	v6a = netip.MustParseAddr("2001:db8::1")
	v6b = netip.MustParseAddr("fe80::200:f8ff:fe21:67cf")
	mac = [6]byte{0x02, 0, 0, 0, 0, 1}
	mc2 = [6]byte{0x02, 0, 0, 0, 0, 2}
)

// serialize builds a frame with gopacket, fixing lengths and checksums.
func serialize(t *testing.T, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestBuildMatchesGopacket builds frames with Build and with gopacket's
// serializer (an independent implementation of lengths and checksums) and
// requires identical bytes.
func TestBuildMatchesGopacket(t *testing.T) {
	payload := []byte("hello, ringkit")
	eth := func(et layers.EthernetType) *layers.Ethernet {
		return &layers.Ethernet{SrcMAC: net.HardwareAddr(mac[:]), DstMAC: net.HardwareAddr(mc2[:]), EthernetType: et}
	}
	ip4 := func(p layers.IPProtocol) *layers.IPv4 {
		return &layers.IPv4{Version: 4, TOS: 46<<2 | 1, Id: 77, Flags: layers.IPv4DontFragment, TTL: 9, Protocol: p,
			SrcIP: net.IP(v4a.AsSlice()), DstIP: net.IP(v4b.AsSlice())}
	}
	ip6 := func(p layers.IPProtocol) *layers.IPv6 {
		return &layers.IPv6{Version: 6, TrafficClass: 10 << 2, FlowLabel: 0x12345, HopLimit: 3, NextHeader: p,
			SrcIP: net.IP(v6a.AsSlice()), DstIP: net.IP(v6b.AsSlice())}
	}
	base := Spec{SrcMAC: mac, DstMAC: mc2, Payload: payload, PadTo: 60} // gopacket pads to the Ethernet minimum
	cases := []struct {
		name string
		spec func() Spec
		ref  func() []byte
	}{
		{"tcp4", func() Spec {
			s := base
			s.Src, s.Dst, s.Proto, s.DSCP, s.ECN, s.IPID, s.DontFragment, s.TTL = v4a, v4b, ProtoTCP, 46, 1, 77, true, 9
			s.SrcPort, s.DstPort, s.Seq, s.Ack, s.TCPFlags, s.Window = 1234, 80, 1e9, 42, TCPAck|TCPPsh, 1000
			s.TCPOptions = []byte{2, 4, 5, 0xb4, 1, 3, 3, 7}
			return s
		}, func() []byte {
			ip := ip4(layers.IPProtocolTCP)
			tcp := &layers.TCP{SrcPort: 1234, DstPort: 80, Seq: 1e9, Ack: 42, ACK: true, PSH: true, Window: 1000,
				Options: []layers.TCPOption{
					{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{5, 0xb4}},
					{OptionType: layers.TCPOptionKindNop},
					{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{7}}}}
			_ = tcp.SetNetworkLayerForChecksum(ip)
			return serialize(t, eth(layers.EthernetTypeIPv4), ip, tcp, gopacket.Payload(payload))
		}},
		{"udp6-vlan", func() Spec {
			s := base
			s.VLANs, s.VLAN[0] = 1, 0x2064
			s.Src, s.Dst, s.Proto, s.DSCP, s.FlowLabel, s.TTL = v6a, v6b, ProtoUDP, 10, 0x12345, 3
			s.SrcPort, s.DstPort = 53, 5353
			return s
		}, func() []byte {
			ip := ip6(layers.IPProtocolUDP)
			udp := &layers.UDP{SrcPort: 53, DstPort: 5353}
			_ = udp.SetNetworkLayerForChecksum(ip)
			return serialize(t, eth(layers.EthernetTypeDot1Q),
				&layers.Dot1Q{Priority: 1, VLANIdentifier: 0x64, Type: layers.EthernetTypeIPv6}, ip, udp, gopacket.Payload(payload))
		}},
		{"icmp4", func() Spec {
			s := base
			s.Src, s.Dst, s.Proto, s.DSCP, s.ECN, s.IPID, s.DontFragment, s.TTL = v4a, v4b, ProtoICMP, 46, 1, 77, true, 9
			s.ICMPType, s.ICMPID, s.ICMPSeq = 8, 0x4242, 7
			return s
		}, func() []byte {
			return serialize(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolICMPv4),
				&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 0x4242, Seq: 7}, gopacket.Payload(payload))
		}},
		{"icmp6", func() Spec {
			s := base
			s.Src, s.Dst, s.Proto, s.DSCP, s.FlowLabel, s.TTL = v6a, v6b, ProtoICMPv6, 10, 0x12345, 3
			s.ICMPType, s.ICMPID, s.ICMPSeq = 128, 0x4242, 7
			return s
		}, func() []byte {
			ip := ip6(layers.IPProtocolICMPv6)
			icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}
			_ = icmp.SetNetworkLayerForChecksum(ip)
			return serialize(t, eth(layers.EthernetTypeIPv6), ip, icmp,
				&layers.ICMPv6Echo{Identifier: 0x4242, SeqNumber: 7}, gopacket.Payload(payload))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := c.spec()
			got := Build(nil, &s)
			want := c.ref()
			if !bytes.Equal(got, want) {
				t.Fatalf("Build:\n% x\ngopacket:\n% x", got, want)
			}
			if err := Verify(got); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// specs returns frames covering every layer the builder knows.
func specs() map[string]Spec {
	m := map[string]Spec{}
	tcp := Spec{Src: v4a, Dst: v4b, Proto: ProtoTCP, SrcPort: 1, DstPort: 2, TCPFlags: TCPSyn, PayloadLen: 33}
	m["tcp4"] = tcp
	tcp.IPOptions = []byte{0x94, 4, 0, 0, 1} // router alert, NOP; padded to 8
	tcp.VLANs, tcp.VLAN = 2, [2]uint16{100, 200}
	m["tcp4-opts-qinq"] = tcp
	udp := Spec{Src: v6a, Dst: v6b, Proto: ProtoUDP, SrcPort: 9, DstPort: 10, PayloadLen: 101,
		Ext: []Ext{{Type: ExtHopByHop}, {Type: ExtRouting, Data: []byte{4, 0}}, {Type: ExtDestOpts, Data: []byte{0x1e, 1, 0}}}}
	m["udp6-ext"] = udp
	frag := Spec{Src: v6a, Dst: v6b, Proto: ProtoTCP, Ext: []Ext{{Type: ExtFragment}}, MoreFragments: true, IPID: 99, PayloadLen: 16}
	m["tcp6-first-fragment"] = frag
	frag.FragOffset = 3
	m["tcp6-later-fragment"] = frag
	f4 := Spec{Src: v4a, Dst: v4b, Proto: ProtoUDP, FragOffset: 185, PayloadLen: 80}
	m["udp4-later-fragment"] = f4
	m["icmp4-padded"] = Spec{Src: v4a, Dst: v4b, Proto: ProtoICMP, ICMPType: 8, PadTo: 60}
	m["icmp6"] = Spec{Src: v6a, Dst: v6b, Proto: ProtoICMPv6, ICMPType: 129, PayloadLen: 7}
	m["arp"] = Spec{EtherType: 0x0806, PayloadLen: 28}
	return m
}

// TestVerifyDetectsCorruption: every built frame verifies, and changing
// any byte a checksum covers (the IPv4 header; addresses and the L4 segment
// of a packet that is not a fragment) makes Verify fail.
func TestVerifyDetectsCorruption(t *testing.T) {
	for name, s := range specs() {
		t.Run(name, func(t *testing.T) {
			b := Build(nil, &s)
			if err := Verify(b); err != nil {
				t.Fatal(err)
			}
			lay, _ := s.layout()
			covered := func(i int) bool {
				if !s.HasIP() {
					return false
				}
				frag := s.FragOffset != 0 || s.MoreFragments
				if s.IsIPv6() {
					return i >= lay.l3+8 && i < lay.l3+40 && !frag || i >= lay.l4 && i < lay.end && !frag
				}
				return i >= lay.l3 && i < lay.l4 || i >= lay.l4 && i < lay.end && !frag
			}
			n := 0
			for i := range b {
				if !covered(i) {
					continue
				}
				n++
				c := append([]byte(nil), b...)
				c[i] ^= 0x5a
				if Verify(c) == nil {
					t.Fatalf("byte %d changed, Verify passed", i)
				}
			}
			if s.HasIP() && n == 0 && !(s.IsIPv6() && s.MoreFragments) {
				t.Fatal("no byte covered")
			}
		})
	}
}

// TestBuildLengths checks the lengths Build writes against the Spec.
func TestBuildLengths(t *testing.T) {
	for name, s := range specs() {
		t.Run(name, func(t *testing.T) {
			b := Build(nil, &s)
			want := 14 + 4*s.VLANs + s.PayloadLen
			if s.HasIP() {
				if s.IsIPv6() {
					want += 40
					for _, e := range s.Ext {
						n, _ := e.size()
						want += n
					}
				} else {
					want += 20 + (len(s.IPOptions)+3)&^3
				}
				if s.FragOffset == 0 {
					switch s.Proto {
					case ProtoTCP:
						want += 20 + (len(s.TCPOptions)+3)&^3
					default:
						want += 8
					}
				}
			}
			want = max(want, s.PadTo)
			if len(b) != want {
				t.Fatalf("len %d, want %d", len(b), want)
			}
		})
	}
}

func TestAppendErrors(t *testing.T) {
	cases := map[string]Spec{
		"VLANs":       {VLANs: 3},
		"IPOptions":   {Src: v4a, Dst: v4b, IPOptions: make([]byte, 41)},
		"TCPOptions":  {Src: v4a, Dst: v4b, Proto: ProtoTCP, TCPOptions: make([]byte, 44)},
		"Src":         {Src: v4a, Dst: v6b},
		"Ext[0]":      {Src: v6a, Dst: v6b, Ext: []Ext{{Type: 17}}},
		"IP packet":   {Src: v4a, Dst: v4b, PayloadLen: 70000},
		"ExtFragment": {Src: v6a, Dst: v6b, MoreFragments: true},
	}
	for field, s := range cases {
		t.Run(field, func(t *testing.T) {
			dst := []byte{1, 2, 3}
			out, err := Append(dst, &s)
			if !errors.Is(err, ErrSpec) {
				t.Fatalf("err %v, want ErrSpec", err)
			}
			if !bytes.Contains([]byte(err.Error()), []byte(field)) {
				t.Fatalf("error %q does not name %q", err, field)
			}
			if len(out) != 3 {
				t.Fatalf("dst changed to %d bytes", len(out))
			}
		})
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Build of a bad spec did not panic")
		}
	}()
	Build(nil, &Spec{VLANs: 5})
}

// TestBuildAppends: Build appends after existing bytes and allocates
// nothing when dst has room.
func TestBuildAppends(t *testing.T) {
	s := specs()["tcp4-opts-qinq"]
	one := Build(nil, &s)
	buf := make([]byte, 0, 4096)
	buf = append(buf, 0xee)
	buf = Build(buf, &s)
	if buf[0] != 0xee || !bytes.Equal(buf[1:], one) {
		t.Fatal("Build did not append")
	}
	allocs := testing.AllocsPerRun(100, func() { buf = Build(buf[:0], &s) })
	if allocs != 0 {
		t.Fatalf("%v allocs per Build", allocs)
	}
}

func TestChecksumRFC1071(t *testing.T) {
	// RFC 1071 §3 example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
	b := []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}
	if got := Fold(Sum(b, 0)); got != 0xddf2 {
		t.Fatalf("sum %#x, want 0xddf2", got)
	}
	if got := Fold(Sum(b[:7], 0)); got != Fold(Sum(append(b[:7:7], 0), 0)) {
		t.Fatalf("odd length sum %#x", got)
	}
}

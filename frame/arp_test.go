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

var broadcast = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// arpFrame builds the Ethernet frame carrying a.
func arpFrame(dst, src [6]byte, et uint16, a *ARP) []byte {
	return Build(nil, &Spec{DstMAC: dst, SrcMAC: src, EtherType: et, Payload: AppendARP(nil, a), PadTo: 60})
}

// TestARPMatchesGopacket builds ARP and RARP frames with AppendARP and
// with gopacket's serializer and requires identical bytes; gopacket's
// decoder reads back every field, and ParseARP reads gopacket's frames.
func TestARPMatchesGopacket(t *testing.T) {
	cases := []struct {
		name     string
		dst      [6]byte
		et       uint16
		gpType   layers.EthernetType
		arp      ARP
		gratuity bool
	}{
		{"request", broadcast, EtherTypeARP, layers.EthernetTypeARP,
			ARP{Op: ARPRequest, SenderMAC: mac, SenderIP: v4a, TargetIP: v4b}, false},
		{"reply", mc2, EtherTypeARP, layers.EthernetTypeARP,
			ARP{Op: ARPReply, SenderMAC: mac, SenderIP: v4a, TargetMAC: mc2, TargetIP: v4b}, false},
		{"gratuitous", broadcast, EtherTypeARP, layers.EthernetTypeARP,
			ARP{Op: ARPRequest, SenderMAC: mac, SenderIP: v4a, TargetIP: v4a}, true},
		{"probe", broadcast, EtherTypeARP, layers.EthernetTypeARP,
			ARP{Op: ARPRequest, SenderMAC: mac, SenderIP: netip.IPv4Unspecified(), TargetIP: v4b}, false},
		{"rarp announce", broadcast, EtherTypeRARP, layers.EthernetType(0x8035), // QEMU's announce_self_create
			ARP{Op: RARPRequest, SenderMAC: mac, SenderIP: netip.IPv4Unspecified(), TargetMAC: mac, TargetIP: netip.IPv4Unspecified()}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := arpFrame(tc.dst, mac, tc.et, &tc.arp)
			want := serialize(t,
				&layers.Ethernet{SrcMAC: net.HardwareAddr(mac[:]), DstMAC: net.HardwareAddr(tc.dst[:]), EthernetType: tc.gpType},
				&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
					Operation: tc.arp.Op, SourceHwAddress: tc.arp.SenderMAC[:], SourceProtAddress: tc.arp.SenderIP.AsSlice(),
					DstHwAddress: tc.arp.TargetMAC[:], DstProtAddress: tc.arp.TargetIP.AsSlice()})
			if !bytes.Equal(got, want) {
				t.Fatalf("frame differs from gopacket's:\n got %x\nwant %x", got, want)
			}
			// gopacket's Ethernet decoder knows no RARP EtherType: decode
			// the payload as the ARP it is.
			pkt := gopacket.NewPacket(got[14:], layers.LayerTypeARP, gopacket.Default)
			l, ok := pkt.Layer(layers.LayerTypeARP).(*layers.ARP)
			if !ok {
				t.Fatalf("gopacket finds no ARP layer: %v", pkt)
			}
			if l.Operation != tc.arp.Op || !bytes.Equal(l.SourceHwAddress, tc.arp.SenderMAC[:]) ||
				!bytes.Equal(l.SourceProtAddress, tc.arp.SenderIP.AsSlice()) || !bytes.Equal(l.DstHwAddress, tc.arp.TargetMAC[:]) ||
				!bytes.Equal(l.DstProtAddress, tc.arp.TargetIP.AsSlice()) {
				t.Fatalf("gopacket reads %+v", l)
			}
			a, err := ParseARP(want[14:])
			if err != nil || a != tc.arp {
				t.Fatalf("ParseARP of gopacket's frame: %+v, %v; want %+v", a, err, tc.arp)
			}
			if a.IsGratuitous() != tc.gratuity {
				t.Errorf("IsGratuitous = %v", a.IsGratuitous())
			}
		})
	}
}

func TestParseARPRejects(t *testing.T) {
	good := AppendARP(nil, &ARP{Op: ARPReply, SenderMAC: mac, SenderIP: v4a, TargetMAC: mc2, TargetIP: v4b})
	mutate := func(off int, v byte) []byte {
		b := bytes.Clone(good)
		b[off] = v
		return b
	}
	for name, b := range map[string][]byte{
		"empty":           nil,
		"short":           good[:ARPLen-1],
		"hardware type":   mutate(1, 6),
		"protocol type":   mutate(2, 0x86),
		"hardware length": mutate(4, 8),
		"protocol length": mutate(5, 16),
		"operation 0":     mutate(7, 0),
		"operation 5":     mutate(7, 5),
	} {
		if a, err := ParseARP(b); !errors.Is(err, ErrMalformed) || a != (ARP{}) {
			t.Errorf("%s: ParseARP = %+v, %v; want ErrMalformed", name, a, err)
		}
	}
	if _, err := ParseARP(append(bytes.Clone(good), make([]byte, 18)...)); err != nil {
		t.Errorf("padded packet: %v", err)
	}
}

// FuzzParseARP: the parser never panics, every error wraps ErrMalformed,
// and what it accepts encodes back to the bytes it read.
func FuzzParseARP(f *testing.F) {
	f.Add(AppendARP(nil, &ARP{Op: ARPRequest, SenderMAC: mac, SenderIP: v4a, TargetIP: v4b}))
	f.Add(AppendARP(nil, &ARP{Op: RARPRequest, SenderMAC: mac, TargetMAC: mac}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseARP(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if again := AppendARP(nil, &a); !bytes.Equal(again, b[:ARPLen]) {
			t.Fatalf("round trip of %x: %x", b[:ARPLen], again)
		}
	})
}

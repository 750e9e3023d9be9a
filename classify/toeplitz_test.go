package classify

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/frame"
)

// The RSS verification suite (Microsoft "Verifying the RSS Hash
// Calculation"; also the Intel 82599 datasheet §7.1.2.8.3 and DPDK's
// app/test/test_thash.c), with DefaultKey. The input is source address,
// destination address, source port, destination port.
var rssVectorsV4 = []struct {
	dst, src     string
	dport, sport uint16
	l3, l4       uint32
}{
	{"161.142.100.80", "66.9.149.187", 1766, 2794, 0x323e8fc2, 0x51ccc178},
	{"65.69.140.83", "199.92.111.2", 4739, 14230, 0xd718262a, 0xc626b0ea},
	{"12.22.207.184", "24.19.198.95", 38024, 12898, 0xd2d0a5de, 0x5c2b394a},
	{"209.142.163.6", "38.27.205.30", 2217, 48228, 0x82989176, 0xafc7327f},
	{"202.188.127.2", "153.39.163.191", 1303, 44251, 0x5d1809c5, 0x10e828a2},
}

var rssVectorsV6 = []struct {
	dst, src     string
	dport, sport uint16
	l3, l4       uint32
}{
	{"3ffe:2501:200:3::1", "3ffe:2501:200:1fff::7", 1766, 2794, 0x2cc18cd5, 0x40207d3d},
	{"ff02::1", "3ffe:501:8::260:97ff:fe40:efab", 4739, 14230, 0x0f0c461c, 0xdde51bbf},
	{"fe80::200:f8ff:fe21:67cf", "3ffe:1900:4545:3:200:f8ff:fe21:67cf", 38024, 44251, 0x4b61e985, 0x02d1feef},
}

func mustToeplitz(t testing.TB, key []byte) *Toeplitz {
	t.Helper()
	tp, err := NewToeplitz(key)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

func TestToeplitzVerificationSuite(t *testing.T) {
	tp := mustToeplitz(t, DefaultKey[:])
	for _, v := range rssVectorsV4 {
		src, dst := netip.MustParseAddr(v.src).As4(), netip.MustParseAddr(v.dst).As4()
		if h := tp.HashIPv4(src, dst); h != v.l3 {
			t.Errorf("IPv4 %s -> %s: %#08x, want %#08x", v.src, v.dst, h, v.l3)
		}
		if h := tp.HashIPv4Ports(src, dst, v.sport, v.dport); h != v.l4 {
			t.Errorf("TCP/IPv4 %s:%d -> %s:%d: %#08x, want %#08x", v.src, v.sport, v.dst, v.dport, h, v.l4)
		}
		// The same through a frame, as the NIC hashes it.
		b := frame.Build(nil, &frame.Spec{Src: netip.AddrFrom4(src), Dst: netip.AddrFrom4(dst), Proto: frame.ProtoTCP, SrcPort: v.sport, DstPort: v.dport})
		var p descriptor.Packet
		Parse(b, &p)
		if h, ok := tp.HashFrame(b, &p, true); !ok || h != v.l4 {
			t.Errorf("HashFrame TCP/IPv4 %s: %#08x %v, want %#08x", v.src, h, ok, v.l4)
		}
		if h, ok := tp.HashFrame(b, &p, false); !ok || h != v.l3 {
			t.Errorf("HashFrame IPv4 %s: %#08x %v, want %#08x", v.src, h, ok, v.l3)
		}
	}
	for _, v := range rssVectorsV6 {
		src, dst := netip.MustParseAddr(v.src).As16(), netip.MustParseAddr(v.dst).As16()
		if h := tp.HashIPv6(src, dst); h != v.l3 {
			t.Errorf("IPv6 %s -> %s: %#08x, want %#08x", v.src, v.dst, h, v.l3)
		}
		if h := tp.HashIPv6Ports(src, dst, v.sport, v.dport); h != v.l4 {
			t.Errorf("TCP/IPv6 %s:%d -> %s:%d: %#08x, want %#08x", v.src, v.sport, v.dst, v.dport, h, v.l4)
		}
		b := frame.Build(nil, &frame.Spec{Src: netip.AddrFrom16(src), Dst: netip.AddrFrom16(dst), Proto: frame.ProtoUDP, SrcPort: v.sport, DstPort: v.dport,
			Ext: []frame.Ext{{Type: frame.ExtHopByHop}}})
		var p descriptor.Packet
		Parse(b, &p)
		if h, ok := tp.HashFrame(b, &p, true); !ok || h != v.l4 {
			t.Errorf("HashFrame UDP/IPv6 %s: %#08x %v, want %#08x", v.src, h, ok, v.l4)
		}
	}
}

// toeplitzBits is the definition, bit by bit (Microsoft's ComputeHash
// pseudo-code): the reference the tables are checked against.
func toeplitzBits(key, in []byte) uint32 {
	var h uint32
	for i := range len(in) * 8 {
		if in[i/8]&(0x80>>(i%8)) == 0 {
			continue
		}
		var w uint32
		for j := range 32 {
			k := i + j
			if key[k/8]&(0x80>>(k%8)) != 0 {
				w |= 1 << (31 - j)
			}
		}
		h ^= w
	}
	return h
}

func TestToeplitzMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for range 200 {
		var key [KeySize]byte
		for i := range key {
			key[i] = byte(r.Uint32())
		}
		tp := mustToeplitz(t, key[:])
		in := make([]byte, r.IntN(MaxHashInput+1))
		for i := range in {
			in[i] = byte(r.Uint32())
		}
		if got, want := tp.Hash(in), toeplitzBits(key[:], in); got != want {
			t.Fatalf("key % x input % x: %#08x, want %#08x", key, in, got, want)
		}
	}
}

// TestToeplitzSymmetric: with SymmetricKey both directions of a flow hash
// alike; with DefaultKey they (almost always) do not.
func TestToeplitzSymmetric(t *testing.T) {
	sym := mustToeplitz(t, SymmetricKey[:])
	def := mustToeplitz(t, DefaultKey[:])
	r := rand.New(rand.NewPCG(9, 10))
	differ := 0
	for range 1000 {
		a4, b4 := randAddr(r, false).As4(), randAddr(r, false).As4()
		a6, b6 := randAddr(r, true).As16(), randAddr(r, true).As16()
		pa, pb := uint16(r.Uint32()), uint16(r.Uint32())
		if sym.HashIPv4Ports(a4, b4, pa, pb) != sym.HashIPv4Ports(b4, a4, pb, pa) ||
			sym.HashIPv4(a4, b4) != sym.HashIPv4(b4, a4) ||
			sym.HashIPv6Ports(a6, b6, pa, pb) != sym.HashIPv6Ports(b6, a6, pb, pa) ||
			sym.HashIPv6(a6, b6) != sym.HashIPv6(b6, a6) {
			t.Fatalf("symmetric key: directions differ for %v %v %d %d", a4, b4, pa, pb)
		}
		if def.HashIPv4Ports(a4, b4, pa, pb) != def.HashIPv4Ports(b4, a4, pb, pa) {
			differ++
		}
	}
	if differ < 990 {
		t.Fatalf("default key: only %d of 1000 flows hash differently by direction", differ)
	}
}

func TestToeplitzErrors(t *testing.T) {
	if _, err := NewToeplitz(make([]byte, 39)); !errors.Is(err, ErrKeySize) {
		t.Fatalf("39-byte key: %v", err)
	}
	tp := mustToeplitz(t, DefaultKey[:])
	var p descriptor.Packet
	if _, ok := tp.HashFrame(frame.Build(nil, &frame.Spec{EtherType: 0x806, PayloadLen: 28}), &p, true); ok {
		t.Fatal("non-IP frame hashed")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("37-byte input did not panic")
		}
	}()
	tp.Hash(make([]byte, 37))
}

func TestToeplitzAllocs(t *testing.T) {
	tp := mustToeplitz(t, DefaultKey[:])
	b := frame.Build(nil, &tcp6)
	var p descriptor.Packet
	Parse(b, &p)
	if a := testing.AllocsPerRun(100, func() { tp.HashFrame(b, &p, true) }); a != 0 {
		t.Fatalf("%v allocs", a)
	}
}

// TestHashFrameBadMetadata: metadata that does not describe the frame
// (offsets beyond it) gives no hash and no flow, and reads nothing
// outside the frame.
func TestHashFrameBadMetadata(t *testing.T) {
	tp := mustToeplitz(t, DefaultKey[:])
	b := frame.Build(nil, &tcp6)
	for _, p := range []descriptor.Packet{
		{Type: descriptor.L3IPv6 | descriptor.L4TCP, L3Off: uint16(len(b) - 20), L4Off: uint16(len(b) - 2)},
		{Type: descriptor.L3IPv4 | descriptor.L4UDP, L3Off: 60000, L4Off: 60020},
		{Type: descriptor.L3IPv4 | descriptor.L4UDP, L3Off: 14, L4Off: uint16(len(b) - 3)},
	} {
		c := b[:len(b):len(b)]
		h, ok := tp.HashFrame(c, &p, true)
		var f Flow
		f.Extract(c, &p)
		if p.L3Off > 14 && (ok || f != (Flow{})) {
			t.Fatalf("%+v: hash %#x %v, flow %+v", p, h, ok, f)
		}
		if p.L3Off == 14 && (!ok || f.Kind&FlowPorts != 0) {
			t.Fatalf("%+v: ports read beyond the frame: %+v", p, f)
		}
	}
}

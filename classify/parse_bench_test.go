package classify

import (
	"testing"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/frame"
)

// BenchmarkParse measures Parse per frame (64-byte TCP/IPv4 and 84-byte
// TCP/IPv6 frames, no payload beyond padding).
func BenchmarkParse(b *testing.B) {
	for _, c := range []struct {
		name string
		spec frame.Spec
	}{
		{"tcp4", frame.Spec{Src: a4, Dst: b4, Proto: frame.ProtoTCP, SrcPort: 1, DstPort: 2, PadTo: 64}},
		{"tcp6", frame.Spec{Src: a6, Dst: b6, Proto: frame.ProtoTCP, SrcPort: 1, DstPort: 2, PadTo: 64}},
	} {
		b.Run(c.name, func(b *testing.B) {
			buf := frame.Build(nil, &c.spec)
			var p descriptor.Packet
			b.ReportAllocs()
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				if Parse(buf, &p) != OK {
					b.Fatal("malformed")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/frame")
		})
	}
}

// BenchmarkToeplitz measures one hash per RSS input type.
func BenchmarkToeplitz(b *testing.B) {
	tp := mustToeplitz(b, DefaultKey[:])
	s4, d4 := a4.As4(), b4.As4()
	s6, d6 := a6.As16(), b6.As16()
	var sink uint32
	for _, c := range []struct {
		name string
		f    func(i uint16) uint32
	}{
		{"ipv4", func(i uint16) uint32 { s4[3] = byte(i); return tp.HashIPv4(s4, d4) }},
		{"ipv4-ports", func(i uint16) uint32 { return tp.HashIPv4Ports(s4, d4, i, 80) }},
		{"ipv6", func(i uint16) uint32 { s6[15] = byte(i); return tp.HashIPv6(s6, d6) }},
		{"ipv6-ports", func(i uint16) uint32 { return tp.HashIPv6Ports(s6, d6, i, 80) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			i := uint16(0)
			for b.Loop() {
				sink ^= c.f(i)
				i++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/hash")
		})
	}
	_ = sink
}

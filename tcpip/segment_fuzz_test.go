package tcpip

import (
	"net/netip"
	"testing"

	eth "github.com/ringkit/ringkit/frame"
)

// FuzzParseSegment feeds arbitrary frames to the segment parser: it must
// never panic or read outside the frame, and what it accepts must be
// consistent (a payload inside the frame, options within their bounds).
func FuzzParseSegment(f *testing.F) {
	var opt [40]byte
	base := eth.Spec{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Proto: eth.ProtoTCP,
		SrcPort: 1, DstPort: 2, Seq: 1 << 31, Ack: 5, TCPFlags: eth.TCPSyn | eth.TCPAck, PayloadLen: 3}
	base.TCPOptions = segmentOptions(&opt, true, 1460, 7, true, 1, 2)
	f.Add(eth.Build(nil, &base))
	base.TCPOptions = []byte{optMSS, 4, 5, 180, optWScale, 3, 200, optEnd}
	f.Add(eth.Build(nil, &base))
	base.TCPOptions = []byte{optTimestamp, 12, 0, 0}
	f.Add(eth.Build(nil, &base))
	base.TCPOptions, base.PayloadLen, base.PadTo = nil, 0, 60
	f.Add(eth.Build(nil, &base))
	f.Add([]byte{})
	f.Add(make([]byte, 54))
	f.Fuzz(func(t *testing.T, b []byte) {
		var seg segment
		ok, err := parseSegment(b, &seg)
		if err != nil || !ok {
			return
		}
		if len(seg.payload) > len(b) || seg.wscale > MaxWindowScale {
			t.Fatalf("accepted %+v from %d bytes", seg, len(b))
		}
		// A segment that parses builds back to one that parses the same.
		spec := eth.Spec{Src: seg.src.Addr(), Dst: seg.dst.Addr(), Proto: eth.ProtoTCP,
			SrcPort: seg.src.Port(), DstPort: seg.dst.Port(), Seq: seg.seq, Ack: seg.ack, TCPFlags: seg.flags,
			Window: 1, Payload: seg.payload}
		var again segment
		if ok, err := parseSegment(eth.Build(nil, &spec), &again); !ok || err != nil ||
			again.seq != seg.seq || again.ack != seg.ack || string(again.payload) != string(seg.payload) {
			t.Fatalf("round trip of %+v: %+v (%v, %v)", seg, again, ok, err)
		}
	})
}

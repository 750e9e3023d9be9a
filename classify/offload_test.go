package classify_test

import (
	"net/netip"
	"testing"

	"github.com/ringkit/ringkit/classify"
	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/frame"
)

func TestOffload(t *testing.T) {
	buf := make([]byte, 0, 256)
	used := map[int]bool{}
	rss, _ := classify.NewToeplitz(classify.DefaultKey[:])
	for port := range uint16(64) {
		s := frame.Spec{Src: netip.MustParseAddr("198.18.0.1"), Dst: netip.MustParseAddr("198.18.0.2"),
			Proto: frame.ProtoUDP, SrcPort: 1000 + port, DstPort: 9}
		f := frame.Build(buf[:0], &s)
		var want descriptor.Packet
		classify.Parse(f, &want)
		h, _ := rss.HashFrame(f, &want, true)

		m, q := classify.NewOffload(4, true).Meta(f, 3)
		if !m.Flags.Has(descriptor.FlagParsed|descriptor.FlagHash) || m.Hash != h || m.Port != 3 ||
			m.L4Off != want.L4Off || int(m.Queue) != q || q < 0 || q >= 4 {
			t.Fatalf("offload meta %+v queue %d, want hash %#x, L4 at %d", m, q, h, want.L4Off)
		}
		used[q] = true
		if m, q := classify.NewOffload(1, false).Meta(f, 3); m != (descriptor.Packet{Port: 3}) || q != 0 {
			t.Fatalf("no offload, one queue: %+v %d", m, q)
		}
		if m2, q2 := classify.NewOffload(4, false).Meta(f, 3); q2 != q || m2.Flags != 0 || int(m2.Queue) != q {
			t.Fatalf("no offload, four queues: %+v queue %d, want queue %d and no flags", m2, q2, q)
		}
	}
	if len(used) != 4 {
		t.Fatalf("64 flows used queues %v of 4", used)
	}
	// A frame that is not IP goes to queue 0, unhashed.
	if m, q := classify.NewOffload(4, true).Meta(make([]byte, 60), 0); q != 0 || m.Flags.Has(descriptor.FlagHash) {
		t.Fatalf("non-IP frame: %+v queue %d", m, q)
	}
}

package migrate

import (
	"net/netip"
	"testing"
	"time"

	eth "github.com/ringkit/ringkit/frame"
)

// The circuit's path for one inbound data segment (parse, journal the
// payload and the timestamps, build and send the acknowledgement)
// allocates nothing.
func TestCircuitSegmentAllocs(t *testing.T) {
	clock := NewSimClock(time.Unix(0, 0))
	j, err := NewJournal(64<<20, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	sent := 0
	ckt, err := NewStack(StackConfig{Clock: clock, Journal: j}, func([]byte) { sent++ })
	if err != nil {
		t.Fatal(err)
	}
	vm, peer := netip.MustParseAddrPort("10.0.0.10:40000"), netip.MustParseAddrPort("10.0.1.1:80")
	s := &Session{ID: 1, Tuple: FiveTuple{Proto: eth.ProtoTCP, Src: vm, Dst: peer}, State: Established,
		SndUna: 10, SndNxt: 10, RcvNxt: 1000, SndWnd: 1 << 16, RcvWnd: 1 << 16, MSS: 1460,
		TS: Timestamps{Enabled: true, Offset: 7, LastSent: 6, Recent: 1}}
	if err := ckt.Import([]*Session{s}); err != nil {
		t.Fatal(err)
	}
	var opt [40]byte
	spec := eth.Spec{Src: peer.Addr(), Dst: vm.Addr(), Proto: eth.ProtoTCP, SrcPort: peer.Port(), DstPort: vm.Port(),
		Ack: 10, TCPFlags: eth.TCPAck | eth.TCPPsh, PayloadLen: 1000}
	seq, tsval := uint32(1000), uint32(1)
	buf := make([]byte, 0, 2048)
	allocs := testing.AllocsPerRun(1000, func() {
		tsval++
		spec.Seq = seq
		spec.TCPOptions = segmentOptions(&opt, false, 0, 0, true, tsval, 0)
		buf = eth.Build(buf[:0], &spec)
		ckt.Input(buf)
		clock.Advance(time.Millisecond)
		seq += 1000
		ckt.Conn(1).held = 0 // the VM's buffer never fills: every segment is taken
	})
	if allocs != 0 {
		t.Errorf("%v allocations per segment", allocs)
	}
	if sent < 1000 || ckt.Conn(1).s.RcvNxt != seq {
		t.Errorf("%d acknowledgements, rcv_nxt %d want %d", sent, ckt.Conn(1).s.RcvNxt, seq)
	}
}

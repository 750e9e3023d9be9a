package migrate

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	eth "github.com/ringkit/ringkit/frame"
	"github.com/ringkit/ringkit/tcpip"
)

// The circuit's path for one inbound data segment (parse, journal the
// payload and the timestamps, build and send the acknowledgement)
// allocates nothing.
func TestCircuitSegmentAllocs(t *testing.T) {
	clock := tcpip.NewSimClock(time.Unix(0, 0))
	j, err := NewJournal(64<<20, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	sent := 0
	// A receive buffer larger than all the test sends: every segment is
	// taken whole.
	vm, peer := netip.MustParseAddrPort("10.0.0.10:40000"), netip.MustParseAddrPort("10.0.1.1:80")
	cfg := tcpip.StackConfig{Clock: clock, WriteAhead: journalLog{j}, StandIn: true, RecvBuffer: 4 << 20,
		MAC: vmMAC, Addrs: []netip.Prefix{netip.PrefixFrom(vm.Addr(), 16)}}
	ckt, err := tcpip.NewStack(cfg, func([]byte) { sent++ })
	if err != nil {
		t.Fatal(err)
	}
	// The peer's MAC is known, as the VM's neighbour cache hands it over.
	nb := tcpip.Neighbor{Addr: peer.Addr(), MAC: peerMAC, State: tcpip.NeighborReachable, TimerIn: time.Minute}
	if err := ckt.ImportNeighbors([]tcpip.Neighbor{nb}); err != nil {
		t.Fatal(err)
	}
	s := &tcpip.Session{ID: 1, Tuple: tcpip.FiveTuple{Proto: eth.ProtoTCP, Src: vm, Dst: peer}, State: tcpip.Established,
		SndUna: 10, SndNxt: 10, RcvNxt: 1000, SndWnd: 1 << 16, RcvWnd: 1 << 16, MSS: 1460,
		TS: tcpip.Timestamps{Enabled: true, Offset: 7, LastSent: 6, Recent: 1}}
	if err := ckt.Import([]*tcpip.Session{s}); err != nil {
		t.Fatal(err)
	}
	opt := []byte{1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0} // NOP, NOP, timestamps: TSval, TSecr 0
	spec := eth.Spec{DstMAC: vmMAC, SrcMAC: peerMAC, Src: peer.Addr(), Dst: vm.Addr(), Proto: eth.ProtoTCP, SrcPort: peer.Port(), DstPort: vm.Port(),
		Ack: 10, TCPFlags: eth.TCPAck | eth.TCPPsh, PayloadLen: 1000, TCPOptions: opt}
	seq, tsval := uint32(1000), uint32(1)
	buf := make([]byte, 0, 2048)
	allocs := testing.AllocsPerRun(1000, func() {
		tsval++
		spec.Seq = seq
		binary.BigEndian.PutUint32(opt[4:], tsval)
		buf = eth.Build(buf[:0], &spec)
		ckt.Input(buf)
		clock.Advance(time.Millisecond)
		seq += 1000
	})
	if allocs != 0 {
		t.Errorf("%v allocations per segment", allocs)
	}
	if got := ckt.Conn(1).Session().RcvNxt; sent < 1000 || got != seq {
		t.Errorf("%d acknowledgements, rcv_nxt %d want %d", sent, got, seq)
	}
}

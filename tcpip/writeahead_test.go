package tcpip

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	eth "github.com/ringkit/ringkit/frame"
	"github.com/ringkit/ringkit/internal/seqnum"
)

// recorder is a WriteAhead that keeps what it was told and can refuse.
type recorder struct {
	rcvNxt   uint32 // end of the payload logged
	recent   uint32 // TS.Recent logged
	lastSent uint32 // TSval logged
	sndUna   uint32
	states   []TCPState
	snaps    []Session
	refuse   bool // refuse every change
	room     int
	events   []string
}

var errRefused = errors.New("refused")

func (r *recorder) Room(int) int { return r.room }
func (r *recorder) Snapshot(s *Session) error {
	if r.refuse {
		return errRefused
	}
	r.snaps = append(r.snaps, *s.Clone())
	r.rcvNxt, r.recent, r.lastSent, r.sndUna = s.RcvNxt, s.TS.Recent, s.TS.LastSent, s.SndUna
	r.events = append(r.events, "snapshot")
	return nil
}
func (r *recorder) State(_ uint64, st TCPState, _, rcvNxt uint32) error {
	if r.refuse {
		return errRefused
	}
	r.states, r.rcvNxt = append(r.states, st), rcvNxt
	r.events = append(r.events, "state")
	return nil
}
func (r *recorder) Acked(_ uint64, una uint32) error {
	if r.refuse {
		return errRefused
	}
	r.sndUna = una
	r.events = append(r.events, "acked")
	return nil
}
func (r *recorder) Received(_ uint64, seq uint32, data []byte) error {
	if r.refuse {
		return errRefused
	}
	if seq != r.rcvNxt {
		return errors.New("gap")
	}
	r.rcvNxt += uint32(len(data))
	r.events = append(r.events, "received")
	return nil
}
func (r *recorder) Window(uint64, uint32, uint32) error {
	if r.refuse {
		return errRefused
	}
	return nil
}
func (r *recorder) Timestamps(_ uint64, recent, lastSent uint32) error {
	if r.refuse {
		return errRefused
	}
	r.recent, r.lastSent = recent, lastSent
	r.events = append(r.events, "timestamps")
	return nil
}
func (r *recorder) Reset(uint64) error { return nil }

// tsOption is the timestamp option carrying tsval and tsecr.
func tsOption(tsval, tsecr uint32) []byte {
	var o [40]byte
	return segmentOptions(&o, false, 0, 0, true, tsval, tsecr)
}

// Every segment a stand-in sends reveals only what its WriteAhead log
// holds: its acknowledgement is at most the end of the payload logged,
// its TSval at most the last logged, its TSecr the TS.Recent logged. A
// log that refuses leaves the state as it was: nothing more is
// acknowledged, and the refusals are counted.
func TestWriteAheadBeforeSend(t *testing.T) {
	log := &recorder{room: 1 << 20, rcvNxt: 5000, recent: 1, lastSent: 100}
	b := newBench(t, StackConfig{WriteAhead: log, StandIn: true})
	vm, peer := netip.AddrPortFrom(vmIP, 40000), netip.AddrPortFrom(peerIP, 80)
	s := &Session{ID: 7, Tuple: FiveTuple{Proto: eth.ProtoTCP, Src: vm, Dst: peer}, State: Established,
		SndUna: 900, SndNxt: 1000, RcvNxt: 5000, SndWnd: 1 << 16, RcvWnd: 1 << 16, MSS: 1000,
		TS: Timestamps{Enabled: true, Offset: 100 - b.st.TSClock(), LastSent: 100, Recent: 1}, SendQueue: make([]byte, 100)}
	if err := b.st.Import([]*Session{s}); err != nil {
		t.Fatal(err)
	}
	if err := b.st.ImportNeighbors([]Neighbor{{Addr: peerIP, MAC: peerMAC, State: NeighborReachable, TimerIn: time.Minute}}); err != nil {
		t.Fatal(err)
	}
	seq, tsval := uint32(5000), uint32(2)
	input := func(ack uint32, n int) {
		spec := eth.Spec{DstMAC: vmMAC, SrcMAC: peerMAC, Src: peerIP, Dst: vmIP, Proto: eth.ProtoTCP, SrcPort: 80, DstPort: 40000,
			Seq: seq, Ack: ack, TCPFlags: eth.TCPAck, PayloadLen: n, TCPOptions: tsOption(tsval, 0)}
		b.st.Input(eth.Build(nil, &spec))
		seq += uint32(n)
		tsval++
		b.clock.Advance(3 * time.Millisecond)
	}
	check := func() {
		t.Helper()
		for _, f := range b.take() {
			var seg segment
			if ok, err := parseSegment(f, &seg); !ok || err != nil {
				t.Fatalf("sent %x: %v %v", f[:14], ok, err)
			}
			if seqnum.LT(log.rcvNxt, seg.ack) || seqnum.LT(log.lastSent, seg.tsval) || seg.tsecr != log.recent {
				t.Fatalf("sent ack %d TSval %d TSecr %d; the log holds rcv_nxt %d, TSval %d, recent %d",
					seg.ack, seg.tsval, seg.tsecr, log.rcvNxt, log.lastSent, log.recent)
			}
		}
	}
	for i := range 20 {
		input(900+uint32(5*i), 700)
		check()
	}
	if log.rcvNxt != seq || log.sndUna != 995 {
		t.Fatalf("log holds rcv_nxt %d snd_una %d, want %d and 995", log.rcvNxt, log.sndUna, seq)
	}
	before := b.st.Conn(7).Session()
	log.refuse = true
	input(1000, 700)
	check()
	after := b.st.Conn(7).Session()
	if after.RcvNxt != before.RcvNxt || after.SndUna != before.SndUna || after.TS.LastSent != before.TS.LastSent {
		t.Fatalf("refused changes were made: rcv_nxt %d->%d, snd_una %d->%d, TSval %d->%d",
			before.RcvNxt, after.RcvNxt, before.SndUna, after.SndUna, before.TS.LastSent, after.TS.LastSent)
	}
	if st := b.st.Stats(); st.LogRefused < 2 || st.Refused != 700 {
		t.Errorf("stats %+v: the refusals are not counted", st)
	}
}

// A dialed connection logs its whole state (Snapshot) on the SYN-ACK,
// before it acknowledges it; refused, the SYN-ACK is as if it never came.
func TestWriteAheadSnapshot(t *testing.T) {
	for _, refuse := range []bool{false, true} {
		log := &recorder{room: 1 << 20, refuse: refuse}
		b := newBench(t, StackConfig{WriteAhead: log})
		if err := b.st.ImportNeighbors([]Neighbor{{Addr: peerIP, MAC: peerMAC, State: NeighborReachable, TimerIn: time.Minute}}); err != nil {
			t.Fatal(err)
		}
		c, err := b.st.Dial(netip.AddrPortFrom(vmIP, 40000), netip.AddrPortFrom(peerIP, 80))
		if err != nil {
			t.Fatal(err)
		}
		syn := b.take()
		var seg segment
		if ok, err := parseSegment(syn[len(syn)-1], &seg); !ok || err != nil {
			t.Fatal("no SYN")
		}
		spec := eth.Spec{DstMAC: vmMAC, SrcMAC: peerMAC, Src: peerIP, Dst: vmIP, Proto: eth.ProtoTCP, SrcPort: 80, DstPort: 40000,
			Seq: 777, Ack: seg.seq + 1, TCPFlags: eth.TCPSyn | eth.TCPAck, TCPOptions: tsOption(55, seg.tsval)}
		b.st.Input(eth.Build(nil, &spec))
		out := b.take()
		if refuse {
			if c.State() != SynSent || len(out) != 0 || len(log.snaps) != 0 {
				t.Errorf("refused snapshot: %v, %d frames sent", c.State(), len(out))
			}
			continue
		}
		if len(log.snaps) != 1 || log.snaps[0].State != Established || log.snaps[0].RcvNxt != 778 || log.snaps[0].TS.Recent != 55 {
			t.Fatalf("snapshots %+v", log.snaps)
		}
		if len(out) != 1 || c.State() != Established {
			t.Fatalf("after the SYN-ACK: %v, %d frames", c.State(), len(out))
		}
	}
}

package tcpip

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	eth "github.com/ringkit/ringkit/frame"
)

// A VM that falls silent is declared lost by its peers: after
// KeepaliveIdle plus KeepaliveProbes intervals when they are idle, after
// MaxRetries unanswered retransmissions when they send. This is what the
// migration tests count on to see a session die.
func TestPeersDeclareSilentVMLost(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rate  int
		peer  StackConfig
		after time.Duration
	}{
		{"keepalive", 0, StackConfig{KeepaliveIdle: 50 * time.Millisecond, KeepaliveInterval: 20 * time.Millisecond, KeepaliveProbes: 3}, 150 * time.Millisecond},
		{"retransmit", 1000, StackConfig{RTO: 10 * time.Millisecond, MaxRTO: 40 * time.Millisecond, MaxRetries: 4}, 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newPair(t, pairConfig{sessions: 4, rate: tc.rate, peer: tc.peer})
			w.run(20 * time.Millisecond)
			w.vmNIC.Port(0).SetLink(false) // the VM's host drops off the network
			w.run(tc.after)
			for p, s := range w.senders {
				if !errors.Is(s.conn.Err(), ErrTimeout) {
					t.Errorf("port %d: peer connection %v, err %v: a silent VM went unnoticed", p, s.conn.State(), s.conn.Err())
				}
			}
		})
	}
}

// A segment for no connection is answered with a reset, as RFC 9293 says;
// a stand-in drops it instead (it may be for a listener of the
// application it stands in for).
func TestStackResetsUnknownSegments(t *testing.T) {
	clock := NewSimClock(time.Unix(0, 0))
	var out [][]byte
	send := func(f []byte) { out = append(out, append([]byte(nil), f...)) }
	st, err := NewStack(StackConfig{Clock: clock}, send)
	if err != nil {
		t.Fatal(err)
	}
	spec := eth.Spec{Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("10.0.0.1"), Proto: eth.ProtoTCP,
		SrcPort: 5, DstPort: 6, Seq: 100, Ack: 7, TCPFlags: eth.TCPAck, PayloadLen: 10}
	st.Input(eth.Build(nil, &spec))
	var seg segment
	if len(out) != 1 {
		t.Fatalf("%d frames answered an unknown segment", len(out))
	}
	if ok, err := parseSegment(out[0], &seg); !ok || err != nil || !seg.has(eth.TCPRst) || seg.seq != 7 {
		t.Fatalf("answer %+v (%v, %v), want a reset at seq 7", seg, ok, err)
	}
	ckt, err := NewStack(StackConfig{Clock: clock, WriteAhead: noLog{}, StandIn: true}, send)
	if err != nil {
		t.Fatal(err)
	}
	ckt.Input(eth.Build(nil, &spec))
	if len(out) != 1 || ckt.Stats().Unknown != 1 {
		t.Errorf("a stand-in answered an unknown segment (%d frames)", len(out)-1)
	}
}

// A zero window stops the sender; its probes are answered, so it is never
// declared lost however long the window stays shut; reopening it resumes
// the stream.
func TestZeroWindowProbes(t *testing.T) {
	w := newPair(t, pairConfig{sessions: 2, rate: 5000, peer: StackConfig{RTO: 10 * time.Millisecond, MaxRTO: 20 * time.Millisecond, MaxRetries: 3}})
	readers := w.readers
	w.readers = map[uint16]*reader{} // the VM's application stops reading
	w.run(500 * time.Millisecond)
	probes := w.peer.Stats().WindowProbes
	for p, s := range w.senders {
		if s.conn.Session().SndWnd != 0 || s.conn.Err() != nil {
			t.Errorf("port %d: window %d, err %v", p, s.conn.Session().SndWnd, s.conn.Err())
		}
	}
	if probes == 0 {
		t.Fatal("no zero-window probe")
	}
	w.readers = readers
	w.run(50 * time.Millisecond)
	w.drain(time.Second)
	w.checkStreams()
}

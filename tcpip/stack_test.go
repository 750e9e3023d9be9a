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
	cfg := StackConfig{Clock: clock, MAC: vmMAC, Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/24")}}
	st, err := NewStack(cfg, send)
	if err != nil {
		t.Fatal(err)
	}
	peer := Neighbor{Addr: netip.MustParseAddr("10.0.0.2"), MAC: peerMAC, State: NeighborReachable, TimerIn: time.Minute}
	if err := st.ImportNeighbors([]Neighbor{peer}); err != nil {
		t.Fatal(err)
	}
	spec := eth.Spec{DstMAC: vmMAC, SrcMAC: peerMAC, Src: peer.Addr, Dst: netip.MustParseAddr("10.0.0.1"), Proto: eth.ProtoTCP,
		SrcPort: 5, DstPort: 6, Seq: 100, Ack: 7, TCPFlags: eth.TCPAck, PayloadLen: 10}
	st.Input(eth.Build(nil, &spec))
	var seg segment
	if len(out) != 1 {
		t.Fatalf("%d frames answered an unknown segment", len(out))
	}
	if ok, err := parseSegment(out[0], &seg); !ok || err != nil || !seg.has(eth.TCPRst) || seg.seq != 7 {
		t.Fatalf("answer %+v (%v, %v), want a reset at seq 7", seg, ok, err)
	}
	if dst := [6]byte(out[0][0:6]); dst != peerMAC {
		t.Errorf("reset sent to %x, want the peer's MAC %x", dst, peerMAC)
	}
	cfg.WriteAhead, cfg.StandIn = noLog{}, true
	ckt, err := NewStack(cfg, send)
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

// Every TCP frame goes to its peer's MAC, from the sender's, from the
// first SYN on: the only broadcasts are ARP requests.
func TestFramesToTheRightMAC(t *testing.T) {
	counts := map[string]int{}
	tap := func(from string, f []byte) {
		dst, src := [6]byte(f[0:6]), [6]byte(f[6:12])
		me, peer := vmMAC, peerMAC
		if from == "peer" {
			me, peer = peerMAC, vmMAC
		}
		var seg segment
		switch ok, err := parseSegment(f, &seg); {
		case err != nil:
			t.Errorf("%s sent a damaged frame: %v", from, err)
		case ok:
			counts[from+" tcp"]++
			if dst != peer || src != me {
				t.Errorf("%s sent a segment from %x to %x, want %x to %x", from, src, dst, me, peer)
			}
		case etherType(f) == eth.EtherTypeARP:
			counts[from+" arp"]++
			if src != me || dst != broadcastMAC && dst != peer {
				t.Errorf("%s sent ARP from %x to %x", from, src, dst)
			}
		default:
			t.Errorf("%s sent EtherType %#x", from, etherType(f))
		}
	}
	w := newPairTapped(t, pairConfig{sessions: 4, rate: 2000}, tap)
	w.run(50 * time.Millisecond)
	w.drain(time.Second)
	w.checkStreams()
	// The VM resolved the peer once (a request, answered); the peer
	// learned the VM from that request and needed none of its own.
	if counts["vm tcp"] == 0 || counts["peer tcp"] == 0 || counts["vm arp"] != 1 || counts["peer arp"] != 1 {
		t.Errorf("frames sent: %v", counts)
	}
}

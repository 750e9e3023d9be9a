package tcpip

import (
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	eth "github.com/ringkit/ringkit/frame"
)

// Connections as a move leaves them: imported with the timers taken
// before their last changes, some of them over but for their TIME_WAIT.

// A connection in TIME_WAIT has exchanged both FINs: its peer may have
// forgotten it (a passive closer does once its FIN is acknowledged), so
// AckAll, run after a move, sends it nothing that would draw a reset; and
// a reset that comes all the same ends it quietly, with its data still
// there for the application.
func TestTimeWaitAfterMove(t *testing.T) {
	r := newReceiver(t, StackConfig{}, 5000)
	c := r.c
	if err := c.Close(); err != nil { // our FIN
		t.Fatal(err)
	}
	fin := c.Session().SndNxt
	spec := eth.Spec{DstMAC: vmMAC, SrcMAC: peerMAC, Src: peerIP, Dst: vmIP, Proto: eth.ProtoTCP, SrcPort: 80, DstPort: 40000,
		Seq: 5000, Ack: fin, TCPFlags: eth.TCPAck | eth.TCPFin | eth.TCPPsh, Payload: []byte("last words")}
	r.b.st.Input(eth.Build(nil, &spec)) // the peer's data and FIN, acknowledging ours
	r.b.take()
	if c.State() != TimeWait {
		t.Fatalf("%v, want TIME_WAIT", c.State())
	}
	r.b.st.AckAll()
	if out := r.b.take(); len(out) != 0 {
		t.Fatalf("AckAll sent %d frames on a connection in TIME_WAIT", len(out))
	}
	spec = eth.Spec{DstMAC: vmMAC, SrcMAC: peerMAC, Src: peerIP, Dst: vmIP, Proto: eth.ProtoTCP, SrcPort: 80, DstPort: 40000,
		Seq: 5000 + 11, TCPFlags: eth.TCPRst}
	r.b.st.Input(eth.Build(nil, &spec))
	buf := make([]byte, 32)
	n, _ := c.Read(buf)
	if c.Err() != nil || c.Stats().ResetReceived || c.State() != Closed || string(buf[:n]) != "last words" {
		t.Fatalf("after a reset in TIME_WAIT: %v, err %v, read %q", c.State(), c.Err(), buf[:n])
	}
	if _, err := c.Read(buf); err != io.EOF {
		t.Fatalf("read after the data: %v, want EOF", err)
	}
}

// Import arms a retransmission timer only where there is something to
// time: a session whose timers were taken before its last changes (a
// journal replayed after them) sends no probe from TIME_WAIT, nor from a
// connection with nothing in flight and an open window; one with bytes in
// flight sends them again.
func TestImportArmsOnlyDueTimers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		state    TCPState
		inFlight int
		wnd      uint32
		want     bool
	}{
		{"time-wait", TimeWait, 0, 1 << 16, false},
		{"nothing in flight", Established, 0, 1 << 16, false},
		{"fin-wait2", FinWait2, 0, 1 << 16, false},
		{"bytes in flight", Established, 100, 1 << 16, true},
		{"zero window", Established, 0, 0, true},
		{"fin in flight", LastAck, 1, 1 << 16, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBench(t, StackConfig{})
			vm, peer := netip.AddrPortFrom(vmIP, 40000), netip.AddrPortFrom(peerIP, 80)
			s := &Session{ID: 1, Tuple: FiveTuple{Proto: eth.ProtoTCP, Src: vm, Dst: peer}, State: tc.state,
				SndUna: 1000, SndNxt: 1000 + uint32(tc.inFlight), RcvNxt: 5000, SndWnd: tc.wnd, RcvWnd: 1 << 16, MSS: 1460,
				Timers: Timers{RTO: 200 * time.Millisecond, RetransmitIn: 10 * time.Millisecond}}
			if tc.state == LastAck {
				s.SendQueue = nil // the FIN alone
			} else {
				s.SendQueue = make([]byte, tc.inFlight)
			}
			if err := b.st.Import([]*Session{s}); err != nil {
				t.Fatal(err)
			}
			if err := b.st.ImportNeighbors([]Neighbor{{Addr: peerIP, MAC: peerMAC, State: NeighborReachable, TimerIn: time.Minute}}); err != nil {
				t.Fatal(err)
			}
			b.advance(50 * time.Millisecond)
			if sent := len(b.take()) > 0; sent != tc.want {
				t.Fatalf("%v, %d bytes in flight, window %d: sent %v, want %v", tc.state, tc.inFlight, tc.wnd, sent, tc.want)
			}
		})
	}
}

// A session that closed while it was away (a journal replayed its last
// state, CLOSED) moves with what it received: the application reads it,
// then the end of the stream.
func TestImportClosedSession(t *testing.T) {
	b := newBench(t, StackConfig{})
	vm, peer := netip.AddrPortFrom(vmIP, 40000), netip.AddrPortFrom(peerIP, 80)
	s := &Session{ID: 1, Tuple: FiveTuple{Proto: eth.ProtoTCP, Src: vm, Dst: peer}, State: Closed,
		SndUna: 1000, SndNxt: 1000, RcvNxt: 5000, SndWnd: 1 << 16, RcvWnd: 1 << 16, MSS: 1460, RecvQueue: []byte("tail")}
	if err := b.st.Import([]*Session{s}); err != nil {
		t.Fatal(err)
	}
	c := b.st.Conn(1)
	buf := make([]byte, 16)
	n, err := c.Read(buf)
	if string(buf[:n]) != "tail" || err != nil || c.Live() {
		t.Fatalf("read %q, %v; live %v", buf[:n], err, c.Live())
	}
	if _, err := c.Read(buf); err != io.EOF {
		t.Fatalf("after the data: %v, want EOF", err)
	}
}

// A session imported in TIME_WAIT waits StackConfig.TimeWait whole on the
// new stack (its timers may have been taken before it entered the wait),
// then closes without sending anything.
func TestImportTimeWaitEnds(t *testing.T) {
	const wait = 2 * time.Second
	b := newBench(t, StackConfig{TimeWait: wait})
	vm, peer := netip.AddrPortFrom(vmIP, 40000), netip.AddrPortFrom(peerIP, 80)
	s := &Session{ID: 1, Tuple: FiveTuple{Proto: eth.ProtoTCP, Src: vm, Dst: peer}, State: TimeWait,
		SndUna: 1001, SndNxt: 1001, RcvNxt: 5001, SndWnd: 1 << 16, RcvWnd: 1 << 16, MSS: 1460,
		Timers: Timers{RTO: 200 * time.Millisecond, RetransmitIn: 10 * time.Millisecond}}
	if err := b.st.Import([]*Session{s}); err != nil {
		t.Fatal(err)
	}
	c := b.st.Conn(1)
	b.advance(wait - 100*time.Millisecond)
	if c.State() != TimeWait {
		t.Fatalf("%v before the wait is over, want TIME_WAIT", c.State())
	}
	b.advance(200 * time.Millisecond)
	if c.State() != Closed || c.Err() != nil {
		t.Fatalf("%v (err %v) after the wait, want CLOSED", c.State(), c.Err())
	}
	if out := b.take(); len(out) != 0 {
		t.Fatalf("sent %d frames from TIME_WAIT", len(out))
	}
	if n := len(b.st.Export()); n != 0 {
		t.Fatalf("%d sessions exported after the wait", n)
	}
}

func TestTimeWaitConfig(t *testing.T) {
	_, err := NewStack(StackConfig{TimeWait: -time.Second}, func([]byte) {})
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "TimeWait") {
		t.Fatalf("a negative TimeWait: %v, want ErrConfig naming TimeWait", err)
	}
}

package migrate

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/ringkit/ringkit/tcpip"
)

// Sixty-four sessions whose peers keep sending at a steady rate through a
// 200 ms suspension: no reset, no loss, every stream byte-exact (each byte
// checked in place, so no duplicate and no gap), the destination serving
// after the move, the source silent from the seal on.
func TestMigrateSessionsThroughSuspension(t *testing.T) {
	// The journal takes a third of what the peers offer during the
	// suspension: the circuit closes windows as it fills.
	w := newWorld(t, worldConfig{sessions: 64, rate: 1000, journalSize: 4 << 20})
	w.run(50 * time.Millisecond)

	dial, wait := serve(w.dest, nil)
	var srcTxAtSeal, dstTxAtSeal uint64
	var journalUsed int
	m, err := w.migrate(context.Background(), 200*time.Millisecond, []Dialer{dial}, MigrateConfig{
		Phase: func(p Phase) {
			if p == PhaseSealed {
				srcTxAtSeal = w.srcNIC.Port(0).Stats().Total.TxPackets
				dstTxAtSeal = w.dstNIC.Port(0).Stats().Total.TxPackets
				journalUsed = w.circuit.Journal().Used()
			}
		},
	})
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if err := wait(); err != nil {
		t.Fatalf("destination: %v", err)
	}
	w.run(100 * time.Millisecond)
	w.drain(2 * time.Second)
	w.checkStreams()

	if got := w.srcNIC.Port(0).Stats().Total.TxPackets; got != srcTxAtSeal {
		t.Errorf("the source sent %d frames after the seal: two active owners", got-srcTxAtSeal)
	}
	if dstTxAtSeal != 0 {
		t.Errorf("the destination sent %d frames before it was activated", dstTxAtSeal)
	}
	if link, ok := w.peerHost.LinkOf(vmMAC); link != 1 || !ok {
		t.Errorf("the peers' host sends to the VM's MAC out of link %d (learned %v), want 1", link, ok)
	}
	if m.Downtime != 200*time.Millisecond {
		t.Errorf("downtime %v, want the 200ms hold (simulated time stands still during the transfer)", m.Downtime)
	}
	if m.Hold != 200*time.Millisecond || m.BeyondHold() != 0 {
		t.Errorf("hold %v, beyond it %v: want the 200ms hold and nothing beyond it", m.Hold, m.BeyondHold())
	}
	if m.SessionsLost != 0 || m.RecordsJournaled == 0 || m.RecordsReplayed != m.RecordsJournaled+1 ||
		m.BytesPreCopy == 0 || m.BytesDowntime == 0 || m.PeakJournalBytes < int64(journalUsed) || journalUsed == 0 {
		t.Errorf("metrics: %v (journal held %d bytes at the seal)", m, journalUsed)
	}
	for p, s := range w.senders {
		if ts := s.conn.Session().TS; !ts.Enabled || ts.Recent == 0 {
			t.Errorf("port %d: timestamps not in use (%+v): PAWS would check nothing", p, ts)
		}
	}
	st := w.circuit.Stats()
	if st.Stack.ZeroWindows == 0 || st.Stack.Refused == 0 {
		t.Errorf("the journal never filled: %+v", st)
	}
	if st.Stack.SegmentsIn == 0 || st.Stack.SegmentsOut == 0 {
		t.Errorf("the circuit handled nothing during the suspension: %+v", st)
	}
	var total int
	for _, r := range w.readers {
		total += r.off
	}
	if total < 64*1000*250 {
		t.Errorf("only %d bytes moved in all", total)
	}
	t.Logf("%v; circuit %+v; %d bytes delivered", m, st, total)
}

// Peers with keepalive idle 50 ms, interval 20 ms, 3 probes (dead after
// 110 ms of silence) and no data: through a 500 ms suspension the circuit
// answers their probes and none declares its session dead.
func TestMigrateKeepalivesThroughSuspension(t *testing.T) {
	peer := tcpip.StackConfig{KeepaliveIdle: 50 * time.Millisecond, KeepaliveInterval: 20 * time.Millisecond, KeepaliveProbes: 3}
	w := newWorld(t, worldConfig{sessions: 16, peer: peer})
	w.run(100 * time.Millisecond)
	dial, wait := serve(w.dest, nil)
	m, err := w.migrate(context.Background(), 500*time.Millisecond, []Dialer{dial}, MigrateConfig{})
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	w.run(300 * time.Millisecond)
	if n := w.dest.Announced(); n != 3 {
		t.Errorf("destination announced %d times 300ms after the move, want 3 (at 0, 50 and 200 ms)", n)
	}
	w.run(550 * time.Millisecond) // then 450 and 800 ms
	if n := w.dest.Announced(); n != tcpip.AnnounceRounds {
		t.Errorf("destination announced %d times, want %d", n, tcpip.AnnounceRounds)
	}
	w.checkStreams()
	sent := w.peers.Stats().KeepalivesSent
	if m.KeepalivesAnswered < 16*5 || sent == 0 {
		t.Errorf("circuit answered %d keepalives, peers sent %d", m.KeepalivesAnswered, sent)
	}
	for p, s := range w.senders {
		if s.conn.State() != tcpip.Established {
			t.Errorf("port %d: peer in %v", p, s.conn.State())
		}
	}
}

// A cancelled migration resumes the VM on the source with the journal of
// the suspension applied: the peers see nothing.
func TestMigrateCancelResumesLocally(t *testing.T) {
	w := newWorld(t, worldConfig{sessions: 16, rate: 3000})
	w.run(30 * time.Millisecond)
	dial, wait := serve(w.dest, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var phases []Phase
	m, err := w.migrate(ctx, time.Hour, []Dialer{dial}, MigrateConfig{
		Phase: func(p Phase) { phases = append(phases, p) },
		Hold: func(context.Context) {
			go func() { time.Sleep(20 * time.Millisecond); cancel() }()
		},
	})
	if !errors.Is(err, ErrMigration) {
		t.Fatalf("cancelled migration: %v", err)
	}
	if err := wait(); err == nil {
		t.Error("the destination served a cancelled migration")
	}
	if w.dest.Active() || w.circuit.Mode() != Running {
		t.Fatalf("after cancel: destination active %v, circuit %v", w.dest.Active(), w.circuit.Mode())
	}
	if phases[len(phases)-1] != PhaseResumed {
		t.Errorf("phases %v", phases)
	}
	if m.RecordsJournaled == 0 {
		t.Error("nothing was journaled during the suspension")
	}
	w.run(100 * time.Millisecond)
	w.drain(2 * time.Second)
	w.checkStreams()
	if w.dstNIC.Port(0).Stats().Total.TxPackets != 0 {
		t.Error("the destination sent frames")
	}
}

// A destination whose connection fails while the journal moves is
// dropped; the next one gets the pre-copy and the journal and runs the VM.
// When every destination fails, the VM resumes on the source.
func TestMigrateDestinationFailure(t *testing.T) {
	for _, tc := range []struct {
		name  string
		retry bool
	}{{"retry", true}, {"local", false}} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, worldConfig{sessions: 16, rate: 1000})
			w.run(30 * time.Millisecond)
			broken, err := NewDestination(DestinationConfig{Stack: tcpip.StackConfig{Clock: w.clock}, ResumeWait: 50 * time.Millisecond}, func([]byte) {})
			if err != nil {
				t.Fatal(err)
			}
			// The first destination's link is cut as the journal starts.
			dialBad, waitBad := serve(broken, func(c io.ReadWriteCloser) io.ReadWriteCloser {
				return &cutConn{ReadWriteCloser: c, at: 2}
			})
			dests := []Dialer{dialBad}
			var waitGood func() error
			if tc.retry {
				var dialGood Dialer
				dialGood, waitGood = serve(w.dest, nil)
				dests = append(dests, dialGood)
			}
			m, err := w.migrate(context.Background(), 100*time.Millisecond, dests, MigrateConfig{
				Transfer:   TransferConfig{Timeout: 50 * time.Millisecond},
				Reconnects: -1, // no resume on the broken one: on to the next
			})
			if waitBad() == nil || broken.Active() {
				t.Error("the broken destination activated")
			}
			if tc.retry {
				if err != nil {
					t.Fatalf("migrate: %v", err)
				}
				if err := waitGood(); err != nil {
					t.Fatal(err)
				}
				if m.Retries == 0 || !w.dest.Active() || w.circuit.Mode() != Moved {
					t.Errorf("retries %d, destination active %v, source %v", m.Retries, w.dest.Active(), w.circuit.Mode())
				}
			} else {
				if !errors.Is(err, ErrMigration) || w.circuit.Mode() != Running {
					t.Fatalf("every destination failed: %v, source %v", err, w.circuit.Mode())
				}
			}
			w.run(100 * time.Millisecond)
			start := w.clock.Now()
			w.drain(2 * time.Second)
			t.Logf("drained in %v; %v", w.clock.Now().Sub(start), m)
			w.checkStreams()
		})
	}
}

// A journal transfer cut in the middle is resumed on a new connection to
// the same destination from the last chunk acknowledged: the destination
// activates, nothing is sent twice into the table, the peers see nothing.
func TestMigrateResumesCutJournal(t *testing.T) {
	w := newWorld(t, worldConfig{sessions: 16, rate: 1000})
	w.run(30 * time.Millisecond)
	first := true
	dial, wait := serve(w.dest, func(c io.ReadWriteCloser) io.ReadWriteCloser {
		if !first {
			return c
		}
		first = false
		return &cutConn{ReadWriteCloser: c, at: 2, acks: 5} // the journal's fifth acknowledgement
	})
	m, err := w.migrate(context.Background(), 100*time.Millisecond, []Dialer{dial}, MigrateConfig{
		Transfer: TransferConfig{ChunkSize: 8 << 10, Window: 4},
	})
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if m.Retries == 0 || !w.dest.Active() || m.RecordsReplayed != m.RecordsJournaled+1 || m.RecordsJournaled < 100 {
		t.Errorf("metrics %v, destination active %v", m, w.dest.Active())
	}
	w.run(100 * time.Millisecond)
	w.drain(2 * time.Second)
	w.checkStreams()
}

// cutConn closes the connection when the receiver greets its at-th stream
// (the pre-copy is the first, the journal the second) or, with acks set,
// when it sends that stream's acks-th acknowledgement.
type cutConn struct {
	io.ReadWriteCloser
	at, greetings int
	acks, seen    int
}

func (c *cutConn) Write(b []byte) (int, error) {
	if len(b) > 0 && b[0] == msgHelloAck {
		c.greetings++
	}
	cut := c.greetings == c.at && (c.acks == 0 && b[0] == msgHelloAck ||
		c.acks > 0 && b[0] == msgAck && func() bool { c.seen++; return c.seen == c.acks }())
	if cut {
		c.Close()
		return 0, io.ErrClosedPipe
	}
	return c.ReadWriteCloser.Write(b)
}

// The journal streams to the destination while the VM is suspended: at
// the seal the destination already holds most of it, and only the tail
// moves after (Metrics.JournalTail).
func TestMigrateStreamsJournalDuringHold(t *testing.T) {
	w := newWorld(t, worldConfig{sessions: 64, rate: 1000, journalSize: 4 << 20})
	w.run(20 * time.Millisecond)
	dial, wait := serve(w.dest, nil)
	var size int64
	m, err := w.migrate(context.Background(), 300*time.Millisecond, []Dialer{dial}, MigrateConfig{
		Transfer: TransferConfig{ChunkSize: 16 << 10},
		Phase: func(p Phase) {
			if p == PhaseSealed {
				size = w.circuit.Journal().Size()
			}
		},
	})
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if size < 1<<20 || m.JournalTail > size/2 {
		t.Errorf("%d of the journal's %d bytes moved after the seal: %v", m.JournalTail, size, m)
	}
	t.Logf("%d of %d bytes after the seal; %v", m.JournalTail, size, m)
	w.run(100 * time.Millisecond)
	w.drain(2 * time.Second)
	w.checkStreams()
}

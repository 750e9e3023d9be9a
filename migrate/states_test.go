package migrate

import (
	"context"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/ringkit/ringkit/internal/seqnum"
	"github.com/ringkit/ringkit/tcpip"
)

// Every transitional TCP state survives a 200 ms suspension: a session in
// SYN_SENT completes its handshake through the circuit, FIN_WAIT1 and
// LAST_ACK see their FIN acknowledged, FIN_WAIT2 and ESTABLISHED take the
// peer's data and FIN, which the VM reads after the resume, and CLOSE_WAIT
// sends and closes after it. No side ever sees a reset.
func TestMigrateTransitionalStates(t *testing.T) {
	const (
		finWait1 = 40000 + iota
		finWait2
		closeWait
		lastAck
		established
		synSent = 40100
	)
	w := newWorld(t, worldConfig{sessions: 5, rate: 1000})
	for p, s := range w.senders {
		s.stop = p != finWait2 && p != established
	}
	// Before the migration: the VM closes finWait2, the peers close
	// closeWait and lastAck.
	w.vm(func(vm *tcpip.Stack) { mustClose(t, vmConn(vm, finWait2)) })
	mustClose(t, w.senders[closeWait].conn)
	mustClose(t, w.senders[lastAck].conn)
	w.run(30 * time.Millisecond)

	dial, wait := serve(w.dest, nil)
	var suspendAt time.Time
	atSuspend := map[uint16]tcpip.TCPState{}
	want := map[uint16]tcpip.TCPState{finWait1: tcpip.FinWait1, finWait2: tcpip.FinWait2, closeWait: tcpip.CloseWait,
		lastAck: tcpip.LastAck, established: tcpip.Established, synSent: tcpip.SynSent}
	cfg := MigrateConfig{Phase: func(p Phase) {
		switch p {
		case PhasePreCopy:
			w.mu.Lock() // no round until the VM is suspended
			w.vm(func(vm *tcpip.Stack) {
				mustClose(t, vmConn(vm, finWait1))
				mustClose(t, vmConn(vm, lastAck))
			})
			w.dial(synSent)
		case PhaseSuspended:
			w.circuit.mu.Lock()
			for _, c := range w.circuit.ckt.Conns() {
				atSuspend[c.Tuple().Src.Port()] = c.State()
			}
			w.circuit.mu.Unlock()
			suspendAt = w.clock.Now()
			w.mu.Unlock()
		}
	}}
	w.onRound = func() {
		if suspendAt.IsZero() {
			return
		}
		if c := w.senders[finWait1].conn; c.State() == tcpip.CloseWait {
			mustClose(t, c)
		}
		if w.clock.Now().Sub(suspendAt) == 50*time.Millisecond {
			for _, p := range []uint16{finWait2, established} {
				w.senders[p].stop = true
				mustClose(t, w.senders[p].conn)
			}
		}
	}
	m, err := w.migrate(context.Background(), 200*time.Millisecond, []Dialer{dial}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	for p, st := range want {
		if atSuspend[p] != st {
			t.Errorf("port %d: %v at the suspension, want %v", p, atSuspend[p], st)
		}
	}
	// After the resume: closeWait sends its last bytes and closes, synSent
	// sends on its new connection.
	w.onRound = nil
	last := make([]byte, 2000) // within the two segments a moved connection starts its flight with
	for i := range last {
		last[i] = pattern(closeWait+10000, i)
	}
	w.vm(func(vm *tcpip.Stack) {
		if n, err := vmConn(vm, closeWait).Write(last); n != len(last) || err != nil {
			t.Fatalf("write in CLOSE_WAIT after the move: %d, %v", n, err)
		}
		mustClose(t, vmConn(vm, closeWait))
		for i := range last {
			last[i] = pattern(synSent+10000, i)
		}
		if n, err := vmConn(vm, synSent).Write(last); n != len(last) || err != nil {
			t.Fatalf("write on the session opened during the suspension: %d, %v", n, err)
		}
	})
	w.run(500 * time.Millisecond)
	w.drain(time.Second)

	wantVM := map[uint16]tcpip.TCPState{finWait1: tcpip.TimeWait, finWait2: tcpip.TimeWait, closeWait: tcpip.Closed,
		lastAck: tcpip.Closed, established: tcpip.CloseWait, synSent: tcpip.Established}
	wantPeer := map[uint16]tcpip.TCPState{finWait1: tcpip.Closed, finWait2: tcpip.Closed, closeWait: tcpip.TimeWait,
		lastAck: tcpip.TimeWait, established: tcpip.FinWait2, synSent: tcpip.Established}
	w.dest.Do(func(vm *tcpip.Stack) {
		for p, st := range wantVM {
			c := vmConn(vm, p)
			if c == nil || c.State() != st || c.Err() != nil {
				t.Errorf("VM port %d: %v (err %v), want %v", p, c.State(), c.Err(), st)
			}
		}
		if vm.Stats().ResetsSent != 0 {
			t.Errorf("the VM sent %d resets", vm.Stats().ResetsSent)
		}
	})
	for p, st := range wantPeer {
		if got := w.senders[p].conn.State(); got != st {
			t.Errorf("peer port %d: %v, want %v", p, got, st)
		}
	}
	for _, p := range []uint16{finWait2, established} {
		if r := w.readers[p]; !r.eof || r.off == 0 {
			t.Errorf("port %d: the peer's FIN of the suspension not delivered (eof %v after %d bytes)", p, r.eof, r.off)
		}
	}
	for _, p := range []uint16{closeWait, synSent} {
		if r := w.peerWriters[p]; r.off != len(last) || r.bad != 0 {
			t.Errorf("port %d: the peer read %d bytes (first bad %d) of the %d the VM sent after the move", p, r.off, r.bad-1, len(last))
		}
	}
	w.checkStreams()
	if m.SessionsLost != 0 {
		t.Errorf("metrics: %v", m)
	}
}

// Sequence numbers wrap 2^32 during the suspension: the peers' streams
// cross zero while the circuit journals them, and arrive whole.
func TestMigrateSequenceWrap(t *testing.T) {
	// At 1000 bytes per ms, the peers' streams reach 2^32 about 100 ms
	// into the 200 ms suspension.
	isn := func(local, remote netip.AddrPort) uint32 { return 1<<32 - 1000*200 }
	w := newWorld(t, worldConfig{sessions: 8, rate: 1000, peer: tcpip.StackConfig{ISN: isn}})
	w.run(50 * time.Millisecond)
	dial, wait := serve(w.dest, nil)
	at := map[Phase]map[uint16]uint32{}
	snap := func(p Phase) {
		m := map[uint16]uint32{}
		for port, s := range w.senders {
			m[port] = s.conn.Session().SndNxt
		}
		at[p] = m
	}
	// The loop runs the rounds; the phases are seen from the migration's
	// goroutine, so the snapshots take the loop's lock.
	cfg := MigrateConfig{Phase: func(p Phase) {
		if p == PhaseSuspended || p == PhaseSealed {
			w.mu.Lock()
			snap(p)
			w.mu.Unlock()
		}
	}}
	if _, err := w.migrate(context.Background(), 200*time.Millisecond, []Dialer{dial}, cfg); err != nil {
		t.Fatal(err)
	}
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	for port, before := range at[PhaseSuspended] {
		after := at[PhaseSealed][port]
		if !(after < before && seqnum.LT(before, after)) {
			t.Errorf("port %d: snd_nxt %d at the suspension, %d at the seal: no wrap", port, before, after)
		}
	}
	w.run(50 * time.Millisecond)
	w.drain(time.Second)
	w.checkStreams()
}

func vmConn(vm *tcpip.Stack, port uint16) *tcpip.Conn {
	for _, c := range vm.Conns() {
		if c.Tuple().Src.Port() == port {
			return c
		}
	}
	return nil
}

func mustClose(t testing.TB, c io.Closer) {
	t.Helper()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

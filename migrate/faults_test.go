package migrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// act is what a tap does at the message it waits for.
type act uint8

const (
	cutLost      act = iota // the connection is cut: the message is lost
	cutDelivered            // the message arrives, then the connection is cut: the answer is lost
	killBefore              // the writing process dies before the message goes
	killAfter               // the writing process dies once the message is sent
	cutUnsent               // the write succeeds, then the connection is cut before the message leaves (a TCP reset with data in the send buffer)
)

func (a act) String() string {
	return [...]string{"cut, lost", "cut, delivered", "killed before", "killed after", "cut, unsent"}[a]
}

// tap does its act at the first message written through one side of a
// connection that match selects. A kill is runtime.Goexit on the goroutine
// writing: the migration's process dies there, its connection closing with
// it, and nothing it would have done next happens. fired is shared by the
// connections of one fault, so that a fault happens once.
type tap struct {
	io.ReadWriteCloser
	match func([]byte) bool
	act   act
	fired *atomic.Bool
}

func (t *tap) Write(b []byte) (int, error) {
	if !t.match(b) || !t.fired.CompareAndSwap(false, true) {
		return t.ReadWriteCloser.Write(b)
	}
	switch t.act {
	case cutLost:
		t.Close()
		return 0, io.ErrClosedPipe
	case cutDelivered:
		n, err := t.ReadWriteCloser.Write(b)
		t.Close()
		return n, err
	case cutUnsent:
		t.Close()
		return len(b), nil
	case killAfter:
		_, _ = t.ReadWriteCloser.Write(b)
	}
	t.Close()
	runtime.Goexit()
	panic("unreachable")
}

// ctlOf selects the control messages of a kind.
func ctlOf(kind uint8) func() func([]byte) bool {
	return func() func([]byte) bool {
		return func(b []byte) bool { return len(b) == ctlLen && [4]byte(b[:4]) == ctlMagic && b[4] == kind }
	}
}

// greeting selects the receiver's answer to the n-th transfer greeting of
// a migration (1: the pre-copy, 2: the journal).
func greeting(n int32) func() func([]byte) bool {
	return func() func([]byte) bool {
		var seen atomic.Int32
		return func(b []byte) bool { return len(b) > 0 && b[0] == msgHelloAck && seen.Add(1) == n }
	}
}

// byeAck selects the receiver's answer to the end of the n-th transfer of
// a migration (1: the pre-copy, 2: the journal).
func byeAck(n int32) func() func([]byte) bool {
	return func() func([]byte) bool {
		var seen atomic.Int32
		return func(b []byte) bool { return len(b) > 0 && b[0] == msgByeAck && seen.Add(1) == n }
	}
}

// nth selects the n-th message written.
func nth(n int32) func() func([]byte) bool {
	return func() func([]byte) bool {
		var seen atomic.Int32
		return func([]byte) bool { return seen.Add(1) == n }
	}
}

// fault is one single fault of a migration: a tap on the source's or the
// destination's side of the connections, a kill of the source's
// migration process as it enters a phase, or a failed dial.
type fault struct {
	name     string
	src      bool // the tap is on the source's side
	act      act
	match    func() func([]byte) bool
	phase    Phase // kill the source's migration process as it enters this phase
	dialFail int32 // this dial of the source fails
	// slowRestore delays the destination between building the VM from
	// the whole journal and holding it ready (a loaded host).
	slowRestore time.Duration
}

// runFault migrates a world's VM through one fault, settles a killed
// source with Recover, and checks that the VM runs on exactly one host,
// that every session survived byte for byte, and that every goroutine of
// the destination ended. It returns where the VM ended up (Running: the
// source, Moved: the destination) and whether the fault happened.
func runFault(t *testing.T, f fault, dests int) (CircuitMode, bool) {
	t.Helper()
	w := newWorld(t, worldConfig{sessions: 8, rate: 500, resumeWait: 2 * time.Second})
	w.run(20 * time.Millisecond)
	if f.slowRestore > 0 {
		w.dest.beforeHold = func() { time.Sleep(f.slowRestore) }
	}
	var fired atomic.Bool
	var dstWrap func(io.ReadWriteCloser) io.ReadWriteCloser
	if f.match != nil && !f.src {
		m := f.match()
		dstWrap = func(c io.ReadWriteCloser) io.ReadWriteCloser { return &tap{c, m, f.act, &fired} }
	}
	dial, wait := serve(w.dest, dstWrap)
	var dials atomic.Int32
	var srcMatch func([]byte) bool
	if f.match != nil && f.src {
		srcMatch = f.match()
	}
	srcDial := func(ctx context.Context) (io.ReadWriteCloser, error) {
		if dials.Add(1) == f.dialFail {
			fired.Store(true)
			return nil, errors.New("dial refused")
		}
		c, err := dial(ctx)
		if err != nil || srcMatch == nil {
			return c, err
		}
		return &tap{c, srcMatch, f.act, &fired}, nil
	}
	ds := make([]Dialer, dests)
	for i := range ds {
		ds[i] = srcDial
	}
	cfg := MigrateConfig{Transfer: TransferConfig{ChunkSize: 8 << 10, Timeout: 50 * time.Millisecond}, Deadline: 5 * time.Second}
	if f.phase != 0 {
		cfg.Phase = func(p Phase) {
			if p == f.phase && fired.CompareAndSwap(false, true) {
				runtime.Goexit()
			}
		}
	}
	m, killed, err := w.migrateOrKill(context.Background(), 20*time.Millisecond, ds, cfg)
	if killed {
		cfg.Phase = nil
		w.frozen.Store(true)
		var rerr error
		w.during(func() { m, rerr = w.circuit.Recover(context.Background(), ds, cfg) })
		if rerr != nil {
			t.Fatalf("recover: %v", rerr)
		}
		if _, pending := w.circuit.record(); pending {
			t.Fatal("recover left the migration unsettled")
		}
	}
	mode, active := w.circuit.Mode(), w.dest.Active()
	t.Logf("%s: killed %v, migrate: %v; source %v, destination active %v; %v", f.name, killed, err, mode, active, m)
	switch {
	case mode != Running && mode != Moved:
		t.Fatalf("the source is %v: the VM runs nowhere", mode)
	case (mode == Running) == active:
		t.Fatalf("source %v, destination active %v: the VM runs on %d hosts", mode, active, map[bool]int{true: 2, false: 0}[active])
	case mode == Running && err == nil && !killed:
		t.Error("the VM resumed on the source and Migrate reported no error")
	case mode == Moved && err != nil && !killed:
		t.Errorf("the VM moved and Migrate reported %v", err)
	}
	w.run(100 * time.Millisecond)
	w.drain(2 * time.Second)
	w.checkStreams()
	if err := wait(); err != nil {
		t.Logf("destination: %v", err)
	}
	return mode, fired.Load()
}

// Every single fault of a migration, one at a time: the migration
// connection cut at each control message (the message lost, or delivered
// and the answer lost), the source's migration process killed at each
// phase and at each control message it writes (then settled by Recover),
// the destination's killed at each message it writes (its host keeps
// what it holds), a failed dial. The VM ends on exactly one host, every
// session byte for byte intact, and where it ends is the one the
// protocol's rule gives.
func TestMigrateSingleFaults(t *testing.T) {
	src, dst := true, false
	cases := []struct {
		fault
		want CircuitMode
	}{
		{fault{name: "hello", src: src, act: cutLost, match: ctlOf(ctlHello)}, Running},
		{fault{name: "hello", src: src, act: cutDelivered, match: ctlOf(ctlHello)}, Running},
		{fault{name: "go", src: src, act: cutLost, match: ctlOf(ctlGo)}, Moved},
		{fault{name: "go", src: src, act: cutDelivered, match: ctlOf(ctlGo)}, Moved},
		{fault{name: "pre-copy greeting", src: dst, act: cutLost, match: greeting(1)}, Running},
		{fault{name: "journal greeting", src: dst, act: cutLost, match: greeting(2)}, Moved},
		{fault{name: "journal end", src: dst, act: cutLost, match: byeAck(2)}, Moved},
		{fault{name: "journal end", src: dst, act: cutUnsent, match: byeAck(2)}, Moved},
		// The source learns on a new connection that the journal is whole
		// and gives the go-ahead on another while the destination is still
		// restoring: the go-ahead waits for the restore.
		{fault{name: "journal end, slow restore", src: dst, act: cutUnsent, match: byeAck(2), slowRestore: 300 * time.Millisecond}, Moved},
		{fault{name: "journal end, slow restore", src: dst, act: cutLost, match: byeAck(2), slowRestore: 300 * time.Millisecond}, Moved},
		{fault{name: "ready", src: dst, act: cutUnsent, match: ctlOf(ctlReady)}, Moved},
		{fault{name: "go", src: src, act: cutUnsent, match: ctlOf(ctlGo)}, Moved},
		{fault{name: "ready", src: dst, act: cutLost, match: ctlOf(ctlReady)}, Moved},
		{fault{name: "ready", src: dst, act: cutDelivered, match: ctlOf(ctlReady)}, Moved},
		{fault{name: "active", src: dst, act: cutLost, match: ctlOf(ctlActive)}, Moved},
		{fault{name: "active", src: dst, act: cutDelivered, match: ctlOf(ctlActive)}, Moved},
		{fault{name: "served", src: dst, act: cutLost, match: ctlOf(ctlServed)}, Moved},
		{fault{name: "served", src: dst, act: cutDelivered, match: ctlOf(ctlServed)}, Moved},

		{fault{name: "source at pre-copy", phase: PhasePreCopy}, Running},
		{fault{name: "source at hello", src: src, act: killBefore, match: ctlOf(ctlHello)}, Running},
		{fault{name: "source at hello", src: src, act: killAfter, match: ctlOf(ctlHello)}, Running},
		{fault{name: "source suspended", phase: PhaseSuspended}, Running},
		{fault{name: "source sealed", phase: PhaseSealed}, Running},
		{fault{name: "source committed", phase: PhaseCommitted}, Moved},
		{fault{name: "source at go", src: src, act: killBefore, match: ctlOf(ctlGo)}, Moved},
		{fault{name: "source at go", src: src, act: killAfter, match: ctlOf(ctlGo)}, Moved},
		{fault{name: "source moved", phase: PhaseMoved}, Moved},

		{fault{name: "destination at pre-copy greeting", src: dst, act: killBefore, match: greeting(1)}, Running},
		{fault{name: "destination at journal greeting", src: dst, act: killBefore, match: greeting(2)}, Running},
		{fault{name: "destination at journal end", src: dst, act: killBefore, match: byeAck(2)}, Running},
		{fault{name: "destination at ready", src: dst, act: killBefore, match: ctlOf(ctlReady)}, Moved},
		{fault{name: "destination at ready", src: dst, act: killAfter, match: ctlOf(ctlReady)}, Moved},
		{fault{name: "destination at active", src: dst, act: killBefore, match: ctlOf(ctlActive)}, Moved},
		{fault{name: "destination at active", src: dst, act: killAfter, match: ctlOf(ctlActive)}, Moved},
		{fault{name: "destination at served", src: dst, act: killBefore, match: ctlOf(ctlServed)}, Moved},
		{fault{name: "destination at served", src: dst, act: killAfter, match: ctlOf(ctlServed)}, Moved},

		{fault{name: "first dial", dialFail: 1}, Running},
	}
	for _, tc := range cases {
		name := tc.name
		if tc.match != nil {
			name = fmt.Sprintf("%s/%v", tc.name, tc.act)
		}
		t.Run(name, func(t *testing.T) {
			got, fired := runFault(t, tc.fault, 1)
			if !fired {
				t.Fatal("the fault never happened")
			}
			if got != tc.want {
				t.Errorf("the VM ended %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("first dial of two destinations", func(t *testing.T) {
		got, fired := runFault(t, fault{name: "dial", dialFail: 1}, 2)
		if !fired || got != Moved {
			t.Errorf("fired %v; the VM ended %v, want %v", fired, got, Moved)
		}
	})
}

// Single faults at seeded random points: the n-th message either side
// writes (8 KiB chunks: about two dozen a side), pre-copy and journal
// chunks and acknowledgements included, cut
// (lost or delivered) or its writer killed.
func TestMigrateRandomFaults(t *testing.T) {
	seeds := 24
	if testing.Short() {
		seeds = 8
	}
	var fired int
	for seed := range uint64(seeds) {
		rng := rand.New(rand.NewPCG(seed, 14))
		side, a, n := rng.IntN(2) == 0, act(rng.IntN(5)), 1+rng.Int32N(24)
		f := fault{src: side, act: a, match: nth(n)}
		f.name = fmt.Sprintf("message %d of the %s, %v", n, map[bool]string{true: "source", false: "destination"}[side], a)
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			if _, ok := runFault(t, f, 1); ok {
				fired++
			}
		})
	}
	if fired < seeds/2 {
		t.Errorf("only %d of %d faults happened", fired, seeds)
	}
}

// The rule for who resumes when the go-ahead is lost: the destination
// holds a restored VM ready for ResumeWait, then abandons the migration
// for good; a source that gives the go-ahead again only after that is
// told so, and resumes the VM itself.
func TestMigrateGoAheadAfterExpiry(t *testing.T) {
	w := newWorld(t, worldConfig{sessions: 8, rate: 500, resumeWait: 30 * time.Millisecond})
	w.run(20 * time.Millisecond)
	var fired atomic.Bool
	dial, wait := serve(w.dest, nil)
	var dials atomic.Int32
	late := func(ctx context.Context) (io.ReadWriteCloser, error) {
		c, err := dial(ctx)
		switch dials.Add(1) {
		case 1:
			return &tap{c, ctlOf(ctlGo)(), cutLost, &fired}, err
		case 2:
			time.Sleep(150 * time.Millisecond) // the go-ahead again, past the destination's wait
		}
		return c, err
	}
	m, err := w.migrate(context.Background(), 20*time.Millisecond, []Dialer{late}, MigrateConfig{})
	if !errors.Is(err, ErrMigration) || errors.Is(err, ErrInDoubt) {
		t.Errorf("migrate: %v", err)
	}
	if !fired.Load() || w.circuit.Mode() != Running || w.dest.Active() {
		t.Fatalf("go-ahead cut %v; source %v, destination active %v; %v", fired.Load(), w.circuit.Mode(), w.dest.Active(), m)
	}
	if err := wait(); err == nil {
		t.Error("the destination's Serve reported a migration that never ran there")
	}
	w.run(100 * time.Millisecond)
	w.drain(2 * time.Second)
	w.checkStreams()
}

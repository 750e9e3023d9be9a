package migrate

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ringkit/ringkit/tcpip"
)

// Sixty-four sessions whose VM application reads slower than its peers
// send (so that each holds about 100 KiB unread), and sends too, migrate
// with a journal of 1 MiB: the suspension journals what changed since the
// pre-copy (the bytes read and acknowledged since, the fixed fields), not
// the sessions whole with their queues.
func TestMigrateSmallJournal(t *testing.T) {
	w := newWorld(t, worldConfig{sessions: 64, rate: 1000, vmRate: 500, readRate: 300, journalSize: 1 << 20})
	w.run(150 * time.Millisecond)
	var backlog int
	w.vm(func(vm *tcpip.Stack) {
		for _, c := range vm.Conns() {
			backlog += c.Buffered()
		}
	})
	if backlog < 64*64<<10 {
		t.Fatalf("the VM holds %d bytes unread, want more than the journal's 1 MiB many times", backlog)
	}
	dial, wait := serve(w.dest, nil)
	m, err := w.migrate(context.Background(), 200*time.Millisecond, []Dialer{dial}, MigrateConfig{})
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if m.SessionsLost != 0 || m.BytesPreCopy < int64(backlog) {
		t.Errorf("metrics: %v (%d bytes unread at the pre-copy)", m, backlog)
	}
	t.Log(m)
	w.run(100 * time.Millisecond)
	w.drain(2 * time.Second)
	w.checkStreams()
}

// convergeWorld is a VM whose application reads slower than its peers
// send, and the hooks of a migration that stop the world's loop from the
// pre-copy to the suspension and, once each pre-copy round is at the
// destination, let the VM run the next of ms simulated milliseconds
// itself: what changes between rounds is then the same from run to run
// (about 64 KiB a millisecond).
func convergeWorld(t *testing.T, ms []int) (*world, MigrateConfig) {
	w := newWorld(t, worldConfig{sessions: 64, rate: 1000, readRate: 300, journalSize: 1 << 20})
	w.run(150 * time.Millisecond)
	return w, MigrateConfig{
		Phase: func(p Phase) {
			switch p {
			case PhasePreCopy:
				w.paused.Store(true)
			case PhaseSuspended:
				w.paused.Store(false)
			}
		},
		Round: func(n, _ int) {
			if n >= len(ms) {
				return
			}
			w.frozen.Store(false)
			for range ms[n] {
				w.round()
			}
			w.frozen.Store(true)
		},
	}
}

// What changes between pre-copy rounds shrinks (1.3 MB, 0.5 MB, then
// 0.14 MB, below the quarter of the 1 MiB journal): two rounds of changes
// follow the whole table, then the suspension journals the rest.
func TestMigratePreCopyConverges(t *testing.T) {
	w, cfg := convergeWorld(t, []int{20, 8, 2})
	dial, wait := serve(w.dest, nil)
	m, err := w.migrate(context.Background(), 50*time.Millisecond, []Dialer{dial}, cfg)
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if m.PreCopyRounds != 3 || m.SessionsLost != 0 {
		t.Errorf("metrics: %v, want 3 rounds", m)
	}
	t.Log(m)
	w.run(100 * time.Millisecond)
	w.drain(2 * time.Second)
	w.checkStreams()
}

// What changes between pre-copy rounds does not shrink: the migration
// fails with ErrMigration before the suspension, the destination lets it
// go, and the VM never stops.
func TestMigratePreCopyDoesNotConverge(t *testing.T) {
	w, cfg := convergeWorld(t, []int{20, 20, 20, 20})
	dial, wait := serve(w.dest, nil)
	var suspended bool
	hook := cfg.Phase
	cfg.Phase = func(p Phase) {
		suspended = suspended || p == PhaseSuspended
		hook(p)
	}
	m, err := w.migrate(context.Background(), 50*time.Millisecond, []Dialer{dial}, cfg)
	w.paused.Store(false)
	if !errors.Is(err, ErrMigration) || suspended || w.circuit.Mode() != Running || m.PreCopyRounds != 2 {
		t.Fatalf("migrate: %v (suspended %v, source %v; %v)", err, suspended, w.circuit.Mode(), m)
	}
	if err := wait(); err == nil || w.dest.Active() {
		t.Errorf("destination: %v, active %v", err, w.dest.Active())
	}
	if _, pending := w.circuit.record(); pending {
		t.Error("a failed migration left its record")
	}
	t.Log(err)
	w.run(100 * time.Millisecond)
	w.drain(2 * time.Second)
	w.checkStreams()
}

// What changed since the last round does not fit the journal at the
// suspension (the rounds were told to stop early): the migration fails
// with ErrMigration and ErrJournalFull, and the VM never stops.
func TestMigrateSuspendJournalFull(t *testing.T) {
	w, cfg := convergeWorld(t, []int{20})
	cfg.SuspendBytes = 64 << 20
	dial, wait := serve(w.dest, nil)
	var suspended bool
	hook := cfg.Phase
	cfg.Phase = func(p Phase) {
		suspended = suspended || p == PhaseSuspended
		hook(p)
	}
	m, err := w.migrate(context.Background(), 50*time.Millisecond, []Dialer{dial}, cfg)
	w.paused.Store(false)
	if !errors.Is(err, ErrMigration) || !errors.Is(err, ErrJournalFull) || suspended || w.circuit.Mode() != Running {
		t.Fatalf("migrate: %v (suspended %v, source %v; %v)", err, suspended, w.circuit.Mode(), m)
	}
	if err := wait(); err == nil || w.dest.Active() {
		t.Errorf("destination: %v, active %v", err, w.dest.Active())
	}
	w.run(100 * time.Millisecond)
	w.drain(2 * time.Second)
	w.checkStreams()
}

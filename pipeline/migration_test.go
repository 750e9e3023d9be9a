package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/ringkit/ringkit/migrate"
	"github.com/ringkit/ringkit/tcpip"
)

// The VM moves while its peers stream to it: the migration completes, and
// every session survives with every byte arriving once, in order, read to
// the end of its stream.
func TestMigrationWorld(t *testing.T) {
	cfg := MigrationConfig{Sessions: 16, Rate: 4096}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	w, err := newVMWorld(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	loopDone := make(chan struct{})
	go func() { defer close(loopDone); w.loop(stop) }()
	time.Sleep(50 * time.Millisecond)
	w.started.Store(true)
	go w.migrate(context.Background())
	<-w.done
	time.Sleep(200 * time.Millisecond) // the peers go on talking to the moved VM
	close(stop)
	<-loopDone
	rep := w.finish(3 * time.Second)
	if !rep.Ran || rep.SessionsLost != 0 || rep.Note != "" || rep.Phase != phaseNames[migrate.PhaseMoved] ||
		rep.Downtime <= 0 || rep.Records == 0 || rep.StreamBytes == 0 {
		t.Errorf("migration: %+v", rep)
		w.dest.Do(func(vm *tcpip.Stack) { t.Logf("destination's VM stack: %+v", vm.Stats()) })
		for p, r := range w.readers {
			s := w.senders[p]
			t.Logf("port %d: VM read %d, peer sent %d, peer unacked %d, retransmits %d", p, r.off, s.off, s.conn.Unacked(), s.conn.Stats().Retransmits)
		}
	}
	if w.Phase() != phaseNames[migrate.PhaseMoved] {
		t.Errorf("phase %q", w.Phase())
	}
}

// A run that ends just after its migration was due still waits for the
// migration, with the VM world's rounds serving it, and returns: the
// migration is marked started before its goroutine runs, so the end of
// the run cannot miss it (and stop the rounds the destination needs).
func TestRunEndsWithLateMigration(t *testing.T) {
	runs := 20
	if testing.Short() {
		runs = 8
	}
	for i := range runs {
		cfg := DefaultConfig(2e4)
		cfg.Offload = nil
		cfg.Migration.At = 0.97
		p, err := New(cfg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := Run(context.Background(), p, RunOptions{Duration: 15 * time.Millisecond, Every: time.Second})
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("run %d: %v", i, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("run %d has not returned after 30s: a migration started at its end hangs", i)
		}
	}
}

// Snapshot may be called from any goroutine while Run runs (a metrics
// endpoint scrapes it): with a migration configured, Run sets up the VM
// world while such reads are under way, and the race detector sees no
// conflict; the phases read go from "off" or "running" to "moved".
func TestSnapshotDuringRun(t *testing.T) {
	cfg := DefaultConfig(2e4)
	cfg.Offload = nil
	p, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	seen := make(chan map[string]bool, 1)
	go func() {
		phases := map[string]bool{}
		defer func() { seen <- phases }()
		for {
			phases[p.Snapshot().Migration] = true
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	rep, err := Run(context.Background(), p, RunOptions{Duration: 300 * time.Millisecond})
	close(stop)
	phases := <-seen
	if err != nil {
		t.Fatal(err)
	}
	if rep.Migration == nil || !rep.Migration.Ran {
		t.Fatalf("the migration did not run: %+v", rep.Migration)
	}
	if len(phases) < 2 {
		t.Errorf("the snapshots saw only the phases %v during a run with a migration", phases)
	}
}

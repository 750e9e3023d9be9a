package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/ringkit/ringkit/migrate"
)

// simConfig is the default pipeline, with or without its offload, at a
// rate and for a simulated time that keep -race -short fast.
func simConfig(offload bool) Config {
	cfg := DefaultConfig(1e6)
	if !offload {
		cfg.Offload = nil
	}
	return cfg
}

// checkAccounting checks that every generated packet was delivered or
// dropped with a reason, that no frame failed its checksums, and that
// every buffer is back in the pool.
func checkAccounting(t *testing.T, p *Pipeline, rep Report) {
	t.Helper()
	var dropped uint64
	for _, d := range rep.Drops {
		dropped += d.Packets
	}
	if rep.InFlight != 0 || rep.Generated != rep.Delivered+dropped {
		t.Errorf("generated %d, delivered %d + dropped %d, in flight %d", rep.Generated, rep.Delivered, dropped, rep.InFlight)
	}
	if rep.Delivered == 0 {
		t.Error("nothing delivered")
	}
	for _, d := range rep.Drops {
		if d.Name == "bad_checksum" && d.Packets != 0 {
			t.Errorf("%d frames failed verification at the sink", d.Packets)
		}
	}
	if rep.Verified != rep.Delivered {
		t.Errorf("verified %d of %d delivered", rep.Verified, rep.Delivered)
	}
	if st := p.Pool().Stats(); st.Free != st.Buffers {
		t.Errorf("pool after Close: %+v, want every buffer free", st)
	}
}

// A deterministic run on simulated time: every packet accounted for, and
// each class's share of its port within 2 points of the configuration
// (the ports are held to 15% and 10% of the offered load, so the
// schedulers decide).
func TestSimSharesAndAccounting(t *testing.T) {
	d := 300 * time.Millisecond
	if testing.Short() {
		d = 120 * time.Millisecond
	}
	run := func(d time.Duration) Report {
		p, err := New(simConfig(false), Options{})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := RunSim(p, d, 32*time.Microsecond, 30*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		checkAccounting(t, p, rep)
		return rep
	}
	rep := run(d)
	for _, port := range rep.Ports {
		for _, tc := range port.TCs {
			if d := tc.Measured - tc.Configured; d > 0.02 || d < -0.02 {
				t.Errorf("port %s class %s: share %.4f, configured %.4f", port.Name, tc.Name, tc.Measured, tc.Configured)
			}
		}
		// The port was the bottleneck: it sent its rate.
		if port.SentBPS < 0.98*port.RateBPS || port.SentBPS > 1.02*port.RateBPS {
			t.Errorf("port %s sent %.4g b/s of %.4g", port.Name, port.SentBPS, port.RateBPS)
		}
	}
	// Every tail drop was shaping: the simulated clock starves no stage.
	for _, d := range rep.Drops {
		if d.Cause == CauseOverload && d.Packets > 0 {
			t.Errorf("%d drops for overload (%s) on simulated time", d.Packets, d.Reason)
		}
	}
	var shaped uint64
	for _, c := range rep.Causes {
		if c.Cause == CauseShaping {
			shaped = c.Packets
		}
	}
	if shaped == 0 {
		t.Error("no TC ring overflowed: the ports were not saturated")
	}
	if len(rep.Warnings) != 0 {
		t.Errorf("warnings on a run that met its configuration: %q", rep.Warnings)
	}
	a, b := run(40*time.Millisecond), run(40*time.Millisecond)
	if a.Delivered != b.Delivered || a.Generated != b.Generated || a.Ports[0].TCs[1].Packets != b.Ports[0].TCs[1].Packets {
		t.Errorf("not deterministic: delivered %d then %d", a.Delivered, b.Delivered)
	}
}

// The offloaded class goes through the co-processor, which computes its
// checksums: the sink verifies them.
func TestSimOffload(t *testing.T) {
	p, err := New(simConfig(true), Options{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := RunSim(p, 60*time.Millisecond, 32*time.Microsecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkAccounting(t, p, rep)
	if rep.Offload == nil || rep.Offload.Jobs == 0 || rep.Offload.Failed != 0 {
		t.Fatalf("offload: %+v", rep.Offload)
	}
	var secure uint64
	for _, tc := range rep.Ports[p.cfg.Offload.Port].TCs {
		if tc.TC == p.cfg.Offload.TC {
			secure = tc.Packets
		}
	}
	if secure == 0 || secure > rep.Offload.Jobs {
		t.Errorf("offloaded class sent %d packets, co-processor ran %d jobs", secure, rep.Offload.Jobs)
	}
}

// A steady round allocates nothing, offload included.
func TestStepAllocs(t *testing.T) {
	p, err := New(simConfig(true), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	now := time.Duration(0)
	step := func() { now += 32 * time.Microsecond; p.Step(now) }
	for range 3000 { // fill every ring, reach the drops' steady state
		step()
	}
	before := p.Snapshot().Generated
	if a := testing.AllocsPerRun(300, step); a != 0 {
		t.Errorf("%v allocations per round of %d packets", a, burst)
	}
	if p.Snapshot().Generated == before {
		t.Error("the rounds measured moved nothing")
	}
}

// In real time on two goroutines: the run ends, everything is accounted
// for, and no goroutine is left (goleak in TestMain).
func TestRunRealTime(t *testing.T) {
	cfg := DefaultConfig(2e5)
	p, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var progress int
	rep, err := Run(context.Background(), p, RunOptions{Duration: 300 * time.Millisecond, Every: 50 * time.Millisecond,
		Progress: func(time.Duration, Snapshot) { progress++ }})
	if err != nil {
		t.Fatal(err)
	}
	checkAccounting(t, p, rep)
	if progress == 0 {
		t.Error("no progress reported")
	}
	// The VM moved midway, and every session survived byte for byte.
	if m := rep.Migration; m == nil || !m.Ran || m.Phase != phaseNames[migrate.PhaseMoved] || m.Downtime <= 0 ||
		m.SessionsLost != 0 || m.Note != "" {
		t.Errorf("migration: %+v", m)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Errorf("Run after Close = %v, want nil at once", err)
	}
}

package pipeline

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// causes returns the report's drops added up by cause.
func causes(rep Report) map[string]uint64 {
	m := map[string]uint64{}
	for _, c := range rep.Causes {
		m[c.Cause] = c.Packets
	}
	return m
}

// An egress side that runs only every 20 ms of a simulated clock while the
// ingress side runs every 32 µs is what a starved egress goroutine looks
// like: its ports send far below their rates while the TC rings overflow.
// Those tail drops are overload, the report says the ports missed their
// rates and why; nothing is left pending.
func TestStarvedEgressIsOverload(t *testing.T) {
	cfg := simConfig(false)
	p, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var now time.Duration
	for ; now < 200*time.Millisecond; now += 32 * time.Microsecond {
		p.Ingress(now)
		if now%(20*time.Millisecond) < 32*time.Microsecond {
			p.Egress(now)
		}
	}
	p.StopTraffic()
	elapsed := now
	p.Drain(func() time.Duration { now += 32 * time.Microsecond; return now }, 10000)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	rep := p.Report(elapsed)
	checkAccounting(t, p, rep)
	c := causes(rep)
	if c[CauseOverload] == 0 || c[CauseOverload] < 10*c[CauseShaping] {
		t.Errorf("starved egress: %d overload, %d shaping drops; want overload to dominate", c[CauseOverload], c[CauseShaping])
	}
	if c[CausePending] != 0 {
		t.Errorf("%d drops still pending after Close", c[CausePending])
	}
	for _, pr := range rep.Ports {
		if pr.Overload == 0 {
			t.Errorf("port %s: no overload tail drops", pr.Name)
		}
		found := false
		for _, w := range rep.Warnings {
			found = found || strings.Contains(w, "port "+pr.Name+" sent") && strings.Contains(w, "starved")
		}
		if !found {
			t.Errorf("no warning that port %s missed its rate for lack of CPU: %q", pr.Name, rep.Warnings)
		}
	}
	var txt strings.Builder
	if err := rep.WriteText(&txt); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"warnings:", "egress goroutine", "overload (a stage could not keep up)", "port below its rate"} {
		if !strings.Contains(txt.String(), s) {
			t.Errorf("text report lacks %q:\n%s", s, txt.String())
		}
	}
}

// While a run goes on, tail drops wait for the end of their attribution
// period as pending; every snapshot still adds up, and after Close nothing
// is pending.
func TestPendingDropsAddUp(t *testing.T) {
	p, err := New(simConfig(false), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var now time.Duration
	sawPending := false
	for ; now < 60*time.Millisecond; now += 32 * time.Microsecond {
		p.Step(now)
		s := p.Snapshot()
		if s.Generated != s.Delivered+s.DropTotal()+uint64(s.InFlight) {
			t.Fatalf("at %v: generated %d != delivered %d + dropped %d + in flight %d", now, s.Generated, s.Delivered,
				s.DropTotal(), s.InFlight)
		}
		for _, d := range s.Drops {
			sawPending = sawPending || d.Cause == CausePending && d.Packets > 0
		}
	}
	if !sawPending {
		t.Error("no drop was ever pending attribution")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if c := causes(p.Report(now)); c[CausePending] != 0 || c[CauseShaping] == 0 {
		t.Errorf("after Close: %v", c)
	}
}

// Under back pressure a full TC ring holds the classifier and the RX rings
// overflow: on a saturated port that is shaping, shown as rx missed.
func TestBackPressureMissesAreShaping(t *testing.T) {
	cfg := simConfig(false)
	cfg.BackPressure = true
	p, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := RunSim(p, 100*time.Millisecond, 32*time.Microsecond, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	checkAccounting(t, p, rep)
	var shaped, overload uint64
	for _, d := range rep.Drops {
		if d.Name == "rx_missed" {
			switch d.Cause {
			case CauseShaping:
				shaped += d.Packets
			case CauseOverload:
				overload += d.Packets
			}
		}
	}
	if shaped == 0 || overload > shaped/100 {
		t.Errorf("rx missed under back pressure: %d shaping, %d overload", shaped, overload)
	}
}

// ring_delay sizes each class's ring to what it sends in that time at its
// share, at least a burst: a full ring then drains in about ring_delay, and
// the latency stays near it.
func TestRingDelay(t *testing.T) {
	cfg := simConfig(false)
	cfg.RingDelay = Duration(5 * time.Millisecond)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	frame := cfg.Traffic.MeanWireBytes() * 8
	for k := range cfg.Ports {
		shares := cfg.ConfiguredShares(k)
		for j, n := range cfg.RingSizes(k) {
			want := int(math.Ceil(0.005 * shares[j] * cfg.PortRate(k) / frame))
			if want < burst {
				want = burst
			}
			if n != want {
				t.Errorf("ports[%d].tcs[%d]: ring of %d, want %d", k, j, n, want)
			}
		}
	}
	p, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := RunSim(p, 100*time.Millisecond, 32*time.Microsecond, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	checkAccounting(t, p, rep)
	var longest time.Duration
	for _, pr := range rep.Ports {
		for _, tc := range pr.TCs {
			w := time.Duration(tc.FullRingWait)
			longest = max(longest, w)
			if tc.RingSize > burst && (w < 5*time.Millisecond || w > 5100*time.Microsecond) {
				t.Errorf("%s/%s: a full ring of %d waits %v, want about 5ms", pr.Name, tc.Name, tc.RingSize, w)
			}
		}
	}
	// A ring holds frames, not bytes: one that happens to hold more large
	// frames than the mean takes longer, and a class waits for its turn
	// in the quantum; the tail is still near the budget.
	if p99 := time.Duration(rep.Latency.P99); p99 > 2*longest {
		t.Errorf("p99 latency %v, beyond twice the longest full-ring wait %v", p99, longest)
	}
	if len(rep.Warnings) != 0 {
		t.Errorf("warnings: %q", rep.Warnings)
	}
}

func TestRingDelayErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{"both", func(c *Config) { c.RingSize = 64 }, "ring_delay"},
		{"too short", func(c *Config) { c.RingDelay = Duration(time.Microsecond) }, "ring_delay"},
		{"too long", func(c *Config) { c.RingDelay = Duration(time.Minute) }, "ring_delay"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig(1e6)
			tc.edit(&c)
			err := c.Validate()
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("Validate = %v, want ErrConfig naming %s", err, tc.field)
			}
		})
	}
}

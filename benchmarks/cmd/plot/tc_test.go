package main

import (
	"math"
	"testing"
	"time"
)

// TestSimulateShares checks the scheduler run behind tc-shares.png: in
// every sample away from a change each class gets its weight's share of
// the backlogged classes within 2 percentage points, the idle class gets
// nothing, and the port stays busy throughout (work conservation: the idle
// class's bandwidth goes to the others).
func TestSimulateShares(t *testing.T) {
	cfg := defaultShares
	sh, err := SimulateShares(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if want := int(cfg.Duration / cfg.Sample); len(sh.Times) != want {
		t.Fatalf("%d samples, want %d", len(sh.Times), want)
	}
	near := func(t, edge time.Duration) bool { return t > edge && t <= edge+2*cfg.Sample }
	full := float64(cfg.Rate) / 8 * cfg.Sample.Seconds()
	idle := 0
	for j, ts := range sh.Times {
		if j > 0 && float64(sh.Wire[j]) < 0.98*full {
			t.Errorf("%v: port sent %d wire bytes, want at least 98%% of %.0f", ts, sh.Wire[j], full)
		}
		if near(ts, cfg.IdleFrom) || near(ts, cfg.IdleTo) {
			continue
		}
		var sum float64
		for i := range cfg.Weights {
			got, owed := sh.Got[i][j], sh.Owed[i][j]
			sum += got
			if math.Abs(got-owed) > 0.02 {
				t.Errorf("%v: TC%d share %.4f, owed %.4f", ts, i, got, owed)
			}
		}
		if math.Abs(sum-1) > 1e-9 {
			t.Errorf("%v: shares sum to %v", ts, sum)
		}
		if ts > cfg.IdleFrom && ts <= cfg.IdleTo {
			idle++
			if sh.Got[cfg.Idle][j] != 0 || sh.Owed[cfg.Idle][j] != 0 {
				t.Errorf("%v: idle TC%d got %v, owed %v", ts, cfg.Idle, sh.Got[cfg.Idle][j], sh.Owed[cfg.Idle][j])
			}
		}
	}
	if idle == 0 {
		t.Error("no sample while the class was idle")
	}
}

func TestSimulateSharesConfig(t *testing.T) {
	tests := []struct {
		name string
		edit func(*SharesConfig)
	}{
		{"no quantum", func(c *SharesConfig) { c.Quantum = 0 }},
		{"sample shorter than quantum", func(c *SharesConfig) { c.Sample = c.Quantum / 2 }},
		{"sample not a multiple of quantum", func(c *SharesConfig) { c.Sample = c.Quantum * 3 / 2 }},
		{"duration shorter than sample", func(c *SharesConfig) { c.Duration = c.Sample / 2 }},
		{"no class", func(c *SharesConfig) { c.Weights = nil }},
		{"weight out of range", func(c *SharesConfig) { c.Weights = []int{0} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := defaultShares
			cfg.Weights = append([]int(nil), cfg.Weights...)
			tc.edit(&cfg)
			if _, err := SimulateShares(cfg); err == nil {
				t.Errorf("SimulateShares(%+v) succeeded", cfg)
			}
		})
	}
}

package sched_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ringkit/ringkit/sched"
)

func TestJain(t *testing.T) {
	for _, tc := range []struct {
		x    []float64
		want float64
	}{
		{[]float64{1, 1, 1}, 1},
		{[]float64{1, 2, 3}, 36.0 / 42}, // 0.857
		{[]float64{1, 0, 0}, 1.0 / 3},
		{[]float64{5}, 1},
		{nil, 1},
		{[]float64{0, 0}, 1},
	} {
		if got := sched.Jain(tc.x); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("Jain(%v) = %.6f, want %.6f", tc.x, got, tc.want)
		}
	}
	if got := sched.Jain([]float64{1, 2, 3}); math.Round(got*1000) != 857 {
		t.Errorf("Jain([1 2 3]) = %.4f, want 0.857", got)
	}
	if got := sched.Jain([]float64{1, 0, 0}); math.Round(got*1000) != 333 {
		t.Errorf("Jain([1 0 0]) = %.4f, want 0.333", got)
	}
}

func TestConfigErrors(t *testing.T) {
	good := func() sched.PortConfig {
		return sched.PortConfig{
			Rate: 1e9, Sink: newRecorder(2, 0, false),
			TCs: []sched.TCConfig{{Weight: 1, Queue: idleQueue{}}, {Weight: 2, Queue: idleQueue{}}},
		}
	}
	if _, err := sched.NewPort(good()); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for _, tc := range []struct {
		field string
		edit  func(c *sched.PortConfig)
	}{
		{"Rate", func(c *sched.PortConfig) { c.Rate = 0 }},
		{"Rate", func(c *sched.PortConfig) { c.Rate = sched.MaxRate + 1 }},
		{"TCs[1].Rate", func(c *sched.PortConfig) { c.TCs[1].Rate = 1 << 62 }},
		{"Burst", func(c *sched.PortConfig) { c.Burst = sched.MaxBurst + 1 }},
		{"Quantum", func(c *sched.PortConfig) { c.Quantum = time.Nanosecond }},
		{"Quantum", func(c *sched.PortConfig) { c.Quantum = -time.Millisecond }},
		{"Quantum", func(c *sched.PortConfig) { c.Quantum = 2 * time.Second }},
		{"Overhead", func(c *sched.PortConfig) { c.Overhead = -2 }},
		{"Overhead", func(c *sched.PortConfig) { c.Overhead = 1 << 20 }},
		{"DRRQuantum", func(c *sched.PortConfig) { c.DRRQuantum = -1 }},
		{"TxBurst", func(c *sched.PortConfig) { c.TxBurst = -1 }},
		{"TxBurst", func(c *sched.PortConfig) { c.TxBurst = sched.MaxTxBurst + 1 }},
		{"Window", func(c *sched.PortConfig) { c.Quantum, c.Window = 10*time.Millisecond, time.Millisecond }},
		{"Burst", func(c *sched.PortConfig) { c.Burst = -1 }},
		{"Sink", func(c *sched.PortConfig) { c.Sink = nil }},
		{"Sink", func(c *sched.PortConfig) { c.Tx = &rejecter{} }},
		{"len(TCs)", func(c *sched.PortConfig) { c.TCs = nil }},
		{"len(TCs)", func(c *sched.PortConfig) { c.TCs = make([]sched.TCConfig, sched.MaxTCs+1) }},
		{"TCs[1].Queue", func(c *sched.PortConfig) { c.TCs[1].Queue = nil }},
		{"TCs[0].Weight", func(c *sched.PortConfig) { c.TCs[0].Weight = 0 }},
		{"TCs[1].Weight", func(c *sched.PortConfig) { c.TCs[1].Weight = -3 }},
		{"TCs[1].Weight", func(c *sched.PortConfig) { c.TCs[1].Weight = sched.MaxWeight + 1 }},
		{"TCs[0].Priority", func(c *sched.PortConfig) { c.TCs[0].Priority = -1 }},
		{"TCs[1].Priority", func(c *sched.PortConfig) { c.TCs[1].Priority = sched.MaxPriority + 1 }},
		{"TCs[0].Burst", func(c *sched.PortConfig) { c.TCs[0].Rate, c.TCs[0].Burst = 1e6, -5 }},
		{"TCs[1].Burst", func(c *sched.PortConfig) { c.TCs[1].Burst = 5000 }},
		{"Mode", func(c *sched.PortConfig) { c.Mode = 7 }},
		{"Workers", func(c *sched.PortConfig) { c.Mode, c.Workers = sched.ModeParallel, 3 }},
		{"Workers", func(c *sched.PortConfig) { c.Workers = 2 }},
		{"Workers", func(c *sched.PortConfig) { c.Workers = -1 }},
	} {
		c := good()
		tc.edit(&c)
		_, err := sched.NewPort(c)
		if !errors.Is(err, sched.ErrConfig) {
			t.Errorf("%s: error %v, want ErrConfig", tc.field, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.field+" =") {
			t.Errorf("%s: error %q does not name the field", tc.field, err)
		}
	}
}

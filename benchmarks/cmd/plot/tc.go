package main

import (
	"fmt"
	"time"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/ring"
	"github.com/ringkit/ringkit/sched"
)

// SharesConfig describes the scheduler run behind tc-shares.png: one port,
// one traffic class per weight, all at one priority level and kept
// backlogged, except that class Idle sends nothing from IdleFrom to IdleTo.
type SharesConfig struct {
	Rate     uint64        // port rate, bits per second
	Quantum  time.Duration // simulated time between two Steps
	Sample   time.Duration // span of one share sample
	Duration time.Duration // simulated time in all
	Weights  []int
	Idle     int
	IdleFrom time.Duration
	IdleTo   time.Duration
}

// defaultShares is the run the figure shows: a 1 Gb/s port stepped every
// 100 µs for one second, four classes weighted 1:2:4:8, and the heaviest idle
// for 300 ms in the middle.
var defaultShares = SharesConfig{
	Rate:     1e9,
	Quantum:  100 * time.Microsecond,
	Sample:   10 * time.Millisecond,
	Duration: time.Second,
	Weights:  []int{1, 2, 4, 8},
	Idle:     3,
	IdleFrom: 400 * time.Millisecond,
	IdleTo:   700 * time.Millisecond,
}

// frameSizes are the frame lengths each class sends in turn (a small IMIX),
// starting at a different place for each class so that the classes are not
// in step.
var frameSizes = [...]uint16{64, 576, 1500, 64, 1500, 576, 1500}

// Shares is what a scheduler run gives: for each sample, its end time and
// each class's share of the port's wire bytes in it, measured at the sink,
// and the share each class is owed: its weight over the weights of the
// classes backlogged in that sample.
type Shares struct {
	Times []time.Duration
	Wire  []uint64    // the port's wire bytes in each sample
	Got   [][]float64 // [class][sample]
	Owed  [][]float64 // [class][sample]
}

// SimulateShares runs sched.Port.Step in simulated time as cfg describes.
// Before every step it tops up the rings of the classes that are sending, so
// that they stay backlogged; the sink takes everything and counts each
// class's wire bytes (frame plus sched.DefaultOverhead).
func SimulateShares(cfg SharesConfig) (Shares, error) {
	if cfg.Quantum <= 0 || cfg.Sample < cfg.Quantum || cfg.Sample%cfg.Quantum != 0 || cfg.Duration < cfg.Sample || len(cfg.Weights) == 0 {
		return Shares{}, fmt.Errorf("plot: shares: quantum %v, sample %v, duration %v, %d classes: need a sample that is a multiple of the quantum, no longer than the duration, and a class",
			cfg.Quantum, cfg.Sample, cfg.Duration, len(cfg.Weights))
	}
	n := len(cfg.Weights)
	rings := make([]*ring.SPSC[descriptor.Packet], n)
	tcs := make([]sched.TCConfig, n)
	for i, w := range cfg.Weights {
		r, err := ring.NewSPSC[descriptor.Packet](64)
		if err != nil {
			return Shares{}, fmt.Errorf("plot: shares: %w", err)
		}
		rings[i] = r
		tcs[i] = sched.TCConfig{Name: fmt.Sprintf("TC%d", i), Queue: r, Weight: w}
	}
	wire := make([]uint64, n) // wire bytes per class in the current sample
	port, err := sched.NewPort(sched.PortConfig{
		Rate:    cfg.Rate,
		Quantum: cfg.Quantum,
		TCs:     tcs,
		Sink: sched.SinkFunc(func(pkts []descriptor.Packet) int {
			for _, p := range pkts {
				wire[p.TC] += uint64(p.Len) + sched.DefaultOverhead
			}
			return len(pkts)
		}),
	})
	if err != nil {
		return Shares{}, fmt.Errorf("plot: shares: %w", err)
	}

	var out Shares
	out.Got = make([][]float64, n)
	out.Owed = make([][]float64, n)
	next := make([]int, n) // index into frameSizes of each class's next frame
	for i := range next {
		next[i] = 2 * i % len(frameSizes)
	}
	burst := make([]descriptor.Packet, 64)
	// sending reports whether class i sends in the quantum that starts
	// at t.
	sending := func(i int, t time.Duration) bool {
		return i != cfg.Idle || t < cfg.IdleFrom || t >= cfg.IdleTo
	}
	backlogged := make([]bool, n) // class had packets queued during the sample

	port.Step(0) // sets the time reference
	for t := cfg.Quantum; t <= cfg.Duration; t += cfg.Quantum {
		for i, r := range rings {
			if sending(i, t-cfg.Quantum) {
				k := r.Cap() - r.Len()
				for j := range k {
					burst[j] = descriptor.Packet{Len: frameSizes[next[i]], TC: uint8(i)}
					next[i] = (next[i] + 1) % len(frameSizes)
				}
				r.EnqueueBurst(burst[:k])
			}
			if r.Len() > 0 {
				backlogged[i] = true
			}
		}
		port.Step(t)
		if t%cfg.Sample != 0 {
			continue
		}
		var total uint64
		var weights int
		for i, b := range wire {
			total += b
			if backlogged[i] {
				weights += cfg.Weights[i]
			}
		}
		out.Times = append(out.Times, t)
		out.Wire = append(out.Wire, total)
		for i := range n {
			got, owed := 0.0, 0.0
			if total > 0 {
				got = float64(wire[i]) / float64(total)
			}
			if backlogged[i] {
				owed = float64(cfg.Weights[i]) / float64(weights)
			}
			out.Got[i] = append(out.Got[i], got)
			out.Owed[i] = append(out.Owed[i], owed)
			wire[i], backlogged[i] = 0, false
		}
	}
	return out, nil
}

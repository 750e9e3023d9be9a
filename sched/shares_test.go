package sched_test

import (
	"math"
	"testing"
	"time"

	"github.com/ringkit/ringkit/sched"
)

// simulate steps p every quantum from 0 to d of simulated time.
func simulate(p *sched.Port, quantum, d time.Duration) {
	for now := time.Duration(0); now <= d; now += quantum {
		p.Step(now)
	}
}

// within reports whether got is within rel (relative) of want.
func within(got, want, rel float64) bool { return math.Abs(got-want) <= rel*want }

// TestWeightedShares: weights 1:2:4:8 under saturation give byte shares of
// 1/15, 2/15, 4/15 and 8/15, each within 1%, over one simulated second;
// with the weight-4 class idle, the others share in proportion 1:2:8.
func TestWeightedShares(t *testing.T) {
	weights := []int{1, 2, 4, 8}
	for _, mode := range []sched.Mode{sched.ModeSerial, sched.ModeParallel} {
		for _, idle := range []int{-1, 2} {
			name := modeName(mode) + "/all-busy"
			if idle >= 0 {
				name = modeName(mode) + "/tc2-idle"
			}
			t.Run(name, func(t *testing.T) {
				const rate = 1e9
				const quantum = 100 * time.Microsecond
				rec := newRecorder(len(weights), sched.DefaultOverhead, false)
				var tcs []sched.TCConfig
				var sumW float64
				for i, w := range weights {
					var q sched.Queue = newGen(uint8(i), 64, 1518, 3)
					if i == idle {
						q = idleQueue{}
					} else {
						sumW += float64(w)
					}
					tcs = append(tcs, sched.TCConfig{Weight: w, Queue: q})
				}
				p := mustPort(t, sched.PortConfig{Rate: rate, Quantum: quantum, Sink: rec, TCs: tcs, Mode: mode})
				simulate(p, quantum, time.Second)
				total := float64(rec.total())
				if !within(total, rate/8, 0.001) {
					t.Errorf("port sent %.0f bytes in 1 s, want %.0f", total, rate/8)
				}
				for i, w := range weights {
					share := float64(rec.bytes[i]) / total
					want := float64(w) / sumW
					if i == idle {
						want = 0
					}
					if !within(share, want, 0.01) {
						t.Errorf("tc%d (weight %d): share %.5f, want %.5f", i, w, share, want)
					}
				}
				s := p.Stats()
				if f := s.Fairness(0); f < 0.999 {
					t.Errorf("Jain's index over the window %.4f, want ≈ 1", f)
				}
				for i := range weights {
					if s.TCs[i].Active != (i != idle) {
						t.Errorf("tc%d Active = %v", i, s.TCs[i].Active)
					}
				}
			})
		}
	}
}

// TestStrictPriority: a saturating class of priority 0 takes the whole port
// unless capped; with a cap of 300 Mb/s on a 1 Gb/s port it gets 300 Mb/s
// and the two classes of priority 1 get exactly the other 700 Mb/s, half
// each.
func TestStrictPriority(t *testing.T) {
	for _, mode := range []sched.Mode{sched.ModeSerial, sched.ModeParallel} {
		for _, capRate := range []uint64{0, 3e8} {
			name := modeName(mode) + "/uncapped"
			if capRate != 0 {
				name = modeName(mode) + "/capped"
			}
			t.Run(name, func(t *testing.T) {
				const rate = 1e9
				const quantum = 100 * time.Microsecond
				rec := newRecorder(3, sched.DefaultOverhead, false)
				p := mustPort(t, sched.PortConfig{
					Rate: rate, Quantum: quantum, Sink: rec, Mode: mode,
					TCs: []sched.TCConfig{
						{Priority: 0, Weight: 1, Rate: capRate, Queue: newGen(0, 64, 1518, 5)},
						{Priority: 1, Weight: 1, Queue: newGen(1, 64, 1518, 5)},
						{Priority: 1, Weight: 1, Queue: newGen(2, 64, 1518, 5)},
					},
				})
				simulate(p, quantum, time.Second)
				hi, lo := float64(rec.bytes[0]), float64(rec.bytes[1]+rec.bytes[2])
				if capRate == 0 {
					if !within(hi, rate/8, 0.001) || lo != 0 {
						t.Fatalf("uncapped: high %.0f bytes, low %.0f; want %.0f and 0", hi, lo, rate/8)
					}
					return
				}
				if !within(hi, float64(capRate)/8, 0.001) {
					t.Errorf("high %.0f bytes, want %.0f", hi, float64(capRate)/8)
				}
				if rest := float64(rate-capRate) / 8; !within(lo, rest, 0.001) {
					t.Errorf("low %.0f bytes, want the rest %.0f", lo, rest)
				}
				if a, b := float64(rec.bytes[1]), float64(rec.bytes[2]); !within(a, b, 0.01) {
					t.Errorf("low classes %.0f and %.0f bytes, want equal", a, b)
				}
			})
		}
	}
}

// TestRateCaps: 64-byte frames (88 bytes with overhead) through a port at
// 10 and 100 Gb/s, and through a class capped at those rates on a faster
// port, come out within 0.1% of the rate over one simulated second.
func TestRateCaps(t *testing.T) {
	span := time.Second
	if testing.Short() {
		span = 10 * time.Millisecond // 1.4 million packets at 100 Gb/s
	}
	for _, tc := range []struct {
		name            string
		port, cap, want uint64
	}{
		{"port=10G", 10e9, 0, 10e9},
		{"port=100G", 100e9, 0, 100e9},
		{"port=100G/tc-cap=10G", 100e9, 10e9, 10e9},
		{"port=400G/tc-cap=100G", 400e9, 100e9, 100e9},
		{"port=9999999937", 9_999_999_937, 0, 9_999_999_937},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const quantum = 10 * time.Microsecond
			rec := newRecorder(2, sched.DefaultOverhead, false)
			p := mustPort(t, sched.PortConfig{
				Rate: tc.port, Quantum: quantum, Sink: rec,
				TCs: []sched.TCConfig{
					{Weight: 1, Rate: tc.cap, Queue: newGen(0, 64, 64, 1)},
					{Weight: 1, Priority: 1, Queue: idleQueue{}},
				},
			})
			simulate(p, quantum, span)
			want := float64(tc.want) / 8 * span.Seconds()
			got := float64(rec.bytes[0])
			if !within(got, want, 0.001) {
				t.Fatalf("%.0f bytes in %v, want %.0f (%.4f%% off)", got, span, want, 100*(got-want)/want)
			}
		})
	}
}

// lenlessQueue hides its queue's length (Len reports 0), as a source that
// cannot count cheaply would.
type lenlessQueue struct{ sched.Queue }

func (lenlessQueue) Len() int { return 0 }

// TestParallelWorkConserving: in ModeParallel the coordinator grants by
// estimated demand; when the estimate is short (here the queues do not
// report their length), the workers take the rest of the budget from the
// pool, so the port still runs at its rate and the weights still hold
// approximately.
func TestParallelWorkConserving(t *testing.T) {
	const rate, quantum = 1e9, 100 * time.Microsecond
	rec := newRecorder(2, sched.DefaultOverhead, false)
	p := mustPort(t, sched.PortConfig{
		Rate: rate, Quantum: quantum, Sink: rec, Mode: sched.ModeParallel, TxBurst: 8,
		TCs: []sched.TCConfig{
			{Weight: 1, Queue: lenlessQueue{newGen(0, 64, 1518, 1)}},
			{Weight: 1, Queue: lenlessQueue{newGen(1, 64, 1518, 2)}},
		},
	})
	simulate(p, quantum, time.Second)
	if total := float64(rec.total()); !within(total, rate/8, 0.001) {
		t.Fatalf("port sent %.0f bytes in 1 s, want %.0f", total, rate/8)
	}
}

// TestCapWithinLevel: two classes of one level with equal weights, one
// capped at a fifth of the port: the capped one gets exactly its cap and
// the other everything else (not just its half).
func TestCapWithinLevel(t *testing.T) {
	for _, mode := range []sched.Mode{sched.ModeSerial, sched.ModeParallel} {
		t.Run(modeName(mode), func(t *testing.T) {
			const rate, capRate, quantum = 1e9, 2e8, 100 * time.Microsecond
			rec := newRecorder(2, sched.DefaultOverhead, false)
			p := mustPort(t, sched.PortConfig{
				Rate: rate, Quantum: quantum, Sink: rec, Mode: mode,
				TCs: []sched.TCConfig{
					{Weight: 1, Rate: capRate, Queue: newGen(0, 64, 1518, 8)},
					{Weight: 1, Queue: newGen(1, 64, 1518, 9)},
				},
			})
			simulate(p, quantum, time.Second)
			if got := float64(rec.bytes[0]); !within(got, capRate/8, 0.001) {
				t.Errorf("capped class %.0f bytes, want %.0f", got, capRate/8)
			}
			if got := float64(rec.bytes[1]); !within(got, (rate-capRate)/8, 0.001) {
				t.Errorf("other class %.0f bytes, want %.0f", got, (rate-capRate)/8)
			}
		})
	}
}

package sched_test

import (
	"errors"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/ringkit/ringkit/sched"
)

// exactBytes is rate × d / 8e9 rounded down, computed with big integers.
func exactBytes(rate uint64, d time.Duration) int64 {
	x := new(big.Int).Mul(new(big.Int).SetUint64(rate), big.NewInt(int64(d)))
	return x.Quo(x, big.NewInt(8e9)).Int64()
}

// TestBucketNoDrift refills buckets at irregular moments over one second
// and takes every whole 88-byte frame (a 64-byte frame with overhead) each
// time, so the bucket never fills: what it earned must be exactly
// rate × 1 s / 8 rounded down, at rates from 1 Mb/s to MaxRate, so the
// frames sent are within one frame of it, well within 0.1%.
func TestBucketNoDrift(t *testing.T) {
	for _, rate := range []uint64{1e6, 10e9, 100e9, 9_999_999_937, 1_600_000_000_003, sched.MaxRate} {
		rng := rand.New(rand.NewPCG(rate, 3))
		b := sched.NewBucket(rate, 1<<40)
		b.Start(0)
		var earned, frames int64
		now := time.Duration(0)
		for now < time.Second {
			now = min(now+time.Duration(1+rng.IntN(20000)), time.Second)
			before := b.Tokens()
			b.Refill(now)
			earned += b.Tokens() - before
			k := b.Tokens() / 88
			frames += k
			b.Take(k * 88)
		}
		if want := exactBytes(rate, time.Second); earned != want {
			t.Errorf("rate %d: earned %d bytes in 1 s, want exactly %d", rate, earned, want)
		}
		if want := float64(rate) / 8 / 88; !within(float64(frames), want, 0.001) {
			t.Errorf("rate %d: %d frames, want %.0f", rate, frames, want)
		}
	}
}

// TestBucketDepth: a bucket left alone for long fills to its depth and no
// further, and a clock that goes backwards adds nothing.
func TestBucketDepth(t *testing.T) {
	b := sched.NewBucket(100e9, 5000)
	b.Start(time.Second)
	b.Refill(time.Hour)
	if b.Tokens() != 5000 {
		t.Fatalf("after an hour: %d tokens, want the depth 5000", b.Tokens())
	}
	b.Take(5000)
	b.Refill(time.Minute) // backwards
	if b.Tokens() != 0 {
		t.Fatalf("clock went backwards: %d tokens, want 0", b.Tokens())
	}
	b.Refill(time.Hour + 80) // 80 ns at 100 Gb/s = 1000 bytes
	if b.Tokens() != 1000 {
		t.Fatalf("80 ns at 100 Gb/s: %d tokens, want 1000", b.Tokens())
	}
}

// TestBurstBelowQuantum: a bucket shallower than what its rate earns in
// one scheduling quantum overflows between two steps and silently holds
// the class (or the port) below its rate, so NewPort refuses it with an
// error naming the field, the depth asked for and the least it accepts.
func TestBurstBelowQuantum(t *testing.T) {
	tcs := func(rate uint64, burst int64) []sched.TCConfig {
		return []sched.TCConfig{{Weight: 1, Queue: idleQueue{}}, {Weight: 1, Queue: idleQueue{}, Rate: rate, Burst: burst}}
	}
	for _, tc := range []struct {
		name string
		cfg  sched.PortConfig
		want string // the field, the depth asked for and the least depth
	}{
		{"class", sched.PortConfig{Rate: 10e9, TCs: tcs(3e9, 100_000)}, "TCs[1].Burst = 100000 (want 0 or at least 375000 bytes"},
		{"class, short quantum", sched.PortConfig{Rate: 10e9, Quantum: 100 * time.Microsecond, TCs: tcs(3e9, 30_000)}, "TCs[1].Burst = 30000 (want 0 or at least 37500 bytes"},
		{"port", sched.PortConfig{Rate: 10e9, Burst: 1_000_000, TCs: tcs(0, 0)}, "Burst = 1000000 (want 0 or at least 1250000 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Sink = newRecorder(2, 0, false)
			_, err := sched.NewPort(tc.cfg)
			if !errors.Is(err, sched.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewPort: %v, want an ErrConfig containing %q", err, tc.want)
			}
		})
	}
}

// TestBurstAtQuantumKeepsRate: at the least depth NewPort accepts, a
// capped class stepped every quantum runs at its rate, less at most one
// frame per quantum (what a step leaves in the bucket because the next
// frame does not fit yet).
func TestBurstAtQuantumKeepsRate(t *testing.T) {
	const rate, quantum, steps = 3e9, time.Millisecond, 1000
	rec := newRecorder(1, sched.DefaultOverhead, false)
	p := mustPort(t, sched.PortConfig{
		Rate: 10e9, Quantum: quantum, Sink: rec,
		TCs: []sched.TCConfig{{Weight: 1, Rate: rate, Burst: rate / 8 / 1000, Queue: newGen(0, 64, 1514, 1)}},
	})
	for i := range steps + 1 {
		p.Step(time.Duration(i) * quantum)
	}
	earned := uint64(rate / 8 * steps / 1000)
	if got, least := rec.total(), earned-steps*(1514+sched.DefaultOverhead); got > earned || got < least {
		t.Fatalf("sent %d bytes in %d quanta at %.0f b/s, want %d..%d", got, steps, rate, least, earned)
	}
}

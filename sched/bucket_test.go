package sched_test

import (
	"math/big"
	"math/rand/v2"
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

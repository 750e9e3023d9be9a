package jobring

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestLatBuckets: every value falls in a bucket whose upper bound is at
// least the value and within 25% of it, and buckets are ordered.
func TestLatBuckets(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(v int64) {
		b := latBucket(v)
		up := latUpper(b)
		if b < 0 || b >= len(latHist{}.buckets) || up < v || float64(up) > float64(v)*1.25+1 {
			t.Fatalf("value %d: bucket %d with upper bound %d", v, b, up)
		}
		if b > 0 && latUpper(b-1) >= v {
			t.Fatalf("value %d: bucket %d, but bucket %d already reaches %d", v, b, b-1, latUpper(b-1))
		}
	}
	for v := int64(0); v < 5000; v++ {
		check(v)
	}
	for range 100000 {
		check(rng.Int64N(1 << (1 + rng.IntN(62))))
	}
	check(1<<63 - 1)

	var h latHist
	for v := 1; v <= 1000; v++ {
		h.add(int64(v) * int64(time.Microsecond))
	}
	for _, q := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.9, 900 * time.Microsecond}, {0.99, 990 * time.Microsecond}} {
		if got := h.quantile(q.q); got < q.want || float64(got) > float64(q.want)*1.25 {
			t.Errorf("quantile %v = %v, want %v to 25%% above", q.q, got, q.want)
		}
	}
}

func TestBatchBucket(t *testing.T) {
	for n, want := range map[int]int{1: 0, 2: 1, 3: 2, 4: 2, 5: 3, 8: 3, 9: 4, 32: 5, 1 << 20: 15} {
		if got := batchBucket(n); got != want {
			t.Errorf("batchBucket(%d) = %d, want %d", n, got, want)
		}
	}
}

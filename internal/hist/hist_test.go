package hist

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// Every value falls in a bucket whose bounds hold it and lie within 12.5%
// of it, and buckets are contiguous and ordered.
func TestBuckets(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(v int64) {
		i := Index(v)
		lo, up := Lower(i), Upper(i)
		if i < 0 || i >= Buckets || lo > v || up < v || float64(up) > float64(v)*1.125+1 {
			t.Fatalf("value %d: bucket %d [%d, %d]", v, i, lo, up)
		}
	}
	for v := range int64(5000) {
		check(v)
	}
	for range 100000 {
		check(rng.Int64N(1 << (1 + rng.IntN(62))))
	}
	check(math.MaxInt64)
	for i := range Buckets - 1 {
		if Index(Upper(i)) != i || Index(Upper(i)+1) != i+1 || Lower(i+1) != Upper(i)+1 {
			t.Fatalf("bucket %d: upper %d", i, Upper(i))
		}
	}
}

// Quantiles come within a bucket (12.5%) of the exact ones.
func TestQuantiles(t *testing.T) {
	var h Histogram
	rng := rand.New(rand.NewPCG(1, 2))
	var vs []int64
	for range 100000 {
		v := int64(rng.ExpFloat64() * 50000)
		vs = append(vs, v)
		h.Record(v)
	}
	slices.Sort(vs)
	qs := []float64{0.5, 0.9, 0.99, 0.999}
	got, maxv := h.Quantiles(qs...)
	for i, q := range qs {
		exact := vs[int(q*float64(len(vs)))-1]
		if lo, hi := int64(got[i].Lo), int64(got[i].Hi); lo > exact || hi < exact || float64(hi) > float64(exact)*1.125+8 {
			t.Errorf("q%v: [%d, %d], exact %d", q, lo, hi, exact)
		}
	}
	if int64(maxv) != vs[len(vs)-1] || h.Count() != uint64(len(vs)) || h.Max() != vs[len(vs)-1] {
		t.Errorf("max %d count %d", maxv, h.Count())
	}
	var empty Histogram
	if q, m := empty.Quantiles(0.5); q[0] != (Range{}) || m != 0 {
		t.Errorf("empty histogram: %v %v", q, m)
	}
}

func TestRound(t *testing.T) {
	for _, c := range []struct {
		r    Range
		want time.Duration
	}{
		{Range{83886080, 92274687}, 88 * time.Millisecond},
		{Range{5, 5}, 5},
		{Range{1000, 1151}, 1100},
		{Range{Lo: 58720256, Hi: 67108863}, 63 * time.Millisecond},
	} {
		if got := c.r.Round(); got != c.want {
			t.Errorf("%v.Round() = %v, want %v", c.r, got, c.want)
		}
	}
}

// Pow2's cumulative counts at 2^k-1 are exactly the values at most that
// bound, and Sum is the sum of the values.
func TestPow2AndSum(t *testing.T) {
	var h Histogram
	rng := rand.New(rand.NewPCG(3, 4))
	var vs []int64
	var sum int64
	for range 20000 {
		v := rng.Int64N(1 << (1 + rng.IntN(40)))
		vs = append(vs, v)
		sum += v
		h.Record(v)
	}
	vs = append(vs, 1<<20-1, 1<<20) // on either side of a bound
	h.Record(1<<20 - 1)
	h.Record(1 << 20)
	sum += 1<<20 - 1 + 1<<20
	var counts [Buckets]uint64
	total := h.Counts(&counts)
	bs := Pow2(&counts, 3, 45)
	if len(bs) != 45-3+1 {
		t.Fatalf("%d bounds, want %d", len(bs), 45-3+1)
	}
	for i, b := range bs {
		if b.Le != int64(1)<<(3+i)-1 {
			t.Fatalf("bound %d: le %d", i, b.Le)
		}
		var want uint64
		for _, v := range vs {
			if v <= b.Le {
				want++
			}
		}
		if b.Count != want {
			t.Errorf("le %d: %d values, want %d", b.Le, b.Count, want)
		}
	}
	if bs[len(bs)-1].Count != total || h.Sum() != sum {
		t.Errorf("last bound %d of %d values; sum %d, want %d", bs[len(bs)-1].Count, total, h.Sum(), sum)
	}
}

// Package hist is ringkit's one latency histogram: log-linear buckets as
// HdrHistogram's with 3 bits of sub-bucket precision, fixed size, no
// allocation, one writer and any number of readers.
package hist

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram counts non-negative values (nanoseconds, usually) in buckets:
// bucket (e, m) holds the values whose highest set bit is e and whose next
// three bits are m, so a bucket's bounds are within 12.5% of any value in
// it (values below 8 have a bucket each). Record has one writer at a time;
// every other method may be called from any goroutine at any time. The
// zero value is empty and ready to use.
type Histogram struct {
	// b[i] is written by Record's goroutine only (load, add, store: the
	// store publishes the count to readers); readers load each once.
	b   [Buckets]atomic.Uint64
	max atomic.Int64
	sum atomic.Int64 // written by Record's goroutine only, as b
}

const (
	sub = 3
	// Buckets is the number of buckets.
	Buckets = (64 - sub) << sub
)

// Index returns the bucket of v (negative values count as 0).
func Index(v int64) int {
	if v < 1<<sub {
		return int(max(v, 0))
	}
	e := 63 - bits.LeadingZeros64(uint64(v)) // ≥ sub
	m := int(v>>(e-sub)) & (1<<sub - 1)
	return (e-sub+1)<<sub | m
}

// Upper returns the largest value of bucket i.
func Upper(i int) int64 {
	if i < 1<<sub {
		return int64(i)
	}
	e := i>>sub + sub - 1
	m := int64(i & (1<<sub - 1))
	if e == 62 && m == 1<<sub-1 {
		return math.MaxInt64
	}
	return (1<<sub|m+1)<<(e-sub) - 1
}

// Lower returns the smallest value of bucket i.
func Lower(i int) int64 {
	if i == 0 {
		return 0
	}
	return Upper(i-1) + 1
}

// Record adds one value. Only one goroutine at a time may call it.
func (h *Histogram) Record(v int64) {
	c := &h.b[Index(v)]
	c.Store(c.Load() + 1) // one writer: no read-modify-write needed
	h.sum.Store(h.sum.Load() + max(v, 0))
	if v > h.max.Load() {
		h.max.Store(v)
	}
}

// Count returns the number of values recorded.
func (h *Histogram) Count() uint64 {
	var n uint64
	for i := range h.b {
		n += h.b[i].Load()
	}
	return n
}

// Sum returns the sum of the values recorded (negative ones as 0), for
// exporters that publish a mean. It is read apart from the counts, so it
// may include a value Counts does not yet show, or miss one it does.
func (h *Histogram) Sum() int64 { return h.sum.Load() }

// Max returns the largest value recorded (0 if none).
func (h *Histogram) Max() int64 { return h.max.Load() }

// Counts copies the bucket counts into dst (Buckets long) and returns their
// total: a snapshot for exporters (each count read atomically).
func (h *Histogram) Counts(dst *[Buckets]uint64) uint64 {
	var total uint64
	for i := range h.b {
		dst[i] = h.b[i].Load()
		total += dst[i]
	}
	return total
}

// Range is where a quantile lies: the bounds of its bucket, the upper one
// no larger than the largest value recorded.
type Range struct{ Lo, Hi time.Duration }

// Quantiles returns, for each of qs (0 to 1, in any order), the bounds of
// the bucket holding that quantile, and the largest value recorded.
func (h *Histogram) Quantiles(qs ...float64) (out []Range, maxv time.Duration) {
	var counts [Buckets]uint64
	total := h.Counts(&counts)
	out = make([]Range, len(qs))
	if total == 0 {
		return out, 0
	}
	maxv = time.Duration(h.max.Load())
	for k, q := range qs {
		rank := uint64(q*float64(total) + 0.5)
		rank = min(max(rank, 1), total)
		var seen uint64
		for i, c := range counts {
			seen += c
			if seen >= rank {
				out[k] = Range{min(time.Duration(Lower(i)), maxv), min(time.Duration(Upper(i)), maxv)}
				break
			}
		}
	}
	return out, maxv
}

// Round returns d rounded to the precision r resolves: the significant
// digits the bucket's width leaves, so that a figure never claims more
// than the histogram knows (a bucket from 83.9 ms to 92.3 ms reads
// "88ms"). It is the bucket's midpoint with the digits below its width cut.
func (r Range) Round() time.Duration {
	mid := r.Lo + (r.Hi-r.Lo)/2
	w := r.Hi - r.Lo
	if w <= 0 {
		return mid
	}
	unit := time.Duration(1)
	for unit*10 <= w {
		unit *= 10
	}
	return mid.Round(unit)
}

// Bound is a cumulative count: Count values recorded were at most Le.
type Bound struct {
	Le    int64
	Count uint64
}

// Pow2 returns the cumulative counts of counts (a Counts snapshot) at the
// bounds 2^k - 1 for k from lo to hi (1 ≤ lo ≤ hi ≤ 63): each bound is the
// top of a bucket, so every count is exact, and the bounds are those of a
// Prometheus histogram with a factor-of-two layout. Values above the last
// bound are in no Bound; the total Counts returned holds them.
func Pow2(counts *[Buckets]uint64, lo, hi int) []Bound {
	lo, hi = max(lo, 1), min(hi, 63)
	out := make([]Bound, 0, max(hi-lo+1, 0))
	var seen uint64
	i := 0
	for k := lo; k <= hi; k++ {
		le := int64(uint64(1)<<k - 1)
		for ; i < Buckets && Upper(i) <= le; i++ {
			seen += counts[i]
		}
		out = append(out, Bound{Le: le, Count: seen})
	}
	return out
}

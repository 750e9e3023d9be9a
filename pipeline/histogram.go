package pipeline

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram counts durations in log-linear buckets, as HdrHistogram does
// with 3 bits of sub-bucket precision: bucket (e, m) holds the values whose
// highest set bit is e and whose next three bits are m, so a bucket's
// upper bound is within 12.5% of any value in it. Record has one writer
// at a time; Quantile may be called from any goroutine.
type Histogram struct {
	// b[i] is written by Record's goroutine only (load, add, store-release
	// to readers); Quantile loads each once.
	b   [histBuckets]atomic.Uint64
	max atomic.Int64
}

const (
	histSub     = 3
	histBuckets = (64 - histSub) << histSub
)

func histIndex(v int64) int {
	if v < 1<<histSub {
		return int(max(v, 0))
	}
	e := 63 - bits.LeadingZeros64(uint64(v)) // ≥ histSub
	m := int(v>>(e-histSub)) & (1<<histSub - 1)
	return (e-histSub+1)<<histSub | m
}

// upper returns the largest value of bucket i.
func histUpper(i int) int64 {
	if i < 1<<histSub {
		return int64(i)
	}
	e := i>>histSub + histSub - 1
	m := int64(i & (1<<histSub - 1))
	return (1<<histSub|m+1)<<(e-histSub) - 1
}

// Record adds one value in nanoseconds (negative values count as 0).
func (h *Histogram) Record(ns int64) {
	c := &h.b[histIndex(ns)]
	c.Store(c.Load() + 1) // one writer: no read-modify-write needed
	if ns > h.max.Load() {
		h.max.Store(ns)
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

// Quantiles returns the upper bounds of the buckets holding the given
// quantiles (0 to 1), in order, and the largest value recorded.
func (h *Histogram) Quantiles(qs ...float64) (out []time.Duration, maxv time.Duration) {
	var counts [histBuckets]uint64
	var total uint64
	for i := range h.b {
		counts[i] = h.b[i].Load()
		total += counts[i]
	}
	out = make([]time.Duration, len(qs))
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
				out[k] = min(time.Duration(histUpper(i)), maxv)
				break
			}
		}
	}
	return out, maxv
}

package pipeline

import (
	"time"

	"github.com/ringkit/ringkit/internal/hist"
)

// Histogram is a snapshot of the pipeline's latency histogram in the
// shape metrics systems take (a Prometheus histogram): cumulative counts
// at fixed bounds, the count and the sum.
type Histogram struct {
	// Count is the packets measured, Sum their latencies added up.
	Count uint64
	Sum   time.Duration
	// Buckets are cumulative, ascending: Buckets[i].Count packets waited
	// at most Buckets[i].Le. The bounds are powers of two less one
	// nanosecond, from about 1µs to about 34s; packets that waited
	// longer are counted in Count only.
	Buckets []Bucket
}

// Bucket is one cumulative bound of a Histogram.
type Bucket struct {
	Le    time.Duration
	Count uint64
}

// The bounds Latency reports: 2^10-1 ns (1.02µs) to 2^35-1 ns (34.4s).
const (
	latencyLoExp = 10
	latencyHiExp = 35
)

// Latency returns the histogram of the latency Report summarizes: from the
// driver's receive of a packet to its post on a TX ring. Any goroutine may
// call it at any time; the buckets are exact to the histogram's own
// buckets, and Count is the buckets' total (Sum is read apart from them).
func (p *Pipeline) Latency() Histogram {
	var counts [hist.Buckets]uint64
	h := Histogram{Count: p.lat.Counts(&counts), Sum: time.Duration(p.lat.Sum())}
	for _, b := range hist.Pow2(&counts, latencyLoExp, latencyHiExp) {
		h.Buckets = append(h.Buckets, Bucket{Le: time.Duration(b.Le), Count: b.Count})
	}
	return h
}

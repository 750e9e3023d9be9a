package jobring

import (
	"fmt"
	"math/bits"
	"strings"
	"sync/atomic"
	"time"
)

// workerStats are one worker's counters. The worker is their only writer;
// they are atomic so that Stats may read them at any time.
type workerStats struct {
	jobs, failed, requeued, batches, batchMax atomic.Uint64
	busy                                      atomic.Int64
	stopped                                   atomic.Bool
	batchHist                                 [16]atomic.Uint64
	kind                                      [MaxKinds]atomic.Uint64
}

// batchBucket returns the histogram bucket of a batch of n: bucket b holds
// batches of 2^(b-1)+1 .. 2^b jobs (bucket 0 holds batches of one).
func batchBucket(n int) int { return min(bits.Len(uint(n-1)), 15) }

// kindCounters are one kind's retirement counts, written by the retirer.
type kindCounters struct {
	done, failed atomic.Uint64
}

// latHist is a log-linear histogram of latencies in nanoseconds: four
// buckets per power of two, so a percentile read from it is within 25% of
// the true value. Only the retirer adds to it.
type latHist struct {
	n       atomic.Uint64
	buckets [256]atomic.Uint64
}

func latBucket(v int64) int {
	if v < 8 {
		return int(max(v, 0))
	}
	e := bits.Len64(uint64(v)) // ≥ 4
	sub := int(uint64(v)>>(e-3)) & 3
	return 8 + (e-4)*4 + sub
}

// latUpper returns the largest value of bucket b.
func latUpper(b int) int64 {
	if b < 8 {
		return int64(b)
	}
	e := (b-8)/4 + 4
	sub := (b - 8) % 4
	return int64((uint64(4+sub+1) << (e - 3)) - 1)
}

func (h *latHist) add(v int64) {
	h.buckets[latBucket(v)].Add(1)
	h.n.Add(1)
}

// quantile returns the upper bound of the bucket holding quantile q.
func (h *latHist) quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.5)
	rank = max(rank, 1)
	var seen uint64
	for b := range h.buckets {
		seen += h.buckets[b].Load()
		if seen >= rank {
			return time.Duration(latUpper(b))
		}
	}
	return time.Duration(latUpper(len(h.buckets) - 1))
}

// WorkerStats is what one worker has done.
type WorkerStats struct {
	ID       int
	Name     string
	Class    Class
	Stopped  bool
	Jobs     uint64          // jobs run (including those whose Do failed)
	Failed   uint64          // jobs whose Do returned an error or panicked
	Requeued uint64          // claimed jobs handed back when the worker stopped
	Kinds    map[Kind]uint64 // jobs run per kind
	Batches  uint64          // batches claimed
	MaxBatch uint64          // largest batch claimed
	Busy     time.Duration   // time from claiming a batch to finishing it
	Hist     [16]uint64      // batches of 1, 2, 3-4, 5-8, ... jobs
}

// MeanBatch returns the mean number of jobs per batch.
func (s WorkerStats) MeanBatch() float64 {
	if s.Batches == 0 {
		return 0
	}
	return float64(s.Jobs) / float64(s.Batches)
}

// KindStats is what was retired of one kind, with its sampled latency from
// submission to retirement (percentiles are bucket upper bounds, within 25%).
type KindStats struct {
	Kind          Kind
	Name          string
	Done, Failed  uint64
	Samples       uint64
	P50, P90, P99 time.Duration
}

// Stats is a snapshot of a ring's counters.
type Stats struct {
	Workers []WorkerStats
	Kinds   []KindStats // kinds named in the rules or held by a worker
}

// Stats returns a snapshot of the counters. It allocates; call it from a
// monitoring path, not per job.
func (r *Ring[J, R]) Stats() Stats {
	var st Stats
	for _, w := range r.workers {
		ws := WorkerStats{
			ID: w.id, Name: w.spec.Name, Class: w.spec.Class,
			Stopped:  w.stats.stopped.Load(),
			Jobs:     w.stats.jobs.Load(),
			Failed:   w.stats.failed.Load(),
			Requeued: w.stats.requeued.Load(),
			Batches:  w.stats.batches.Load(),
			MaxBatch: w.stats.batchMax.Load(),
			Busy:     time.Duration(w.stats.busy.Load()),
			Kinds:    map[Kind]uint64{},
		}
		for b := range ws.Hist {
			ws.Hist[b] = w.stats.batchHist[b].Load()
		}
		for k := range MaxKinds {
			if n := w.stats.kind[k].Load(); n > 0 {
				ws.Kinds[Kind(k)] = n
			}
		}
		st.Workers = append(st.Workers, ws)
	}
	for k := range MaxKinds {
		h := r.lat[k]
		if h == nil {
			continue
		}
		st.Kinds = append(st.Kinds, KindStats{
			Kind: Kind(k), Name: r.pol.Name(Kind(k)),
			Done: r.kstats[k].done.Load(), Failed: r.kstats[k].failed.Load(),
			Samples: h.n.Load(),
			P50:     h.quantile(0.50), P90: h.quantile(0.90), P99: h.quantile(0.99),
		})
	}
	return st
}

// String prints a table of the workers and one of the kinds.
func (s Stats) String() string {
	var b strings.Builder
	names := map[Kind]string{}
	for _, k := range s.Kinds {
		names[k.Kind] = k.Name
	}
	fmt.Fprintf(&b, "%-12s %-11s %8s %8s %8s %10s %8s  %s\n", "worker", "class", "jobs", "batches", "mean", "busy", "state", "kinds")
	for _, w := range s.Workers {
		state := "running"
		if w.Stopped {
			state = "stopped"
		}
		var ks []string
		for k := range MaxKinds {
			if n, ok := w.Kinds[Kind(k)]; ok {
				name, ok := names[Kind(k)]
				if !ok {
					name = fmt.Sprintf("kind%d", k)
				}
				ks = append(ks, fmt.Sprintf("%s=%d", name, n))
			}
		}
		fmt.Fprintf(&b, "%-12s %-11v %8d %8d %8.1f %10v %8s  %s\n", w.Name, w.Class, w.Jobs, w.Batches, w.MeanBatch(),
			w.Busy.Round(time.Microsecond), state, strings.Join(ks, " "))
	}
	fmt.Fprintf(&b, "%-12s %8s %8s %8s %10s %10s %10s\n", "kind", "done", "failed", "samples", "p50", "p90", "p99")
	for _, k := range s.Kinds {
		fmt.Fprintf(&b, "%-12s %8d %8d %8d %10v %10v %10v\n", k.Name, k.Done, k.Failed, k.Samples,
			roundLat(k.P50), roundLat(k.P90), roundLat(k.P99))
	}
	return b.String()
}

// roundLat rounds a bucket bound to three significant digits for printing.
func roundLat(d time.Duration) time.Duration {
	switch {
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	case d >= time.Microsecond:
		return d.Round(10 * time.Nanosecond)
	}
	return d
}

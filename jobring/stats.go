package jobring

import (
	"fmt"
	"math/bits"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ringkit/ringkit/internal/hist"
)

// workerStats are one worker's counters. The worker is their only writer;
// they are atomic so that Stats may read them at any time.
type workerStats struct {
	jobs, failed, requeued, retried, batches, batchMax atomic.Uint64
	busy                                               atomic.Int64
	stopped                                            atomic.Bool
	batchHist                                          [16]atomic.Uint64
	kind                                               [MaxKinds]atomic.Uint64
}

// batchBucket returns the histogram bucket of a batch of n: bucket b holds
// batches of 2^(b-1)+1 .. 2^b jobs (bucket 0 holds batches of one).
func batchBucket(n int) int { return min(bits.Len(uint(n-1)), 15) }

// kindCounters are one kind's retirement counts, written by the retirer.
type kindCounters struct {
	done, failed atomic.Uint64
}

// quantiles returns h's 50th, 90th and 99th percentiles, each rounded to
// what the histogram resolves.
func quantiles(h *hist.Histogram) (p50, p90, p99 time.Duration) {
	q, _ := h.Quantiles(0.50, 0.90, 0.99)
	return q[0].Round(), q[1].Round(), q[2].Round()
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
	Retried  uint64          // jobs whose Do failed here, handed back for a core (Fallback.Retry)
	Kinds    map[Kind]uint64 // jobs run per kind
	Batches  uint64          // batches claimed
	MaxBatch uint64          // largest batch claimed
	Busy     time.Duration   // time from claiming a batch to finishing it
	Hist     [16]uint64      // batches of 1, 2, 3-4, 5-8, ... jobs
}

// String says what the worker did in one line.
func (s WorkerStats) String() string {
	state := "running"
	if s.Stopped {
		state = "stopped"
	}
	return fmt.Sprintf("worker %d %s (%s, %s): %d jobs (%d failed, %d handed back) in %d batches, %.1f a batch, "+
		"at most %d; busy %v", s.ID, s.Name, s.Class, state, s.Jobs, s.Failed, s.Requeued, s.Batches, s.MeanBatch(),
		s.MaxBatch, s.Busy.Round(time.Microsecond))
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

// String says what was retired of the kind in one line.
func (s KindStats) String() string {
	return fmt.Sprintf("kind %s: %d done, %d failed; submission to retirement p50 %v p90 %v p99 %v (%d samples)",
		s.Name, s.Done, s.Failed, roundLat(s.P50), roundLat(s.P90), roundLat(s.P99), s.Samples)
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
			Retried:  w.stats.retried.Load(),
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
		ks := KindStats{
			Kind: Kind(k), Name: r.pol.Name(Kind(k)),
			Done: r.kstats[k].done.Load(), Failed: r.kstats[k].failed.Load(),
			Samples: h.Count(),
		}
		ks.P50, ks.P90, ks.P99 = quantiles(h)
		st.Kinds = append(st.Kinds, ks)
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

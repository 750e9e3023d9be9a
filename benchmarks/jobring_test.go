package benchmarks

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ringkit/ringkit/jobring"
)

// BenchmarkJobRing measures the whole life of a trivial job: submit, claim
// by a worker, run, result written in place, retirement in submission order.
// The benchmark goroutine is the producer and, for retire=producer, also
// the retirer (io_uring style: submit a burst, reap what is done); with
// retire=callback the worker retires through OnRetire. Its twin chanpool
// does the same work through a worker pool fed by a channel, results coming
// back on a second channel into a reorder buffer that releases them in
// submission order. Each run checks that every result came back once, in
// order, correct. Figures are ns/job: wall time, including the drain of the
// jobs still in flight when the loop ends, over jobs retired (ns/op leaves
// the drain out).
func BenchmarkJobRing(b *testing.B) {
	for _, workers := range []int{1, 2} {
		for _, burst := range []int{1, 8, 32} {
			name := fmt.Sprintf("workers=%d/burst=%d", workers, burst)
			b.Run(name+"/jobring", func(b *testing.B) { benchJobRing(b, workers, burst, false) })
			b.Run(name+"/jobring-callback", func(b *testing.B) { benchJobRing(b, workers, burst, true) })
			b.Run(name+"/chanpool", func(b *testing.B) { benchChanPool(b, workers, burst) })
		}
	}
}

func trivial(job uint64) uint64 { return job*2 + 1 }

// ringCapacity bounds the jobs in flight in both implementations.
const ringCapacity = 1024

func benchJobRing(b *testing.B, workers, burst int, callback bool) {
	do := func(_ context.Context, _ jobring.Kind, j *uint64, r *uint64) error { *r = trivial(*j); return nil }
	var ws []jobring.Worker[uint64, uint64]
	for i := range workers {
		ws = append(ws, jobring.Worker[uint64, uint64]{Name: fmt.Sprint("core", i), Kinds: jobring.Kinds(0), Batch: 32, Do: do})
	}
	var next uint64 // the next Seq to retire; written by the one retirer
	var bad uint64  // written by the one retirer
	check := func(cs []jobring.Completion[uint64, uint64]) {
		for i := range cs {
			c := &cs[i]
			if c.Seq != next || c.Job != next || c.Result != trivial(next) || c.Err != nil {
				bad++
			}
			next++
		}
	}
	cfg := jobring.Config[uint64, uint64]{Slots: ringCapacity, Workers: ws, SampleEvery: -1}
	if callback {
		cfg.OnRetire = check
	}
	r, err := jobring.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	ts := make([]jobring.Task[uint64], burst)
	cs := make([]jobring.Completion[uint64, uint64], 64)
	var sent uint64
	b.ReportAllocs()
	for b.Loop() {
		for i := range ts {
			ts[i].Job = sent + uint64(i)
		}
		if callback {
			// The workers retire; a full ring parks the producer.
			if _, err := r.SubmitAll(ctx, ts); err != nil {
				b.Fatal(err)
			}
		} else {
			// The producer retires, as an io_uring user reaps its
			// completion queue: on a full ring it waits for a completion.
			for off := 0; off < burst; {
				_, n := r.SubmitBurst(ts[off:])
				off += n
				if off < burst {
					k, err := r.RetireWait(ctx, cs)
					if err != nil {
						b.Fatal(err)
					}
					check(cs[:k])
				}
			}
			check(cs[:r.Retire(cs)])
		}
		sent += uint64(burst)
	}
	drain := time.Now() // jobs still in flight when the loop ends count too
	if callback {
		// Close returns once every job is done and retired through
		// OnRetire, and synchronizes after the last call.
		if err := r.Close(); err != nil {
			b.Fatal(err)
		}
		if next != sent {
			b.Fatalf("retired %d of %d jobs", next, sent)
		}
	} else {
		for next < sent {
			k, err := r.RetireWait(ctx, cs)
			if err != nil {
				b.Fatal(err)
			}
			check(cs[:k])
		}
		r.Close()
	}
	elapsed := b.Elapsed() + time.Since(drain)
	if bad != 0 {
		b.Fatalf("%d jobs came back wrong or out of order", bad)
	}
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(max(sent, 1)), "ns/job")
}

type chanJob struct{ seq, job, res uint64 }

func benchChanPool(b *testing.B, workers, burst int) {
	in := make(chan chanJob, ringCapacity)
	out := make(chan chanJob, ringCapacity)
	done := make(chan struct{})
	for range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			for j := range in {
				j.res = trivial(j.job)
				out <- j
			}
		}()
	}
	// The reorder buffer: results arrive in any order and leave in
	// submission order.
	var buf [ringCapacity]chanJob
	var have [ringCapacity]bool
	var next, sent, bad uint64
	accept := func(j chanJob) {
		buf[j.seq%ringCapacity], have[j.seq%ringCapacity] = j, true
		for have[next%ringCapacity] {
			c := buf[next%ringCapacity]
			have[next%ringCapacity] = false
			if c.seq != next || c.res != trivial(next) {
				bad++
			}
			next++
		}
	}
	reap := func() int {
		n := 0
		for {
			select {
			case j := <-out:
				accept(j)
				n++
			default:
				return n
			}
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		for range burst {
			for sent-next >= ringCapacity { // as many in flight as the ring holds
				accept(<-out)
			}
			in <- chanJob{seq: sent, job: sent}
			sent++
		}
		reap()
	}
	drain := time.Now()
	for next < sent {
		accept(<-out)
	}
	elapsed := b.Elapsed() + time.Since(drain)
	close(in)
	for range workers {
		<-done
	}
	if bad != 0 {
		b.Fatalf("%d jobs came back wrong or out of order", bad)
	}
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(max(sent, 1)), "ns/job")
}

package jobring_test

import (
	"context"
	"fmt"
	"hash/crc32"
	"testing"
	"time"

	"github.com/ringkit/ringkit/jobring"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// BenchmarkCoprocessor measures a co-processor model's throughput against
// its batch size, on one kind of real work: the CRC32C of 4 KiB buffers,
// with a setup latency of 20µs per batch and 0.05 ns per byte (20 GB/s).
// A small batch pays the setup on few jobs; a large one amortizes it. The
// core twin runs the same checksums on a core, for comparison. Each
// result is checked against its own buffer. The figures are ns/job and
// MB/s over the wall time including the drain of the jobs in flight when
// the loop ends (ns/op leaves the drain out).
func BenchmarkCoprocessor(b *testing.B) {
	for _, batch := range []int{1, 4, 16, 64} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			benchCRC(b, jobring.Worker[[]byte, uint32]{Name: "dev", Class: jobring.Coprocessor, Batch: batch,
				Setup: 20 * time.Microsecond, NsPerByte: 0.05, Size: func(_ jobring.Kind, j *[]byte) int { return len(*j) }})
		})
	}
	b.Run("core", func(b *testing.B) {
		benchCRC(b, jobring.Worker[[]byte, uint32]{Name: "core", Class: jobring.Core, Batch: 16})
	})
}

func benchCRC(b *testing.B, w jobring.Worker[[]byte, uint32]) {
	const size = 4096
	w.Kinds = jobring.Kinds(0)
	w.Do = func(_ context.Context, _ jobring.Kind, j *[]byte, r *uint32) error {
		*r = crc32.Checksum(*j, castagnoli)
		return nil
	}
	r, err := jobring.New(jobring.Config[[]byte, uint32]{Slots: 256, Workers: []jobring.Worker[[]byte, uint32]{w}})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	bufs := make([][]byte, 256)
	for i := range bufs {
		bufs[i] = make([]byte, size)
		for j := range bufs[i] {
			bufs[i][j] = byte(i*31 + j)
		}
	}
	cs := make([]jobring.Completion[[]byte, uint32], 64)
	bad := 0
	reap := func(cs []jobring.Completion[[]byte, uint32]) {
		for _, c := range cs {
			if c.Err != nil || c.Result != crc32.Checksum(c.Job, castagnoli) {
				bad++
			}
		}
	}
	ctx := context.Background()
	var sent, got int
	b.ReportAllocs()
	for b.Loop() {
		// This goroutine is also the only retirer: when the ring is full,
		// it must retire to make room rather than wait in Submit.
		for {
			if _, ok := r.TrySubmit(jobring.Task[[]byte]{Job: bufs[sent%len(bufs)]}); ok {
				break
			}
			n, err := r.RetireWait(ctx, cs)
			if err != nil {
				b.Fatal(err)
			}
			reap(cs[:n])
			got += n
		}
		sent++
		n := r.Retire(cs)
		reap(cs[:n])
		got += n
	}
	drain := time.Now() // the jobs in flight when the loop ends count too
	for got < sent {
		n, err := r.RetireWait(ctx, cs)
		if err != nil {
			b.Fatal(err)
		}
		reap(cs[:n])
		got += n
	}
	elapsed := b.Elapsed() + time.Since(drain)
	if bad != 0 {
		b.Fatalf("%d wrong checksums", bad)
	}
	st := r.Stats().Workers[0]
	b.ReportMetric(st.MeanBatch(), "jobs/batch")
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(sent), "ns/job")
	b.ReportMetric(float64(sent*size)/elapsed.Seconds()/1e6, "MB/s")
}

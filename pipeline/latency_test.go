package pipeline

import (
	"testing"
	"time"
)

// Latency's histogram counts every packet transmitted, its buckets are
// cumulative and exact (the report's percentiles fall where its counts
// say), and a snapshot taken mid-run shows the shaped classes' rings
// holding packets.
func TestLatencyAndQueues(t *testing.T) {
	p, err := New(simConfig(false), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var now time.Duration
	for ; now < 20*time.Millisecond; now += 32 * time.Microsecond {
		p.Step(now)
	}
	s := p.Snapshot()
	queued := 0
	for _, ps := range s.Ports {
		for _, tc := range ps.TCs {
			if tc.Queued < 0 || tc.Queued > tc.RingSize || tc.RingSize == 0 {
				t.Errorf("port %s class %s: %d queued of %d", ps.Name, tc.Name, tc.Queued, tc.RingSize)
			}
			queued += tc.Queued
		}
	}
	if queued == 0 {
		t.Error("no TC ring holds a packet in a run shaped to a quarter of its load")
	}
	p.StopTraffic()
	p.Drain(func() time.Duration { now += 32 * time.Microsecond; return now }, 10000)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	rep := p.Report(20 * time.Millisecond)
	h := p.Latency()
	if h.Count != rep.Latency.Samples || h.Count != rep.Stages[5].Packets || h.Count == 0 {
		t.Fatalf("histogram of %d packets; report %d samples, %d transmitted", h.Count, rep.Latency.Samples, rep.Stages[5].Packets)
	}
	if len(h.Buckets) != latencyHiExp-latencyLoExp+1 || h.Buckets[len(h.Buckets)-1].Count != h.Count {
		t.Fatalf("%d buckets, the last of %d packets (of %d)", len(h.Buckets), h.Buckets[len(h.Buckets)-1].Count, h.Count)
	}
	for i := 1; i < len(h.Buckets); i++ {
		if h.Buckets[i].Le != 2*h.Buckets[i-1].Le+1 || h.Buckets[i].Count < h.Buckets[i-1].Count {
			t.Fatalf("bucket %d: %+v after %+v", i, h.Buckets[i], h.Buckets[i-1])
		}
	}
	// The median lies in the first bucket whose count reaches half.
	for _, b := range h.Buckets {
		if 2*b.Count >= h.Count {
			if p50 := time.Duration(rep.Latency.P50); p50 > b.Le+b.Le/8 || 2*p50 < b.Le*7/8 {
				t.Errorf("p50 %v, but half the packets are at most %v (and not at most %v)", p50, b.Le, b.Le/2)
			}
			break
		}
	}
	if mean := h.Sum / time.Duration(h.Count); mean <= 0 || mean > time.Duration(rep.Latency.Max) {
		t.Errorf("mean %v of a sum %v; max %v", mean, h.Sum, time.Duration(rep.Latency.Max))
	}
}

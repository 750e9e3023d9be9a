package jobring_test

import (
	"context"
	"testing"
	"time"

	"github.com/ringkit/ringkit/jobring"
)

// fallbackRing has one co-processor for kind 0 (slow per batch) and two
// cores for kind 1, with the given fallbacks; it submits n jobs of kind 0
// at once and returns the completions and the stats.
func fallbackRun(t *testing.T, n int, fbs []jobring.Fallback) ([]completion, jobring.Stats) {
	r := newRing(t, cfg{
		Slots: 256,
		Rules: jobring.Rules{Kinds: []jobring.KindRule{{Kind: 0, Name: "accel"}, {Kind: 1, Name: "cpu"}}, Fallbacks: fbs},
		Workers: []wk{
			{Name: "dev", Class: jobring.Coprocessor, Kinds: jobring.Kinds(0), Batch: 4, Setup: 3 * time.Millisecond, Do: doer(0, nil)},
			{Name: "core1", Class: jobring.Core, Kinds: jobring.Kinds(1), Batch: 1, Do: doer(1, nil)},
			{Name: "core2", Class: jobring.Core, Kinds: jobring.Kinds(1), Batch: 1, Do: doer(2, nil)},
		},
	})
	ts := make([]jobring.Task[uint64], n)
	for i := range ts {
		ts[i] = jobring.Task[uint64]{Kind: 0, Job: uint64(i)}
	}
	if _, k := r.SubmitBurst(ts); k != n {
		t.Fatalf("submitted %d of %d", k, n)
	}
	got := collect(t, r, n, 10*time.Second)
	checkInOrder(t, got, 0)
	return got, r.Stats()
}

func byWorker(cs []completion) map[int]int {
	m := map[int]int{}
	for _, c := range cs {
		m[c.Worker]++
	}
	return m
}

// TestNoFallback: without a fallback rule, cores never take the
// co-processor's kind however long its backlog.
func TestNoFallback(t *testing.T) {
	got, _ := fallbackRun(t, 40, nil)
	if m := byWorker(got); m[0] != 40 {
		t.Errorf("jobs per worker %v: the co-processor should have run all 40", m)
	}
}

// TestFallbackSaturated: with a threshold, the cores help while the backlog
// is at or above it, and leave the rest to the co-processor. The jobs
// submitted last (backlog below the threshold) can only go to the device,
// give or take one per core that decided just before the backlog fell.
func TestFallbackSaturated(t *testing.T) {
	const n, threshold, cores = 100, 20, 2
	got, st := fallbackRun(t, n, []jobring.Fallback{{Kind: 0, Threshold: threshold}})
	m := byWorker(got)
	if m[1]+m[2] == 0 {
		t.Errorf("jobs per worker %v: cores never helped a saturated co-processor", m)
	}
	if m[0] < threshold-cores {
		t.Errorf("jobs per worker %v: the co-processor ran %d, want at least %d (cores took jobs below the threshold)", m, m[0], threshold-cores)
	}
	if st.Workers[1].Kinds[0]+st.Workers[2].Kinds[0] != uint64(m[1]+m[2]) {
		t.Errorf("stats %+v disagree with completions %v", st.Workers, m)
	}
}

// TestFallbackNotReached: a threshold above the backlog never opens.
func TestFallbackNotReached(t *testing.T) {
	got, _ := fallbackRun(t, 40, []jobring.Fallback{{Kind: 0, Threshold: 41}})
	if m := byWorker(got); m[0] != 40 {
		t.Errorf("jobs per worker %v: cores took jobs below the threshold", m)
	}
}

// TestFallbackNoHolder: once the co-processor is stopped, a fallback kind
// goes to the cores whatever the backlog; without a fallback it fails
// with ErrNoWorker.
func TestFallbackNoHolder(t *testing.T) {
	for _, fb := range []bool{true, false} {
		var fbs []jobring.Fallback
		if fb {
			fbs = []jobring.Fallback{{Kind: 0}} // only when no holder is left
		}
		r := newRing(t, cfg{
			Slots: 64,
			Rules: jobring.Rules{Fallbacks: fbs},
			Workers: []wk{
				{Name: "dev", Class: jobring.Coprocessor, Kinds: jobring.Kinds(0), Do: doer(0, nil)},
				{Name: "core", Class: jobring.Core, Kinds: jobring.Kinds(1), Do: doer(1, nil)},
			},
		})
		if err := r.StopWorker(0); err != nil {
			t.Fatal(err)
		}
		for i := range 10 {
			if _, err := r.Submit(context.Background(), jobring.Task[uint64]{Kind: 0, Job: uint64(i)}); err != nil {
				t.Fatal(err)
			}
		}
		got := collect(t, r, 10, 5*time.Second)
		checkInOrder(t, got, 0)
		for _, c := range got {
			switch {
			case fb && (c.Err != nil || c.Worker != 1):
				t.Errorf("fallback: seq %d: worker %d err %v, want the core", c.Seq, c.Worker, c.Err)
			case !fb && !errorsIs(c.Err, jobring.ErrNoWorker):
				t.Errorf("no fallback: seq %d: worker %d err %v, want ErrNoWorker", c.Seq, c.Worker, c.Err)
			}
		}
	}
}

// TestFallbackTakesOldest: cores that passed over jobs of a fallback kind
// while its backlog was below the threshold look at them again once it is
// reached, and take the oldest first.
func TestFallbackTakesOldest(t *testing.T) {
	const threshold = 5
	r := newRing(t, cfg{
		Slots: 64,
		Rules: jobring.Rules{Fallbacks: []jobring.Fallback{{Kind: 0, Threshold: threshold}}},
		Workers: []wk{
			{Name: "dev", Class: jobring.Coprocessor, Kinds: jobring.Kinds(0), Batch: 1, Setup: time.Hour, Do: doer(0, nil)},
			{Name: "core", Class: jobring.Core, Kinds: jobring.Kinds(1), Batch: 1, Do: doer(1, nil)},
		},
	})
	r.TrySubmit(jobring.Task[uint64]{Job: 0})
	claimedBy(t, r, 1, 0) // the device holds job 0 for an hour
	for i := 1; i < threshold; i++ {
		r.TrySubmit(jobring.Task[uint64]{Job: uint64(i)})
	}
	waitFor(t, "the core parked", 5*time.Second, func() bool { return r.ParkedWorkers() == 1 })
	r.TrySubmit(jobring.Task[uint64]{Job: threshold}) // the backlog reaches the threshold
	waitFor(t, "the core to take a job", 5*time.Second, func() bool {
		for p := range threshold + 1 {
			if s, _ := r.SlotState(uint64(p)); s == "done" {
				return true
			}
		}
		return false
	})
	for p := range threshold + 1 {
		s, who := r.SlotState(uint64(p))
		switch want := p == 1; {
		case want && (s != "done" || who != 1):
			t.Errorf("job 1 (the oldest waiting) is %s by worker %d, want done by the core", s, who)
		case !want && s == "done":
			t.Errorf("job %d is done; the core should have taken job 1, the oldest", p)
		}
	}
	if err := r.StopWorker(0); err != nil { // its job goes to the core: no holder is left
		t.Fatal(err)
	}
	checkInOrder(t, collect(t, r, threshold+1, 5*time.Second), 0)
}

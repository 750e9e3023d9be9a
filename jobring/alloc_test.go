package jobring_test

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/ringkit/ringkit/jobring"
)

// TestNoAllocs: submitting, running and retiring allocate nothing in steady
// state (the workers' claims and runs are counted too: AllocsPerRun counts
// every allocation of the process).
func TestNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	for _, callback := range []bool{false, true} {
		var n atomic.Int64
		c := jobring.Config[uint64, uint64]{
			Slots: 64,
			Rules: jobring.Rules{Kinds: []jobring.KindRule{{Kind: 0, Order: jobring.Atomic}}},
			Workers: []jobring.Worker[uint64, uint64]{
				{Name: "c", Kinds: jobring.Kinds(0), Do: func(_ context.Context, _ jobring.Kind, j *uint64, r *uint64) error { *r = *j; return nil }},
			},
			SampleEvery: 1,
		}
		if callback {
			c.OnRetire = func(b []jobring.Completion[uint64, uint64]) { n.Add(int64(len(b))) }
		}
		r, err := jobring.New(c)
		if err != nil {
			t.Fatal(err)
		}
		ts := make([]jobring.Task[uint64], 8)
		buf := make([]jobring.Completion[uint64, uint64], 8)
		ctx := context.Background()
		want := int64(0)
		a := testing.AllocsPerRun(2000, func() {
			if _, ok := r.TrySubmit(jobring.Task[uint64]{Flow: 3, Job: 1}); !ok {
				t.Fatal("TrySubmit failed")
			}
			r.SubmitBurst(ts)
			want += 9
			if callback {
				for n.Load() < want {
					runtime.Gosched()
				}
			} else {
				for got := 0; got < 9; {
					k, err := r.RetireWait(ctx, buf)
					if err != nil {
						t.Fatal(err)
					}
					got += k
				}
			}
		})
		r.Close()
		if a != 0 {
			t.Errorf("callback=%t: %v allocations per submit-run-retire of 9 jobs", callback, a)
		}
	}
}

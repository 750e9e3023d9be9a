package jobring_test

import (
	"context"
	"testing"
	"time"

	"github.com/ringkit/ringkit/jobring"
)

// res is what the test workers write: a value computed from the job, and
// the worker that wrote it, so a test can see that each result landed in
// its own job's slot and came from the worker the ring says ran it.
type res struct {
	Val uint64
	By  int
}

func val(job uint64) uint64 { return job*3 + 1 }

type cfg = jobring.Config[uint64, res]
type wk = jobring.Worker[uint64, res]
type completion = jobring.Completion[uint64, res]

// doer returns a Do for worker id that writes val(job) and id, after
// calling hook (if not nil).
func doer(id int, hook func(k jobring.Kind, job uint64)) jobring.Func[uint64, res] {
	return func(_ context.Context, k jobring.Kind, job *uint64, r *res) error {
		if hook != nil {
			hook(k, *job)
		}
		r.Val, r.By = val(*job), id
		return nil
	}
}

func newRing(t *testing.T, c cfg) *jobring.Ring[uint64, res] {
	t.Helper()
	return newRingAt(t, c, 0)
}

// newRingAt is newRing with the ring's first position at start.
func newRingAt(t *testing.T, c cfg, start uint64) *jobring.Ring[uint64, res] {
	t.Helper()
	r, err := jobring.NewAt(c, start)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// A bounded Shutdown, so that a test that broke the ring fails
		// rather than hangs in a drain that cannot finish.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return r
}

// collect retires n jobs with RetireWait, failing the test after timeout.
func collect(t *testing.T, r *jobring.Ring[uint64, res], n int, timeout time.Duration) []completion {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out := make([]completion, 0, n)
	buf := make([]completion, 32)
	for len(out) < n {
		k, err := r.RetireWait(ctx, buf[:min(len(buf), n-len(out))])
		if err != nil {
			t.Fatalf("RetireWait after %d of %d: %v", len(out), n, err)
		}
		out = append(out, buf[:k]...)
	}
	return out
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// checkInOrder checks that cs are the jobs first, first+1, ... with their
// own results.
func checkInOrder(t *testing.T, cs []completion, first uint64) {
	t.Helper()
	for i, c := range cs {
		want := first + uint64(i)
		if c.Seq != want {
			t.Fatalf("completion %d has Seq %d, want %d: retirement out of order", i, c.Seq, want)
		}
		if c.Err != nil {
			continue
		}
		if c.Result.Val != val(c.Job) || c.Result.By != c.Worker {
			t.Fatalf("seq %d job %d: result %+v from worker %d, want val %d by %d: result not in its own slot",
				c.Seq, c.Job, c.Result, c.Worker, val(c.Job), c.Worker)
		}
	}
}

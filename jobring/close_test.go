package jobring_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ringkit/ringkit/jobring"
)

// TestCloseDrains: Close runs every submitted job before it returns, ends
// every goroutine, and leaves the results for Retire; after it,
// submissions fail and RetireWait reports ErrClosed once all is retired.
func TestCloseDrains(t *testing.T) {
	defer goleak.VerifyNone(t)
	r, err := jobring.New(cfg{
		Slots: 64,
		Workers: []wk{
			{Name: "dev", Class: jobring.Coprocessor, Kinds: jobring.Kinds(0), Batch: 4, Setup: 200 * time.Microsecond, Do: doer(0, nil)},
			{Name: "core", Kinds: jobring.Kinds(1), Do: doer(1, nil)},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	for i := range n {
		if _, ok := r.TrySubmit(jobring.Task[uint64]{Kind: jobring.Kind(i % 2), Job: uint64(i)}); !ok {
			t.Fatalf("TrySubmit %d failed", i)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	for p := range n {
		if s, _ := r.SlotState(uint64(p)); s != "done" {
			t.Fatalf("after Close, job %d is %s, want done", p, s)
		}
	}
	if _, ok := r.TrySubmit(jobring.Task[uint64]{}); ok {
		t.Error("TrySubmit succeeded on a closed ring")
	}
	if _, err := r.Submit(context.Background(), jobring.Task[uint64]{}); !errors.Is(err, jobring.ErrClosed) {
		t.Errorf("Submit on a closed ring: %v, want ErrClosed", err)
	}
	if _, k := r.SubmitBurst(make([]jobring.Task[uint64], 3)); k != 0 {
		t.Errorf("SubmitBurst on a closed ring submitted %d", k)
	}
	got := collect(t, r, n, time.Second)
	checkInOrder(t, got, 0)
	for _, c := range got {
		if c.Err != nil {
			t.Errorf("seq %d: %v", c.Seq, c.Err)
		}
	}
	if _, err := r.RetireWait(context.Background(), make([]completion, 4)); !errors.Is(err, jobring.ErrClosed) {
		t.Errorf("RetireWait on a closed, empty ring: %v, want ErrClosed", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestShutdownDeadline: when the context ends before the ring drains, the
// jobs not started fail with ErrClosed, the producer sees every job, and
// no goroutine is left.
func TestShutdownDeadline(t *testing.T) {
	defer goleak.VerifyNone(t)
	var got []completion
	r, err := jobring.New(cfg{
		Slots: 64,
		Workers: []wk{
			{Name: "dev", Class: jobring.Coprocessor, Kinds: jobring.Kinds(0), Batch: 4, Setup: 20 * time.Millisecond, Do: doer(0, nil)},
		},
		OnRetire: func(b []completion) { got = append(got, b...) },
	})
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	for i := range n {
		r.TrySubmit(jobring.Task[uint64]{Job: uint64(i)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := r.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want DeadlineExceeded", err)
	}
	// OnRetire calls never overlap and Shutdown has ended every worker,
	// so got is complete.
	if len(got) != n {
		t.Fatalf("%d completions, want %d", len(got), n)
	}
	checkInOrder(t, got, 0)
	ok, closed := 0, 0
	for _, c := range got {
		switch {
		case c.Err == nil:
			ok++
		case errors.Is(c.Err, jobring.ErrClosed):
			closed++
		default:
			t.Errorf("seq %d: %v", c.Seq, c.Err)
		}
	}
	if ok == 0 || closed == 0 {
		t.Errorf("%d done and %d failed with ErrClosed; want some of each", ok, closed)
	}
}

// TestIdleParks: workers with nothing to do park (an idle ring costs no
// CPU), and a submission wakes them.
func TestIdleParks(t *testing.T) {
	r := newRing(t, cfg{
		Slots: 16,
		Workers: []wk{
			{Name: "c0", Kinds: jobring.Kinds(0), Do: doer(0, nil)},
			{Name: "c1", Kinds: jobring.Kinds(0), Do: doer(1, nil)},
			{Name: "dev", Class: jobring.Coprocessor, Kinds: jobring.Kinds(1), Do: doer(2, nil)},
		},
	})
	waitFor(t, "3 parked workers", 5*time.Second, func() bool { return r.ParkedWorkers() == 3 })
	r.TrySubmit(jobring.Task[uint64]{Kind: 1, Job: 7})
	got := collect(t, r, 1, 5*time.Second)
	if got[0].Worker != 2 || got[0].Result.Val != val(7) {
		t.Errorf("completion %+v, want job 7 run by dev", got[0])
	}
	waitFor(t, "3 parked workers again", 5*time.Second, func() bool { return r.ParkedWorkers() == 3 })
}

// TestSubmitBlocksUntilRetired: a full ring makes Submit wait until a
// retirement frees a slot, or until its context ends.
func TestSubmitBlocksUntilRetired(t *testing.T) {
	r := newRing(t, cfg{Slots: 4, Workers: []wk{{Name: "c", Kinds: jobring.Kinds(0), Do: doer(0, nil)}}})
	for i := range 4 {
		if _, ok := r.TrySubmit(jobring.Task[uint64]{Job: uint64(i)}); !ok {
			t.Fatalf("TrySubmit %d failed", i)
		}
	}
	if _, ok := r.TrySubmit(jobring.Task[uint64]{Job: 4}); ok {
		t.Fatal("TrySubmit succeeded on a full ring")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := r.Submit(ctx, jobring.Task[uint64]{Job: 4}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Submit on a full ring: %v, want DeadlineExceeded", err)
	}
	res := make(chan error)
	go func() {
		_, err := r.Submit(context.Background(), jobring.Task[uint64]{Job: 4})
		res <- err
	}()
	time.Sleep(2 * time.Millisecond)
	got := collect(t, r, 2, time.Second)
	checkInOrder(t, got, 0)
	if err := <-res; err != nil {
		t.Fatal(err)
	}
	checkInOrder(t, collect(t, r, 3, time.Second), 2)
}

// TestNewErrors: bad configurations are errors naming what was wrong.
func TestNewErrors(t *testing.T) {
	ok := func(context.Context, jobring.Kind, *uint64, *res) error { return nil }
	cases := map[string]cfg{
		"no slots":      {Slots: 0},
		"huge":          {Slots: 1<<30 + 1},
		"no Do":         {Slots: 4, Workers: []wk{{Name: "x"}}},
		"bad class":     {Slots: 4, Workers: []wk{{Class: 7, Do: ok}}},
		"negative":      {Slots: 4, Workers: []wk{{Batch: -1, Do: ok}}},
		"bad rule kind": {Slots: 4, Rules: jobring.Rules{Kinds: []jobring.KindRule{{Kind: 64}}}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if r, err := jobring.New(c); !errors.Is(err, jobring.ErrConfig) {
				if r != nil {
					r.Close()
				}
				t.Errorf("New = %v, want ErrConfig", err)
			}
		})
	}
}

// TestSubmitAll: SubmitAll submits more tasks than the ring holds, waiting
// for room between bursts, and stops with the context's error.
func TestSubmitAll(t *testing.T) {
	r := newRing(t, cfg{Slots: 8, Workers: []wk{{Name: "c", Kinds: jobring.Kinds(0), Do: doer(0, nil)}}})
	ts := make([]jobring.Task[uint64], 100)
	for i := range ts {
		ts[i].Job = uint64(i)
	}
	res := make(chan error, 1)
	go func() {
		n, err := r.SubmitAll(context.Background(), ts)
		if n != len(ts) && err == nil {
			err = errors.New("short count without an error")
		}
		res <- err
	}()
	checkInOrder(t, collect(t, r, 100, 5*time.Second), 0)
	if err := <-res; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if n, err := r.SubmitAll(ctx, ts); n != 8 || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("SubmitAll with nobody retiring = %d, %v; want 8, DeadlineExceeded", n, err)
	}
}

// TestShutdownHungDo: a Do that does not return (it ignores its context)
// does not keep Shutdown from returning when its context ends: Shutdown
// returns the context's error, naming the worker still running, and fails
// the jobs no worker started with ErrClosed. Once the Do returns, its job
// completes, the worker ends, and a later Close waits for that.
func TestShutdownHungDo(t *testing.T) {
	defer goleak.VerifyNone(t)
	release, started := make(chan struct{}), make(chan struct{})
	hook := func(_ jobring.Kind, job uint64) {
		if job == 0 {
			close(started)
			<-release
		}
	}
	var mu sync.Mutex
	var got []completion
	r, err := jobring.New(cfg{
		Slots:    16,
		Workers:  []wk{{Name: "stuck", Kinds: jobring.Kinds(0), Batch: 1, Do: doer(0, hook)}},
		OnRetire: func(b []completion) { mu.Lock(); got = append(got, b...); mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	const n = 4
	for i := range n {
		r.TrySubmit(jobring.Task[uint64]{Job: uint64(i)})
	}
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	res := make(chan error, 1)
	go func() { res <- r.Shutdown(ctx) }()
	select {
	case err := <-res:
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), `"stuck"`) {
			t.Errorf("Shutdown = %v, want DeadlineExceeded naming the worker still running", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("Shutdown did not return when its context ended")
		close(release)
		<-res
		return
	}
	for p := 1; p < n; p++ {
		if s, _ := r.SlotState(uint64(p)); s != "done" {
			t.Errorf("after Shutdown, waiting job %d is %s, want done (failed)", p, s)
		}
	}
	close(release)
	if err := r.Close(); err != nil {
		t.Fatalf("Close after the Do returned: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != n {
		t.Fatalf("%d completions, want %d", len(got), n)
	}
	checkInOrder(t, got, 0)
	for _, c := range got {
		if want := c.Seq != 0; want != errors.Is(c.Err, jobring.ErrClosed) {
			t.Errorf("seq %d: err %v; want the running job done and the others ErrClosed", c.Seq, c.Err)
		}
	}
}

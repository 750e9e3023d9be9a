package jobring_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringkit/ringkit/internal/stress"
	"github.com/ringkit/ringkit/jobring"
)

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// claimedBy waits until some job in [0, n) is claimed by worker w.
func claimedBy(t *testing.T, r *jobring.Ring[uint64, res], n, w int) {
	waitFor(t, "a claimed job", 5*time.Second, func() bool {
		for p := range n {
			if s, who := r.SlotState(uint64(p)); s == "claimed" && who == w {
				return true
			}
		}
		return false
	})
}

// TestStopWorkerRequeues stops a co-processor while it holds a batch in
// its modelled latency: another co-processor runs those jobs, and every
// job completes without error, in order.
func TestStopWorkerRequeues(t *testing.T) {
	r := newRing(t, cfg{
		Slots: 64,
		Workers: []wk{
			{Name: "dev0", Class: jobring.Coprocessor, Kinds: jobring.Kinds(0), Batch: 8, Setup: 50 * time.Millisecond, Do: doer(0, nil)},
			{Name: "dev1", Class: jobring.Coprocessor, Kinds: jobring.Kinds(0), Batch: 8, Setup: time.Millisecond, Do: doer(1, nil)},
		},
	})
	const n = 48
	for i := range n {
		r.TrySubmit(jobring.Task[uint64]{Job: uint64(i)})
	}
	claimedBy(t, r, n, 0)
	if err := r.StopWorker(0); err != nil {
		t.Fatal(err)
	}
	got := collect(t, r, n, 10*time.Second)
	checkInOrder(t, got, 0)
	for _, c := range got {
		if c.Err != nil || c.Worker != 1 {
			t.Errorf("seq %d: worker %d err %v; want every job run by dev1", c.Seq, c.Worker, c.Err)
		}
	}
	st := r.Stats().Workers[0]
	if !st.Stopped || st.Requeued == 0 || st.Jobs != 0 {
		t.Errorf("dev0 stats %+v: want stopped, jobs handed back, none run", st)
	}
}

// TestStopOnlyWorkerFails stops the only worker of a kind mid-batch: its
// claimed jobs fail with ErrWorkerStopped, the waiting ones and later
// submissions with ErrNoWorker; the producer sees every one.
func TestStopOnlyWorkerFails(t *testing.T) {
	r := newRing(t, cfg{
		Slots: 64,
		Workers: []wk{
			{Name: "dev", Class: jobring.Coprocessor, Kinds: jobring.Kinds(0), Batch: 8, Setup: time.Hour, Do: doer(0, nil)},
			{Name: "core", Kinds: jobring.Kinds(1), Do: doer(1, nil)},
		},
	})
	ts := make([]jobring.Task[uint64], 20)
	for i := range ts {
		ts[i].Job = uint64(i)
	}
	r.SubmitBurst(ts)
	claimedBy(t, r, 20, 0)
	time.Sleep(10 * time.Millisecond) // let the batch's claim finish
	claimed := 0
	for p := range 20 {
		if s, _ := r.SlotState(uint64(p)); s == "claimed" {
			claimed++
		}
	}
	if err := r.StopWorker(0); err != nil {
		t.Fatal(err)
	}
	r.TrySubmit(jobring.Task[uint64]{Job: 20})
	r.TrySubmit(jobring.Task[uint64]{Kind: 1, Job: 21})
	got := collect(t, r, 22, 5*time.Second)
	checkInOrder(t, got, 0)
	var stopped, noWorker int
	for _, c := range got[:21] {
		switch {
		case errors.Is(c.Err, jobring.ErrWorkerStopped):
			stopped++
		case errors.Is(c.Err, jobring.ErrNoWorker):
			noWorker++
		default:
			t.Errorf("seq %d: err %v, want ErrWorkerStopped or ErrNoWorker", c.Seq, c.Err)
		}
	}
	if stopped != claimed || noWorker != 21-claimed {
		t.Errorf("%d ErrWorkerStopped and %d ErrNoWorker, want %d (the claimed batch) and %d", stopped, noWorker, claimed, 21-claimed)
	}
	if c := got[21]; c.Err != nil || c.Worker != 1 {
		t.Errorf("kind 1 job: worker %d err %v, want the core", c.Worker, c.Err)
	}
	if err := r.StopWorker(5); !errors.Is(err, jobring.ErrUnknownWorker) {
		t.Errorf("StopWorker(5) = %v, want ErrUnknownWorker", err)
	}
}

// TestPanicStopsWorker: a Do that panics fails its job with ErrPanic and
// its worker stops; the rest of its batch, and later jobs, go to a core
// through the fallback (no holder of the kind is left).
func TestPanicStopsWorker(t *testing.T) {
	bad := doer(0, nil)
	r := newRing(t, cfg{
		Slots: 64,
		Rules: jobring.Rules{Fallbacks: []jobring.Fallback{{Kind: 0}}},
		Workers: []wk{
			{Name: "bad", Kinds: jobring.Kinds(0), Batch: 8, Do: func(ctx context.Context, k jobring.Kind, j *uint64, v *res) error {
				if *j == 2 {
					panic("bad job")
				}
				return bad(ctx, k, j, v)
			}},
			{Name: "good", Kinds: jobring.Kinds(1), Do: doer(1, nil)},
		},
	})
	ts := make([]jobring.Task[uint64], 8)
	for i := range ts {
		ts[i].Job = uint64(i)
	}
	r.SubmitBurst(ts)
	if _, err := r.Submit(context.Background(), jobring.Task[uint64]{Job: 8}); err != nil {
		t.Fatal(err)
	}
	got := collect(t, r, 9, 5*time.Second)
	checkInOrder(t, got, 0)
	for _, c := range got {
		switch {
		case c.Seq < 2 && (c.Err != nil || c.Worker != 0):
			t.Errorf("seq %d: worker %d err %v, want run by bad", c.Seq, c.Worker, c.Err)
		case c.Seq == 2 && !errors.Is(c.Err, jobring.ErrPanic):
			t.Errorf("seq 2: err %v, want ErrPanic", c.Err)
		case c.Seq > 2 && (c.Err != nil || c.Worker != 1):
			t.Errorf("seq %d: worker %d err %v, want run by good", c.Seq, c.Worker, c.Err)
		}
	}
	if st := r.Stats().Workers[0]; !st.Stopped || st.Failed != 1 {
		t.Errorf("bad's stats %+v: want stopped with one failure", st)
	}
}

// TestRunningJobFinishes: a core stopped while running a job finishes it;
// the jobs it claimed behind it go to the other core.
func TestRunningJobFinishes(t *testing.T) {
	gate := make(chan struct{})
	started := make(chan struct{}, 1)
	hook := func(k jobring.Kind, job uint64) {
		if job == 0 {
			started <- struct{}{}
			<-gate
		}
	}
	r := newRing(t, cfg{
		Slots: 64,
		Workers: []wk{
			{Name: "c0", Kinds: jobring.Kinds(0), Batch: 8, Do: doer(0, hook)},
			{Name: "c1", Kinds: jobring.Kinds(1), Do: doer(1, nil)},
		},
		Rules: jobring.Rules{Fallbacks: []jobring.Fallback{{Kind: 0}}},
	})
	ts := make([]jobring.Task[uint64], 8)
	for i := range ts {
		ts[i].Job = uint64(i)
	}
	r.SubmitBurst(ts)
	<-started
	stopped := make(chan error)
	go func() { stopped <- r.StopWorker(0) }()
	time.Sleep(5 * time.Millisecond)
	close(gate)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	got := collect(t, r, 8, 5*time.Second)
	checkInOrder(t, got, 0)
	if got[0].Err != nil || got[0].Worker != 0 {
		t.Errorf("running job: worker %d err %v, want finished by c0", got[0].Worker, got[0].Err)
	}
	for _, c := range got[1:] {
		if c.Err != nil || c.Worker != 1 {
			t.Errorf("seq %d: worker %d err %v, want c1 through the fallback", c.Seq, c.Worker, c.Err)
		}
	}
}

// TestStopRacesSubmit stops the only worker while a producer submits: every
// job still comes back, run or failed with ErrWorkerStopped or ErrNoWorker,
// whichever side of the stop its submission fell on.
func TestStopRacesSubmit(t *testing.T) {
	for round := range stress.N(200, 30) {
		r, err := jobring.New(cfg{Slots: 32, Workers: []wk{{Name: "c", Kinds: jobring.Kinds(0), Batch: 4, Do: doer(0, nil)}}})
		if err != nil {
			t.Fatal(err)
		}
		const n = 64
		go func() {
			for i := range n {
				if _, err := r.Submit(context.Background(), jobring.Task[uint64]{Job: uint64(i)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		go func() {
			time.Sleep(time.Duration(round%20) * time.Microsecond)
			r.StopWorker(0)
		}()
		got := collect(t, r, n, 5*time.Second)
		checkInOrder(t, got, 0)
		for _, c := range got {
			if c.Err != nil && !errors.Is(c.Err, jobring.ErrWorkerStopped) && !errors.Is(c.Err, jobring.ErrNoWorker) {
				t.Fatalf("round %d seq %d: %v", round, c.Seq, c.Err)
			}
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDoError: an error from Do is the job's result: the job retires in
// order with that error, the worker goes on, and the counts show it.
func TestDoError(t *testing.T) {
	errOdd := errors.New("odd job")
	r := newRing(t, cfg{
		Slots: 16,
		Rules: jobring.Rules{Kinds: []jobring.KindRule{{Kind: 0, Name: "even-only"}}},
		Workers: []wk{{Name: "c", Kinds: jobring.Kinds(0), Do: func(ctx context.Context, k jobring.Kind, j *uint64, v *res) error {
			if *j%2 == 1 {
				return fmt.Errorf("job %d: %w", *j, errOdd)
			}
			return doer(0, nil)(ctx, k, j, v)
		}}},
		SampleEvery: 1,
	})
	ts := make([]jobring.Task[uint64], 10)
	for i := range ts {
		ts[i].Job = uint64(i)
	}
	r.SubmitBurst(ts)
	got := collect(t, r, 10, 5*time.Second)
	checkInOrder(t, got, 0)
	for _, c := range got {
		if odd := c.Job%2 == 1; odd != errors.Is(c.Err, errOdd) {
			t.Errorf("seq %d: err %v", c.Seq, c.Err)
		}
	}
	st := r.Stats()
	if w := st.Workers[0]; w.Jobs != 10 || w.Failed != 5 || w.Stopped {
		t.Errorf("worker stats %+v: want 10 jobs, 5 failed, still running", w)
	}
	if k := st.Kinds[0]; k.Name != "even-only" || k.Done != 5 || k.Failed != 5 || k.Samples != 10 || k.P50 <= 0 || k.P99 < k.P50 {
		t.Errorf("kind stats %+v: want 5 done, 5 failed, 10 latency samples", k)
	}
}

// TestStopCancelsDo: StopWorker cancels the context of the Do its worker
// is running; a Do that honours it returns, StopWorker returns, and the
// interrupted job goes back to the ring, as the worker's unstarted jobs
// do, for another worker (here a core, through the fallback).
func TestStopCancelsDo(t *testing.T) {
	started, escape := make(chan struct{}, 1), make(chan struct{})
	r := newRing(t, cfg{
		Slots: 16,
		Rules: jobring.Rules{Fallbacks: []jobring.Fallback{{Kind: 0}}},
		Workers: []wk{
			{Name: "dev", Class: jobring.Coprocessor, Kinds: jobring.Kinds(0), Batch: 4, Do: func(ctx context.Context, k jobring.Kind, j *uint64, v *res) error {
				if *j == 0 {
					started <- struct{}{}
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-escape: // the test gave up on the context
					}
				}
				return doer(0, nil)(ctx, k, j, v)
			}},
			{Name: "core", Kinds: jobring.Kinds(1), Do: doer(1, nil)},
		},
	})
	const n = 4
	for i := range n {
		r.TrySubmit(jobring.Task[uint64]{Job: uint64(i)})
	}
	<-started
	stopped := make(chan error, 1)
	go func() { stopped <- r.StopWorker(0) }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		close(escape)
		t.Fatal("StopWorker did not return: the running Do's context was not cancelled")
	}
	got := collect(t, r, n, 5*time.Second)
	checkInOrder(t, got, 0)
	for _, c := range got {
		if c.Err != nil || c.Worker != 1 {
			t.Errorf("seq %d: worker %d err %v; want every job run by the core", c.Seq, c.Worker, c.Err)
		}
	}
	// The interrupted job and the unstarted ones of dev's batch went back:
	// at least the one interrupted, at most all n (how many dev had
	// claimed depends on how far the submissions were when it looked).
	if st := r.Stats().Workers[0]; st.Requeued < 1 || st.Requeued > n {
		t.Errorf("dev's stats %+v: want the interrupted job and the unstarted ones of its batch (1 to %d) handed back", st, n)
	}
}

// TestRetryOnCore: with Fallback.Retry, a job whose Do fails on a
// co-processor goes back to the ring, once, for a core, which runs it
// whatever the backlog (the co-processor never takes it again); without
// Retry, or with no live core, the co-processor's error is the job's.
func TestRetryOnCore(t *testing.T) {
	errDev := errors.New("device refused the job")
	for _, tc := range []struct {
		name        string
		retry, core bool
	}{{"retry", true, true}, {"no retry", false, true}, {"retry without a core", true, false}} {
		t.Run(tc.name, func(t *testing.T) {
			var devRuns, coreRuns [12]atomic.Int32
			r := newRing(t, cfg{
				Slots: 32,
				Rules: jobring.Rules{Fallbacks: []jobring.Fallback{{Kind: 0, Threshold: 32, Retry: tc.retry}}},
				Workers: []wk{
					{Name: "dev", Class: jobring.Coprocessor, Kinds: jobring.Kinds(0), Batch: 4, Do: func(ctx context.Context, k jobring.Kind, j *uint64, v *res) error {
						devRuns[*j].Add(1)
						if *j%3 == 0 {
							return fmt.Errorf("job %d: %w", *j, errDev)
						}
						return doer(0, nil)(ctx, k, j, v)
					}},
					{Name: "core", Kinds: jobring.Kinds(1), Do: doer(1, func(_ jobring.Kind, j uint64) { coreRuns[j].Add(1) })},
				},
			})
			if !tc.core {
				if err := r.StopWorker(1); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 12 {
				r.TrySubmit(jobring.Task[uint64]{Job: uint64(i)})
			}
			got := collect(t, r, 12, 5*time.Second)
			checkInOrder(t, got, 0)
			retried := 0
			for _, c := range got {
				failing := c.Job%3 == 0
				switch {
				case failing && tc.retry && tc.core:
					if c.Err != nil || c.Worker != 1 || devRuns[c.Job].Load() != 1 || coreRuns[c.Job].Load() != 1 {
						t.Errorf("seq %d: worker %d err %v, runs dev %d core %d; want one failed run on dev, then one on the core", c.Seq, c.Worker, c.Err, devRuns[c.Job].Load(), coreRuns[c.Job].Load())
					}
					retried++
				case failing:
					if !errors.Is(c.Err, errDev) || c.Worker != 0 || coreRuns[c.Job].Load() != 0 {
						t.Errorf("seq %d: worker %d err %v; want dev's error, final", c.Seq, c.Worker, c.Err)
					}
				default:
					if c.Err != nil || c.Worker != 0 {
						t.Errorf("seq %d: worker %d err %v; want run by dev (the backlog never reached the threshold)", c.Seq, c.Worker, c.Err)
					}
				}
			}
			if st := r.Stats().Workers[0]; st.Retried != uint64(retried) {
				t.Errorf("dev's stats %+v: want %d retried", st, retried)
			}
		})
	}
}

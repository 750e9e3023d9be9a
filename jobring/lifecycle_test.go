package jobring

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func callerRing(t *testing.T, workers ...Worker[int, int]) *Ring[int, int] {
	t.Helper()
	r, err := New(Config[int, int]{
		Slots:      64,
		Rules:      Rules{Kinds: []KindRule{{Kind: 0}}},
		Workers:    workers,
		CallerRuns: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func double(_ context.Context, _ Kind, j *int, res *int) error { *res = 2 * *j; return nil }

// TestStepWorkerDrivesJobs runs a ring with no goroutine of its own: the
// test submits, steps the worker and retires, and every step does exactly
// what was waiting.
func TestStepWorkerDrivesJobs(t *testing.T) {
	r := callerRing(t, Worker[int, int]{Name: "core", Class: Core, Kinds: Kinds(0), Batch: 4, Do: double})
	if n, err := r.StepWorker(0); n != 0 || err != nil {
		t.Fatalf("StepWorker on an empty ring = %d, %v; want 0, nil", n, err)
	}
	for i := range 6 {
		if _, ok := r.TrySubmit(Task[int]{Kind: 0, Job: i}); !ok {
			t.Fatalf("TrySubmit %d refused", i)
		}
	}
	time.Sleep(10 * time.Millisecond)
	if got := r.Retire(make([]Completion[int, int], 8)); got != 0 {
		t.Fatalf("%d jobs done before any step: a goroutine runs the worker", got)
	}
	if n, err := r.StepWorker(0); n != 4 || err != nil {
		t.Fatalf("first step = %d, %v; want a batch of 4", n, err)
	}
	if n, err := r.StepWorker(0); n != 2 || err != nil {
		t.Fatalf("second step = %d, %v; want the 2 left", n, err)
	}
	dst := make([]Completion[int, int], 8)
	got := r.Retire(dst)
	if got != 6 {
		t.Fatalf("retired %d, want 6", got)
	}
	for i, c := range dst[:got] {
		if c.Err != nil || c.Result != 2*i {
			t.Fatalf("job %d: result %d, err %v", i, c.Result, c.Err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if _, err := r.StepWorker(0); !errors.Is(err, ErrClosed) {
		t.Fatalf("StepWorker after Close = %v, want ErrClosed", err)
	}
}

// TestRunWorkerLifecycle runs the worker on a goroutine the test owns:
// RunWorker returns ctx.Err() when its context ends, refuses a second run,
// and Close waits for a RunWorker to finish the submitted jobs.
func TestRunWorkerLifecycle(t *testing.T) {
	r := callerRing(t,
		Worker[int, int]{Name: "a", Class: Core, Kinds: Kinds(0), Do: double},
		Worker[int, int]{Name: "b", Class: Core, Kinds: Kinds(0), Do: double},
	)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- r.RunWorker(ctx, 0) }()
	for r.workers[0].mode.Load() != wRunning {
		time.Sleep(100 * time.Microsecond)
	}
	if err := r.RunWorker(context.Background(), 0); !errors.Is(err, ErrWorkerBusy) {
		t.Fatalf("a second RunWorker = %v, want ErrWorkerBusy", err)
	}
	if _, err := r.StepWorker(0); !errors.Is(err, ErrWorkerBusy) {
		t.Fatalf("StepWorker of a running worker = %v, want ErrWorkerBusy", err)
	}
	if _, err := r.Submit(context.Background(), Task[int]{Kind: 0, Job: 21}); err != nil {
		t.Fatal(err)
	}
	dst := make([]Completion[int, int], 1)
	if n, err := r.RetireWait(context.Background(), dst); n != 1 || err != nil || dst[0].Result != 42 {
		t.Fatalf("RetireWait = %d, %v, %+v", n, err, dst[0])
	}
	cancel()
	if err := <-ran; !errors.Is(err, context.Canceled) {
		t.Fatalf("RunWorker after its context ended = %v, want context.Canceled", err)
	}
	if err := r.RunWorker(context.Background(), 0); !errors.Is(err, ErrWorkerStopped) {
		t.Fatalf("RunWorker of an ended worker = %v, want ErrWorkerStopped", err)
	}

	// Worker b drains what was submitted before Close; Close waits for it.
	var wg sync.WaitGroup
	var runErr error
	wg.Go(func() { runErr = r.RunWorker(context.Background(), 1) })
	for r.workers[1].mode.Load() != wRunning {
		time.Sleep(100 * time.Microsecond)
	}
	for i := range 20 {
		if _, err := r.Submit(context.Background(), Task[int]{Kind: 0, Job: i}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	wg.Wait()
	if runErr != nil {
		t.Fatalf("RunWorker after Close = %v, want nil", runErr)
	}
	done := make([]Completion[int, int], 32)
	n := r.Retire(done)
	if n != 20 {
		t.Fatalf("retired %d after Close, want the 20 submitted", n)
	}
	for i, c := range done[:n] {
		if c.Err != nil || c.Result != 2*i {
			t.Fatalf("job %d: %d, %v", i, c.Result, c.Err)
		}
	}
}

// TestCallerRunsCloseEndsIdleWorkers closes a ring whose workers nobody
// runs: Close returns, and the jobs only they could take fail.
func TestCallerRunsCloseEndsIdleWorkers(t *testing.T) {
	r := callerRing(t, Worker[int, int]{Name: "idle", Class: Core, Kinds: Kinds(0), Do: double})
	if _, ok := r.TrySubmit(Task[int]{Kind: 0, Job: 1}); !ok {
		t.Fatal("TrySubmit refused")
	}
	closed := make(chan error, 1)
	go func() { closed <- r.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close waited for a worker nobody runs")
	}
	dst := make([]Completion[int, int], 1)
	if n := r.Retire(dst); n != 1 || dst[0].Err == nil {
		t.Fatalf("the job nobody ran: retired %d, err %v; want it failed", n, dst[0].Err)
	}
	if err := r.StopWorker(0); err != nil {
		t.Fatalf("StopWorker of an ended worker = %v", err)
	}
}

func TestCallerRunsRefusedOnOwnGoroutines(t *testing.T) {
	r, err := New(Config[int, int]{Slots: 8, Rules: Rules{Kinds: []KindRule{{Kind: 0}}},
		Workers: []Worker[int, int]{{Name: "w", Class: Core, Kinds: Kinds(0), Do: double}}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.StepWorker(0); !errors.Is(err, ErrConfig) {
		t.Fatalf("StepWorker on a ring with its own goroutines = %v, want ErrConfig", err)
	}
	if err := r.RunWorker(context.Background(), 0); !errors.Is(err, ErrConfig) {
		t.Fatalf("RunWorker on a ring with its own goroutines = %v, want ErrConfig", err)
	}
	cr := callerRing(t, Worker[int, int]{Name: "w", Class: Core, Kinds: Kinds(0), Do: double})
	defer cr.Close()
	if _, err := cr.StepWorker(3); !errors.Is(err, ErrUnknownWorker) {
		t.Fatalf("StepWorker(3) = %v, want ErrUnknownWorker", err)
	}
}

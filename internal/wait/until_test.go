package wait

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var errTest = errors.New("test: over")

func TestUntilReturnsTrysError(t *testing.T) {
	var q Queue
	calls := 0
	err := Until(context.Background(), &q, func() (bool, error) {
		calls++
		return calls == 3, errTest
	})
	if !errors.Is(err, errTest) || calls != 3 {
		t.Fatalf("Until = %v after %d calls, want errTest after 3", err, calls)
	}
	if q.Waiting() {
		t.Fatal("a registration was left behind")
	}
}

// waitParked waits until n goroutines are parked on q.
func waitParked(t *testing.T, q *Queue, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for q.Parked() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines parked, want %d", q.Parked(), n)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func TestUntilParksAndWakes(t *testing.T) {
	var q Queue
	var ready atomic.Bool
	done := make(chan error, 1)
	go func() {
		done <- Until(context.Background(), &q, func() (bool, error) { return ready.Load(), nil })
	}()
	waitParked(t, &q, 1)
	ready.Store(true)
	if q.Waiting() {
		q.Wake(1)
	}
	if err := <-done; err != nil {
		t.Fatalf("Until = %v, want nil", err)
	}
	if q.Waiting() || q.Parked() != 0 {
		t.Fatalf("after the wait: Waiting %v, Parked %d", q.Waiting(), q.Parked())
	}
}

func TestUntilEndsWithContextAndStop(t *testing.T) {
	var q Queue
	never := func() (bool, error) { return false, nil }
	ctx, cancel := context.WithCancel(context.Background())
	stop := make(chan struct{})
	errs := make(chan error, 2)
	go func() { errs <- Until(ctx, &q, never) }()
	go func() { errs <- UntilClosed(&q, stop, never) }()
	waitParked(t, &q, 2)
	cancel()
	if err := <-errs; !errors.Is(err, context.Canceled) {
		t.Fatalf("Until after cancel = %v, want context.Canceled", err)
	}
	close(stop)
	if err := <-errs; !errors.Is(err, ErrStopped) {
		t.Fatalf("UntilClosed after stop = %v, want ErrStopped", err)
	}
	if q.Waiting() || q.Parked() != 0 {
		t.Fatalf("after both ended: Waiting %v, Parked %d", q.Waiting(), q.Parked())
	}
	if err := UntilClosed(&q, stop, never); !errors.Is(err, ErrStopped) {
		t.Fatalf("UntilClosed on a closed stop = %v, want ErrStopped", err)
	}
}

// TestUntilLosesNoWake runs consumers that wait for tokens with Until while
// a producer publishes them one at a time and wakes one waiter per token.
// Some consumers give up at random moments (their contexts end); a wake
// given to one of those must reach another waiter, or the last tokens are
// never taken (nobody is awake to take them) and the stayers time out.
func TestUntilLosesNoWake(t *testing.T) {
	tokens, quitters, stayers := 4000, 8, 4
	if testing.Short() {
		tokens = 500
	}
	var q Queue
	var avail, taken atomic.Int64
	take := func() (bool, error) {
		for {
			n := avail.Load()
			if n == 0 {
				return taken.Load() == int64(tokens), nil // all gone: stop waiting
			}
			if avail.CompareAndSwap(n, n-1) {
				if taken.Add(1) == int64(tokens) {
					q.WakeAll() // the end is progress too: the parked re-check
				}
				return true, nil
			}
		}
	}
	var wg sync.WaitGroup
	for i := range quitters {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			for taken.Load() < int64(tokens) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rng.IntN(400))*time.Microsecond)
				_ = Until(ctx, &q, take)
				cancel()
			}
		})
	}
	for range stayers {
		wg.Go(func() {
			for taken.Load() < int64(tokens) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				err := Until(ctx, &q, take)
				cancel()
				if err != nil {
					t.Errorf("a consumer waited 5s with %d tokens published and %d taken: a wake was lost", tokens, taken.Load())
					return
				}
			}
		})
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for range tokens {
		// Publish at a pace that lets consumers park between tokens.
		time.Sleep(time.Duration(rng.IntN(100)) * time.Microsecond)
		avail.Add(1)
		if q.Waiting() {
			q.Wake(1)
		}
	}
	wg.Wait()
	if got := taken.Load(); got != int64(tokens) {
		t.Fatalf("taken %d of %d tokens", got, tokens)
	}
}

// TestUntilHandsOnAWake wakes the oldest waiter and ends its context at the
// same moment. Either it takes the element it was woken for, or it gives up
// and its wake must reach the next waiter, which then takes the element.
func TestUntilHandsOnAWake(t *testing.T) {
	rounds := 300
	if testing.Short() {
		rounds = 50
	}
	var q Queue
	var avail atomic.Int64
	take := func() (bool, error) {
		for {
			n := avail.Load()
			if n == 0 {
				return false, nil
			}
			if avail.CompareAndSwap(n, n-1) {
				return true, nil
			}
		}
	}
	// With one P, A does not run until this goroutine blocks: the wake and
	// the end of its context both reach it while it is parked.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	handedOn := 0
	for round := range rounds {
		ctxA, cancelA := context.WithCancel(context.Background())
		a, b := make(chan error, 1), make(chan error, 1)
		go func() { a <- Until(ctxA, &q, take) }()
		waitParked(t, &q, 1)
		go func() { b <- Until(context.Background(), &q, take) }()
		waitParked(t, &q, 2)
		if round%2 == 0 {
			// A's select is decided for its context before the wake
			// arrives; the wake is still A's (it has not unlinked yet).
			cancelA()
			avail.Add(1)
			q.Wake(1)
		} else {
			avail.Add(1)
			q.Wake(1) // decides A's select for the wake
			cancelA()
		}
		if err := <-a; err == nil {
			avail.Add(1) // A took it; release B with another
			q.Wake(1)
		} else {
			handedOn++
		}
		select {
		case err := <-b:
			if err != nil {
				t.Fatalf("B = %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("A gave up after it was woken, and B was never woken for the element left")
		}
		if n := avail.Load(); n != 0 {
			t.Fatalf("%d elements left", n)
		}
	}
	t.Logf("A gave up and handed its wake on in %d of %d rounds", handedOn, rounds)
	if handedOn == 0 {
		t.Skip("A never gave up after its wake: the hand-on path was not exercised")
	}
}

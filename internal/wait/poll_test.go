package wait

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// Loop ends with nil when stop closes and with ctx.Err() when ctx ends,
// whether it is busy or idle at that moment.
func TestLoopEnds(t *testing.T) {
	for _, busy := range []bool{false, true} {
		stop := make(chan struct{})
		var steps atomic.Int64
		done := make(chan error, 1)
		go func() {
			done <- Loop(context.Background(), stop, time.Millisecond, func() (int, error) {
				steps.Add(1)
				if busy {
					return 1, nil
				}
				return 0, nil
			})
		}()
		for steps.Load() < 200 {
			time.Sleep(time.Millisecond)
		}
		close(stop)
		if err := <-done; err != nil {
			t.Fatalf("busy=%v: Loop after stop = %v, want nil", busy, err)
		}

		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			done <- Loop(ctx, nil, time.Millisecond, func() (int, error) {
				if busy {
					return 1, nil
				}
				return 0, nil
			})
		}()
		time.Sleep(5 * time.Millisecond)
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("busy=%v: Loop after cancel = %v, want context.Canceled", busy, err)
		}
	}
}

// A step's error ends the loop with that error.
func TestLoopStepError(t *testing.T) {
	boom := errors.New("boom")
	n := 0
	err := Loop(context.Background(), nil, 0, func() (int, error) {
		n++
		if n == 3 {
			return 0, boom
		}
		return 0, nil
	})
	if err != boom || n != 3 {
		t.Fatalf("Loop = %v after %d steps, want boom after 3", err, n)
	}
}

// An idle loop backs off to sleeps of up to Max: over 50 ms it takes far
// fewer rounds than a busy loop would, and at least 50ms/Max of them.
func TestPollerBacksOff(t *testing.T) {
	p := Poller{Max: time.Millisecond}
	defer p.Stop()
	ctx := context.Background()
	start := time.Now()
	rounds := 0
	for time.Since(start) < 50*time.Millisecond {
		if err := p.Idle(ctx, nil); err != nil {
			t.Fatal(err)
		}
		rounds++
	}
	// pollAgain + pollYield rounds, then sleeps doubling to 1 ms: about
	// 128 + 10 + 40 rounds. A loop that never slept would do millions.
	if rounds > 5000 {
		t.Fatalf("idle Poller did %d rounds in 50 ms: it does not sleep", rounds)
	}
	if rounds < pollAgain+pollYield+20 {
		t.Fatalf("idle Poller did %d rounds in 50 ms: it sleeps longer than Max", rounds)
	}
	p.Busy()
	if p.idle != 0 {
		t.Fatal("Busy did not reset the back-off")
	}
}

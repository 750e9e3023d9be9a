package wait

import "context"

// Until is the wait of every blocking operation in ringkit. It calls try
// until try reports done, and returns try's error then; if ctx ends first it
// returns ctx.Err(). In between it spins with a Backoff, calling try after
// each round, and once the busy phase is over it parks on q: it registers
// (Prepare), calls try again (the re-check that pairs with the other side's
// Waiting after it publishes), and only then waits for a wake or ctx.Done().
// A waiter that leaves after it was woken hands its wake on (Queue.Cancel),
// so no wake-up is lost when a woken waiter gives up.
//
// try must be cheap to call again and must make the attempt itself (take
// an element, claim a slot) rather than only look, so that a waiter woken
// for one element takes it; it reports done with a nil error on success,
// or done with an error (ErrClosed, say) when waiting is over without one.
// The side that makes progress calls q.Wake or q.WakeAll after it
// publishes, when q.Waiting().
//
// The caller makes its first attempt before calling Until, so that the
// fast path costs no call and no closure.
func Until(ctx context.Context, q *Queue, try func() (bool, error)) error {
	return until(q, ctx.Done(), ctx.Err, try)
}

// UntilClosed is Until for a goroutine that a channel stops rather than a
// context: it returns ErrStopped once stop is closed (at once if it is
// closed already) unless try reports done first.
func UntilClosed(q *Queue, stop <-chan struct{}, try func() (bool, error)) error {
	return until(q, stop, func() error {
		select {
		case <-stop:
			return ErrStopped
		default:
			return nil
		}
	}, try)
}

func until(q *Queue, done <-chan struct{}, ended func() error, try func() (bool, error)) error {
	var b Backoff
	for b.Spin() {
		if ok, err := try(); ok {
			return err
		}
		if err := ended(); err != nil {
			return err
		}
	}
	for {
		w := q.Prepare()
		if ok, err := try(); ok {
			q.Cancel(w)
			return err
		}
		q.parked.Add(1)
		select {
		case <-w.C():
			// Woken: try again before looking at done, so that a wake
			// is always followed by an attempt and is never lost.
			q.parked.Add(-1)
			q.Done(w)
		case <-done:
			q.parked.Add(-1)
			q.Cancel(w) // hands on a wake that came meanwhile
			return ended()
		}
	}
}

// Parked returns the number of goroutines parked on q inside Until or
// UntilClosed at the moment of the call (registered, re-checked, and
// waiting for a wake), for tests and monitoring.
func (q *Queue) Parked() int { return int(q.parked.Load()) }

package sched

import (
	"context"
	"sync"
	"time"

	"github.com/ringkit/ringkit/internal/wait"
)

// origin is the reference of the monotonic clock Run steps with.
var origin = time.Now()

// Now returns the time Run passes to Step: the monotonic time since the
// package was initialised. A caller that mixes Step with Run on one port
// (one after the other, never at once) must step with Now too.
func Now() time.Duration { return time.Since(origin) }

// Run steps the port in real time on the caller's goroutine until ctx ends
// (it returns ctx.Err()) or Close (it returns nil), and returns once every
// goroutine it started has ended. While steps keep sending and neither the
// budget nor the sink stops them, it steps again at once, so a port at a
// high rate is not limited by a timer; when a step finds the queues empty
// it polls again, then yields, then sleeps, doubling the sleep up to a
// Quantum (internal/wait.Poller). A port stopped by its budget or its sink
// sleeps until the next Quantum and costs no CPU in between. In
// ModeParallel, Run starts the port's workers, allocates the budget every
// Quantum and signals them; each worker drains and polls the same way.
//
// Packets the port holds when Run returns stay held: Run again, or call
// Release (or Close) to hand them to OnDrop. Run returns ErrRunning if the
// port is already running.
func (p *Port) Run(ctx context.Context) error {
	if p.running.Swap(true) { // pairs with the Store(false) of the Run that holds the port
		return ErrRunning
	}
	defer p.running.Store(false)
	p.runMu.Lock() // Close waits for it
	defer p.runMu.Unlock()
	if p.life.Err() != nil {
		return nil
	}
	run, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(p.life, cancel)()
	var err error
	if p.par != nil {
		err = p.runParallel(run)
	} else {
		err = p.runSerial(run)
	}
	if p.life.Err() != nil {
		return nil // closed
	}
	return err
}

func (p *Port) runSerial(ctx context.Context) error {
	poll := wait.Poller{Max: p.cfg.Quantum}
	defer poll.Stop()
	for {
		sent := p.Step(Now())
		var err error
		switch {
		case p.blocked:
			// Out of budget, or the sink refused: nothing to do before
			// the next quantum.
			poll.Busy()
			err = poll.Sleep(ctx, nil, p.cfg.Quantum)
		case sent > 0:
			poll.Busy()
			err = ctx.Err()
		default:
			err = poll.Idle(ctx, nil)
		}
		if err != nil {
			return err
		}
	}
}

func (p *Port) runParallel(ctx context.Context) error {
	par := p.par
	var wg sync.WaitGroup
	wg.Add(len(par.workers))
	for _, w := range par.workers {
		go w.run(ctx, p, &par.pool, &wg)
	}
	defer wg.Wait()
	timer := time.NewTimer(p.cfg.Quantum)
	defer timer.Stop()
	for {
		now := Now()
		p.refill(now)
		par.allocate()
		p.win.advance(now, p.tcs, p.cfg.overhead)
		for _, w := range par.workers {
			select {
			case w.wake <- struct{}{}:
			default: // already signalled
			}
		}
		timer.Reset(p.cfg.Quantum)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
	}
}

// Close stops Run and waits for it to return, then hands every packet the
// port holds to OnDrop (Release). The queues are left as they are. Close is
// idempotent and returns nil.
func (p *Port) Close() error {
	p.closeLife()
	p.runMu.Lock() // Run has returned
	defer p.runMu.Unlock()
	p.Release()
	return nil
}

// Run runs every port in its own goroutine (Port.Run) until ctx ends, and
// returns once all of them have returned: ctx.Err(), or the first other
// error a port returned.
func Run(ctx context.Context, ports ...*Port) error {
	errs := make([]error, len(ports))
	var wg sync.WaitGroup
	wg.Add(len(ports))
	for i, p := range ports {
		go func() {
			defer wg.Done()
			errs[i] = p.Run(ctx)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && err != ctx.Err() {
			return err
		}
	}
	return ctx.Err()
}

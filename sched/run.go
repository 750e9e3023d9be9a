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

// Run steps the port in real time until ctx ends, then returns ctx.Err()
// once every goroutine it started has ended. While steps keep sending and
// neither the budget nor the sink stops them, it steps again at once, so a
// port at a high rate is not limited by the timer; when a step finds the
// queues empty it polls a few more times (spinning briefly, then yielding,
// as internal/wait.Backoff does) before it waits. A port stopped by its
// budget or its sink, or idle, waits on a timer for the next Quantum and
// costs no CPU in between. In ModeParallel, Run starts the port's workers,
// allocates the budget every Quantum and signals them; each worker drains
// and polls the same way.
//
// Packets the port holds when Run returns stay held: Run again, or call
// Release to hand them to OnDrop. Run returns ErrRunning if the port is
// already running.
func (p *Port) Run(ctx context.Context) error {
	if p.running.Swap(true) { // pairs with the Store(false) of the Run that holds the port
		return ErrRunning
	}
	defer p.running.Store(false)
	if p.par != nil {
		return p.runParallel(ctx)
	}
	timer := time.NewTimer(p.cfg.Quantum)
	defer timer.Stop()
	var b wait.Backoff
	for {
		sent := p.Step(Now())
		if err := ctx.Err(); err != nil {
			return err
		}
		if !p.blocked {
			if sent > 0 {
				b = wait.Backoff{}
				continue
			}
			if b.Spin() {
				continue
			}
		}
		b = wait.Backoff{}
		timer.Reset(p.cfg.Quantum)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
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

package wait

import (
	"context"
	"runtime"
	"time"
)

// Poller paces a loop that polls for work, as a DPDK lcore polls its rings:
// a classifier stage, a scheduler, a NIC engine. While rounds find work the
// loop runs flat out; after a round that found none, Idle polls again at
// once for a few rounds (work is usually a moment away), then yields the
// processor for a few more, then sleeps on a timer, doubling the sleep from
// a microsecond up to Max, so an idle loop costs almost no CPU and wakes
// within Max of work arriving. Busy resets it.
//
// The zero value sleeps up to DefaultMaxIdle. A Poller belongs to the one
// goroutine that runs the loop; Stop releases its timer.
type Poller struct {
	// Max is the longest sleep (DefaultMaxIdle if zero).
	Max time.Duration

	idle  int
	timer *time.Timer
}

// DefaultMaxIdle is the longest sleep of a Poller whose Max is zero.
const DefaultMaxIdle = 100 * time.Microsecond

const (
	pollAgain = 64 // idle rounds that poll again at once
	pollYield = 64 // then rounds that yield the processor first
)

// Busy records a round that found work.
func (p *Poller) Busy() { p.idle = 0 }

// Idle records a round that found no work and waits as the back-off says.
// It returns ctx.Err() if ctx ended, ErrStopped if stop was closed, and nil
// when the loop should poll again. stop may be nil.
func (p *Poller) Idle(ctx context.Context, stop <-chan struct{}) error {
	p.idle++
	switch {
	case p.idle <= pollAgain:
		return p.check(ctx, stop)
	case p.idle <= pollAgain+pollYield:
		runtime.Gosched()
		return p.check(ctx, stop)
	}
	d := time.Microsecond << min(p.idle-pollAgain-pollYield-1, 20)
	return p.Sleep(ctx, stop, min(d, p.max()))
}

// Sleep waits d, or until ctx ends (returning ctx.Err()) or stop is closed
// (returning ErrStopped). A loop that knows when its next work is due (a
// scheduler's next quantum) sleeps until then.
func (p *Poller) Sleep(ctx context.Context, stop <-chan struct{}, d time.Duration) error {
	if p.timer == nil {
		p.timer = time.NewTimer(d)
	} else {
		p.timer.Reset(d)
	}
	select {
	case <-ctx.Done():
		p.timer.Stop()
		return ctx.Err()
	case <-stop:
		p.timer.Stop()
		return ErrStopped
	case <-p.timer.C:
		return nil
	}
}

// Stop releases the Poller's timer.
func (p *Poller) Stop() {
	if p.timer != nil {
		p.timer.Stop()
	}
}

func (p *Poller) max() time.Duration {
	if p.Max > 0 {
		return p.Max
	}
	return DefaultMaxIdle
}

func (p *Poller) check(ctx context.Context, stop <-chan struct{}) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-stop:
		return ErrStopped
	default:
		return nil
	}
}

// ErrStopped is returned by Poller.Idle and Sleep when the loop's stop
// channel was closed: the loop's owner is closing it.
var ErrStopped = stopped{}

type stopped struct{}

func (stopped) Error() string { return "stopped" }

// Loop runs step until ctx ends (it returns ctx.Err()) or stop is closed
// (it returns nil; without a step if either has happened already), pacing rounds that move nothing with a Poller whose
// longest sleep is maxIdle (DefaultMaxIdle if zero). step returns the work
// it did; a step that returns an error ends the loop with that error.
func Loop(ctx context.Context, stop <-chan struct{}, maxIdle time.Duration, step func() (int, error)) error {
	p := Poller{Max: maxIdle}
	defer p.Stop()
	for {
		if err := p.check(ctx, stop); err != nil {
			return loopEnd(err)
		}
		n, err := step()
		if err != nil {
			return err
		}
		if n > 0 {
			p.Busy()
			continue
		}
		if err := p.Idle(ctx, stop); err != nil {
			return loopEnd(err)
		}
	}
}

func loopEnd(err error) error {
	if err == ErrStopped {
		return nil
	}
	return err
}

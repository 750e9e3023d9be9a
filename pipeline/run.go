package pipeline

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// RunOptions say how long Run lets the traffic flow and how it reports.
type RunOptions struct {
	// Duration is how long the generator sends.
	Duration time.Duration
	// Warmup is left out of the share measurement (Duration/10 if zero,
	// at most 1s).
	Warmup time.Duration
	// Every is the progress interval (250ms if zero).
	Every time.Duration
	// Progress, if set, is called every Every with the time since the
	// start and a snapshot, from Run's goroutine.
	Progress func(elapsed time.Duration, s Snapshot)
	// DrainIdle is how many idle rounds Drain waits for the last
	// packets (100000 if zero).
	DrainIdle int
}

// Run runs p in real time (p.Run) for ro.Duration or until ctx ends, then
// stops the traffic, drains what is in flight, closes p and returns the
// report.
func Run(ctx context.Context, p *Pipeline, ro RunOptions) (Report, error) {
	if ro.Warmup == 0 {
		ro.Warmup = min(ro.Duration/10, time.Second)
	}
	if ro.Every == 0 {
		ro.Every = 250 * time.Millisecond
	}
	if ro.DrainIdle == 0 {
		ro.DrainIdle = 100000
	}
	var vmStop chan struct{}
	var vmDone sync.WaitGroup
	var migrateAt <-chan time.Time
	if mc := p.cfg.Migration; mc != nil {
		w, err := newVMWorld(*mc)
		if err != nil {
			return Report{}, fmt.Errorf("pipeline: migration: %w", err)
		}
		p.vm.Store(w)
		vmStop = make(chan struct{})
		vmDone.Add(1)
		go func() { defer vmDone.Done(); w.loop(vmStop) }()
		t := time.NewTimer(time.Duration(float64(ro.Duration) * mc.At))
		defer t.Stop()
		migrateAt = t.C
	}
	start := time.Now()
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	ran := make(chan error, 1)
	go func() { ran <- p.Run(runCtx) }()
	tick := time.NewTicker(ro.Every)
	defer tick.Stop()
	warm := time.NewTimer(ro.Warmup)
	defer warm.Stop()
	end := time.NewTimer(ro.Duration)
	defer end.Stop()
	startMigration := func() {
		// Started before the goroutine runs: the end of the run, which
		// may come first, must wait for this migration while the VM
		// world's rounds still serve it.
		vm := p.vm.Load()
		vm.started.Store(true)
		vmDone.Add(1)
		go func() { defer vmDone.Done(); vm.migrate(ctx) }()
	}
	progress := func() {
		if ro.Progress != nil {
			ro.Progress(time.Since(start), p.Snapshot())
		}
	}
	var runErr error
loop:
	for {
		select {
		case runErr = <-ran: // it returns early only if it cannot run
			if runErr == nil {
				runErr = context.Canceled
			}
			break loop
		case <-ctx.Done():
			break loop
		case <-end.C:
			// What fell due before the end happens first, however late
			// this goroutine was scheduled (a busy machine may wake it
			// once, with everything due at the same time).
			for due := true; due; {
				select {
				case <-warm.C:
					p.MarkShares(time.Since(start))
				case <-migrateAt:
					startMigration()
				case <-tick.C:
					progress()
				default:
					due = false
				}
			}
			break loop
		case <-warm.C:
			p.MarkShares(time.Since(start))
		case <-migrateAt:
			startMigration()
		case <-tick.C:
			progress()
		}
	}
	p.StopTraffic()
	elapsed := time.Since(start)
	if vm := p.vm.Load(); vm != nil {
		if vm.started.Load() {
			<-vm.done // a migration under way finishes (or resumes the VM at home)
		}
		close(vmStop)
		vmDone.Wait()
		p.migration = vm.finish(2 * time.Second)
	}
	stopRun()
	if runErr == nil {
		runErr = <-ran
	}
	if runErr != nil && runErr != context.Canceled {
		p.Close()
		return Report{}, runErr
	}
	p.Drain(func() time.Duration { return time.Since(start) }, ro.DrainIdle)
	err := p.Close()
	return p.Report(elapsed), err
}

// RunSim runs p on simulated time, one Step every dt, for d of simulated
// traffic, then drains it (the simulated clock going on), closes it and
// returns the report. It is deterministic as long as p has no offload:
// the co-processor works in real time. The migration, whose transfer runs
// over TCP in real time, is left out.
func RunSim(p *Pipeline, d, dt, warmup time.Duration) (Report, error) {
	var now time.Duration
	for ; now < d; now += dt {
		if warmup > 0 && now >= warmup && p.shareMark == nil {
			p.MarkShares(now)
		}
		p.Step(now)
	}
	p.StopTraffic()
	elapsed := now
	p.Drain(func() time.Duration { now += dt; return now }, 10000)
	err := p.Close()
	return p.Report(elapsed), err
}

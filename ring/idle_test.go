//go:build unix

package ring_test

import (
	"context"
	"errors"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/ringkit/ringkit/ring"
)

// cpuTime returns the user plus system CPU time the process has used.
func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestIdleWaiterCostsNoCPU parks a consumer on an empty ring and a
// producer on a full ring of every type, eight waiters in all, and
// measures the CPU time the whole process uses over one second: it must be
// under 5% of one core. A waiter that spins or polls instead of parking
// costs a whole core. The test runs alone (no t.Parallel anywhere in this
// package), so the process is otherwise idle.
func TestIdleWaiterCostsNoCPU(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var rings []queue[int]
	var waiters []chan result
	for _, k := range kinds {
		empty := mustQueue[int](t, k, 4)
		full := mustQueue[int](t, k, 4)
		full.EnqueueBulk([]int{1, 2, 3, 4})
		rings = append(rings, empty, full)
		// Not parkConsumers: whether they park is what is measured here,
		// not taken from the Parked hook.
		consumer, producer := make(chan result, 1), make(chan result, 1)
		go func() {
			v, err := empty.Dequeue(ctx)
			consumer <- result{v, err}
		}()
		go func() { producer <- result{5, full.Enqueue(ctx, 5)} }()
		waiters = append(waiters, consumer, producer)
	}
	time.Sleep(50 * time.Millisecond) // past any spinning phase
	runtime.GC()                      // not during the measurement
	time.Sleep(10 * time.Millisecond)

	const window = time.Second
	before, start := cpuTime(t), time.Now()
	time.Sleep(window)
	used, elapsed := cpuTime(t)-before, time.Since(start)
	t.Logf("%d parked waiters used %v of CPU in %v", len(waiters), used, elapsed)
	if limit := elapsed / 20; used > limit {
		t.Errorf("%d parked waiters used %v of CPU in %v, want under %v (5%% of a core)", len(waiters), used, elapsed, limit)
	}

	for _, r := range rings {
		r.Close()
	}
	for _, w := range waiters {
		for _, res := range collect(t, "waiters after Close", w, 1) {
			if !errors.Is(res.err, ring.ErrClosed) {
				t.Errorf("waiter returned %v after Close, want ErrClosed", res.err)
			}
		}
	}
}

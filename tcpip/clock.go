package tcpip

import (
	"sync"
	"time"
)

// Clock is the time source of a stack's timers and timestamps (and of
// package migrate's circuit and migration, which share the VM's). Nothing
// here reads the time package directly, so a test can run a 500 ms
// suspension on a SimClock in microseconds and with the same result every
// time.
type Clock interface {
	Now() time.Time
}

// RealClock is the wall clock (with its monotonic reading).
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// SimClock is a clock that moves only when told to. It is safe for
// concurrent use: the transfer goroutines of a migration may read it while
// the test's loop advances it.
type SimClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewSimClock returns a SimClock reading start.
func NewSimClock(start time.Time) *SimClock { return &SimClock{now: start} }

// Now returns the clock's reading.
func (c *SimClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d (a negative d is ignored: a clock
// never goes backwards).
func (c *SimClock) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

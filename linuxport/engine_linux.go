//go:build linux

package linuxport

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/internal/mem"
	"github.com/ringkit/ringkit/port"
)

// backend is what a kind of Linux port adds to the common engine.
type backend interface {
	// round moves what is ready on every queue, both ways, and returns the
	// frames moved. Engine goroutine only.
	round() int
	// pending reports whether a queue has packets posted for transmit or
	// with the kernel, which an idle engine must not sleep long on.
	pending() bool
	// pollFds are the descriptors an idle engine waits on for input.
	pollFds() []int
	// release closes what the port holds of the kernel; the engine has
	// stopped. After it returns, the kernel touches no pool buffer.
	release() error
	// kernelStats adds the kernel's own counters of queue q to s. It is
	// called with the engine's statsMu held, never after release.
	kernelStats(q int, s *port.QueueStats)
}

// counters are one queue's counters, added to by the engine once per
// round and read by Stats.
type counters struct {
	rxPackets, rxBytes, rxErrors, rxMissed atomic.Uint64
	txPackets, txBytes, txErrors           atomic.Uint64
}

// engine is the lifecycle common to the Linux ports: Step, Run, Close and
// Stats over a backend and its rings.
type engine struct {
	name string
	pool *descriptor.Pool
	rx   []*descriptor.RxRing
	tx   []*descriptor.TxRing
	cnt  []counters
	be   backend

	// running is set while Run runs; closing once Close has begun. mu is
	// held by Step and Run while they touch the rings and the kernel's
	// objects, and by Close while it releases them.
	running atomic.Bool
	closing atomic.Bool
	mu      sync.Mutex
	closed  bool // under mu

	// wake is an eventfd in every wait of Run: Close and the end of Run's
	// context write it.
	wake int
	fds  []unix.PollFd // the backend's descriptors, then wake

	// statsMu serializes the kernel counters' reads with release;
	// final holds them as release found them.
	statsMu sync.Mutex
	final   []port.QueueStats
}

// newEngine makes the rings of queues queues, after checking that they,
// with the backend's own buffers (perQueue bytes for each queue and fixed
// bytes besides), fit in maxBytes (0: DefaultMaxBytes).
func newEngine(name string, pool *descriptor.Pool, queues int, rxCfg descriptor.RxConfig, txCfg descriptor.TxConfig, perQueue, fixed uint64, maxBytes int64) (*engine, error) {
	if err := checkMemory(name, pool, queues, rxCfg, txCfg, perQueue, fixed, maxBytes); err != nil {
		return nil, err
	}
	e := &engine{name: name, pool: pool, wake: -1}
	for q := range queues {
		rx, err := descriptor.NewRxRing(pool, rxCfg)
		if err != nil {
			e.closeRings()
			return nil, fmt.Errorf("%w: %s queue %d: %w", ErrConfig, name, q, err)
		}
		e.rx = append(e.rx, rx)
		tx, err := descriptor.NewTxRing(pool, txCfg)
		if err != nil {
			e.closeRings()
			return nil, fmt.Errorf("%w: %s queue %d: %w", ErrConfig, name, q, err)
		}
		e.tx = append(e.tx, tx)
	}
	e.cnt = make([]counters, queues)
	return e, nil
}

// checkMemory checks what newEngine and the backend would allocate for
// queues queues against maxBytes (see XDPConfig.MaxBytes).
func checkMemory(name string, pool *descriptor.Pool, queues int, rxCfg descriptor.RxConfig, txCfg descriptor.TxConfig, perQueue, fixed uint64, maxBytes int64) error {
	switch {
	case maxBytes == 0:
		maxBytes = DefaultMaxBytes
	case maxBytes < 0:
		return fmt.Errorf("%w: %s: MaxBytes %d (want 0 for the default, or a positive limit)", ErrConfig, name, maxBytes)
	}
	rx, err := pool.RxRingBytes(rxCfg)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrConfig, name, err)
	}
	tx, err := pool.TxRingBytes(txCfg)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrConfig, name, err)
	}
	var c counters
	each := mem.Add(mem.Add(rx, tx), mem.Add(perQueue, uint64(unsafe.Sizeof(c))))
	need := mem.Add(mem.Size(uint64(queues), each), fixed)
	return mem.Check(ErrConfig, fmt.Sprintf("%s: %d queues", name, queues), need, uint64(maxBytes), "MaxBytes")
}

// start finishes the engine once its backend is open.
func (e *engine) start(be backend) error {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return fmt.Errorf("linuxport: %s: eventfd: %w", e.name, err)
	}
	e.wake, e.be = fd, be
	for _, f := range be.pollFds() {
		e.fds = append(e.fds, unix.PollFd{Fd: int32(f), Events: unix.POLLIN})
	}
	e.fds = append(e.fds, unix.PollFd{Fd: int32(fd), Events: unix.POLLIN})
	return nil
}

// closeRings closes the descriptor rings, returning their buffers.
func (e *engine) closeRings() error {
	var first error
	for _, r := range e.rx {
		if _, err := r.Close(); err != nil && first == nil {
			first = err
		}
	}
	for _, r := range e.tx {
		if _, err := r.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Name returns the interface's name.
func (e *engine) Name() string { return e.name }

// Queues returns the number of queue pairs.
func (e *engine) Queues() int { return len(e.rx) }

// RxRing returns RX queue q's ring. It panics if q is out of range.
func (e *engine) RxRing(q int) *descriptor.RxRing { return e.rx[q] }

// TxRing returns TX queue q's ring. It panics if q is out of range.
func (e *engine) TxRing(q int) *descriptor.TxRing { return e.tx[q] }

// Step does one round of every queue on the caller's goroutine.
func (e *engine) Step() (int, error) {
	if e.running.Load() {
		return 0, fmt.Errorf("linuxport: %s: step: %w", e.name, port.ErrRunning)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed || e.closing.Load() {
		return 0, fmt.Errorf("linuxport: %s: step: %w", e.name, port.ErrClosed)
	}
	return e.be.round(), nil
}

// Idle back-off of Run: rounds that moved nothing before the engine waits,
// and the bounds of the wait, which doubles while nothing moves. The bound
// is what a packet posted for transmit to an idle port may wait.
const (
	spinRounds = 64
	minWait    = 20 * time.Microsecond
	maxWait    = 500 * time.Microsecond
)

// Run does rounds until ctx ends (returning ctx.Err()) or the port is
// closed (returning nil). An idle engine waits in ppoll on the port's
// descriptors, woken by input, by Close and by ctx.
func (e *engine) Run(ctx context.Context) error {
	if !e.running.CompareAndSwap(false, true) {
		return fmt.Errorf("linuxport: %s: run: %w", e.name, port.ErrRunning)
	}
	defer e.running.Store(false)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return fmt.Errorf("linuxport: %s: run: %w", e.name, port.ErrClosed)
	}
	stop := context.AfterFunc(ctx, e.kick)
	defer stop()
	idle := 0
	wait := minWait
	var ev [8]byte
	for {
		if e.closing.Load() {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.be.round() > 0 {
			idle, wait = 0, minWait
			continue
		}
		if idle++; idle < spinRounds {
			continue
		}
		d := wait
		if !e.be.pending() {
			d = maxWait * 4
		}
		ts := unix.NsecToTimespec(d.Nanoseconds())
		for i := range e.fds {
			e.fds[i].Revents = 0
		}
		if _, err := unix.Ppoll(e.fds, &ts, nil); err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("linuxport: %s: ppoll: %w", e.name, err)
		}
		if e.fds[len(e.fds)-1].Revents != 0 {
			_, _ = unix.Read(e.wake, ev[:])
		}
		wait = min(wait*2, maxWait)
	}
}

// kick wakes a waiting Run.
func (e *engine) kick() {
	var one = [8]byte{1}
	_, _ = unix.Write(e.wake, one[:])
}

// Stats returns the port's counters, the kernel's included.
func (e *engine) Stats() port.Stats {
	s := port.Stats{Name: e.name, LinkUp: true, Queues: make([]port.QueueStats, len(e.rx))}
	e.statsMu.Lock()
	defer e.statsMu.Unlock()
	for q := range e.rx {
		c := &e.cnt[q]
		qs := port.QueueStats{
			RxPackets: c.rxPackets.Load(), RxBytes: c.rxBytes.Load(), RxErrors: c.rxErrors.Load(), RxMissed: c.rxMissed.Load(),
			TxPackets: c.txPackets.Load(), TxBytes: c.txBytes.Load(), TxErrors: c.txErrors.Load(),
		}
		rs := e.rx[q].Stats()
		qs.RxMissed += rs.Missed
		qs.RxErrors += rs.Errors
		qs.RefillFailed = rs.RefillFailed
		if e.final != nil {
			qs.Add(e.final[q])
		} else {
			e.be.kernelStats(q, &qs)
		}
		s.Queues[q] = qs
		s.Total.Add(qs)
	}
	return s
}

// Close stops the engine (a Run returns nil), releases the kernel's
// objects, and returns every buffer of the rings to the pool. Drivers
// must have stopped using the rings. Close is idempotent.
func (e *engine) Close() error {
	e.closing.Store(true)
	e.kick()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	e.statsMu.Lock()
	final := make([]port.QueueStats, len(e.rx))
	for q := range final {
		e.be.kernelStats(q, &final[q])
	}
	e.final = final
	err := e.be.release()
	e.statsMu.Unlock()
	if e2 := e.closeRings(); err == nil && e2 != nil {
		err = fmt.Errorf("linuxport: %s: close rings: %w", e.name, e2)
	}
	_ = unix.Close(e.wake)
	return err
}

// sysErr wraps an errno from the kernel with the package's sentinel for
// it: a missing privilege, a missing feature, a busy queue.
func sysErr(err error) error {
	var errno unix.Errno
	if !errors.As(err, &errno) {
		return err
	}
	switch errno {
	case unix.EPERM, unix.EACCES:
		return fmt.Errorf("%w: %w", ErrPermission, err)
	case unix.EAFNOSUPPORT, unix.ENOSYS, unix.EOPNOTSUPP, unix.EPROTONOSUPPORT:
		return fmt.Errorf("%w: %w", ErrUnsupported, err)
	case unix.EBUSY, unix.EEXIST:
		return fmt.Errorf("%w: %w", ErrBusy, err)
	case unix.ENODEV, unix.ENXIO:
		return fmt.Errorf("%w: %w", ErrNoInterface, err)
	}
	return err
}

// inNS runs f inside ns when it is set, else on the caller's thread.
func inNS(ns Namespace, f func() error) error {
	if ns == nil {
		return f()
	}
	return ns.Do(f)
}

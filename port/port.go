// Package port is the seam between a network port and its driver: the Port
// interface that every backend implements — nicsim's in-memory NIC, the
// Linux ports (AF_XDP, TPACKET, TAP) — and that the pipeline and the TCP
// endpoint use, so that they run on any backend unchanged.
//
// A port has RX/TX queue pairs. Each queue is a descriptor.RxRing and a
// descriptor.TxRing: the driver plays their driver side (Receive, Free,
// Refill; Transmit, Reclaim), one goroutine per queue, and the port's
// engine plays their NIC side (placing received frames into posted
// buffers; fetching, sending and completing posted packets). The engine
// runs as every long-running part of ringkit does: Step does one round on
// the caller's goroutine, deterministically, for tests and for drivers
// that poll the port themselves (as DPDK's run-to-completion model does);
// Run does rounds on the caller's goroutine until its context ends; Close
// stops the engine and returns every buffer to the pool.
//
//	var p port.Port = nic.Port(0) // or an AF_XDP port, a TAP, ...
//	go p.Run(ctx)
//	rx := p.RxRing(0)
//	var burst [32]descriptor.Packet
//	n := rx.Receive(burst[:])
//	... pool.Bytes(burst[i]) is the frame ...
//	rx.Free(burst[:n])
//
// Source is what a port receives from when its frames are made in the
// program rather than arriving on a wire: nicsim's traffic generator, a
// capture file being replayed.
package port

import (
	"context"
	"errors"
	"time"

	"github.com/ringkit/ringkit/descriptor"
)

// Errors a Port returns, wrapped with context; test with errors.Is.
var (
	// ErrRunning: Step, or a second Run, while Run is running.
	ErrRunning = errors.New("port: running")
	// ErrClosed: Step or Run after Close.
	ErrClosed = errors.New("port: closed")
)

// Port is one network port as its driver sees it.
//
// Name, Queues, RxRing, TxRing and Stats may be called from any goroutine.
// The driver side of queue q's rings belongs to one goroutine at a time.
// Step must not run concurrently with itself or with Run.
type Port interface {
	// Name says which port this is, in reports and errors ("nicsim0.1",
	// "veth0").
	Name() string

	// Queues returns the number of RX/TX queue pairs.
	Queues() int

	// RxRing returns RX queue q's descriptor ring. It panics if q is out
	// of range.
	RxRing(q int) *descriptor.RxRing

	// TxRing returns TX queue q's descriptor ring. It panics if q is out
	// of range.
	TxRing(q int) *descriptor.TxRing

	// Step does one round of the port's engine on the caller's goroutine:
	// what has arrived goes into the RX rings, what the TX rings hold goes
	// out and is completed. It returns the frames moved, or an error
	// wrapping ErrRunning while Run runs and ErrClosed after Close.
	Step() (int, error)

	// Run does rounds of the engine on the caller's goroutine until ctx
	// ends (it returns ctx.Err()) or the port is closed (it returns nil).
	// An idle port backs off to short sleeps or parks on the kernel, and
	// costs little CPU.
	Run(ctx context.Context) error

	// Stats returns the port's counters.
	Stats() Stats

	// Close stops the engine (a Run returns), returns every buffer the
	// port holds to its pool, the rings' included, and releases what the
	// port holds of the system. Drivers must have stopped using the rings.
	// Close is idempotent.
	Close() error
}

// Source makes the frames a port receives when they are made in the
// program rather than arriving on a wire: a traffic generator, a capture
// being replayed. Its methods are called by one goroutine at a time, the
// port engine's.
type Source interface {
	// Due returns how many frames are due by now, the time since the
	// engine's Run started, for a source paced at a rate.
	Due(now time.Duration) int
	// Next appends the next frame to dst[:0] and returns it. The port
	// copies the frame before it calls Next again.
	Next(dst []byte) []byte
	// Done reports whether the source has no more frames.
	Done() bool
}

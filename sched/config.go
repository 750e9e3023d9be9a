package sched

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"time"

	"github.com/ringkit/ringkit/descriptor"
)

// ErrConfig is returned, wrapped with the name of the offending field and
// its value, by NewPort when a PortConfig is invalid.
var ErrConfig = errors.New("sched: invalid configuration")

// Queue is what a Port takes packets from: one traffic-class ring. Every
// ring of package ring (SPSC, MPSC, SPMC, MPMC of descriptor.Packet) fits.
// The Port is the queue's only consumer; DequeueBurst is called from one
// goroutine at a time (the port's, or in ModeParallel the worker that owns
// the traffic class), and Len from the port's goroutine.
type Queue interface {
	DequeueBurst(dst []descriptor.Packet) int
	Len() int
}

// Sink is where a Port sends the packets it schedules, in bursts: a
// descriptor.TxRing or anything with the same method. TransmitBurst takes a
// prefix of pkts and returns its length; the packets it does not take are
// offered again, first, on the next attempt, so none is lost or reordered.
// pkts is the Port's own buffer and is valid only during the call. In
// ModeSerial TransmitBurst is called from one goroutine at a time; in
// ModeParallel the workers call it concurrently, so it must be safe for
// concurrent use (a multi-producer ring, or a TxRing per worker behind a
// switch on the packet's TC).
type Sink interface {
	TransmitBurst(pkts []descriptor.Packet) int
}

// Transmitter is the other shape of output a Port accepts:
// descriptor.TxRing's Transmit, which returns how many packets it took and,
// when it stopped at a packet it can never take (a foreign buffer, a bad
// length), an error naming it. The Port drops that packet (counted, and
// handed to OnDrop) and offers the rest again; packets refused without an
// error (no free descriptor) are retried, as with a Sink. A TxRing has one
// driver goroutine, so give each Port in ModeSerial its own.
type Transmitter interface {
	Transmit(pkts []descriptor.Packet) (int, error)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(pkts []descriptor.Packet) int

// TransmitBurst calls f(pkts).
func (f SinkFunc) TransmitBurst(pkts []descriptor.Packet) int { return f(pkts) }

// Mode selects how a Port drains its traffic classes.
type Mode uint8

const (
	// ModeSerial drains every traffic class of the port from one
	// goroutine with deficit round robin. It is the default: see the
	// package documentation for the measurement that decided it.
	ModeSerial Mode = iota
	// ModeParallel drains the traffic classes from Workers goroutines
	// under one port budget: every scheduling quantum a coordinator
	// grants each backlogged class its share of the budget (strict
	// priority, then weights), and the workers spend their grants
	// concurrently, claiming what others leave from a shared pool.
	ModeParallel
)

// Defaults and bounds of PortConfig and TCConfig.
const (
	// DefaultOverhead is the framing overhead added to each frame's Len
	// for all byte accounting: preamble and start delimiter (8), FCS (4)
	// and the inter-frame gap (12), as rte_sched's default.
	DefaultOverhead = 24
	// NoOverhead, as PortConfig.Overhead, accounts frame bytes only.
	NoOverhead = -1
	// DefaultQuantum is the scheduling quantum when PortConfig.Quantum
	// is zero.
	DefaultQuantum = time.Millisecond
	// MinQuantum and MaxQuantum bound PortConfig.Quantum.
	MinQuantum = time.Microsecond
	MaxQuantum = time.Second
	// DefaultDRRQuantum is the bytes per unit of weight that a traffic
	// class may send per round: one full-size Ethernet frame (1514) with
	// the default overhead.
	DefaultDRRQuantum = 1514 + DefaultOverhead
	// DefaultTxBurst is the largest burst handed to the Sink.
	DefaultTxBurst = 32
	// MaxTxBurst bounds PortConfig.TxBurst.
	MaxTxBurst = 1024
	// MaxTCs is the largest number of traffic classes of one port.
	MaxTCs = 64
	// MaxPriority is the largest TCConfig.Priority (0 is the highest).
	MaxPriority = 15
	// MaxWeight is the largest TCConfig.Weight.
	MaxWeight = 1 << 16
	// MaxRate bounds PortConfig.Rate and TCConfig.Rate, in bits per
	// second (about 1.1 Pb/s), and MaxBurst the bucket depths, in bytes,
	// so that no token arithmetic can overflow.
	MaxRate  = 1 << 50
	MaxBurst = 1 << 50
	// DefaultWindow is the stats window when PortConfig.Window is zero.
	DefaultWindow = 200 * time.Millisecond
	// maxOverhead bounds PortConfig.Overhead.
	maxOverhead = 1 << 12
	// maxFrame is the largest frame a Packet can describe.
	maxFrame = math.MaxUint16
)

// TCConfig configures one traffic class of a port.
type TCConfig struct {
	// Name labels the class in Stats; optional.
	Name string
	// Queue is the class's ring. Required.
	Queue Queue
	// Priority is the strict-priority level: 0 is served first, and a
	// level is served only when every lower-numbered level has nothing
	// it may send. Classes of one level share by Weight.
	Priority int
	// Weight is the class's share within its level, 1..MaxWeight. Its
	// DRR quantum is Weight × PortConfig.DRRQuantum bytes per round.
	Weight int
	// Rate, if not zero, caps the class at Rate bits per second (frames
	// plus overhead), enforced by a token bucket.
	Rate uint64
	// Burst is the depth of the class's token bucket in bytes. Zero
	// selects the larger of two scheduling quanta at Rate and one
	// largest frame (65535 bytes plus overhead), so no frame is ever too
	// large for it. A frame larger than Burst is dropped. A Burst below
	// what Rate earns in one Quantum is refused (NewPort returns an
	// ErrConfig naming the least depth): the port is stepped once a
	// Quantum, and so shallow a bucket would overflow between two steps
	// and hold the class below Rate. A depth of exactly one Quantum's
	// bytes keeps Rate to within one frame per Quantum when Steps come on
	// time; Run's steps come late by the timer's slack, which the default
	// depth of two quanta absorbs.
	Burst int64
}

// PortConfig configures one output port's scheduler.
type PortConfig struct {
	// Name labels the port; optional.
	Name string
	// Rate is the port's rate in bits per second (frames plus
	// overhead). Required. The port is held to it by a token bucket,
	// which is the per-port rate cap.
	Rate uint64
	// Quantum is the scheduling quantum: how often Run steps the port
	// and the time over which Rate gives the byte budget that the
	// classes share (DefaultQuantum if zero; MinQuantum..MaxQuantum).
	Quantum time.Duration
	// Burst is the depth of the port's token bucket in bytes (zero: the
	// larger of two quanta at Rate and one largest frame). A frame
	// larger than Burst is dropped, and a Burst below what Rate earns in
	// one Quantum is refused, as TCConfig.Burst explains.
	Burst int64
	// Overhead is the framing overhead in bytes added to each frame's
	// Len for every budget, cap and deficit (DefaultOverhead if zero,
	// NoOverhead for none).
	Overhead int
	// DRRQuantum is the bytes per unit of weight a class may send per
	// deficit-round-robin round (DefaultDRRQuantum if zero).
	DRRQuantum int
	// TxBurst is the largest burst handed to the Sink and taken from a
	// Queue at once (DefaultTxBurst if zero; at most MaxTxBurst).
	TxBurst int
	// TCs are the port's traffic classes, 1..MaxTCs of them. Classes of
	// one priority level are served round robin in the order given.
	TCs []TCConfig
	// Sink receives the scheduled packets. Exactly one of Sink and Tx
	// must be set.
	Sink Sink
	// Tx, instead of Sink, receives the scheduled packets through a
	// Transmit method that may reject a packet with an error (see
	// Transmitter).
	Tx Transmitter
	// OnDrop, if set, receives every packet the port drops (a frame too
	// large for a token bucket, and what Release gives up), so a caller
	// can return its buffer to its pool. Drops are counted either way.
	OnDrop func(descriptor.Packet)
	// Window is the span over which Stats computes each class's share
	// (DefaultWindow if zero; at least one Quantum).
	Window time.Duration
	// Mode selects serial or parallel draining (ModeSerial if zero).
	Mode Mode
	// Workers is the number of worker goroutines of ModeParallel (zero:
	// one per traffic class, at most len(TCs)).
	Workers int
}

func configErr(field string, v any, want string) error {
	return fmt.Errorf("%w: %s = %v (want %s)", ErrConfig, field, v, want)
}

// resolved is a validated PortConfig with its defaults filled in.
type resolved struct {
	PortConfig
	overhead   int64
	drrQuantum int64
	portDepth  int64
	tcDepth    []int64
}

// validate checks c and fills in the defaults.
func validate(c PortConfig) (resolved, error) {
	r := resolved{PortConfig: c}
	if c.Rate == 0 || c.Rate > MaxRate {
		return r, configErr("Rate", c.Rate, fmt.Sprintf("1..%d bits per second", uint64(MaxRate)))
	}
	switch {
	case c.Quantum == 0:
		r.Quantum = DefaultQuantum
	case c.Quantum < MinQuantum || c.Quantum > MaxQuantum:
		return r, configErr("Quantum", c.Quantum, fmt.Sprintf("%v..%v", MinQuantum, MaxQuantum))
	}
	switch {
	case c.Overhead == 0:
		r.overhead = DefaultOverhead
	case c.Overhead == NoOverhead:
		r.overhead = 0
	case c.Overhead < 0 || c.Overhead > maxOverhead:
		return r, configErr("Overhead", c.Overhead, fmt.Sprintf("0..%d or NoOverhead", maxOverhead))
	default:
		r.overhead = int64(c.Overhead)
	}
	switch {
	case c.DRRQuantum == 0:
		r.drrQuantum = DefaultDRRQuantum
	case c.DRRQuantum < 0 || c.DRRQuantum > 1<<24:
		return r, configErr("DRRQuantum", c.DRRQuantum, fmt.Sprintf("1..%d bytes", 1<<24))
	default:
		r.drrQuantum = int64(c.DRRQuantum)
	}
	switch {
	case c.TxBurst == 0:
		r.TxBurst = DefaultTxBurst
	case c.TxBurst < 0 || c.TxBurst > MaxTxBurst:
		return r, configErr("TxBurst", c.TxBurst, fmt.Sprintf("1..%d", MaxTxBurst))
	}
	switch {
	case c.Window == 0:
		r.Window = max(DefaultWindow, r.Quantum)
	case c.Window < r.Quantum:
		return r, configErr("Window", c.Window, fmt.Sprintf("at least Quantum (%v)", r.Quantum))
	}
	if (c.Sink == nil) == (c.Tx == nil) {
		return r, configErr("Sink", c.Sink, "exactly one of Sink and Tx")
	}
	if len(c.TCs) == 0 || len(c.TCs) > MaxTCs {
		return r, configErr("len(TCs)", len(c.TCs), fmt.Sprintf("1..%d", MaxTCs))
	}
	largest := maxFrame + r.overhead
	if c.Burst < 0 || c.Burst > MaxBurst {
		return r, configErr("Burst", c.Burst, fmt.Sprintf("0..%d bytes", int64(MaxBurst)))
	}
	if err := shallow("Burst", c.Burst, c.Rate, r.Quantum); err != nil {
		return r, err
	}
	r.portDepth = depth(c.Burst, c.Rate, r.Quantum, largest)
	r.tcDepth = make([]int64, len(c.TCs))
	for i, tc := range c.TCs {
		f := func(name string) string { return fmt.Sprintf("TCs[%d].%s", i, name) }
		if tc.Queue == nil {
			return r, configErr(f("Queue"), nil, "a Queue")
		}
		if tc.Priority < 0 || tc.Priority > MaxPriority {
			return r, configErr(f("Priority"), tc.Priority, fmt.Sprintf("0..%d", MaxPriority))
		}
		if tc.Weight < 1 || tc.Weight > MaxWeight {
			return r, configErr(f("Weight"), tc.Weight, fmt.Sprintf("1..%d", MaxWeight))
		}
		if tc.Rate > MaxRate {
			return r, configErr(f("Rate"), tc.Rate, fmt.Sprintf("0..%d bits per second", uint64(MaxRate)))
		}
		if tc.Burst < 0 || tc.Burst > MaxBurst {
			return r, configErr(f("Burst"), tc.Burst, fmt.Sprintf("0..%d bytes", int64(MaxBurst)))
		}
		if tc.Rate == 0 && tc.Burst != 0 {
			return r, configErr(f("Burst"), tc.Burst, "0 when Rate is 0 (no cap)")
		}
		if tc.Rate != 0 {
			if err := shallow(f("Burst"), tc.Burst, tc.Rate, r.Quantum); err != nil {
				return r, err
			}
			r.tcDepth[i] = depth(tc.Burst, tc.Rate, r.Quantum, largest)
		}
	}
	switch {
	case c.Mode > ModeParallel:
		return r, configErr("Mode", c.Mode, "ModeSerial or ModeParallel")
	case c.Workers < 0 || c.Workers > len(c.TCs):
		return r, configErr("Workers", c.Workers, fmt.Sprintf("0..%d (len(TCs))", len(c.TCs)))
	case c.Mode == ModeParallel && c.Workers == 0:
		r.Workers = len(c.TCs)
	case c.Mode == ModeSerial && c.Workers > 1:
		return r, configErr("Workers", c.Workers, "0 or 1 in ModeSerial")
	}
	return r, nil
}

// shallow refuses a configured bucket depth below what rate earns in one
// quantum: the port is stepped once a quantum, so such a bucket would
// overflow between two steps and hold its class (or the port) below rate
// without a word. A depth of 0 selects the default, which is never that
// shallow.
func shallow(field string, burst int64, rate uint64, quantum time.Duration) error {
	if least := bytesIn(rate, quantum); burst != 0 && burst < least {
		return configErr(field, burst, fmt.Sprintf("0 or at least %d bytes, what %d b/s earns in one Quantum of %v; raise it or shorten Quantum", least, rate, quantum))
	}
	return nil
}

// depth returns the bucket depth for a configured burst (0 selects the
// default: two quanta at rate, and at least the largest frame).
func depth(burst int64, rate uint64, quantum time.Duration, largest int64) int64 {
	if burst > 0 {
		return burst
	}
	return max(2*bytesIn(rate, quantum), largest)
}

// bytesIn returns the whole bytes that rate bits per second deliver in d,
// saturating at 1<<62.
func bytesIn(rate uint64, d time.Duration) int64 {
	hi, lo := bits.Mul64(rate, uint64(d))
	if hi >= nsBits {
		return 1 << 62
	}
	q, _ := bits.Div64(hi, lo, nsBits)
	return int64(min(q, 1<<62))
}

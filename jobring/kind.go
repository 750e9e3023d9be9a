package jobring

import (
	"fmt"
	"math/bits"
	"strings"
)

// Kind names what a job is (a checksum, an encryption, a compression...).
// Workers declare the kinds they can run as a KindSet, and the rules say how
// each kind is ordered. Kinds 0 to MaxKinds-1 can be used.
type Kind uint8

// MaxKinds is the number of distinct kinds a ring tells apart.
const MaxKinds = 64

// KindSet is a set of kinds, one bit per kind.
type KindSet uint64

// Kinds returns the set of the given kinds. A kind of MaxKinds or more is
// left out: no worker can declare it, so jobs of that kind fail with
// ErrNoWorker.
func Kinds(ks ...Kind) KindSet {
	var s KindSet
	for _, k := range ks {
		if k < MaxKinds {
			s |= 1 << k
		}
	}
	return s
}

// Has reports whether k is in s.
func (s KindSet) Has(k Kind) bool { return k < MaxKinds && s&(1<<k) != 0 }

// String lists the kinds of s, as "{0,3}".
func (s KindSet) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for x := uint64(s); x != 0; x &= x - 1 {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		fmt.Fprint(&b, bits.TrailingZeros64(x))
	}
	b.WriteByte('}')
	return b.String()
}

// Order is the ordering type of a kind, after eventdev's scheduling types.
// Every job, whatever its order, is retired in submission order; the types
// differ in how workers may take them.
type Order uint8

const (
	// Parallel jobs go to any permitted worker in any order; with
	// Rules.Priority, a higher priority moves a job ahead of others.
	Parallel Order = iota
	// Ordered jobs go to any permitted worker; each worker takes them in
	// submission order (priority is ignored), and they retire in
	// submission order.
	Ordered
	// Atomic jobs of one flow never run on two workers at once: a worker
	// holds the flow from the moment it claims a job of that flow until the
	// job is done. Within a kind, jobs of one flow also start in submission
	// order, fallback thresholds or not; the exceptions are jobs that start
	// again: a worker that stops hands its claimed jobs back, and a
	// co-processor hands a failed job back for a core (Fallback.Retry), and
	// such a job may then start after a later job of its flow.
	Atomic
)

// String returns the eventdev-style name of o.
func (o Order) String() string {
	switch o {
	case Parallel:
		return "parallel"
	case Ordered:
		return "ordered"
	case Atomic:
		return "atomic"
	}
	return fmt.Sprintf("Order(%d)", uint8(o))
}

// Class is what a worker is: a core running Go code job by job, or a model
// of a co-processor that takes jobs in batches at a modelled cost.
type Class uint8

const (
	// Core is a goroutine running the worker's function on each job.
	Core Class = iota
	// Coprocessor is an accelerator model: per batch it waits a setup
	// latency plus a cost per byte (parked, or yielding the processor for
	// waits under a millisecond), then runs the worker's function on every
	// job of the batch.
	Coprocessor
)

// String returns "core" or "coprocessor".
func (c Class) String() string {
	switch c {
	case Core:
		return "core"
	case Coprocessor:
		return "coprocessor"
	}
	return fmt.Sprintf("Class(%d)", uint8(c))
}

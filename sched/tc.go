package sched

import (
	"sync/atomic"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/internal/pad"
)

// tcState is one traffic class of a port. The fields above the pad are
// owned by the goroutine that drains the class (the port's in ModeSerial,
// its worker in ModeParallel); the bucket is owned by the port's goroutine
// (which is also the coordinator in ModeParallel).
type tcState struct {
	q       Queue
	stage   []descriptor.Packet // stage[head:n] were taken from q and not yet scheduled
	head, n int
	idx     uint8
	// trackAvg makes fill record avgWire (ModeParallel).
	trackAvg bool

	overhead int64 // bytes added to each Len
	limit    int64 // a frame whose wire size exceeds it can never be sent: dropped
	onDrop   func(descriptor.Packet)

	level   int
	quantum int64 // DRR quantum, bytes per round
	deficit int64 // DRR deficit counter, bytes; reset when the class empties
	capped  bool
	tb      bucket // the class's rate cap; owned by the port's goroutine

	// Counters owned by the draining goroutine, copied into pub after
	// every step.
	pkts, bytes, drops uint64

	_ pad.Line // drainer's fields vs the fields other goroutines read

	pub tcCounters

	// credit is the class's grant in ModeParallel, in bytes: the
	// coordinator adds each quantum's grant and takes back what is left
	// at the next quantum (Swap); the worker spends it with
	// compare-and-swap. Every byte of budget is at any instant in exactly
	// one of the port bucket, the pool, a credit, or spent.
	credit atomic.Int64
	// staged is the wire bytes the drainer holds staged (store by the
	// drainer after each step, load by the coordinator for demand and by
	// the stats window for activity).
	staged atomic.Int64
	// avgWire is the mean wire size of the last burst taken from q
	// (store by the worker, load by the coordinator to turn q.Len() into
	// bytes of demand).
	avgWire atomic.Int64

	_ pad.Line // this class vs the next one in the port's slice
}

// tcCounters are a class's published counters: stored by the drainer after
// each step, loaded by Stats and by the stats window from any goroutine.
type tcCounters struct {
	packets atomic.Uint64
	bytes   atomic.Uint64
	drops   atomic.Uint64
	// active is set by the drainer when it finds the class backlogged
	// and swapped to false by the stats window at each slot boundary.
	active atomic.Bool
}

// wire returns the bytes that pkt costs: its length plus the overhead.
func (t *tcState) wire(pkt *descriptor.Packet) int64 { return int64(pkt.Len) + t.overhead }

// fill makes sure a packet is staged, taking a burst from the queue if
// none is, and drops staged frames too large for any bucket. It reports
// false when the class is empty.
func (t *tcState) fill() bool {
	for {
		if t.head < t.n {
			if t.wire(&t.stage[t.head]) <= t.limit {
				return true
			}
			t.drop(t.stage[t.head])
			t.head++
			continue
		}
		k := t.q.DequeueBurst(t.stage)
		t.head, t.n = 0, k
		if k == 0 {
			return false
		}
		if t.trackAvg {
			var sum int64
			for i := range k {
				sum += t.wire(&t.stage[i])
			}
			t.avgWire.Store(sum / int64(k)) // for the coordinator's demand
		}
		if !t.pub.active.Load() {
			t.pub.active.Store(true) // pairs with the window's Swap(false)
		}
	}
}

// headWire returns the wire size of the staged head; fill must have
// returned true.
func (t *tcState) headWire() int64 { return t.wire(&t.stage[t.head]) }

func (t *tcState) drop(pkt descriptor.Packet) {
	t.drops++
	if t.onDrop != nil {
		t.onDrop(pkt)
	}
}

// publish copies the drainer's counters to pub and stores the bytes it
// holds staged.
func (t *tcState) publish() {
	t.pub.packets.Store(t.pkts) // store-release for Stats' loads
	t.pub.bytes.Store(t.bytes)
	t.pub.drops.Store(t.drops)
	var staged int64
	for i := t.head; i < t.n; i++ {
		staged += t.wire(&t.stage[i])
	}
	t.staged.Store(staged) // for the coordinator's demand and the window's activity
}

// emitter batches scheduled packets for the Sink and keeps, in order, the
// ones the Sink refused until it takes them. It is owned by one goroutine.
type emitter struct {
	out []descriptor.Packet // out[:n] wait for the Sink
	tc  []uint8             // tc[i] is the class out[i] came from
	n   int
}

func newEmitter(burst int) emitter {
	return emitter{out: make([]descriptor.Packet, burst), tc: make([]uint8, burst)}
}

func (e *emitter) full() bool { return e.n == len(e.out) }

// sendFunc is how an emitter hands packets to the output: it returns how
// many of pkts were taken and, if it stopped at a packet it can never take,
// an error.
type sendFunc func(pkts []descriptor.Packet) (int, error)

// flush offers out[:n] to the output, counts what it takes against each
// packet's class, drops a packet the output rejects with an error, and
// keeps the rest at the front, in order. It returns the number taken and
// whether the output took (or rejected) everything.
func (e *emitter) flush(send sendFunc, tcs []tcState, refused *atomic.Uint64) (int, bool) {
	sent := 0
	for e.n > 0 {
		k, err := send(e.out[:e.n])
		k = min(max(k, 0), e.n)
		for i := range k {
			t := &tcs[e.tc[i]]
			t.pkts++
			t.bytes += uint64(e.out[i].Len)
		}
		sent += k
		if k == e.n {
			e.n = 0
			break
		}
		if err == nil {
			refused.Add(uint64(e.n - k)) // counted per refused packet per attempt; read by Stats
			copy(e.out, e.out[k:e.n])
			copy(e.tc, e.tc[k:e.n])
			e.n -= k
			return sent, false
		}
		tcs[e.tc[k]].drop(e.out[k]) // out[k] can never be sent
		copy(e.out, e.out[k+1:e.n])
		copy(e.tc, e.tc[k+1:e.n])
		e.n -= k + 1
	}
	return sent, true
}

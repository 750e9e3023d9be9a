// Package sched schedules packets from per-(output port, traffic class)
// rings to output ports: one Port per output port shares each scheduling
// quantum's byte budget among the traffic classes backlogged in it, as in
// US10999209B2, where classification feeds lock-free per-class rings and
// bandwidth allocation and transmission run in parallel with it, never
// sharing a lock with it (unlike DPDK's rte_sched, whose enqueue and
// dequeue of a port must run on one thread).
//
// # Allocation
//
// Every quantum (PortConfig.Quantum, 1 µs to 1 s; 10 µs to 10 ms is the
// useful range) the port's token bucket gains Rate × elapsed bytes. The
// budget goes to the classes in strict-priority order (TCConfig.Priority,
// 0 first): a level is served only while no higher level has a packet it
// may send. Within a level the classes share by deficit round robin
// (Shreedhar and Varghese; Linux sch_drr): turns go round the level's
// backlogged classes in the order given; when a class's turn begins its
// deficit grows by its quantum, Weight × DRRQuantum bytes; it sends while
// its head packet fits the deficit; its deficit is carried to its next turn
// (and across scheduling quanta: a turn cut short by the budget resumes in
// the next Step without a second quantum) and reset when the class empties.
// When every class of a level has drained, the next turn, once packets
// come back, goes to the class after the one whose turn ended last, as if
// the level had never gone idle.
// Budget a class cannot use goes to the others, so the port is
// work-conserving. A class may be capped (TCConfig.Rate) by its own token
// bucket; a capped class that has run out of tokens is skipped and keeps
// its deficit. All accounting is in bytes of frame plus framing overhead
// (24 by default: preamble, FCS and inter-frame gap, as rte_sched).
//
// Token buckets are exact at any rate: tokens are rate × elapsed / 8e9
// computed as a 128-bit product (math/bits) with the remainder carried, so
// over any span the bucket earns exactly the bytes the rate gives, rounded
// down once.
//
// # Time
//
// Step(now) runs one quantum at a time the caller supplies, which is how
// the tests run seconds of simulated traffic deterministically. Run steps
// in real time on the monotonic clock (Now) until its context ends.
//
// # Modes
//
// ModeSerial (the default) drains all classes of a port from one
// goroutine. ModeParallel is the patent's parallel per-class scheduling: a
// coordinator grants each backlogged class its bytes for the quantum
// (carried deficit first, then strict priority, then weighted max-min over
// estimated demand) and worker goroutines spend the grants concurrently
// with compare-and-swap, topping up from a shared pool of unallocated
// bytes. ModeSerial is the default. It is the simpler of the two and the
// exact one (its order is textbook DRR, checked against a reference
// model), while ModeParallel needs a sink safe for concurrent use, grants
// bytes from a demand estimate (queued packets times the last burst's mean
// size, corrected through the pool), and pays for cross-core atomics and a
// wake-up of every worker on every quantum. What the parallel mode can
// gain is a second core draining classes while the first is busy; on a
// two-core machine the other core is the classifier's, and in our runs
// there the two modes delivered within noise of each other, bounded by the
// producer. BenchmarkModes measures both, and BenchmarkStep the cost of
// each mode's scheduling decisions alone.
//
// Ports are independent: run each in its own goroutine (sched.Run does).
//
// # Output
//
// Scheduled packets go to the Sink (a TransmitBurst method or a SinkFunc)
// or to the Tx (a Transmit method returning an error, as
// descriptor.TxRing's) in bursts of up to TxBurst. What the output refuses
// is kept, in order, and offered first at the next attempt; refusals are
// counted (PortStats.Refused). Nothing is dropped except a frame larger
// than a token bucket's depth (never, with the default depths), a packet
// the Tx rejects with an error, and what Release gives up; drops are
// counted per class and handed to OnDrop so their buffers can be freed.
//
// # Concurrency
//
// A Port is the only consumer of its queues, and any number of producers
// (the classifier) may enqueue on them while it runs; an enqueue
// synchronizes before the Sink call that is handed the packet. Step,
// Release and Run of one Port must not overlap; different Ports are
// independent. Stats may be called from any goroutine at any time.
//
// # Stats
//
// Stats returns per-class packets, bytes, drops and each class's share of
// the port over a sliding window; PortStats.Fairness is Jain's index over
// weight-normalised throughput.
//
// # Example
//
//	rings := make([]*ring.SPSC[descriptor.Packet], 4)
//	tcs := make([]sched.TCConfig, 4)
//	for i := range tcs {
//		rings[i], _ = ring.NewSPSC[descriptor.Packet](1024)
//		tcs[i] = sched.TCConfig{Queue: rings[i], Weight: 1 << i}
//	}
//	tcs[0].Priority, tcs[0].Rate = 0, 1e9 // strict priority, capped at 1 Gb/s
//	for i := 1; i < 4; i++ {
//		tcs[i].Priority = 1
//	}
//	port, err := sched.NewPort(sched.PortConfig{Rate: 10e9, TCs: tcs, Tx: txRing})
//	...
//	go port.Run(ctx) // producers (the classifier) enqueue on rings[i]
package sched

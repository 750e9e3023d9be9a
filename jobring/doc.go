// Package jobring is a ring of job slots shared by processor cores and
// co-processors, after US20180285154A1: every slot holds one job; each
// worker applies a set of rules to decide which slots it may take; it runs
// the job and writes the result back into the job's own slot, in any
// order; the ring retires done jobs strictly in submission order.
//
// It borrows from DPDK's staged ordered ring (rte_soring): jobs stay in
// their slot from submission to retirement, a per-slot state word says who
// owns the slot, and workers of a stage may finish in any order while the
// ring hands them on in the original order. From eventdev it takes the
// ordering types (Parallel, Ordered, Atomic per flow); from io_uring the
// split between a submission side and a completion side (Retire, or an
// OnRetire callback); from dmadev the burst interfaces and a device that
// takes work in batches.
//
// # Slot life
//
//	free ─► submitted ─► claimed(worker) ─► done ─► retired (free for the next lap)
//
// One atomic word per slot holds the state, the worker and the position;
// every transition is a store-release by the owner or a compare-and-swap,
// so a slot is claimed by exactly one worker. A job whose worker stops after
// claiming it (before its Do, or in a Do that returns an error once
// StopWorker cancelled its context) goes back to the ring for another
// permitted worker, or fails with ErrWorkerStopped; it is never lost. With
// Fallback.Retry, a job whose Do failed on a co-processor goes back once,
// for a core.
//
// # Workers
//
// A Core runs Worker.Do job by job on its own goroutine. A Coprocessor is a
// model of an accelerator: it claims a batch, waits (parked) for a setup
// latency plus a cost per byte, and runs Do on every job of the batch, so
// that its results are real and can be checked. Workers that find nothing
// to take spin briefly and park: an idle ring costs no CPU.
//
// # Rules
//
// Rules are data (see Rules): capability by kind, affinity by flow hash,
// ordering type per kind, priority, and fallback of a co-processor's kind
// to the cores once its backlog reaches a threshold. Compile turns them
// into a Policy whose Decide is what every worker evaluates, without
// allocating, for every slot it looks at.
//
// # Use
//
//	r, err := jobring.New(jobring.Config[[]byte, uint32]{
//		Slots: 1024,
//		Rules: jobring.Rules{Kinds: []jobring.KindRule{{Kind: crc, Name: "crc32c", Order: jobring.Ordered}}},
//		Workers: []jobring.Worker[[]byte, uint32]{
//			{Name: "core0", Class: jobring.Core, Kinds: jobring.Kinds(crc), Do: checksum},
//		},
//	})
//	...
//	r.Submit(ctx, jobring.Task[[]byte]{Kind: crc, Job: payload})
//	n, err := r.RetireWait(ctx, completions) // in submission order
//	...
//	r.Close() // drains; no goroutine of the ring outlives it
//
// # Guarantees
//
// Producers submit with TrySubmit and SubmitBurst (never wait) or Submit and
// SubmitAll (wait for room, with a context). Submissions take effect in
// position order; positions are numbered from 0.
// A submission synchronizes before the worker's run of the job, and the
// run before the retirement that returns its result. Completions are
// retired in position order, each exactly once. TrySubmit, SubmitBurst,
// Retire and a worker's claim and run of a batch do not allocate (Stats
// does). Do gets a context that StopWorker and a Shutdown that gives up
// cancel. Close drains every submitted job and returns once every
// goroutine of the ring has ended. Shutdown with a context fails what it
// could not drain with ErrClosed and returns when the context ends: once
// the workers have ended, or at once, with an error naming them, for those
// inside a Do that ignores its context.
package jobring

package jobring

import "sync/atomic"

// A slot's life, in its state word:
//
//	free(p) ──producer──► submitted(p) ──worker w (CAS)──► claimed(p, w) ──w──► done(p, w)
//	   ▲                       ▲                                │                     │
//	   │                       └──────── w stops (requeue) ─────┘                     │
//	   └──────────────────── retired: free(p+N), by the retirer ◄─────────────────────┘
//
// The word is pos<<16 | worker<<4 | state, with pos the low 48 bits of the
// position the slot holds (positions are free-running; p and p+N share a
// slot). Carrying the position makes every transition an exact compare: a
// worker that read submitted(p) and claims by CAS cannot take the job of
// p+N that a slow scan mistook for it (no ABA), and a reader can tell a
// retired slot (free(p+N)) from a slot being filled (free(p)).
const (
	stFree      = 0 // free(p): the producer that claimed p is filling it
	stSubmitted = 1 // submitted(p): waiting for a worker
	stClaimed   = 2 // claimed(p, w): worker w is running it
	stDone      = 3 // done(p, w): the result is in the slot, waiting for retirement

	stateMask  = 0xF
	workerBits = 12
	workerMask = 1<<workerBits - 1
	posBits    = 48
	posMask48  = 1<<posBits - 1

	// ringID is the worker number the ring itself uses when it fails a
	// job that no worker ran (Shutdown, ErrNoWorker).
	ringID = workerMask
	// MaxWorkers is the number of workers a ring can have.
	MaxWorkers = ringID
)

func word(p uint64, w int, st uint64) uint64 {
	return (p&posMask48)<<16 | uint64(w)<<4 | st
}

func wordPos(s uint64) uint64   { return s >> 16 }
func wordWorker(s uint64) int   { return int(s>>4) & workerMask }
func wordState(s uint64) uint64 { return s & stateMask }

// slot holds one job and, once it is done, its result.
//
// Ownership: the producer that claimed position p (by moving the tail) owns
// meta, stamp and job until it stores submitted(p); the worker whose CAS
// made it claimed(p, w) owns job, res and err until it stores done(p, w);
// the retirer owns the slot from loading done(p, ·) until it stores
// free(p+N). The state stores are the store-releases that hand the slot
// over, the loads and CASes on it the matching acquires.
type slot[J, R any] struct {
	state atomic.Uint64
	// meta is kind | priority<<8 | metaRetry | flow<<32. It is atomic because workers
	// read it before they own the slot (to apply the rules); a worker
	// that read the meta of a job since retired fails its CAS on state.
	meta  atomic.Uint64
	stamp int64 // submission time for latency sampling, 0 if not sampled
	job   J
	res   R
	err   error
}

// metaRetry marks, in a slot's meta, a job a co-processor failed and handed
// back for a core (Fallback.Retry). packMeta leaves it clear; the worker
// that hands the job back sets it before it stores submitted.
const metaRetry = 1 << 16

func packMeta(k Kind, prio uint8, flow uint32) uint64 {
	return uint64(k) | uint64(prio)<<8 | uint64(flow)<<32
}

func unpackMeta(m uint64) (k Kind, prio uint8, flow uint32) {
	return Kind(m), uint8(m >> 8), uint32(m >> 32)
}

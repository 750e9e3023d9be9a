// Package release stores words with release semantics only: the writes
// before such a store are visible to whoever loads the stored value with an
// acquire load (every Go atomic Load is one), and nothing more is promised.
//
// Go's atomic Store is sequentially consistent, which on amd64 is an XCHG:
// a locked instruction that waits until the word's cache line is owned
// exclusively and the store buffer has drained. A ring slot's sequence
// word needs only release: its reader checks the word and then reads what
// was written before it. So on amd64 these stores are plain MOVs, in a few
// lines of assembly behind a call the compiler does not move memory
// accesses across (measured on the rings: BENCHMARKS.md). Race builds, the purego tag and other
// architectures use atomic Store, which the race detector understands.
//
// A release store may sit in the store buffer after the call returns, so
// it is not for a word whose value decides an answer that another
// goroutine could contradict (a ring's full or empty, in real time), nor
// for a publication followed by a check for parked waiters that has no
// full fence of its own (see internal/wait).
package release

import "sync/atomic"

// Store64 stores v into p with release semantics.
func Store64(p *atomic.Uint64, v uint64) { store64(p, v) }

// Run64 stores v, v+1, ..., v+n-1 into n words, the first at p and each
// stride bytes after the one before, each with release semantics, in
// order, in one call: the sequence words of a burst of ring slots. The n
// words must lie within one allocation that holds p.
func Run64(p *atomic.Uint64, stride uintptr, n, v uint64) { run64(p, stride, n, v) }

//go:build !race && !purego

package ring

import "unsafe"

// storeRelease stores v into p with release semantics only: the writes
// before it are visible to whoever loads v (a load-acquire, which every Go
// atomic load is). It is what the rings need to publish slots and hand
// them back, and on amd64 it is a plain store, where Go's atomic Store is
// an XCHG, a locked instruction that waits for the cache line to be owned
// exclusively: measured, that stall is most of the cost of a slot handed
// between two cores (see BENCHMARKS.md), so this one hot path is written in
// assembly. Race builds use atomic Store, which the race detector
// understands.
func storeRelease(p *atomic64, v uint64) {
	storeRelease64((*uint64)(unsafe.Pointer(p)), v)
}

//go:noescape
func storeRelease64(addr *uint64, v uint64)

// storeRun stores v, v+1, ..., v+n-1 into n words, the first at p and each
// stride bytes after the last, each with a release store, in one call: the
// sequence words of a burst's slots.
func storeRun(p *atomic64, stride uintptr, n, v uint64) {
	storeStride64((*uint64)(unsafe.Pointer(p)), stride, n, v)
}

//go:noescape
func storeStride64(addr *uint64, stride uintptr, n, v uint64)

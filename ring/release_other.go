//go:build race || purego || !amd64

package ring

import "unsafe"

// storeRelease stores v into p with (at least) release semantics; on this
// architecture, in a race build or with the purego tag, it is Go's atomic
// Store (see the amd64 version for why it exists).
func storeRelease(p *atomic64, v uint64) { p.Store(v) }

// storeRun stores v, v+1, ..., v+n-1 into n words, the first at p and each
// stride bytes after the last, as the amd64 version does, each with atomic
// Store.
func storeRun(p *atomic64, stride uintptr, n, v uint64) {
	for i := range n {
		(*atomic64)(unsafe.Add(unsafe.Pointer(p), uintptr(i)*stride)).Store(v + i)
	}
}

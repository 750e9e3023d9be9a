//go:build race || purego || !amd64

package ring

// storeRelease stores v into p with (at least) release semantics; on this
// architecture, in a race build or with the purego tag, it is Go's atomic
// Store (see the amd64 version for why it exists).
func storeRelease(p *atomic64, v uint64) { p.Store(v) }

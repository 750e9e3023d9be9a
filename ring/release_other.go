//go:build race || !amd64

package ring

// storeRelease stores v into p with (at least) release semantics; on this
// architecture, or in a race build, it is Go's atomic Store (see the amd64
// version for why it exists).
func storeRelease(p *atomic64, v uint64) { p.Store(v) }

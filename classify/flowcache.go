package classify

import (
	"fmt"
	"math/bits"
	"unsafe"

	"github.com/ringkit/ringkit/internal/mem"
)

// flowCache remembers the rule walk's answer per flow, so a packet of a
// known flow costs one hash, one or two cache-line loads and a key compare
// instead of a walk of every rule.
//
// It is a fixed-size, open-addressed table (linear probing over a window of
// cacheProbe slots) keyed by the whole Flow. An entry is valid only if its
// generation equals the cache's: changing the rules bumps the generation,
// which invalidates every entry at once without touching the table. When
// the window is full the home slot is overwritten, so the cache needs no
// deletion and never grows. A flowCache belongs to one goroutine.
type flowCache struct {
	tab  []cacheEntry
	mask uint64
	gen  uint32 // entries with another generation are empty; never 0
}

const cacheProbe = 4

// cacheEntry is 64 bytes, one cache line on the usual processors, so a
// hit reads one line: the table's size is a power of two of at least 256
// bytes, which Go allocates at least 64-byte aligned (power-of-two size
// classes sit at multiples of their size in page-aligned spans; larger
// objects start on a page), so no entry straddles two lines.
type cacheEntry struct {
	key  Flow
	gen  uint32
	rule int32 // the rule list index, MatchDefault or MatchNone
	act  Action
	_    [12]byte
}

// cacheEntries returns the entries of a cache of size, rounded up to a
// power of two (at least cacheProbe; 0 selects DefaultCacheSize).
func cacheEntries(size int) uint64 {
	if size == 0 {
		size = DefaultCacheSize
	}
	return max(uint64(1)<<bits.Len64(uint64(size)-1), cacheProbe)
}

// cacheBytes returns the memory of a cache of size entries (see
// cacheEntries), or an error wrapping ErrConfig if size is negative.
func cacheBytes(size int) (uint64, error) {
	if size < 0 {
		return 0, fmt.Errorf("%w: flow cache size %d (want 0 for the default, or more)", ErrConfig, size)
	}
	var e cacheEntry
	return mem.Size(cacheEntries(size), uint64(unsafe.Sizeof(e))), nil
}

// newFlowCache returns a cache of size entries (see cacheEntries), which
// its caller checked with cacheBytes.
func newFlowCache(size int) flowCache {
	n := cacheEntries(size)
	return flowCache{tab: make([]cacheEntry, n), mask: n - 1, gen: 1}
}

// lookup returns the cached answer for f.
func (c *flowCache) lookup(f *Flow, h uint64) (*cacheEntry, bool) {
	for i := range uint64(cacheProbe) {
		e := &c.tab[(h+i)&c.mask]
		if e.gen == c.gen && e.key.equal(f) {
			return e, true
		}
	}
	return nil, false
}

// insert stores an answer for f: in the first stale slot of f's window, or
// over its home slot.
func (c *flowCache) insert(f *Flow, h uint64, act Action, rule int) {
	e := &c.tab[h&c.mask]
	for i := range uint64(cacheProbe) {
		if s := &c.tab[(h+i)&c.mask]; s.gen != c.gen {
			e = s
			break
		}
	}
	*e = cacheEntry{key: *f, gen: c.gen, rule: int32(rule), act: act}
}

// invalidate empties the cache.
func (c *flowCache) invalidate() {
	c.gen++
	if c.gen == 0 { // wrapped: entries of generation 1 could look valid again
		clear(c.tab)
		c.gen = 1
	}
}

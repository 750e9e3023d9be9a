package descriptor

import (
	"fmt"

	"github.com/ringkit/ringkit/internal/pad"
)

// Cache is a per-worker stack of free buffers in front of a Pool's shared
// free list, as an rte_mempool's per-lcore cache: gets and puts that the
// stack can serve touch no shared memory, and the shared ring is moved in
// bulk (one compare-and-swap per refill or flush).
//
// A Cache holds CacheSize buffers at its usual fill. A get that finds too
// few refills it from the free list with CacheSize plus what the get needs;
// a put that brings it above 1.5 × CacheSize flushes it back down to
// CacheSize. Gets and puts larger than CacheSize go to the free list
// directly. The stack is last in, first out, so the buffer a get returns is
// the one most recently put, still warm in this core's cache.
//
// A Cache belongs to one goroutine at a time: its methods must not be
// called concurrently. Handing it to another goroutine needs the usual
// synchronization (a channel send, a WaitGroup). The buffers it holds count
// as the Pool's; call Flush before dropping a Cache, or they stay out of
// the Pool for good.
type Cache struct {
	_    pad.NoCopy
	pool *Pool
	objs []Buf // the free buffers held, top of the stack last; cap is fixed
	size int   // the fill a refill or flush leaves
	high int   // a put above this flushes

	hits      uint64 // gets served without a refill
	published uint64 // hits already added to pool.hits
	counted   int    // len(objs) as last added to pool.cached
	refills   uint64
	flushes   uint64
}

// NewCache returns an empty Cache in front of p, for one goroutine.
func (p *Pool) NewCache() *Cache {
	high := p.cacheSz + p.cacheSz/2
	return &Cache{
		pool: p,
		objs: make([]Buf, 0, high+p.cacheSz),
		size: p.cacheSz,
		high: high,
	}
}

// Pool returns the Pool the Cache is in front of.
func (c *Cache) Pool() *Pool { return c.pool }

// Len returns the number of buffers the Cache holds.
func (c *Cache) Len() int { return len(c.objs) }

// Get takes one free buffer; ok is false when neither the Cache nor the
// Pool's free list has one.
func (c *Cache) Get() (b Buf, ok bool) {
	n := len(c.objs)
	if n == 0 {
		if !c.refill(1) {
			return 0, false
		}
		n = len(c.objs)
	} else {
		c.hits++
	}
	b = c.objs[n-1]
	c.objs = c.objs[:n-1]
	c.pool.acquired(b)
	return b, true
}

// GetBulk fills dst with free buffers, all or nothing: it reports false,
// taking none, when the Cache and the free list together have fewer than
// len(dst).
func (c *Cache) GetBulk(dst []Buf) bool {
	k := len(dst)
	if k > c.size {
		return c.pool.GetBulk(dst)
	}
	n := len(c.objs)
	if n < k {
		if !c.refill(k) {
			return false
		}
		n = len(c.objs)
	} else {
		c.hits += uint64(k)
	}
	copy(dst, c.objs[n-k:n])
	c.objs = c.objs[:n-k]
	if c.pool.state != nil {
		for _, b := range dst {
			c.pool.acquired(b)
		}
	}
	return true
}

// refill moves buffers from the free list so that the Cache holds at least
// need (it asks for size+need-len and takes what there is). It reports
// whether the Cache now holds need; if not, the get fails as an empty
// event, and what was moved stays in the Cache for the next try.
func (c *Cache) refill(need int) bool {
	n := len(c.objs)
	k := c.pool.free.DequeueBurst(c.objs[n : n+c.size+need-n])
	c.objs = c.objs[:n+k]
	c.refills++
	c.sync()
	if len(c.objs) < need {
		c.pool.empty.Add(1)
		return false
	}
	return true
}

// Put returns b to the Cache, flushing the Cache down to CacheSize if it
// grows past 1.5 × CacheSize. Its errors are those of Pool.Put; on error
// nothing changes.
func (c *Cache) Put(b Buf) error {
	if err := c.pool.release(b, "put"); err != nil {
		return err
	}
	c.objs = append(c.objs, b) // len ≤ high < cap: never reallocates
	if len(c.objs) > c.high {
		return c.flush(c.size)
	}
	return nil
}

// PutBulk returns every buffer of bs. A bad Buf (see Pool.Put) is left
// out and the others are returned; the error names the first bad one.
func (c *Cache) PutBulk(bs []Buf) error {
	if len(bs) > c.size {
		return c.pool.PutBulk(bs)
	}
	var first error
	for _, b := range bs {
		if err := c.pool.release(b, "put"); err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		c.objs = append(c.objs, b) // len ≤ high + size = cap: never reallocates
	}
	if len(c.objs) > c.high {
		if err := c.flush(c.size); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Flush returns every buffer of the Cache to the Pool's free list and
// publishes the Cache's counters. Call it before dropping the Cache.
func (c *Cache) Flush() error { return c.flush(0) }

// flush moves buffers from the top of the stack to the free list until the
// Cache holds keep.
func (c *Cache) flush(keep int) error {
	var err error
	n := len(c.objs)
	if n > keep {
		moved := c.pool.free.EnqueueBurst(c.objs[keep:n])
		if keep+moved < n {
			// The free list has room for every buffer of the Pool, so the
			// ones it refused are already in it: buffers freed twice
			// without Check. Drop these duplicates rather than hand a
			// buffer out twice.
			err = fmt.Errorf("descriptor: flush: %w (%d buffers more than the pool holds)", ErrDoubleFree, n-keep-moved)
		}
		c.objs = c.objs[:keep]
	}
	c.flushes++
	c.sync()
	return err
}

// sync publishes the Cache's fill and hits to the Pool's counters.
func (c *Cache) sync() {
	if d := len(c.objs) - c.counted; d != 0 {
		c.pool.cached.Add(int64(d))
		c.counted = len(c.objs)
	}
	if c.hits != c.published {
		c.pool.hits.Add(c.hits - c.published)
		c.published = c.hits
	}
}

// CacheStats are a Cache's own counters.
type CacheStats struct {
	Len     int    // buffers held now
	Hits    uint64 // gets served without touching the free list
	Refills uint64 // times the free list was asked for buffers
	Flushes uint64 // times buffers went back to the free list
}

// String says what the cache did in one line.
func (s CacheStats) String() string {
	return fmt.Sprintf("%d buffers held; %d gets served from the cache, %d refills from the free list, %d flushes to it",
		s.Len, s.Hits, s.Refills, s.Flushes)
}

// Stats returns the Cache's counters. Like every method of a Cache, it is
// for the goroutine that owns it.
func (c *Cache) Stats() CacheStats {
	return CacheStats{Len: len(c.objs), Hits: c.hits, Refills: c.refills, Flushes: c.flushes}
}

package classify

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/internal/mem"
	"github.com/ringkit/ringkit/internal/pad"
)

// Verdict is what Classify decided for a packet.
type Verdict uint8

const (
	Forward       Verdict = iota // p.OutPort and p.TC are set
	DropMalformed                // the frame is malformed (counted by reason)
	DropNoRoute                  // no rule matched and there is no default
)

// DefaultCacheSize is the flow cache size NewClassifier uses for 0.
const DefaultCacheSize = 4096

// DefaultMaxBytes is the most memory a flow cache may take (2^24 entries)
// and, unless StageConfig.MaxBytes says otherwise, a Stage.
const DefaultMaxBytes = 1 << 30

// ErrNoRules is returned when a classifier is given no RuleSet.
var ErrNoRules = errors.New("classify: nil RuleSet")

// Classifier parses packets and chooses their output port and traffic
// class: Parse, the flow key, the flow cache, and on a miss the rule walk.
// It is the engine of a Stage and can be used alone.
//
// A Classifier belongs to one goroutine: Classify, SetRules and Flush must
// not be called concurrently. Stats and the RuleSet's hit counters may be
// read from any goroutine; they show what the last Flush published.
type Classifier struct {
	_     pad.NoCopy
	rules *RuleSet
	cache flowCache

	// Counts of the owning goroutine since the last Flush, plain memory.
	hits                                  []uint64 // per rule (list order), then default
	packets, noRoute, cacheHit, cacheMiss uint64

	parse ParseStats
	// Published by Flush (atomic adds), read by Stats. Each is an
	// independent statistic and orders nothing else.
	pubPackets, pubNoRoute, pubHit, pubMiss atomic.Uint64
}

// NewClassifier returns a classifier for rs with a flow cache of cacheSize
// entries (0 selects DefaultCacheSize; rounded up to a power of two). A
// cache whose entries (64 bytes each) would take more than DefaultMaxBytes
// is refused with ErrConfig, before anything is allocated.
func NewClassifier(rs *RuleSet, cacheSize int) (*Classifier, error) {
	if rs == nil {
		return nil, ErrNoRules
	}
	b, err := cacheBytes(cacheSize)
	if err != nil {
		return nil, err
	}
	if err := mem.Check(ErrConfig, fmt.Sprintf("a flow cache of %d entries", cacheSize), b, DefaultMaxBytes, ""); err != nil {
		return nil, err
	}
	if cacheSize == 0 {
		cacheSize = DefaultCacheSize
	}
	return &Classifier{rules: rs, cache: newFlowCache(cacheSize), hits: make([]uint64, rs.Len()+1)}, nil
}

// Classify parses the frame b of p (p's Len bytes) and, if it is well
// formed and routed, sets p.OutPort and p.TC. A packet whose Flags have
// descriptor.FlagParsed carries the NIC's parse of b (as Parse fills it),
// which Classify uses instead of parsing again, as a driver uses the
// packet type offload; any other packet is parsed. Such a packet that
// also has FlagHash indexes the flow cache by the NIC's RSS hash instead of
// hashing its Flow again. Either way Classify reads only inside b. It
// allocates nothing.
func (c *Classifier) Classify(b []byte, p *descriptor.Packet) Verdict {
	c.packets++
	if p.Flags&descriptor.FlagParsed == 0 {
		if r := Parse(b, p); r != OK {
			c.parse.n[r].Add(1)
			return DropMalformed
		}
	}
	var f Flow
	f.Extract(b, p)
	var h uint64
	if p.Flags&(descriptor.FlagParsed|descriptor.FlagHash) == descriptor.FlagParsed|descriptor.FlagHash {
		h = rssCacheHash(p.Hash) // the NIC hashed the same tuple already
	} else {
		h = f.hash()
	}
	var act Action
	var rule int
	if e, ok := c.cache.lookup(&f, h); ok {
		act, rule = e.act, int(e.rule)
		c.cacheHit++
	} else {
		act, rule = c.rules.Match(&f)
		c.cache.insert(&f, h, act, rule)
		c.cacheMiss++
	}
	switch rule {
	case MatchNone:
		c.noRoute++
		return DropNoRoute
	case MatchDefault:
		rule = len(c.hits) - 1
	}
	c.hits[rule]++
	p.OutPort = act.Port
	p.TC = c.rules.Resolve(act, p.DSCP)
	return Forward
}

// rssCacheHash spreads a NIC's RSS hash over the flow cache's index bits:
// the RSS hash of the packets of one RX queue share the low bits that
// picked the queue, so they are mixed in from the high bits. Any hash is
// correct for the cache, which compares whole keys; the RSS hash covers
// the addresses and, where the Flow has them, the ports.
func rssCacheHash(h uint32) uint64 {
	x := uint64(h) * 0x9e3779b97f4a7c15
	return x ^ x>>32
}

// Flush publishes the counts since the last Flush to Stats and to the
// RuleSet's hit counters. A Stage calls it once per burst.
func (c *Classifier) Flush() {
	for i, n := range c.hits {
		if n != 0 {
			c.rules.hits[i].Add(n)
			c.hits[i] = 0
		}
	}
	c.pubPackets.Add(c.packets)
	c.pubNoRoute.Add(c.noRoute)
	c.pubHit.Add(c.cacheHit)
	c.pubMiss.Add(c.cacheMiss)
	c.packets, c.noRoute, c.cacheHit, c.cacheMiss = 0, 0, 0, 0
}

// SetRules flushes the counts, switches to rs, and empties the flow cache.
func (c *Classifier) SetRules(rs *RuleSet) error {
	if rs == nil {
		return ErrNoRules
	}
	c.Flush()
	c.rules = rs
	c.hits = make([]uint64, rs.Len()+1)
	c.cache.invalidate()
	return nil
}

// Rules returns the RuleSet in use.
func (c *Classifier) Rules() *RuleSet { return c.rules }

// ClassifierStats are a Classifier's counters as last flushed.
type ClassifierStats struct {
	Packets     uint64 // frames classified
	Malformed   uint64 // of which malformed (see ParseStats for reasons)
	NoRoute     uint64 // of which no rule matched and there was no default
	CacheHits   uint64
	CacheMisses uint64
}

// String says what the classifier did in one line.
func (s ClassifierStats) String() string {
	return fmt.Sprintf("%d packets classified (%d malformed, %d with no route); flow cache %d hits, %d misses",
		s.Packets, s.Malformed, s.NoRoute, s.CacheHits, s.CacheMisses)
}

// Stats returns the counters as last flushed (malformed counts are live).
func (c *Classifier) Stats() ClassifierStats {
	return ClassifierStats{
		Packets:     c.pubPackets.Load(),
		Malformed:   c.parse.Malformed(),
		NoRoute:     c.pubNoRoute.Load(),
		CacheHits:   c.pubHit.Load(),
		CacheMisses: c.pubMiss.Load(),
	}
}

// ParseStats returns the malformed-frame counters by Reason.
func (c *Classifier) ParseStats() *ParseStats { return &c.parse }

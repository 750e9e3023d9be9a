package nicsim

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/ringkit/ringkit/frame"
)

// SizeWeight is one frame size of a mix and its relative weight. Size is
// the frame length without FCS; a size below what the headers need is
// raised to it.
type SizeWeight struct {
	Size   int
	Weight int
}

// IMIX is the simple Internet mix: 7 × 64, 4 × 594 and 1 × 1518 bytes on
// the wire (FCS included), here without FCS.
var IMIX = []SizeWeight{{60, 7}, {590, 4}, {1514, 1}}

// DSCPWeight is one DSCP value of a mix and its relative weight.
type DSCPWeight struct {
	DSCP   uint8
	Weight int
}

// GenConfig describes generated traffic. The zero value of each field
// selects its default.
type GenConfig struct {
	// Rate is the average rate in frames per second; 0 sends as fast as the
	// NIC takes frames (Burst per round).
	Rate float64
	// Burst is the depth of the rate's token bucket and the most frames one
	// round of the NIC takes from the generator (32).
	Burst int
	// Bursty sends Burst frames back to back each time Burst tokens have
	// accrued, instead of a frame whenever one token has (only with Rate).
	Bursty bool
	// Count is the number of frames to send; 0 sends without end.
	Count uint64
	// Sizes is the frame size mix (64-byte frames: one size of 60).
	Sizes []SizeWeight
	// Flows is the number of distinct flows, each a 5-tuple (1).
	Flows int
	// IPv6 is the fraction of flows that are IPv6, from 0 to 1.
	IPv6 float64
	// TCP is the fraction of flows that are TCP, from 0 to 1; the others
	// are UDP.
	TCP float64
	// DSCP is the mix of DSCP values, drawn per frame (all 0).
	DSCP []DSCPWeight
	// Reverse swaps every flow's source and destination (address and port),
	// giving the other direction of the same flows.
	Reverse bool
	// Seed seeds the choice of sizes and DSCP values.
	Seed uint64
}

// Generator makes frames as GenConfig describes, with the frame builder of
// frame (valid checksums). Frame i belongs to flow i mod Flows.
// Its methods are for one goroutine at a time (the NIC's).
type Generator struct {
	cfg       GenConfig
	rng       *rand.Rand
	sizeTotal int
	dscpTotal int
	sent      atomic.Uint64 // frames made; stored by Next only (one writer), loaded by Sent from anywhere
	tokens    float64
	last      time.Duration
	spec      frame.Spec
	cache     []cacheEntry // per flow; nil when the cache would be too large
	slab      []byte       // flow i's cached frame is slab[i*slot:][:cache[i].n]
	slot      int
}

// NewGenerator checks cfg and returns a Generator.
func NewGenerator(cfg GenConfig) (*Generator, error) {
	if cfg.Rate < 0 {
		return nil, fmt.Errorf("%w: generator rate %v", ErrConfig, cfg.Rate)
	}
	if cfg.Burst == 0 {
		cfg.Burst = 32
	}
	if cfg.Burst < 1 {
		return nil, fmt.Errorf("%w: generator burst %d", ErrConfig, cfg.Burst)
	}
	if cfg.Flows == 0 {
		cfg.Flows = 1
	}
	if cfg.Flows < 1 || cfg.Flows > 1<<24 {
		return nil, fmt.Errorf("%w: %d flows (want 1..%d)", ErrConfig, cfg.Flows, 1<<24)
	}
	if cfg.IPv6 < 0 || cfg.IPv6 > 1 || cfg.TCP < 0 || cfg.TCP > 1 {
		return nil, fmt.Errorf("%w: fractions IPv6 %v and TCP %v must lie in [0, 1]", ErrConfig, cfg.IPv6, cfg.TCP)
	}
	if len(cfg.Sizes) == 0 {
		cfg.Sizes = []SizeWeight{{60, 1}}
	}
	g := &Generator{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15)), tokens: float64(cfg.Burst)}
	for _, s := range cfg.Sizes {
		if s.Size < 1 || s.Size > 9000 || s.Weight < 0 {
			return nil, fmt.Errorf("%w: frame size %d weight %d (want 1..9000, weight ≥ 0)", ErrConfig, s.Size, s.Weight)
		}
		g.sizeTotal += s.Weight
	}
	if g.sizeTotal == 0 {
		return nil, fmt.Errorf("%w: frame size weights sum to 0", ErrConfig)
	}
	for _, d := range cfg.DSCP {
		if d.DSCP > 63 || d.Weight < 0 {
			return nil, fmt.Errorf("%w: DSCP %d weight %d", ErrConfig, d.DSCP, d.Weight)
		}
		g.dscpTotal += d.Weight
	}
	if len(cfg.DSCP) > 0 && g.dscpTotal == 0 {
		return nil, fmt.Errorf("%w: DSCP weights sum to 0", ErrConfig)
	}
	g.initCache()
	return g, nil
}

// Sent returns the number of frames generated so far. Unlike the other
// methods, it may be called from any goroutine.
func (g *Generator) Sent() uint64 { return g.sent.Load() }

// Done reports whether the generator has sent Count frames.
func (g *Generator) Done() bool { return g.cfg.Count != 0 && g.sent.Load() >= g.cfg.Count }

// left returns how many of Count frames are still to send, capped at n.
func (g *Generator) left(n int) int {
	if g.cfg.Count == 0 {
		return n
	}
	return int(min(uint64(n), g.cfg.Count-min(g.sent.Load(), g.cfg.Count)))
}

// Due returns how many frames the generator may send at time now (measured
// from any fixed origin, increasing), at most Burst: the tokens of its
// bucket, or Burst without a Rate, bounded by what is left of Count. Each
// Next spends one token.
func (g *Generator) Due(now time.Duration) int {
	n := g.cfg.Burst
	if g.cfg.Rate > 0 {
		if now > g.last {
			g.tokens = min(g.tokens+(now-g.last).Seconds()*g.cfg.Rate, float64(g.cfg.Burst))
			g.last = now
		}
		n = int(g.tokens)
		if g.cfg.Bursty && n < g.cfg.Burst {
			n = 0
		}
	}
	return g.left(n)
}

// Next writes the next frame into dst's backing array (from dst[0]) and
// returns it. It allocates only when cap(dst) is below the frame's size.
func (g *Generator) Next(dst []byte) []byte {
	seq := g.sent.Load()
	i := int(seq % uint64(g.cfg.Flows))
	dscp := g.pickDSCP()
	size := g.pickSize()
	var out []byte
	if e := g.cached(i); e != nil && e.n > 0 && e.size == size && e.dscp == dscp {
		out = append(dst[:0], g.slab[i*g.slot:i*g.slot+e.n]...)
	} else {
		g.flowSpec(i, &g.spec)
		g.spec.DSCP = dscp
		hl := 14 + 20 + 8 // Ethernet, IPv4, UDP: the generator adds no tags or options
		if g.spec.IsIPv6() {
			hl += 20
		}
		if g.spec.Proto == frame.ProtoTCP {
			hl += 12
		}
		g.spec.PayloadLen = max(size-hl, 0)
		out = frame.Build(dst[:0], &g.spec)
		if e != nil && len(out) <= g.slot {
			*e = cacheEntry{size: size, dscp: dscp, n: copy(g.slab[i*g.slot:(i+1)*g.slot], out)}
		}
	}
	g.sent.Store(seq + 1)
	if g.cfg.Rate > 0 {
		g.tokens--
	}
	return out
}

// A frame depends only on its flow, size and DSCP (no field varies from
// frame to frame), so the generator keeps the last frame of each flow and
// copies it when the next frame of that flow has the same size and DSCP,
// instead of building it again. The cache is kept only while it is small
// (maxCacheBytes); a flow's slot holds the largest frame of the size mix.
const maxCacheBytes = 8 << 20

type cacheEntry struct {
	size int
	dscp uint8
	n    int // bytes of the cached frame; 0 if none
}

// cached returns flow i's cache entry, or nil without a cache.
func (g *Generator) cached(i int) *cacheEntry {
	if g.cache == nil {
		return nil
	}
	return &g.cache[i]
}

// initCache sets up the frame cache if it fits in maxCacheBytes.
func (g *Generator) initCache() {
	slot := 14 + 40 + 20 // the largest headers the generator writes
	for _, s := range g.cfg.Sizes {
		slot = max(slot, s.Size)
	}
	if g.cfg.Flows*slot > maxCacheBytes {
		return
	}
	g.slot = slot
	g.cache = make([]cacheEntry, g.cfg.Flows)
	g.slab = make([]byte, g.cfg.Flows*slot)
}

func (g *Generator) pickSize() int {
	if len(g.cfg.Sizes) == 1 {
		return g.cfg.Sizes[0].Size
	}
	w := g.rng.IntN(g.sizeTotal)
	for _, s := range g.cfg.Sizes {
		if w < s.Weight {
			return s.Size
		}
		w -= s.Weight
	}
	return g.cfg.Sizes[len(g.cfg.Sizes)-1].Size
}

func (g *Generator) pickDSCP() uint8 {
	if len(g.cfg.DSCP) == 0 {
		return 0
	}
	w := g.rng.IntN(g.dscpTotal)
	for _, d := range g.cfg.DSCP {
		if w < d.Weight {
			return d.DSCP
		}
		w -= d.Weight
	}
	return g.cfg.DSCP[len(g.cfg.DSCP)-1].DSCP
}

// flowSpec fills s with flow i's headers: IPv4 10.a.b.c → 192.168.x.y or
// IPv6 fd00::/64 addresses derived from i, ports derived from i, TCP or
// UDP. Which flows are IPv6 or TCP is fixed by i, so a flow keeps its
// 5-tuple in every frame.
func (g *Generator) flowSpec(i int, s *frame.Spec) {
	*s = frame.Spec{
		SrcMAC: [6]byte{0x02, 0, 0, 0, 0, 1},
		DstMAC: [6]byte{0x02, 0, 0, 0, 0, 2},
	}
	frac := func(salt uint64) float64 { // a fixed pseudo-random number in [0, 1) per flow
		x := uint64(i)*0x9e3779b97f4a7c15 ^ salt
		x ^= x >> 31
		x *= 0xbf58476d1ce4e5b9
		x ^= x >> 29
		return float64(x>>11) / (1 << 53)
	}
	v6 := frac(1) < g.cfg.IPv6
	if v6 {
		src := [16]byte{0: 0xfd, 15: byte(i), 14: byte(i >> 8), 13: byte(i >> 16)}
		dst := [16]byte{0: 0xfd, 1: 1, 15: byte(i * 7), 14: byte(i >> 8), 13: byte(i >> 16)}
		s.Src, s.Dst = netip.AddrFrom16(src), netip.AddrFrom16(dst)
	} else {
		s.Src = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		s.Dst = netip.AddrFrom4([4]byte{192, 168, byte(i >> 8), byte(i*7 + 1)})
	}
	s.Proto = frame.ProtoUDP
	if frac(2) < g.cfg.TCP {
		s.Proto, s.TCPFlags = frame.ProtoTCP, frame.TCPAck
	}
	s.SrcPort, s.DstPort = uint16(1024+i%60000), uint16(80+i%7)
	if g.cfg.Reverse {
		s.Src, s.Dst = s.Dst, s.Src
		s.SrcPort, s.DstPort = s.DstPort, s.SrcPort
		s.SrcMAC, s.DstMAC = s.DstMAC, s.SrcMAC
	}
}

package pipeline

import (
	"sync/atomic"
	"time"

	"github.com/ringkit/ringkit/nicsim"
)

// trace is the traffic the ingress side sends: frames made once by a
// nicsim.Generator (flows, size mix, DSCP mix, IPv4 and IPv6, valid
// checksums) and replayed in a loop, as a hardware traffic generator
// replays a capture, paced by a token bucket. Building a frame costs more
// than the rest of its trip through the pipeline (a DSCP and a size drawn
// per frame defeat the generator's per-flow frame cache), and a traffic
// source is not what the pipeline measures.
type trace struct {
	frames [][]byte // into one slab; the NIC only reads them
	next   int

	rate   float64 // frames per second; 0: unpaced
	tokens float64
	last   time.Duration

	// sent counts frames handed to the NIC: written by the ingress
	// goroutine, read by Snapshot from any goroutine.
	sent atomic.Uint64
}

// traceFrames is about how many frames a trace holds: every flow the same
// number of times, at least once.
const traceFrames = 16384

func newTrace(gen *nicsim.Generator, flows int, rate float64) *trace {
	n := flows * max(1, traceFrames/flows)
	t := &trace{frames: make([][]byte, n), rate: rate}
	var slab []byte
	buf := make([]byte, 0, 2048)
	for i := range t.frames {
		f := gen.Next(buf[:0])
		if cap(slab)-len(slab) < len(f) {
			slab = make([]byte, 0, max(1<<20, len(f)))
		}
		off := len(slab)
		slab = append(slab, f...)
		t.frames[i] = slab[off:len(slab):len(slab)]
	}
	return t
}

// due returns how many frames may be sent at now, at most genDepth.
func (t *trace) due(now time.Duration) int {
	if t.rate == 0 {
		return genDepth
	}
	if now > t.last {
		t.tokens = min(t.tokens+(now-t.last).Seconds()*t.rate, genDepth)
		t.last = now
	}
	return int(t.tokens)
}

// take fills dst with the next frames of the loop and spends their tokens.
func (t *trace) take(dst [][]byte) {
	for i := range dst {
		dst[i] = t.frames[t.next]
		t.next++
		if t.next == len(t.frames) {
			t.next = 0
		}
	}
	if t.rate > 0 {
		t.tokens -= float64(len(dst))
	}
	t.sent.Add(uint64(len(dst)))
}

package sched

import (
	"math"
	"math/bits"
	"time"
)

// nsBits converts rate × nanoseconds into bytes: a rate of r bits per second
// delivers r × d / nsBits bytes in d nanoseconds.
const nsBits = 8 * uint64(time.Second)

// bucket is a token bucket in bytes, refilled from elapsed time with
// integer arithmetic only: the 128-bit product elapsed × rate is divided by
// 8e9 and the remainder is carried to the next refill, so the bucket gains
// exactly rate/8 bytes per second of simulated or real time, with no drift
// and no overflow at any rate a uint64 holds. It is owned by one goroutine.
type bucket struct {
	rate   uint64        // bits per second
	depth  int64         // largest number of tokens, bytes
	tokens int64         // bytes available now; never above depth
	rem    uint64        // (elapsed × rate) mod nsBits not yet turned into a byte
	last   time.Duration // time of the last refill
	full   time.Duration // an elapsed time that fills the bucket from empty
}

func newBucket(rate uint64, depth int64) bucket {
	b := bucket{rate: rate, depth: depth}
	// full = ceil(depth × nsBits / rate), saturating.
	hi, lo := bits.Mul64(uint64(depth), nsBits)
	if hi >= rate {
		b.full = math.MaxInt64
	} else {
		q, r := bits.Div64(hi, lo, rate)
		if r != 0 {
			q++
		}
		b.full = time.Duration(min(q, math.MaxInt64))
	}
	return b
}

// start sets the time the bucket counts from; it starts empty.
func (b *bucket) start(now time.Duration) { b.last = now }

// refill adds the tokens earned since the last refill. A clock that goes
// backwards adds nothing and is not taken as the new reference.
func (b *bucket) refill(now time.Duration) {
	d := now - b.last
	if d <= 0 {
		return
	}
	b.last = now
	if d >= b.full {
		b.tokens, b.rem = b.depth, 0
		return
	}
	// d < full, so d × rate < (depth+1) × nsBits and hi < nsBits: Div64
	// cannot overflow.
	hi, lo := bits.Mul64(uint64(d), b.rate)
	var c uint64
	lo, c = bits.Add64(lo, b.rem, 0)
	q, r := bits.Div64(hi+c, lo, nsBits)
	b.rem = r
	if t := b.tokens + int64(q); t < b.depth {
		b.tokens = t
	} else {
		b.tokens, b.rem = b.depth, 0
	}
}

package sched

import "time"

// Bucket exposes the token bucket to the tests.
type Bucket struct{ b bucket }

func NewBucket(rate uint64, depth int64) *Bucket {
	return &Bucket{b: newBucket(rate, depth)}
}

func (b *Bucket) Start(now time.Duration)  { b.b.start(now) }
func (b *Bucket) Refill(now time.Duration) { b.b.refill(now) }
func (b *Bucket) Tokens() int64            { return b.b.tokens }
func (b *Bucket) Take(n int64)             { b.b.tokens -= n }

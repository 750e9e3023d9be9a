package benchmarks

import (
	"github.com/Workiva/go-datastructures/queue"
	"github.com/puzpuzpuz/xsync/v4"
)

// The peers have no burst operations, so a burst is that many single
// operations; the batch is still filled and summed as ringkit's is, so every
// implementation does the same work around its queue calls.

// chanImpl drives a buffered channel with plain blocking sends and
// receives, the way Go programs use one.
//
//go:noinline // see impl
func chanImpl() impl {
	return impl{
		name: "chan",
		roundTrip: func(more func() bool, burst int) (n, sum uint64) {
			ch := make(chan uint64, capacity)
			var buf [maxBurst]uint64
			batch := buf[:burst]
			for v := uint64(1); more(); v += uint64(burst) {
				fill(batch, v)
				for _, x := range batch {
					ch <- x
				}
				for i := range batch {
					batch[i] = <-ch
				}
				n, sum = n+uint64(burst), sum+total(batch)
			}
			return n, sum
		},
		pipe: func(burst int) pipe {
			ch := make(chan uint64, capacity)
			return pipe{
				produce: func(first, n uint64) uint64 {
					var buf [maxBurst]uint64
					for v, end := first, first+n; v < end; {
						batch := buf[:min(uint64(burst), end-v)]
						fill(batch, v)
						v += uint64(len(batch))
						for _, x := range batch {
							ch <- x
						}
					}
					return n
				},
				consume: func(n uint64) (got, sum uint64) {
					var buf [maxBurst]uint64
					for got < n {
						batch := buf[:min(uint64(burst), n-got)]
						for i := range batch {
							batch[i] = <-ch
						}
						got, sum = got+uint64(len(batch)), sum+total(batch)
					}
					return got, sum
				},
				close: func() {},
			}
		},
	}
}

// The two xsync queues have the same methods and get copies of the same
// loops, as the ring types do (see ringkit_test.go). xsync v4 has no
// blocking operations; both sides retry with the harness's backoff.

// xsyncSPSC drives xsync.SPSCQueue.
//
//go:noinline // see impl
func xsyncSPSC() impl {
	return impl{
		name: "xsync",
		roundTrip: func(more func() bool, burst int) (n, sum uint64) {
			q := xsync.NewSPSCQueue[uint64](capacity)
			var buf [maxBurst]uint64
			batch := buf[:burst]
			for v := uint64(1); more(); v += uint64(burst) {
				fill(batch, v)
				for _, x := range batch {
					if !q.TryEnqueue(x) {
						return n, sum
					}
				}
				for i := range batch {
					x, ok := q.TryDequeue()
					if !ok {
						return n, sum
					}
					batch[i] = x
				}
				n, sum = n+uint64(burst), sum+total(batch)
			}
			return n, sum
		},
		pipe: func(burst int) pipe {
			q := xsync.NewSPSCQueue[uint64](capacity)
			return pipe{
				produce: func(first, n uint64) uint64 {
					var buf [maxBurst]uint64
					var bo backoff
					for v, end := first, first+n; v < end; {
						batch := buf[:min(uint64(burst), end-v)]
						fill(batch, v)
						v += uint64(len(batch))
						for _, x := range batch {
							for !q.TryEnqueue(x) {
								bo.wait()
							}
							bo = 0
						}
					}
					return n
				},
				consume: func(n uint64) (got, sum uint64) {
					var buf [maxBurst]uint64
					var bo backoff
					for got < n {
						batch := buf[:min(uint64(burst), n-got)]
						for i := range batch {
							x, ok := q.TryDequeue()
							for !ok {
								bo.wait()
								x, ok = q.TryDequeue()
							}
							bo = 0
							batch[i] = x
						}
						got, sum = got+uint64(len(batch)), sum+total(batch)
					}
					return got, sum
				},
				close: func() {},
			}
		},
	}
}

// xsyncMPMC drives xsync.MPMCQueue.
//
//go:noinline // see impl
func xsyncMPMC() impl {
	return impl{
		name: "xsync",
		roundTrip: func(more func() bool, burst int) (n, sum uint64) {
			q := xsync.NewMPMCQueue[uint64](capacity)
			var buf [maxBurst]uint64
			batch := buf[:burst]
			for v := uint64(1); more(); v += uint64(burst) {
				fill(batch, v)
				for _, x := range batch {
					if !q.TryEnqueue(x) {
						return n, sum
					}
				}
				for i := range batch {
					x, ok := q.TryDequeue()
					if !ok {
						return n, sum
					}
					batch[i] = x
				}
				n, sum = n+uint64(burst), sum+total(batch)
			}
			return n, sum
		},
		pipe: func(burst int) pipe {
			q := xsync.NewMPMCQueue[uint64](capacity)
			return pipe{
				produce: func(first, n uint64) uint64 {
					var buf [maxBurst]uint64
					var bo backoff
					for v, end := first, first+n; v < end; {
						batch := buf[:min(uint64(burst), end-v)]
						fill(batch, v)
						v += uint64(len(batch))
						for _, x := range batch {
							for !q.TryEnqueue(x) {
								bo.wait()
							}
							bo = 0
						}
					}
					return n
				},
				consume: func(n uint64) (got, sum uint64) {
					var buf [maxBurst]uint64
					var bo backoff
					for got < n {
						batch := buf[:min(uint64(burst), n-got)]
						for i := range batch {
							x, ok := q.TryDequeue()
							for !ok {
								bo.wait()
								x, ok = q.TryDequeue()
							}
							bo = 0
							batch[i] = x
						}
						got, sum = got+uint64(len(batch)), sum+total(batch)
					}
					return got, sum
				},
				close: func() {},
			}
		},
	}
}

// workiva drives Workiva's queue.RingBuffer, a Vyukov bounded MPMC queue of
// interface{} values: storing a uint64 in one allocates, as it would for a
// user of that queue, and shows in allocs/op.
//
// Producers use Offer, its try-put, with the harness's backoff. Consumers use
// Get, its blocking take: RingBuffer has no try-take, and the closest thing,
// Poll with a tiny timeout, reads the clock on every call, a cost no other
// implementation pays. Get waits by yielding the processor on every failed
// attempt, which is the library's own policy and close to the backoff's.
//
//go:noinline // see impl
func workiva() impl {
	return impl{
		name: "workiva",
		roundTrip: func(more func() bool, burst int) (n, sum uint64) {
			q := queue.NewRingBuffer(capacity)
			defer q.Dispose()
			var buf [maxBurst]uint64
			batch := buf[:burst]
			for v := uint64(1); more(); v += uint64(burst) {
				fill(batch, v)
				for _, x := range batch {
					if ok, err := q.Offer(x); !ok || err != nil {
						return n, sum
					}
				}
				for i := range batch {
					item, err := q.Get()
					if err != nil {
						return n, sum
					}
					batch[i], _ = item.(uint64)
				}
				n, sum = n+uint64(burst), sum+total(batch)
			}
			return n, sum
		},
		pipe: func(burst int) pipe {
			q := queue.NewRingBuffer(capacity)
			return pipe{
				produce: func(first, n uint64) uint64 {
					var buf [maxBurst]uint64
					var bo backoff
					for v, end := first, first+n; v < end; {
						batch := buf[:min(uint64(burst), end-v)]
						fill(batch, v)
						for _, x := range batch {
							for {
								ok, err := q.Offer(x)
								if err != nil {
									return v - first
								}
								if ok {
									break
								}
								bo.wait()
							}
							bo = 0
							v++
						}
					}
					return n
				},
				consume: func(n uint64) (got, sum uint64) {
					var buf [maxBurst]uint64
					for got < n {
						batch := buf[:min(uint64(burst), n-got)]
						for i := range batch {
							item, err := q.Get()
							if err != nil {
								return got, sum
							}
							batch[i], _ = item.(uint64)
						}
						got, sum = got+uint64(len(batch)), sum+total(batch)
					}
					return got, sum
				},
				close: q.Dispose,
			}
		},
	}
}

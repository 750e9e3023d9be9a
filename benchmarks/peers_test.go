package benchmarks

import (
	"github.com/Workiva/go-datastructures/queue"
	"github.com/puzpuzpuz/xsync/v4"
)

// The peers have no burst operations, so a burst is that many single
// operations; the batch is still filled and summed as ringkit's is, so every
// implementation does the same work around its queue calls.
//
// Which peer is in which table, and why:
//
//   - chan: in BenchmarkTry through select with a default case (a send or
//     receive that gives up at once), retried with the harness's backoff;
//     in BenchmarkBest through plain blocking sends and receives.
//   - xsync: in BenchmarkTry only. v4's MPMCQueue and SPSCQueue have only
//     TryEnqueue and TryDequeue; there is no blocking call to put in
//     BenchmarkBest.
//   - workiva: in BenchmarkBest only, through Put and Get, its blocking
//     calls. RingBuffer has a try-put (Offer) but no try-take: the closest,
//     Poll with a timeout, reads the clock on every call, a cost no other
//     contender pays, so it cannot be driven like for like in BenchmarkTry.

// chanTry drives a buffered channel with sends and receives that give up
// at once when the channel is full or empty (select with a default case).
//
//go:noinline // see impl
func chanTry() impl {
	return impl{
		name: "chan",
		roundTrip: func(more func() bool, burst int) (n, sum uint64) {
			ch := make(chan uint64, capacity)
			var buf [maxBurst]uint64
			batch := buf[:burst]
			for v := uint64(1); more(); v += uint64(burst) {
				fill(batch, v)
				for _, x := range batch {
					select {
					case ch <- x:
					default:
						return n, sum
					}
				}
				for i := range batch {
					select {
					case batch[i] = <-ch:
					default:
						return n, sum
					}
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
					var bo backoff
					for v, end := first, first+n; v < end; {
						batch := buf[:min(uint64(burst), end-v)]
						fill(batch, v)
						v += uint64(len(batch))
						for _, x := range batch {
							for sent := false; !sent; {
								select {
								case ch <- x:
									sent = true
								default:
									bo.wait()
								}
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
							for received := false; !received; {
								select {
								case batch[i] = <-ch:
									received = true
								default:
									bo.wait()
								}
							}
							bo = 0
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

// chanBest drives a buffered channel with plain blocking sends and
// receives, the way Go programs use one.
//
//go:noinline // see impl
func chanBest() impl {
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
// loops, as the ring types do (see ringkit_test.go). Both sides retry a
// failed try with the harness's backoff.

// xsyncTrySPSC drives xsync.SPSCQueue.
//
//go:noinline // see impl
func xsyncTrySPSC() impl {
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

// xsyncTryMPMC drives xsync.MPMCQueue.
//
//go:noinline // see impl
func xsyncTryMPMC() impl {
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

// workivaBest drives Workiva's queue.RingBuffer, a Vyukov bounded MPMC
// queue of interface{} values, through Put and Get, its blocking calls:
// both retry a failed attempt after yielding the processor
// (runtime.Gosched), the library's own waiting policy. Storing a uint64 in
// an interface{} allocates, as it would for a user of that queue, and shows
// in allocs/op.
//
//go:noinline // see impl
func workivaBest() impl {
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
					if q.Put(x) != nil {
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
					for v, end := first, first+n; v < end; {
						batch := buf[:min(uint64(burst), end-v)]
						fill(batch, v)
						for _, x := range batch {
							if q.Put(x) != nil {
								return v - first
							}
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

package benchmarks

import (
	"context"

	"github.com/ringkit/ringkit/ring"
)

// The four ring types have the same methods, but calling them through an
// interface, or from a generic function (compiled once for all pointer
// types, calling through a dictionary), would add an indirect call to every
// operation (see impl). So each type gets its own copy of the same loops;
// the copies differ only in the type's name, which TestCopiesAgree checks.
//
// Two sets of loops, one per table:
//
//   - ringkitTry* (BenchmarkTry) uses only the calls that make one attempt
//     and return: TryEnqueue and TryDequeue at burst 1, EnqueueBurst and
//     DequeueBurst (the ring's non-blocking burst calls) at larger bursts.
//     A failed attempt is retried after the harness's backoff, exactly as
//     the peers' tries are, so no implementation wins by how it waits.
//   - ringkitBest* (BenchmarkBest) uses the blocking calls, as a program
//     that waits for its ring would: Enqueue and Dequeue at burst 1, which
//     spin briefly and then park. The ring has no blocking burst call, so at
//     larger bursts a side moves what EnqueueBurst or DequeueBurst takes
//     and, when that is nothing, waits in Enqueue or Dequeue for a single
//     element before trying a burst again.
//
// Uncontended, no call ever finds the ring full or empty, so at bursts
// above 1 the two sets run the same calls.

// ringkitTrySPSC drives ring.SPSC through its non-blocking calls only.
//
//go:noinline // see impl
func ringkitTrySPSC() impl {
	return impl{
		name: "ringkit",
		roundTrip: func(more func() bool, burst int) (n, sum uint64) {
			r := must(ring.NewSPSC[uint64](capacity))
			defer r.Close()
			if burst == 1 {
				for v := uint64(1); more(); v++ {
					if !r.TryEnqueue(v) {
						break
					}
					x, ok := r.TryDequeue()
					if !ok {
						break
					}
					n, sum = n+1, sum+x
				}
				return n, sum
			}
			var buf [maxBurst]uint64
			batch := buf[:burst]
			for v := uint64(1); more(); v += uint64(burst) {
				fill(batch, v)
				if r.EnqueueBurst(batch) != burst || r.DequeueBurst(batch) != burst {
					break
				}
				n, sum = n+uint64(burst), sum+total(batch)
			}
			return n, sum
		},
		pipe: func(burst int) pipe {
			r := must(ring.NewSPSC[uint64](capacity))
			if burst == 1 {
				return pipe{
					produce: func(first, n uint64) uint64 {
						var bo backoff
						for v := first; v < first+n; v++ {
							for !r.TryEnqueue(v) {
								bo.wait()
							}
							bo = 0
						}
						return n
					},
					consume: func(n uint64) (got, sum uint64) {
						var bo backoff
						for ; got < n; got++ {
							x, ok := r.TryDequeue()
							for !ok {
								bo.wait()
								x, ok = r.TryDequeue()
							}
							bo = 0
							sum += x
						}
						return got, sum
					},
					close: func() { r.Close() },
				}
			}
			return pipe{
				produce: func(first, n uint64) uint64 {
					var buf [maxBurst]uint64
					var bo backoff
					for v, end := first, first+n; v < end; {
						batch := buf[:min(uint64(burst), end-v)]
						fill(batch, v)
						v += uint64(len(batch))
						for len(batch) > 0 {
							k := r.EnqueueBurst(batch)
							if k == 0 {
								bo.wait()
								continue
							}
							bo = 0
							batch = batch[k:]
						}
					}
					return n
				},
				consume: func(n uint64) (got, sum uint64) {
					var buf [maxBurst]uint64
					var bo backoff
					for got < n {
						k := r.DequeueBurst(buf[:min(uint64(burst), n-got)])
						if k == 0 {
							bo.wait()
							continue
						}
						bo = 0
						got, sum = got+uint64(k), sum+total(buf[:k])
					}
					return got, sum
				},
				close: func() { r.Close() },
			}
		},
	}
}

// ringkitTryMPSC drives ring.MPSC through its non-blocking calls only.
//
//go:noinline // see impl
func ringkitTryMPSC() impl {
	return impl{
		name: "ringkit",
		roundTrip: func(more func() bool, burst int) (n, sum uint64) {
			r := must(ring.NewMPSC[uint64](capacity))
			defer r.Close()
			if burst == 1 {
				for v := uint64(1); more(); v++ {
					if !r.TryEnqueue(v) {
						break
					}
					x, ok := r.TryDequeue()
					if !ok {
						break
					}
					n, sum = n+1, sum+x
				}
				return n, sum
			}
			var buf [maxBurst]uint64
			batch := buf[:burst]
			for v := uint64(1); more(); v += uint64(burst) {
				fill(batch, v)
				if r.EnqueueBurst(batch) != burst || r.DequeueBurst(batch) != burst {
					break
				}
				n, sum = n+uint64(burst), sum+total(batch)
			}
			return n, sum
		},
		pipe: func(burst int) pipe {
			r := must(ring.NewMPSC[uint64](capacity))
			if burst == 1 {
				return pipe{
					produce: func(first, n uint64) uint64 {
						var bo backoff
						for v := first; v < first+n; v++ {
							for !r.TryEnqueue(v) {
								bo.wait()
							}
							bo = 0
						}
						return n
					},
					consume: func(n uint64) (got, sum uint64) {
						var bo backoff
						for ; got < n; got++ {
							x, ok := r.TryDequeue()
							for !ok {
								bo.wait()
								x, ok = r.TryDequeue()
							}
							bo = 0
							sum += x
						}
						return got, sum
					},
					close: func() { r.Close() },
				}
			}
			return pipe{
				produce: func(first, n uint64) uint64 {
					var buf [maxBurst]uint64
					var bo backoff
					for v, end := first, first+n; v < end; {
						batch := buf[:min(uint64(burst), end-v)]
						fill(batch, v)
						v += uint64(len(batch))
						for len(batch) > 0 {
							k := r.EnqueueBurst(batch)
							if k == 0 {
								bo.wait()
								continue
							}
							bo = 0
							batch = batch[k:]
						}
					}
					return n
				},
				consume: func(n uint64) (got, sum uint64) {
					var buf [maxBurst]uint64
					var bo backoff
					for got < n {
						k := r.DequeueBurst(buf[:min(uint64(burst), n-got)])
						if k == 0 {
							bo.wait()
							continue
						}
						bo = 0
						got, sum = got+uint64(k), sum+total(buf[:k])
					}
					return got, sum
				},
				close: func() { r.Close() },
			}
		},
	}
}

// ringkitTrySPMC drives ring.SPMC through its non-blocking calls only.
//
//go:noinline // see impl
func ringkitTrySPMC() impl {
	return impl{
		name: "ringkit",
		roundTrip: func(more func() bool, burst int) (n, sum uint64) {
			r := must(ring.NewSPMC[uint64](capacity))
			defer r.Close()
			if burst == 1 {
				for v := uint64(1); more(); v++ {
					if !r.TryEnqueue(v) {
						break
					}
					x, ok := r.TryDequeue()
					if !ok {
						break
					}
					n, sum = n+1, sum+x
				}
				return n, sum
			}
			var buf [maxBurst]uint64
			batch := buf[:burst]
			for v := uint64(1); more(); v += uint64(burst) {
				fill(batch, v)
				if r.EnqueueBurst(batch) != burst || r.DequeueBurst(batch) != burst {
					break
				}
				n, sum = n+uint64(burst), sum+total(batch)
			}
			return n, sum
		},
		pipe: func(burst int) pipe {
			r := must(ring.NewSPMC[uint64](capacity))
			if burst == 1 {
				return pipe{
					produce: func(first, n uint64) uint64 {
						var bo backoff
						for v := first; v < first+n; v++ {
							for !r.TryEnqueue(v) {
								bo.wait()
							}
							bo = 0
						}
						return n
					},
					consume: func(n uint64) (got, sum uint64) {
						var bo backoff
						for ; got < n; got++ {
							x, ok := r.TryDequeue()
							for !ok {
								bo.wait()
								x, ok = r.TryDequeue()
							}
							bo = 0
							sum += x
						}
						return got, sum
					},
					close: func() { r.Close() },
				}
			}
			return pipe{
				produce: func(first, n uint64) uint64 {
					var buf [maxBurst]uint64
					var bo backoff
					for v, end := first, first+n; v < end; {
						batch := buf[:min(uint64(burst), end-v)]
						fill(batch, v)
						v += uint64(len(batch))
						for len(batch) > 0 {
							k := r.EnqueueBurst(batch)
							if k == 0 {
								bo.wait()
								continue
							}
							bo = 0
							batch = batch[k:]
						}
					}
					return n
				},
				consume: func(n uint64) (got, sum uint64) {
					var buf [maxBurst]uint64
					var bo backoff
					for got < n {
						k := r.DequeueBurst(buf[:min(uint64(burst), n-got)])
						if k == 0 {
							bo.wait()
							continue
						}
						bo = 0
						got, sum = got+uint64(k), sum+total(buf[:k])
					}
					return got, sum
				},
				close: func() { r.Close() },
			}
		},
	}
}

// ringkitTryMPMC drives ring.MPMC through its non-blocking calls only.
//
//go:noinline // see impl
func ringkitTryMPMC() impl {
	return impl{
		name: "ringkit",
		roundTrip: func(more func() bool, burst int) (n, sum uint64) {
			r := must(ring.NewMPMC[uint64](capacity))
			defer r.Close()
			if burst == 1 {
				for v := uint64(1); more(); v++ {
					if !r.TryEnqueue(v) {
						break
					}
					x, ok := r.TryDequeue()
					if !ok {
						break
					}
					n, sum = n+1, sum+x
				}
				return n, sum
			}
			var buf [maxBurst]uint64
			batch := buf[:burst]
			for v := uint64(1); more(); v += uint64(burst) {
				fill(batch, v)
				if r.EnqueueBurst(batch) != burst || r.DequeueBurst(batch) != burst {
					break
				}
				n, sum = n+uint64(burst), sum+total(batch)
			}
			return n, sum
		},
		pipe: func(burst int) pipe {
			r := must(ring.NewMPMC[uint64](capacity))
			if burst == 1 {
				return pipe{
					produce: func(first, n uint64) uint64 {
						var bo backoff
						for v := first; v < first+n; v++ {
							for !r.TryEnqueue(v) {
								bo.wait()
							}
							bo = 0
						}
						return n
					},
					consume: func(n uint64) (got, sum uint64) {
						var bo backoff
						for ; got < n; got++ {
							x, ok := r.TryDequeue()
							for !ok {
								bo.wait()
								x, ok = r.TryDequeue()
							}
							bo = 0
							sum += x
						}
						return got, sum
					},
					close: func() { r.Close() },
				}
			}
			return pipe{
				produce: func(first, n uint64) uint64 {
					var buf [maxBurst]uint64
					var bo backoff
					for v, end := first, first+n; v < end; {
						batch := buf[:min(uint64(burst), end-v)]
						fill(batch, v)
						v += uint64(len(batch))
						for len(batch) > 0 {
							k := r.EnqueueBurst(batch)
							if k == 0 {
								bo.wait()
								continue
							}
							bo = 0
							batch = batch[k:]
						}
					}
					return n
				},
				consume: func(n uint64) (got, sum uint64) {
					var buf [maxBurst]uint64
					var bo backoff
					for got < n {
						k := r.DequeueBurst(buf[:min(uint64(burst), n-got)])
						if k == 0 {
							bo.wait()
							continue
						}
						bo = 0
						got, sum = got+uint64(k), sum+total(buf[:k])
					}
					return got, sum
				},
				close: func() { r.Close() },
			}
		},
	}
}

// ringkitBestSPSC drives ring.SPSC through its blocking calls.
//
//go:noinline // see impl
func ringkitBestSPSC() impl {
	return impl{
		name: "ringkit",
		roundTrip: func(more func() bool, burst int) (n, sum uint64) {
			r := must(ring.NewSPSC[uint64](capacity))
			defer r.Close()
			ctx := context.Background()
			if burst == 1 {
				for v := uint64(1); more(); v++ {
					if r.Enqueue(ctx, v) != nil {
						break
					}
					x, err := r.Dequeue(ctx)
					if err != nil {
						break
					}
					n, sum = n+1, sum+x
				}
				return n, sum
			}
			var buf [maxBurst]uint64
			batch := buf[:burst]
			for v := uint64(1); more(); v += uint64(burst) {
				fill(batch, v)
				if r.EnqueueBurst(batch) != burst || r.DequeueBurst(batch) != burst {
					break
				}
				n, sum = n+uint64(burst), sum+total(batch)
			}
			return n, sum
		},
		pipe: func(burst int) pipe {
			r := must(ring.NewSPSC[uint64](capacity))
			if burst == 1 {
				return pipe{
					produce: func(first, n uint64) uint64 {
						ctx := context.Background()
						for v := first; v < first+n; v++ {
							if r.Enqueue(ctx, v) != nil {
								return v - first
							}
						}
						return n
					},
					consume: func(n uint64) (got, sum uint64) {
						ctx := context.Background()
						for ; got < n; got++ {
							x, err := r.Dequeue(ctx)
							if err != nil {
								break
							}
							sum += x
						}
						return got, sum
					},
					close: func() { r.Close() },
				}
			}
			return pipe{
				produce: func(first, n uint64) uint64 {
					ctx := context.Background()
					var buf [maxBurst]uint64
					for v, end := first, first+n; v < end; {
						batch := buf[:min(uint64(burst), end-v)]
						fill(batch, v)
						for len(batch) > 0 {
							k := r.EnqueueBurst(batch)
							if k == 0 {
								if r.Enqueue(ctx, batch[0]) != nil {
									return v - first
								}
								k = 1
							}
							v += uint64(k)
							batch = batch[k:]
						}
					}
					return n
				},
				consume: func(n uint64) (got, sum uint64) {
					ctx := context.Background()
					var buf [maxBurst]uint64
					for got < n {
						dst := buf[:min(uint64(burst), n-got)]
						k := r.DequeueBurst(dst)
						if k == 0 {
							x, err := r.Dequeue(ctx)
							if err != nil {
								break
							}
							dst[0], k = x, 1
						}
						got, sum = got+uint64(k), sum+total(dst[:k])
					}
					return got, sum
				},
				close: func() { r.Close() },
			}
		},
	}
}

// ringkitBestMPMC drives ring.MPMC through its blocking calls.
//
//go:noinline // see impl
func ringkitBestMPMC() impl {
	return impl{
		name: "ringkit",
		roundTrip: func(more func() bool, burst int) (n, sum uint64) {
			r := must(ring.NewMPMC[uint64](capacity))
			defer r.Close()
			ctx := context.Background()
			if burst == 1 {
				for v := uint64(1); more(); v++ {
					if r.Enqueue(ctx, v) != nil {
						break
					}
					x, err := r.Dequeue(ctx)
					if err != nil {
						break
					}
					n, sum = n+1, sum+x
				}
				return n, sum
			}
			var buf [maxBurst]uint64
			batch := buf[:burst]
			for v := uint64(1); more(); v += uint64(burst) {
				fill(batch, v)
				if r.EnqueueBurst(batch) != burst || r.DequeueBurst(batch) != burst {
					break
				}
				n, sum = n+uint64(burst), sum+total(batch)
			}
			return n, sum
		},
		pipe: func(burst int) pipe {
			r := must(ring.NewMPMC[uint64](capacity))
			if burst == 1 {
				return pipe{
					produce: func(first, n uint64) uint64 {
						ctx := context.Background()
						for v := first; v < first+n; v++ {
							if r.Enqueue(ctx, v) != nil {
								return v - first
							}
						}
						return n
					},
					consume: func(n uint64) (got, sum uint64) {
						ctx := context.Background()
						for ; got < n; got++ {
							x, err := r.Dequeue(ctx)
							if err != nil {
								break
							}
							sum += x
						}
						return got, sum
					},
					close: func() { r.Close() },
				}
			}
			return pipe{
				produce: func(first, n uint64) uint64 {
					ctx := context.Background()
					var buf [maxBurst]uint64
					for v, end := first, first+n; v < end; {
						batch := buf[:min(uint64(burst), end-v)]
						fill(batch, v)
						for len(batch) > 0 {
							k := r.EnqueueBurst(batch)
							if k == 0 {
								if r.Enqueue(ctx, batch[0]) != nil {
									return v - first
								}
								k = 1
							}
							v += uint64(k)
							batch = batch[k:]
						}
					}
					return n
				},
				consume: func(n uint64) (got, sum uint64) {
					ctx := context.Background()
					var buf [maxBurst]uint64
					for got < n {
						dst := buf[:min(uint64(burst), n-got)]
						k := r.DequeueBurst(dst)
						if k == 0 {
							x, err := r.Dequeue(ctx)
							if err != nil {
								break
							}
							dst[0], k = x, 1
						}
						got, sum = got+uint64(k), sum+total(dst[:k])
					}
					return got, sum
				},
				close: func() { r.Close() },
			}
		},
	}
}

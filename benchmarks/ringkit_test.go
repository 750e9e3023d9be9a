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
// At burst 1 the loops use the blocking Enqueue and Dequeue, which is how a
// user moves single elements: they try once and, on a full or empty ring,
// spin briefly and then park. At larger bursts they use EnqueueBurst and
// DequeueBurst and retry with the harness's backoff, as the peers do.

// ringkitSPSC drives ring.SPSC.
//
//go:noinline // see impl
func ringkitSPSC() impl {
	return impl{
		name: "ringkit",
		roundTrip: func(more func() bool, burst int) (n, sum uint64) {
			r := must(ring.NewSPSC[uint64](capacity))
			defer r.Close()
			if burst == 1 {
				ctx := context.Background()
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

// ringkitMPSC drives ring.MPSC.
//
//go:noinline // see impl
func ringkitMPSC() impl {
	return impl{
		name: "ringkit",
		roundTrip: func(more func() bool, burst int) (n, sum uint64) {
			r := must(ring.NewMPSC[uint64](capacity))
			defer r.Close()
			if burst == 1 {
				ctx := context.Background()
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
			r := must(ring.NewMPSC[uint64](capacity))
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

// ringkitSPMC drives ring.SPMC.
//
//go:noinline // see impl
func ringkitSPMC() impl {
	return impl{
		name: "ringkit",
		roundTrip: func(more func() bool, burst int) (n, sum uint64) {
			r := must(ring.NewSPMC[uint64](capacity))
			defer r.Close()
			if burst == 1 {
				ctx := context.Background()
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
			r := must(ring.NewSPMC[uint64](capacity))
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

// ringkitMPMC drives ring.MPMC.
//
//go:noinline // see impl
func ringkitMPMC() impl {
	return impl{
		name: "ringkit",
		roundTrip: func(more func() bool, burst int) (n, sum uint64) {
			r := must(ring.NewMPMC[uint64](capacity))
			defer r.Close()
			if burst == 1 {
				ctx := context.Background()
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

package ring

import (
	"context"
	"iter"
)

// Range-over-func iteration (Go 1.23's iter.Seq) on every ring type:
//
//	for v := range r.All(ctx) { ... } // waits for each element; ends at Close (drained) or ctx
//	for v := range r.Drain() { ... }  // takes what is there now; never waits
//
// Both are consumers: each element they yield is dequeued, exactly as
// Dequeue or TryDequeue would take it, in the same order and with the
// same "synchronized before" edge from its enqueue. On an SPSC or MPSC
// only the one consumer goroutine may range over them; on an SPMC or MPMC
// any number of goroutines may, each getting its own share of the
// elements. Breaking out of the loop takes nothing more: the elements
// not yet yielded stay in the ring. Each call to All or Drain allocates
// its iterator once; the loop itself allocates nothing while it does not
// have to wait.

// dequeuer is the one consumer operation each iterator needs.
type dequeuer[T any] interface {
	Dequeue(ctx context.Context) (T, error)
	TryDequeue() (T, bool)
}

// all yields what Dequeue returns until it returns an error: ErrClosed
// once the ring is closed and empty, or ctx.Err().
func all[T any](ctx context.Context, r dequeuer[T]) iter.Seq[T] {
	return func(yield func(T) bool) {
		for {
			v, err := r.Dequeue(ctx)
			if err != nil || !yield(v) {
				return
			}
		}
	}
}

// drain yields what TryDequeue returns until it reports the ring empty.
func drain[T any](r dequeuer[T]) iter.Seq[T] {
	return func(yield func(T) bool) {
		for {
			v, ok := r.TryDequeue()
			if !ok || !yield(v) {
				return
			}
		}
	}
}

// All returns an iterator over the elements of the ring, oldest first,
// dequeued one by one as Dequeue does: it waits while the ring is empty,
// and ends when the ring is closed and every element left in it has been
// yielded, or when ctx ends (check ctx.Err() after the loop to tell the
// two apart). Only the consumer goroutine may range over it.
func (r *SPSC[T]) All(ctx context.Context) iter.Seq[T] { return all[T](ctx, r) }

// Drain returns an iterator over the elements in the ring now, oldest
// first, dequeued one by one as TryDequeue does; it ends as soon as the
// ring is empty, without waiting. Only the consumer goroutine may range
// over it.
func (r *SPSC[T]) Drain() iter.Seq[T] { return drain[T](r) }

// All returns an iterator over the elements of the ring, dequeued one by
// one as Dequeue does: it waits while the ring is empty, and ends when the
// ring is closed and every element left in it has been taken, or when
// ctx ends (check ctx.Err() after the loop to tell the two apart). On an
// MPSC only the consumer goroutine may range over it; on an SPMC or MPMC
// several goroutines may, the elements shared among them.
func (r *core[T]) All(ctx context.Context) iter.Seq[T] { return all[T](ctx, r) }

// Drain returns an iterator over the elements in the ring now, dequeued
// one by one as TryDequeue does; it ends as soon as the ring is empty,
// without waiting for producers (an element a producer has claimed but not
// yet published is waited for, as TryDequeue waits for it). On an
// MPSC only the consumer goroutine may range over it; on an SPMC or MPMC
// several goroutines may.
func (r *core[T]) Drain() iter.Seq[T] { return drain[T](r) }

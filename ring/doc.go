// Package ring provides bounded, generic, lock-free FIFO rings for moving
// values between goroutines faster than a channel: SPSC for one producer and
// one consumer, MPSC, SPMC and MPMC for many.
//
// All four types share one method set:
//
//	TryEnqueue(v) bool       TryDequeue() (v, ok)      never wait
//	EnqueueBurst(src) int    DequeueBurst(dst) int     as many as fit / as are there
//	EnqueueBulk(src) bool    DequeueBulk(dst) bool     all or nothing
//	Enqueue(ctx, v) error    Dequeue(ctx) (v, error)   wait: spin briefly, then park
//	Close() error            Len() int  Cap() int
//	All(ctx) iter.Seq[T]     Drain() iter.Seq[T]       range over what is dequeued
//
// for v := range r.All(ctx) dequeues until the ring is closed and drained
// (or ctx ends); Drain takes what is there now without waiting.
//
// SPSC adds zero-copy access: Reserve/Commit on the producer side and
// Peek/Release on the consumer side hand out the ring's own slots.
//
// # Guarantees
//
// Every operation is linearizable: it takes effect at one instant between
// its call and its return, and "full" or "empty" is reported only if the
// ring was full or empty at that instant. A burst moves as many elements as
// fit (or as are there) when it claims its slots; a concurrent operation may
// free more room (or add more elements) before the burst returns, so a burst
// can move fewer than the ring could take by then, but it moves none only
// if the ring was full (or empty) at some instant during the call. Bulk
// operations are all or nothing. Elements of one producer are dequeued in
// the order that producer enqueued them. An enqueue synchronizes before the
// dequeue that returns its element (the Go memory model's "synchronized
// before"): what the producer wrote before enqueueing
// is visible to the consumer after dequeueing.
//
// Cap is exactly the capacity asked for. A constructor refuses, with an
// error wrapping ErrCapacity, a capacity below 1 or above MaxCapacity, and
// one whose slots would take more memory than DefaultMaxBytes (1 GiB, or
// the limit given with WithMaxBytes): an allocation the machine cannot
// serve would kill the process, which no error could report. A dequeued slot of a type that holds
// pointers is cleared, so the ring keeps no reference to an element it has
// handed out. Every ring leaves the slots of pointer-free types as they are
// (there is nothing to keep alive, and clearing would have the consumer
// write the cache lines the producer fills next); an SPSC's Reserve still
// hands out zeroed slots. A reservation that ends without a Commit publishing
// its slots (a second Reserve, a refused Commit, another enqueue) has
// them cleared when it ends, so what the producer wrote there is not kept
// alive either.
//
// Try, Burst and Bulk operations never allocate and never block for lack of
// room or elements. They may wait for a concurrent operation that has already
// claimed the slot they need to finish its few instructions; if that
// goroutine was preempted, they yield the processor to it, so progress holds
// with any number of goroutines on any GOMAXPROCS. Enqueue and Dequeue do not
// allocate when they do not have to wait; a waiter spins for ten or so
// microseconds, then parks at no CPU cost until the other side makes
// progress, the ring is closed or its context ends. No wake-up is lost: the
// side that publishes checks for parked waiters after publishing.
//
// Close is idempotent. After it, enqueues fail (Enqueue returns ErrClosed)
// and every waiter is woken; dequeues go on taking what is left, and Dequeue
// returns ErrClosed only when the ring is closed and empty.
//
// # Choosing a ring
//
// Use the narrowest type that fits: SPSC is the fastest and the only one
// with zero-copy access. MPSC and SPMC document that one side is single and
// run the MPMC algorithm. Capacities are rounded up to a power of two
// internally, so a capacity of 1000 uses 1024 slots but holds 1000 elements.
package ring

package ring

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"reflect"
	"unsafe"

	"github.com/ringkit/ringkit/internal/mem"
	"github.com/ringkit/ringkit/internal/tail"
	"github.com/ringkit/ringkit/internal/wait"
)

// ErrClosed is returned by the blocking operations of a ring that has been
// closed: by Enqueue at once, and by Dequeue once the ring is also empty.
var ErrClosed = errors.New("ring: closed")

// ErrCapacity is returned, wrapped with the value that was asked for, by the
// constructors when the capacity is below 1 or above MaxCapacity, or when the
// ring's slots would take more memory than its limit (DefaultMaxBytes, or
// WithMaxBytes).
var ErrCapacity = errors.New("ring: capacity out of range")

// ErrSpan is returned by SPSC.Commit and SPSC.Release when the count exceeds
// the span that the last Reserve or Peek handed out, or when another
// operation has moved the ring since.
var ErrSpan = errors.New("ring: count outside the reserved or peeked span")

// MaxCapacity is the largest capacity a ring can be created with, memory
// permitting (see DefaultMaxBytes).
const MaxCapacity = 1 << 30

// DefaultMaxBytes is the most memory a ring's slots may take unless the
// constructor is given WithMaxBytes: 1 GiB, 2^25 elements of 32 bytes. A
// constructor checks the size of the slots (a power of two number of them,
// times the size of T, plus the 8-byte sequence number of each slot of an
// MPMC, MPSC or SPMC) against it before allocating, because Go cannot
// recover from a failed allocation: the process would die with "fatal
// error: out of memory".
const DefaultMaxBytes = 1 << 30

// Option is an optional setting of a ring constructor.
type Option func(*options)

type options struct {
	maxBytes int
}

// WithMaxBytes sets the most memory the ring's slots may take, in place of
// DefaultMaxBytes; a ring that would take more is refused with an error
// wrapping ErrCapacity. Raise it for a ring larger than DefaultMaxBytes
// that the machine can hold; n below 1 refuses every ring.
func WithMaxBytes(n int) Option { return func(o *options) { o.maxBytes = n } }

func resolve(opts []Option) options {
	o := options{maxBytes: DefaultMaxBytes}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// Positions are free-running 63-bit counters. Bit 63 is the closed flag:
// of the tail word in MPMC, MPSC and SPMC, and of the sequence word of the
// slot Close marks in SPSC, so that closing and enqueueing are ordered by
// the one compare-and-swap that every enqueue already performs. All
// position arithmetic is done modulo 2^63 through the helpers below.
const (
	closedBit = tail.Closed
	posMask   = closedBit - 1
)

// add returns position p advanced by n.
func add(p, n uint64) uint64 { return (p + n) & posMask }

// dist returns the signed distance a-b between two positions.
func dist(a, b uint64) int64 { return int64((a-b)<<1) >> 1 }

// slotCount checks a requested capacity and returns the power-of-two number
// of slots that holds it, each slotSize bytes, after checking that they fit
// in the memory limit of opts.
func slotCount(capacity int, slotSize uintptr, opts []Option) (uint64, error) {
	if capacity < 1 || capacity > MaxCapacity {
		return 0, fmt.Errorf("%w: %d (want 1..%d)", ErrCapacity, capacity, MaxCapacity)
	}
	n := uint64(1) << bits.Len64(uint64(capacity)-1)
	n = max(n, 2) // one slot cannot tell "holds p" (seq p+1) from "free for p+1" (seq p+1)
	o := resolve(opts)
	what := fmt.Sprintf("capacity %d: %d slots of %d bytes", capacity, n, slotSize)
	if err := mem.Check(ErrCapacity, what, mem.Size(n, uint64(slotSize)), uint64(max(o.maxBytes, 0)), "WithMaxBytes"); err != nil {
		return 0, err
	}
	return n, nil
}

func sizeOf[T any]() uintptr {
	var v T
	return unsafe.Sizeof(v)
}

// hasPointers reports whether a T can hold a reference the garbage collector
// follows. A ring clears the slots it frees only for such types: clearing a
// slot of a pointer-free type keeps nothing less alive, and it costs the
// consumer a write to every cache line the producer writes next.
func hasPointers[T any]() bool { return typeHasPointers(reflect.TypeFor[T]()) }

func typeHasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return false
	case reflect.Array:
		return t.Len() > 0 && typeHasPointers(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if typeHasPointers(t.Field(i).Type) {
				return true
			}
		}
		return false
	default: // pointers, strings, slices, maps, channels, funcs, interfaces, unsafe.Pointer
		return true
	}
}

// blocker is what the blocking operations need of a ring.
type blocker[T any] interface {
	TryEnqueue(v T) bool
	TryDequeue() (T, bool)
	closed() bool
	queues() (producers, consumers *wait.Queue)
}

// enqueueWait is Enqueue after its first try failed: spin briefly, then park
// until a consumer frees a slot, the ring closes or ctx ends.
func enqueueWait[T any, R blocker[T]](ctx context.Context, r R, v T) error {
	prod, _ := r.queues()
	return wait.Until(ctx, prod, func() (bool, error) {
		if r.TryEnqueue(v) {
			return true, nil
		}
		if r.closed() {
			return true, ErrClosed
		}
		return false, nil
	})
}

// dequeueWait is Dequeue after its first try failed: spin briefly, then park
// until a producer publishes, the ring closes or ctx ends. On a closed ring
// it keeps taking what is left and returns ErrClosed only once the ring is
// closed and empty at the same moment.
func dequeueWait[T any, R blocker[T]](ctx context.Context, r R) (T, error) {
	_, cons := r.queues()
	var v T
	err := wait.Until(ctx, cons, func() (bool, error) {
		var ok bool
		if v, ok = r.TryDequeue(); ok {
			return true, nil
		}
		if r.closed() {
			var err error
			v, err = drainClosed[T](r)
			return true, err
		}
		return false, nil
	})
	return v, err
}

// drainClosed is called once the ring is known to be closed. No enqueue can
// succeed after that, and the ones that succeeded before are already in the
// ring (counted in the tail, or published before the slot Close marked), so
// one more try decides between an element and "closed and empty".
func drainClosed[T any, R blocker[T]](r R) (T, error) {
	if v, ok := r.TryDequeue(); ok {
		return v, nil
	}
	var zero T
	return zero, ErrClosed
}

package ring_test

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ringkit/ringkit/ring"
)

// refQueue is the reference model: a bounded FIFO queue on a slice.
type refQueue struct {
	elems  []int
	cap    int
	closed bool
}

func (m *refQueue) free() int {
	if m.closed {
		return 0
	}
	return m.cap - len(m.elems)
}

// TestModel runs random sequences of every operation against each ring type
// in one goroutine and compares every result, Len, Cap and the slots
// themselves with the reference model after every operation. The counters
// start just before their wrap point, so every sequence crosses it, many
// times over the buffer's length. Each sequence runs on a ring of ints and
// on a ring of strings, a type with pointers, whose slots must hold
// nothing but the elements: on an SPSC that covers the reservations the
// sequences give up (by a second Reserve, a refused Commit, another
// enqueue, or leaving them open across other operations).
func TestModel(t *testing.T) {
	steps := 3000
	if testing.Short() {
		steps = 1200
	}
	forEachKind(t, func(t *testing.T, k kind) {
		for _, c := range []int{1, 2, 3, 5, 8, 13, 64, 100} {
			size := uint64(1) << bits.Len(uint(c-1))
			// Offsets before the wrap point; the last starts at 0.
			for i, off := range []uint64{1, 2 * uint64(c), 3*size + 1, 7*size + 3, ring.WrapPoint} {
				seed := uint64(c)<<8 | uint64(i)
				start := ring.WrapPoint - off
				name := fmt.Sprintf("cap=%d/start=wrap-%d", c, off)
				if start == 0 {
					name = fmt.Sprintf("cap=%d/start=0", c)
				}
				t.Run(name+"/int", func(t *testing.T) {
					checkModel(t, k, c, start, seed, steps, func(v int) int { return v })
				})
				t.Run(name+"/string", func(t *testing.T) {
					checkModel(t, k, c, start, seed, steps, strconv.Itoa)
				})
			}
		}
	})
}

// modelRun is one random sequence against one ring of T. The model holds
// ints; conv turns one into the T the ring holds (never the zero T, as
// model values are never 0).
type modelRun[T comparable] struct {
	t          *testing.T
	r          queue[T]
	spsc       *ring.SPSC[T] // r, if it is an SPSC
	conv       func(int) T
	ptrs       bool // T holds pointers: no slot but an element's may hold a value
	open       int  // slots of an open reservation that hold values
	m          refQueue
	rng        *rand.Rand
	size       uint64 // slots in the ring
	head, tail uint64 // positions, for the expected split of Reserve and Peek
	next       int    // the next value to enqueue; values are never 0
	history    []string
	step       int
	seed       uint64
}

func checkModel[T comparable](t *testing.T, k kind, capacity int, start, seed uint64, steps int, conv func(int) T) {
	r := mustQueue[T](t, k, capacity)
	r.SetPos(start)
	mr := &modelRun[T]{
		t: t, r: r, conv: conv, ptrs: ring.HasPointers[T](), m: refQueue{cap: capacity},
		rng:  rand.New(rand.NewPCG(seed, 0x5eed)),
		size: uint64(1) << bits.Len(uint(capacity-1)),
		head: start, tail: start, next: 1, seed: seed,
	}
	mr.spsc, _ = r.(*ring.SPSC[T])
	closeAt := -1
	if mr.rng.IntN(2) == 0 {
		closeAt = steps/2 + mr.rng.IntN(steps/2)
	}
	for mr.step = range steps {
		if mr.step == closeAt {
			mr.opClose()
		} else {
			mr.randomOp()
		}
		mr.checkState()
	}
}

// fatalf reports a mismatch with the recent history of the run.
func (mr *modelRun[T]) fatalf(format string, args ...any) {
	mr.t.Helper()
	h := mr.history[max(0, len(mr.history)-12):]
	mr.t.Fatalf("seed %d step %d: %s\nmodel before the last op: %v\nrecent ops:\n\t%s",
		mr.seed, mr.step, fmt.Sprintf(format, args...), mr.m.elems, strings.Join(h, "\n\t"))
}

func (mr *modelRun[T]) log(format string, args ...any) {
	mr.history = append(mr.history, fmt.Sprintf(format, args...))
}

func (mr *modelRun[T]) values(n int) []int {
	vs := make([]int, n)
	for i := range vs {
		vs[i] = mr.next
		mr.next++
	}
	return vs
}

// elems converts model values to what the ring holds.
func (mr *modelRun[T]) elems(vs []int) []T {
	es := make([]T, len(vs))
	for i, v := range vs {
		es[i] = mr.conv(v)
	}
	return es
}

// pushed and popped keep the model and the positions in step.
func (mr *modelRun[T]) pushed(vs ...int) {
	mr.m.elems = append(mr.m.elems, vs...)
	mr.tail += uint64(len(vs))
}

func (mr *modelRun[T]) popped(n int) []int {
	vs := slices.Clone(mr.m.elems[:n])
	mr.m.elems = mr.m.elems[n:]
	mr.head += uint64(n)
	return vs
}

var canceled = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

func (mr *modelRun[T]) randomOp() {
	n := 8
	if mr.spsc != nil {
		n = 10
	}
	k := mr.rng.IntN(mr.m.cap + 3) // a count for bursts and bulks: 0..cap+2
	switch mr.rng.IntN(n) {
	case 0:
		v := mr.values(1)[0]
		mr.log("TryEnqueue(%d)", v)
		want := mr.m.free() > 0
		mr.open = 0 // an enqueue ends an open reservation
		if got := mr.r.TryEnqueue(mr.conv(v)); got != want {
			mr.fatalf("TryEnqueue(%d) = %v, want %v", v, got, want)
		}
		if want {
			mr.pushed(v)
		}
	case 1:
		mr.log("TryDequeue()")
		v, ok := mr.r.TryDequeue()
		if want := len(mr.m.elems) > 0; ok != want {
			mr.fatalf("TryDequeue() ok = %v, want %v", ok, want)
		}
		if ok {
			if w := mr.popped(1)[0]; v != mr.conv(w) {
				mr.fatalf("TryDequeue() = %v, want %d", v, w)
			}
		}
	case 2:
		src := mr.values(k)
		mr.log("EnqueueBurst(%v)", src)
		want := min(k, mr.m.free())
		mr.open = 0
		if got := mr.r.EnqueueBurst(mr.elems(src)); got != want {
			mr.fatalf("EnqueueBurst(%d elements) = %d, want %d", k, got, want)
		}
		mr.pushed(src[:want]...)
	case 3:
		mr.log("DequeueBurst(%d)", k)
		dst := mr.sentinels(k)
		want := min(k, len(mr.m.elems))
		got := mr.r.DequeueBurst(dst)
		if got != want {
			mr.fatalf("DequeueBurst(%d) = %d, want %d", k, got, want)
		}
		mr.checkDst("DequeueBurst", dst, mr.popped(want))
	case 4:
		src := mr.values(k)
		mr.log("EnqueueBulk(%v)", src)
		want := k <= mr.m.free()
		if k == 0 {
			want = true // all of nothing
		}
		mr.open = 0
		if got := mr.r.EnqueueBulk(mr.elems(src)); got != want {
			mr.fatalf("EnqueueBulk(%d elements) = %v, want %v", k, got, want)
		}
		if want {
			mr.pushed(src...)
		}
	case 5:
		mr.log("DequeueBulk(%d)", k)
		dst := mr.sentinels(k)
		want := k <= len(mr.m.elems)
		if got := mr.r.DequeueBulk(dst); got != want {
			mr.fatalf("DequeueBulk(%d) = %v, want %v", k, got, want)
		}
		var vs []int
		if want {
			vs = mr.popped(k)
		}
		mr.checkDst("DequeueBulk", dst, vs)
	case 6:
		v := mr.values(1)[0]
		ctx, want := context.Background(), error(nil)
		switch {
		case mr.m.closed:
			want = ring.ErrClosed
		case mr.m.free() == 0:
			ctx, want = canceled, context.Canceled
		}
		mr.log("Enqueue(%v, %d)", ctx, v)
		mr.open = 0
		if err := mr.r.Enqueue(ctx, mr.conv(v)); !errors.Is(err, want) || (want == nil) != (err == nil) {
			mr.fatalf("Enqueue(%d) = %v, want %v", v, err, want)
		}
		if want == nil {
			mr.pushed(v)
		}
	case 7:
		ctx, want := context.Background(), error(nil)
		switch {
		case len(mr.m.elems) > 0:
		case mr.m.closed:
			want = ring.ErrClosed
		default:
			ctx, want = canceled, context.Canceled
		}
		mr.log("Dequeue(%v)", ctx)
		v, err := mr.r.Dequeue(ctx)
		if !errors.Is(err, want) || (want == nil) != (err == nil) {
			mr.fatalf("Dequeue() = %v, %v, want error %v", v, err, want)
		}
		if want == nil {
			if w := mr.popped(1)[0]; v != mr.conv(w) {
				mr.fatalf("Dequeue() = %v, want %d", v, w)
			}
		}
	case 8:
		mr.opReserve(1 + k) // Reserve(0) and Peek(0): see TestSPSCEmptySpan
	case 9:
		mr.opPeek(1 + k)
	}
}

// sentinels returns n elements of the model value -7, which is never
// enqueued.
func (mr *modelRun[T]) sentinels(n int) []T {
	dst := make([]T, n)
	for i := range dst {
		dst[i] = mr.conv(-7)
	}
	return dst
}

// checkDst checks that dst starts with want and is untouched after it.
func (mr *modelRun[T]) checkDst(op string, dst []T, want []int) {
	mr.t.Helper()
	if !slices.Equal(dst[:len(want)], mr.elems(want)) {
		mr.fatalf("%s gave %v, want %v", op, dst[:len(want)], want)
	}
	for i, v := range dst[len(want):] {
		if v != mr.conv(-7) {
			mr.fatalf("%s wrote dst[%d] = %v beyond the %d elements it took", op, len(want)+i, v, len(want))
		}
	}
}

// checkSplit checks that a Reserve or Peek of want slots from position p
// came as the slots up to the end of the buffer, then the rest.
func (mr *modelRun[T]) checkSplit(op string, p uint64, want int, first, second []T) {
	mr.t.Helper()
	i := p & (mr.size - 1)
	wantFirst := min(uint64(want), mr.size-i)
	if uint64(len(first)) != wantFirst || len(first)+len(second) != want {
		mr.fatalf("%s gave slices of %d and %d slots from slot %d of %d, want %d in all, %d in the first",
			op, len(first), len(second), i, mr.size, want, wantFirst)
	}
	if len(second) == 0 && second != nil {
		mr.fatalf("%s gave an empty non-nil second slice", op)
	}
	if cap(first) != len(first) || cap(second) != len(second) {
		mr.fatalf("%s gave slices whose capacity reaches other slots: cap %d, %d for len %d, %d",
			op, cap(first), cap(second), len(first), len(second))
	}
}

func (mr *modelRun[T]) opReserve(n int) {
	r := mr.spsc
	mr.log("Reserve(%d)", n)
	mr.open = 0 // a Reserve ends an open reservation
	first, second := r.Reserve(n)
	want := min(n, mr.m.free())
	mr.checkSplit("Reserve", mr.tail, want, first, second)
	if mr.m.closed {
		return // Commit after Reserve on a closed ring: see TestSPSCEmptySpan
	}
	var zero T
	for _, s := range [][]T{first, second} {
		for i, v := range s {
			if v != zero {
				mr.fatalf("Reserve handed out a slot holding %v at index %d: freed and abandoned slots must be cleared", v, i)
			}
		}
	}
	vs := mr.values(want)
	es := mr.elems(vs)
	copy(second, es[copy(first, es):])
	switch c := mr.rng.IntN(6); c {
	case 0, 1, 2: // commit a prefix
		j := mr.rng.IntN(want + 1)
		mr.log("Commit(%d) of %v", j, vs)
		if err := r.Commit(j); err != nil {
			mr.fatalf("Commit(%d) after Reserve of %d = %v", j, want, err)
		}
		mr.pushed(vs[:j]...)
	case 3: // an oversized Commit is refused and ends the reservation
		mr.log("Commit(%d) of %v", want+1, vs)
		if err := r.Commit(want + 1); !errors.Is(err, ring.ErrSpan) {
			mr.fatalf("Commit(%d) after Reserve of %d = %v, want ErrSpan", want+1, want, err)
		}
		if r.Len() != len(mr.m.elems) {
			mr.fatalf("a refused Commit changed Len to %d", r.Len())
		}
		mr.log("Commit(%d)", min(want, 1))
		if err := r.Commit(min(want, 1)); want > 0 && !errors.Is(err, ring.ErrSpan) {
			mr.fatalf("Commit(1) after a refused Commit = %v, want ErrSpan: the reservation is over", err)
		}
	case 4: // another enqueue moves the ring: the reservation is void
		v := mr.values(1)[0]
		mr.log("TryEnqueue(%d) inside the reservation", v)
		ok := r.TryEnqueue(mr.conv(v))
		if ok != (mr.m.free() > 0) {
			mr.fatalf("TryEnqueue(%d) = %v inside a reservation, want %v", v, ok, mr.m.free() > 0)
		}
		if ok {
			mr.pushed(v)
		}
		err := r.Commit(min(want, 1))
		mr.log("Commit(%d) = %v", min(want, 1), err)
		if want > 0 && !errors.Is(err, ring.ErrSpan) {
			mr.fatalf("Commit after another enqueue = %v, want ErrSpan", err)
		}
		if want == 0 && !ok && err != nil {
			mr.fatalf("Commit(0) after a failed TryEnqueue = %v, want nil", err)
		}
	case 5: // left open, filled: the next producer operation abandons it
		mr.log("(reservation of %v left open)", vs)
		mr.open = want
	}
}

func (mr *modelRun[T]) opPeek(n int) {
	r := mr.spsc
	mr.log("Peek(%d)", n)
	first, second := r.Peek(n)
	want := min(n, len(mr.m.elems))
	mr.checkSplit("Peek", mr.head, want, first, second)
	if got := append(slices.Clone(first), second...); !slices.Equal(got, mr.elems(mr.m.elems[:want])) {
		mr.fatalf("Peek(%d) = %v, want %v", n, got, mr.m.elems[:want])
	}
	switch mr.rng.IntN(5) {
	case 0: // release too many: refused, and the peek is over
		mr.log("Release(%d)", want+1)
		if err := r.Release(want + 1); !errors.Is(err, ring.ErrSpan) {
			mr.fatalf("Release(%d) after Peek of %d = %v, want ErrSpan", want+1, want, err)
		}
		if err := r.Release(min(want, 1)); want > 0 && !errors.Is(err, ring.ErrSpan) {
			mr.fatalf("Release(1) after a refused Release = %v, want ErrSpan", err)
		}
	case 4: // given up: the elements stay for the next operation
		mr.log("(peek given up)")
	case 1, 2:
		j := mr.rng.IntN(want + 1)
		mr.log("Release(%d)", j)
		if err := r.Release(j); err != nil {
			mr.fatalf("Release(%d) after Peek of %d = %v", j, want, err)
		}
		mr.popped(j)
	case 3: // another dequeue moves the ring: the peek is void
		mr.log("TryDequeue() inside the peek")
		v, ok := r.TryDequeue()
		if ok != (len(mr.m.elems) > 0) {
			mr.fatalf("TryDequeue() ok = %v inside a peek", ok)
		}
		if ok {
			if w := mr.popped(1)[0]; v != mr.conv(w) {
				mr.fatalf("TryDequeue() = %v, want %d", v, w)
			}
		}
		err := r.Release(min(want, 1))
		mr.log("Release(%d) = %v", min(want, 1), err)
		if ok && !errors.Is(err, ring.ErrSpan) {
			mr.fatalf("Release after another dequeue = %v, want ErrSpan", err)
		}
		if !ok && err != nil {
			mr.fatalf("Release(%d) after a failed TryDequeue = %v", min(want, 1), err)
		}
	}
}

// opClose closes the ring; on an SPSC, half the time in the middle of a
// reservation, which Commit must then refuse with ErrClosed.
func (mr *modelRun[T]) opClose() {
	if mr.spsc != nil && mr.rng.IntN(2) == 0 {
		r := mr.spsc
		mr.open = 0
		first, second := r.Reserve(mr.m.cap)
		want := mr.m.free()
		mr.checkSplit("Reserve", mr.tail, want, first, second)
		es := mr.elems(mr.values(want))
		copy(second, es[copy(first, es):])
		mr.log("Reserve(%d), Close(), Commit(%d)", mr.m.cap, want)
		if err := r.Close(); err != nil {
			mr.fatalf("Close() = %v", err)
		}
		mr.m.closed = true
		if err := r.Commit(want); !errors.Is(err, ring.ErrClosed) {
			mr.fatalf("Commit(%d) on a ring closed since the Reserve = %v, want ErrClosed", want, err)
		}
	} else {
		mr.log("Close()")
		if err := mr.r.Close(); err != nil {
			mr.fatalf("Close() = %v", err)
		}
		mr.m.closed = true
	}
	if err := mr.r.Close(); err != nil {
		mr.fatalf("second Close() = %v", err)
	}
}

// checkState compares Len and Cap with the model, and checks that exactly
// the slots holding elements are not cleared.
func (mr *modelRun[T]) checkState() {
	if got := mr.r.Len(); got != len(mr.m.elems) {
		mr.fatalf("Len() = %d, want %d", got, len(mr.m.elems))
	}
	if got := mr.r.Cap(); got != mr.m.cap {
		mr.fatalf("Cap() = %d, want %d", got, mr.m.cap)
	}
	if !mr.ptrs {
		return // the rings leave the freed slots of a pointer-free type (int) as they are
	}
	if nz := nonZero(mr.r.Slots()); nz != len(mr.m.elems)+mr.open {
		mr.fatalf("%d slots hold a value, want %d (the elements) and %d (an open reservation): a freed or abandoned slot was not cleared, or an element was lost",
			nz, len(mr.m.elems), mr.open)
	}
}

package ring_test

import (
	"errors"
	"runtime"
	"slices"
	"testing"

	"github.com/ringkit/ringkit/ring"
)

// newSPSCAt returns an SPSC of capacity c whose counters start at p.
func newSPSCAt[T any](t *testing.T, c int, p uint64) *ring.SPSC[T] {
	t.Helper()
	r, err := ring.NewSPSC[T](c)
	if err != nil {
		t.Fatal(err)
	}
	r.SetPos(p)
	return r
}

// TestSPSCReserveWraps reserves a region that wraps around the end of the
// buffer, across the counters' wrap point: it comes as two slices.
func TestSPSCReserveWraps(t *testing.T) {
	// Capacity 5 has 8 slots; position WrapPoint-3 is slot 5, so five
	// slots are 5, 6, 7 and then 0, 1.
	r := newSPSCAt[string](t, 5, ring.WrapPoint-3)
	first, second := r.Reserve(10)
	if len(first) != 3 || len(second) != 2 {
		t.Fatalf("Reserve(10) gave %d + %d slots, want 3 + 2", len(first), len(second))
	}
	copy(first, []string{"a", "b", "c"})
	copy(second, []string{"d", "e"})
	if r.Len() != 0 {
		t.Fatalf("Len() = %d before Commit, want 0", r.Len())
	}
	if _, ok := r.TryDequeue(); ok {
		t.Fatal("consumer saw a reserved slot before Commit")
	}
	if err := r.Commit(5); err != nil {
		t.Fatalf("Commit(5) = %v", err)
	}
	if r.Len() != 5 {
		t.Fatalf("Len() = %d after Commit(5), want 5", r.Len())
	}
	if f, s := r.Reserve(1); f != nil || s != nil {
		t.Fatalf("Reserve on a full ring = %v, %v; want nil, nil", f, s)
	}
	// Peek the same wrapped region.
	first, second = r.Peek(10)
	if got := append(slices.Clone(first), second...); len(first) != 3 || !slices.Equal(got, []string{"a", "b", "c", "d", "e"}) {
		t.Fatalf("Peek(10) = %q + %q, want [a b c] + [d e]", first, second)
	}
	if err := r.Release(5); err != nil {
		t.Fatalf("Release(5) = %v", err)
	}
	if r.Len() != 0 {
		t.Fatalf("Len() = %d after Release(5)", r.Len())
	}
	if n := nonZero(r.Slots()); n != 0 {
		t.Fatalf("%d slots still hold strings after Release: %q", n, r.Slots())
	}
}

// TestSPSCCommitPartial commits fewer slots than it reserved: only those
// are published, and the others are cleared.
func TestSPSCCommitPartial(t *testing.T) {
	r := newSPSCAt[string](t, 8, ring.WrapPoint-2)
	first, second := r.Reserve(6)
	if len(first)+len(second) != 6 {
		t.Fatalf("Reserve(6) gave %d + %d slots", len(first), len(second))
	}
	vals := []string{"a", "b", "c", "d", "e", "f"}
	copy(second, vals[copy(first, vals):])
	if err := r.Commit(2); err != nil {
		t.Fatalf("Commit(2) = %v", err)
	}
	if r.Len() != 2 {
		t.Fatalf("Len() = %d after Commit(2), want 2", r.Len())
	}
	if n := nonZero(r.Slots()); n != 2 {
		t.Fatalf("%d slots hold strings after Commit(2) of 6 reserved, want 2: uncommitted slots must be cleared: %q", n, r.Slots())
	}
	for _, want := range []string{"a", "b"} {
		if v, ok := r.TryDequeue(); !ok || v != want {
			t.Fatalf("TryDequeue = %q, %v; want %q", v, ok, want)
		}
	}
	if v, ok := r.TryDequeue(); ok {
		t.Fatalf("TryDequeue = %q after the committed elements", v)
	}
}

// TestSPSCCommitErrors covers the Commits that must publish nothing.
func TestSPSCCommitErrors(t *testing.T) {
	t.Run("more than reserved", func(t *testing.T) {
		r := newSPSCAt[int](t, 4, 0)
		r.Reserve(2)
		if err := r.Commit(3); !errors.Is(err, ring.ErrSpan) {
			t.Fatalf("Commit(3) after Reserve(2) = %v, want ErrSpan", err)
		}
		if r.Len() != 0 {
			t.Fatalf("Len() = %d after a refused Commit", r.Len())
		}
		// The refused Commit ended the reservation.
		if err := r.Commit(2); !errors.Is(err, ring.ErrSpan) {
			t.Fatalf("Commit(2) after a refused Commit = %v, want ErrSpan", err)
		}
		r.Reserve(2)
		if err := r.Commit(-1); !errors.Is(err, ring.ErrSpan) {
			t.Fatalf("Commit(-1) = %v, want ErrSpan", err)
		}
		r.Reserve(2)
		if err := r.Commit(2); err != nil || r.Len() != 2 {
			t.Fatalf("Commit(2) after a new Reserve(2) = %v with Len() = %d", err, r.Len())
		}
	})
	t.Run("more than the ring had room for", func(t *testing.T) {
		r := newSPSCAt[int](t, 4, ring.WrapPoint-1)
		r.EnqueueBulk([]int{1, 2, 3})
		first, second := r.Reserve(4)
		if len(first)+len(second) != 1 {
			t.Fatalf("Reserve(4) with 1 free = %d + %d slots", len(first), len(second))
		}
		if err := r.Commit(2); !errors.Is(err, ring.ErrSpan) {
			t.Fatalf("Commit(2) after a Reserve of 1 = %v, want ErrSpan", err)
		}
	})
	t.Run("after another enqueue", func(t *testing.T) {
		r := newSPSCAt[int](t, 4, 0)
		first, _ := r.Reserve(3)
		first[0], first[1] = 10, 11
		if !r.TryEnqueue(7) {
			t.Fatal("TryEnqueue failed")
		}
		if err := r.Commit(2); !errors.Is(err, ring.ErrSpan) {
			t.Fatalf("Commit after TryEnqueue = %v, want ErrSpan", err)
		}
		if r.Len() != 1 {
			t.Fatalf("Len() = %d, want 1 (the TryEnqueue)", r.Len())
		}
		if v, _ := r.TryDequeue(); v != 7 {
			t.Fatalf("TryDequeue = %d, want 7", v)
		}
	})
	t.Run("twice", func(t *testing.T) {
		r := newSPSCAt[int](t, 4, 0)
		first, _ := r.Reserve(2)
		first[0], first[1] = 1, 2
		if err := r.Commit(1); err != nil {
			t.Fatal(err)
		}
		if err := r.Commit(1); !errors.Is(err, ring.ErrSpan) {
			t.Fatalf("second Commit(1) = %v, want ErrSpan", err)
		}
		if r.Len() != 1 {
			t.Fatalf("Len() = %d, want 1", r.Len())
		}
	})
	t.Run("closed since Reserve", func(t *testing.T) {
		r := newSPSCAt[*int](t, 4, ring.WrapPoint-2)
		first, second := r.Reserve(4)
		for i := range first {
			first[i] = new(int)
		}
		for i := range second {
			second[i] = new(int)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if err := r.Commit(4); !errors.Is(err, ring.ErrClosed) {
			t.Fatalf("Commit on a ring closed since Reserve = %v, want ErrClosed", err)
		}
		if r.Len() != 0 {
			t.Fatalf("Len() = %d after Commit on a closed ring", r.Len())
		}
		if n := nonZero(r.Slots()); n != 0 {
			t.Fatalf("%d reserved slots still hold pointers after the refused Commit", n)
		}
		if f, s := r.Reserve(1); f != nil || s != nil {
			t.Fatal("Reserve on a closed ring handed out slots")
		}
	})
}

// TestSPSCPeekRelease covers Peek and Release, the consumer's mirror of
// Reserve and Commit.
func TestSPSCPeekRelease(t *testing.T) {
	r := newSPSCAt[string](t, 6, ring.WrapPoint-3)
	if f, s := r.Peek(3); f != nil || s != nil {
		t.Fatalf("Peek on an empty ring = %q, %q", f, s)
	}
	r.EnqueueBulk([]string{"a", "b", "c", "d", "e"})
	first, second := r.Peek(4)
	if len(first) != 3 || len(second) != 1 || first[0] != "a" || second[0] != "d" {
		t.Fatalf("Peek(4) = %q + %q, want [a b c] + [d]", first, second)
	}
	if r.Len() != 5 {
		t.Fatalf("Len() = %d after Peek, want 5: Peek must not remove", r.Len())
	}
	if err := r.Release(5); !errors.Is(err, ring.ErrSpan) {
		t.Fatalf("Release(5) after Peek(4) = %v, want ErrSpan", err)
	}
	if err := r.Release(1); !errors.Is(err, ring.ErrSpan) || r.Len() != 5 {
		t.Fatalf("Release(1) after a refused Release = %v with Len() = %d, want ErrSpan and 5: the refused Release ended the peek", err, r.Len())
	}
	r.Peek(4)
	if err := r.Release(-1); !errors.Is(err, ring.ErrSpan) {
		t.Fatalf("Release(-1) = %v, want ErrSpan", err)
	}
	r.Peek(4)
	if err := r.Release(2); err != nil {
		t.Fatalf("Release(2) = %v", err)
	}
	if r.Len() != 3 {
		t.Fatalf("Len() = %d after Release(2), want 3", r.Len())
	}
	if n := nonZero(r.Slots()); n != 3 {
		t.Fatalf("%d slots hold strings after releasing 2 of 5, want 3: %q", n, r.Slots())
	}
	if err := r.Release(1); !errors.Is(err, ring.ErrSpan) {
		t.Fatalf("second Release after one Peek = %v, want ErrSpan", err)
	}

	first, _ = r.Peek(2)
	if first[0] != "c" {
		t.Fatalf("Peek after Release(2) starts at %q, want c", first[0])
	}
	if v, ok := r.TryDequeue(); !ok || v != "c" {
		t.Fatalf("TryDequeue = %q, %v", v, ok)
	}
	if err := r.Release(1); !errors.Is(err, ring.ErrSpan) {
		t.Fatalf("Release after another dequeue = %v, want ErrSpan", err)
	}
	if r.Len() != 2 {
		t.Fatalf("Len() = %d, want 2", r.Len())
	}

	// Peek and Release still drain a closed ring.
	r.Close()
	first, second = r.Peek(10)
	if got := append(slices.Clone(first), second...); !slices.Equal(got, []string{"d", "e"}) {
		t.Fatalf("Peek on a closed ring = %q, want [d e]", got)
	}
	if err := r.Release(2); err != nil {
		t.Fatalf("Release on a closed ring = %v", err)
	}
	if n := nonZero(r.Slots()); n != 0 || r.Len() != 0 {
		t.Fatalf("after draining: Len() = %d, %d slots hold strings", r.Len(), n)
	}
}

// TestSPSCEmptySpan commits or releases nothing after a Reserve or Peek
// that handed out nothing. The doc allows it ("k must not exceed what
// Reserve returned, and no other enqueue may have run since"), so it must
// not fail with ErrSpan.
func TestSPSCEmptySpan(t *testing.T) {
	r := newSPSCAt[int](t, 4, 0)
	// Move the ring so that the positions of the last Reserve and Peek
	// are no longer the current ones.
	r.Reserve(1)
	r.Commit(0)
	r.TryEnqueue(1)
	r.Peek(1)
	r.Release(1)
	r.TryEnqueue(2)

	r.Reserve(0)
	if err := r.Commit(0); err != nil {
		t.Errorf("Commit(0) after Reserve(0) = %v, want nil", err)
	}
	r.Peek(0)
	if err := r.Release(0); err != nil {
		t.Errorf("Release(0) after Peek(0) = %v, want nil", err)
	}
	r.Close()
	r.Reserve(1)
	if err := r.Commit(0); err != nil && !errors.Is(err, ring.ErrClosed) {
		t.Errorf("Commit(0) after Reserve on a closed ring = %v, want nil or ErrClosed", err)
	}
}

// TestSPSCAbandonedReservation ends reservations of a pointer type every
// way but a valid Commit: a second Reserve, a Commit refused with ErrSpan,
// another enqueue. Whatever the producer wrote into the abandoned slots
// must be gone from the ring at once: the next Reserve hands out zero
// values, and no slot outside the elements holds a value.
func TestSPSCAbandonedReservation(t *testing.T) {
	fill := func(first, second []string) {
		for i := range first {
			first[i] = "abandoned"
		}
		for i := range second {
			second[i] = "abandoned"
		}
	}
	for _, tc := range []struct {
		name    string
		abandon func(r *ring.SPSC[string]) // ends the reservation
		elems   int                        // elements in the ring afterwards
	}{
		{"second Reserve", func(r *ring.SPSC[string]) { r.Reserve(0) }, 1},
		{"refused Commit", func(r *ring.SPSC[string]) {
			if err := r.Commit(100); !errors.Is(err, ring.ErrSpan) {
				t.Fatalf("Commit(100) = %v, want ErrSpan", err)
			}
		}, 1},
		{"TryEnqueue", func(r *ring.SPSC[string]) { r.TryEnqueue("x") }, 2},
		{"EnqueueBurst", func(r *ring.SPSC[string]) { r.EnqueueBurst([]string{"x"}) }, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newSPSCAt[string](t, 6, ring.WrapPoint-3)
			r.TryEnqueue("kept")
			fill(r.Reserve(4)) // slots WrapPoint-2 .. WrapPoint+1: wraps the buffer
			tc.abandon(r)
			if n := nonZero(r.Slots()); n != tc.elems || r.Len() != tc.elems {
				t.Fatalf("after the reservation ended: %d slots hold strings and Len() = %d, want %d: %q", n, r.Len(), tc.elems, r.Slots())
			}
			first, second := r.Reserve(4)
			for _, s := range append(slices.Clone(first), second...) {
				if s != "" {
					t.Fatalf("Reserve handed out slots holding %q: %q + %q", s, first, second)
				}
			}
		})
	}
	t.Run("collected", func(t *testing.T) {
		r := mustQueue[*gcObj](t, kinds[0], 4).(*ring.SPSC[*gcObj])
		finalized := make(chan struct{})
		reserveTracked(t, r, finalized)
		r.Reserve(1) // abandons the first reservation
		if !waitFinalized(finalized) {
			t.Fatal("an object left in an abandoned reservation was not collected: the ring still references it")
		}
		runtime.KeepAlive(r)
	})
}

//go:noinline
func reserveTracked(t *testing.T, r *ring.SPSC[*gcObj], finalized chan struct{}) {
	first, _ := r.Reserve(1)
	if len(first) != 1 {
		t.Fatal("Reserve(1) on an empty ring handed out nothing")
	}
	first[0] = &gcObj{id: 2}
	runtime.SetFinalizer(first[0], func(*gcObj) { close(finalized) })
}

package ring_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/ringkit/ringkit/ring"
)

// TestCapacity fills every ring to exactly the capacity asked for, checks
// that one more element is refused by each enqueue operation, and drains it
// in order.
func TestCapacity(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind) {
		for _, c := range []int{1, 2, 3, 5, 1000, 1 << 20} {
			t.Run(fmt.Sprint(c), func(t *testing.T) {
				r := mustQueue[int](t, k, c)
				if r.Cap() != c || r.Len() != 0 {
					t.Fatalf("new ring: Cap() = %d, Len() = %d; want %d, 0", r.Cap(), r.Len(), c)
				}
				fill(t, r, c)
				if r.Len() != c {
					t.Fatalf("full ring: Len() = %d, want %d", r.Len(), c)
				}
				if r.TryEnqueue(-1) {
					t.Fatal("TryEnqueue succeeded on a full ring")
				}
				if n := r.EnqueueBurst([]int{-1, -2}); n != 0 {
					t.Fatalf("EnqueueBurst on a full ring = %d, want 0", n)
				}
				if r.EnqueueBulk([]int{-1}) {
					t.Fatal("EnqueueBulk succeeded on a full ring")
				}
				if r.Len() != c || r.Cap() != c {
					t.Fatalf("after refused enqueues: Len() = %d, Cap() = %d, want %d, %d", r.Len(), r.Cap(), c, c)
				}
				drain(t, r, 0, c)
				if _, ok := r.TryDequeue(); ok || r.Len() != 0 {
					t.Fatalf("drained ring: TryDequeue ok = %v, Len() = %d", ok, r.Len())
				}
			})
		}
	})
}

// fill enqueues 0..n-1, one at a time for small rings and in bursts for
// large ones.
func fill(t *testing.T, r queue[int], n int) {
	t.Helper()
	if n <= 1000 {
		for i := range n {
			if !r.TryEnqueue(i) {
				t.Fatalf("TryEnqueue(%d) failed with Len() = %d, Cap() = %d", i, r.Len(), r.Cap())
			}
		}
		return
	}
	buf := make([]int, 4096)
	for i := 0; i < n; {
		for j := range buf {
			buf[j] = i + j
		}
		want := min(len(buf), n-i)
		if got := r.EnqueueBurst(buf[:want]); got != want {
			t.Fatalf("EnqueueBurst(%d elements) at %d = %d", want, i, got)
		}
		i += want
	}
}

// drain dequeues n elements and checks they are from, from+1, ...
func drain(t *testing.T, r queue[int], from, n int) {
	t.Helper()
	if n <= 1000 {
		for i := range n {
			if v, ok := r.TryDequeue(); !ok || v != from+i {
				t.Fatalf("TryDequeue = %d, %v; want %d, true", v, ok, from+i)
			}
		}
		return
	}
	buf := make([]int, 4096)
	for i := 0; i < n; {
		want := min(len(buf), n-i)
		got := r.DequeueBurst(buf[:want])
		if got != want {
			t.Fatalf("DequeueBurst(%d) at %d = %d", want, i, got)
		}
		for j, v := range buf[:got] {
			if v != from+i+j {
				t.Fatalf("element %d = %d", i+j, v)
			}
		}
		i += got
	}
}

// TestCapacityInvalid checks that every constructor rejects a capacity out
// of range with an error wrapping ErrCapacity, and never panics.
func TestCapacityInvalid(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind) {
		for _, c := range []int{0, -1, math.MinInt, ring.MaxCapacity + 1, math.MaxInt} {
			t.Run(fmt.Sprint(c), func(t *testing.T) {
				expectCapacityError(t, func() error { _, err := newQueue[int](k, c); return err })
			})
		}
		// A valid count of elements too large to fit in memory.
		t.Run("huge elements", func(t *testing.T) {
			expectCapacityError(t, func() error { _, err := newQueue[[1 << 20]byte](k, ring.MaxCapacity); return err })
		})
	})
}

func expectCapacityError(t *testing.T, f func() error) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("constructor panicked: %v", p)
		}
	}()
	err := f()
	if !errors.Is(err, ring.ErrCapacity) {
		t.Fatalf("constructor returned %v, want an error wrapping ErrCapacity", err)
	}
	t.Log(err)
}

// TestCapacityMemoryLimit: a capacity within MaxCapacity whose slots would
// not fit in memory is refused with an error wrapping ErrCapacity that
// says how many bytes were asked for and the limit, before anything is
// allocated (the process would otherwise die with "fatal error: out of
// memory", which no recover catches).
func TestCapacityMemoryLimit(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind) {
		expectCapacityError(t, func() error { _, err := newQueue[[64]byte](k, ring.MaxCapacity); return err })
	})
	_, err := ring.NewMPMC[[64]byte](ring.MaxCapacity)
	for _, want := range []string{"77309411328 bytes", "limit of 1073741824 bytes", "WithMaxBytes"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("NewMPMC[[64]byte](MaxCapacity) = %v, want an error saying %q", err, want)
		}
	}
	// The limit is exact, and WithMaxBytes moves it: 8 slots of 16 bytes
	// (value and sequence number) for every kind of int64 ring.
	slot := map[string]int{"SPSC": 16, "MPSC": 16, "SPMC": 16, "MPMC": 16}
	for _, k := range kinds {
		need := 8 * slot[k.name]
		for _, tc := range []struct {
			limit int
			ok    bool
		}{{need, true}, {need - 1, false}, {0, false}, {1 << 20, true}} {
			_, err := newQueueOpts[int64](k, 8, ring.WithMaxBytes(tc.limit))
			if ok := err == nil; ok != tc.ok || !ok && !errors.Is(err, ring.ErrCapacity) {
				t.Errorf("New%s[int64](8, WithMaxBytes(%d)) = %v, want ok=%v", k.name, tc.limit, err, tc.ok)
			}
		}
	}
}

// newQueueOpts calls the constructor of kind k with options.
func newQueueOpts[T any](k kind, capacity int, opts ...ring.Option) (any, error) {
	switch k.name {
	case "SPSC":
		return ring.NewSPSC[T](capacity, opts...)
	case "MPSC":
		return ring.NewMPSC[T](capacity, opts...)
	case "SPMC":
		return ring.NewSPMC[T](capacity, opts...)
	}
	return ring.NewMPMC[T](capacity, opts...)
}

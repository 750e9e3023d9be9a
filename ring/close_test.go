package ring_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ringkit/ringkit/internal/stress"
	"github.com/ringkit/ringkit/ring"
)

// TestCloseKeepsWhatEntered closes rings holding every number of elements
// from none to full, at positions far from and just before the counters'
// wrap, and checks that nothing enters after Close and that everything
// that entered before comes out, in order, before ErrClosed. A full SPSC
// of a power-of-two capacity is the case where the slot Close marks still
// holds an element the consumer has not taken.
func TestCloseKeepsWhatEntered(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind) {
		for _, c := range []int{1, 5, 8} {
			for _, start := range []uint64{0, 3, ring.WrapPoint - 6} {
				for n := 0; n <= c; n++ {
					t.Run(fmt.Sprintf("cap=%d/start=%d/n=%d", c, start, n), func(t *testing.T) {
						closeWith(t, k, c, start, n)
					})
				}
			}
		}
	})
}

func closeWith(t *testing.T, k kind, c int, start uint64, n int) {
	r := mustQueue[int](t, k, c)
	r.SetPos(start)
	// A lap through the ring first, so that every slot has held an
	// element, then n elements: one, then bursts.
	for i := range c {
		if !r.TryEnqueue(-1 - i) {
			t.Fatalf("TryEnqueue on a ring with room failed")
		}
	}
	for range c {
		if _, ok := r.TryDequeue(); !ok {
			t.Fatalf("TryDequeue on a ring holding elements failed")
		}
	}
	for i := 0; i < n; {
		if i == 0 {
			if !r.TryEnqueue(0) {
				t.Fatalf("TryEnqueue(0) failed with room for %d", c)
			}
			i++
			continue
		}
		burst := make([]int, min(2, n-i))
		for j := range burst {
			burst[j] = i + j
		}
		if got := r.EnqueueBurst(burst); got != len(burst) {
			t.Fatalf("EnqueueBurst(%v) = %d, want %d", burst, got, len(burst))
		}
		i += len(burst)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if r.TryEnqueue(100) || r.EnqueueBurst([]int{101}) != 0 || r.EnqueueBulk([]int{102}) {
		t.Fatalf("an enqueue succeeded after Close")
	}
	if err := r.Enqueue(context.Background(), 103); !errors.Is(err, ring.ErrClosed) {
		t.Fatalf("Enqueue after Close = %v, want ErrClosed", err)
	}
	if s, ok := r.(*ring.SPSC[int]); ok {
		if a, b := s.Reserve(1); a != nil || b != nil {
			t.Fatalf("Reserve(1) after Close = %v, %v, want no slots", a, b)
		}
	}
	if got := r.Len(); got != n {
		t.Fatalf("Len() after Close = %d, want %d", got, n)
	}
	for want := range n {
		v, err := r.Dequeue(context.Background())
		if err != nil || v != want {
			t.Fatalf("Dequeue %d after Close = %d, %v, want %d, nil", want, v, err, want)
		}
	}
	if v, err := r.Dequeue(context.Background()); !errors.Is(err, ring.ErrClosed) {
		t.Fatalf("Dequeue on a closed, drained ring = %d, %v, want ErrClosed", v, err)
	}
	if got := r.Len(); got != 0 {
		t.Fatalf("Len() of a closed, drained ring = %d, want 0", got)
	}
}

// TestCloseRacesEnqueues closes a ring while one producer enqueues through
// every kind of call and one consumer dequeues, many times over: the
// consumer must get exactly the elements whose enqueue reported success, in
// order, and then ErrClosed.
func TestCloseRacesEnqueues(t *testing.T) {
	rounds := stress.N(1000, 200)
	forEachKind(t, func(t *testing.T, k kind) {
		rng := rand.New(rand.NewPCG(7, uint64(len(k.name))))
		for round := range rounds {
			c := 1 + rng.IntN(9)
			start := uint64(0)
			if round%2 == 1 {
				start = ring.WrapPoint - uint64(rng.IntN(20))
			}
			closeRace(t, k, c, start, uint64(rng.IntN(60)), uint64(round))
			if t.Failed() {
				t.Logf("round %d: capacity %d, start %d", round, c, start)
				return
			}
		}
	})
}

// closeRace runs one round: Close comes once after entered elements have
// entered, while the producer goes on enqueueing.
func closeRace(t *testing.T, k kind, c int, start, after, seed uint64) {
	r := mustQueue[uint64](t, k, c)
	r.SetPos(start)
	ctx := context.Background()
	var entered uint64         // elements 1..entered entered the ring
	var progress atomic.Uint64 // entered, for the closer to watch
	var got []uint64
	var consErr error
	var wg sync.WaitGroup
	wg.Go(func() { // producer
		rng := rand.New(rand.NewPCG(seed, 1))
		var buf [4]uint64
		for {
			v := entered + 1
			switch rng.IntN(4) {
			case 0:
				if r.TryEnqueue(v) {
					entered++
					progress.Store(entered)
					continue
				}
			case 1:
				b := buf[:1+rng.IntN(len(buf))]
				for i := range b {
					b[i] = v + uint64(i)
				}
				if n := r.EnqueueBurst(b); n > 0 {
					entered += uint64(n)
					progress.Store(entered)
					continue
				}
			case 2:
				if s, ok := r.(*ring.SPSC[uint64]); ok {
					a, b := s.Reserve(1 + rng.IntN(3))
					n := len(a) + len(b)
					for i := range a {
						a[i] = v + uint64(i)
					}
					for i := range b {
						b[i] = v + uint64(len(a)+i)
					}
					if n > 0 && s.Commit(n) == nil {
						entered += uint64(n)
						progress.Store(entered)
						continue
					}
				}
			}
			// Failed, or nothing to try: the blocking call tells full
			// from closed.
			if err := r.Enqueue(ctx, v); err != nil {
				if !errors.Is(err, ring.ErrClosed) {
					t.Errorf("Enqueue = %v, want nil or ErrClosed", err)
				}
				return
			}
			entered++
			progress.Store(entered)
		}
	})
	wg.Go(func() { // consumer
		for {
			v, err := r.Dequeue(ctx)
			if err != nil {
				consErr = err
				return
			}
			got = append(got, v)
		}
	})
	for progress.Load() < after {
		runtime.Gosched()
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	wg.Wait()
	if !errors.Is(consErr, ring.ErrClosed) {
		t.Errorf("the consumer ended with %v, want ErrClosed", consErr)
	}
	if uint64(len(got)) != entered {
		t.Errorf("%d elements entered the ring, the consumer got %d", entered, len(got))
	}
	for i, v := range got {
		if v != uint64(i+1) {
			t.Errorf("element %d out of the ring is %d, want %d", i, v, i+1)
			return
		}
	}
}

// TestSPSCClosePublishedMeanwhile publishes elements in the window between
// Close finding the producer's next slot free and marking it: the mark must
// not land on them (they stay in the ring, and the ring closes after them).
func TestSPSCClosePublishedMeanwhile(t *testing.T) {
	for _, tc := range []struct {
		name    string
		publish func(r *ring.SPSC[int]) []int
	}{
		{"TryEnqueue", func(r *ring.SPSC[int]) []int {
			if !r.TryEnqueue(2) {
				t.Fatal("TryEnqueue(2) failed inside Close")
			}
			return []int{2}
		}},
		{"EnqueueBurst", func(r *ring.SPSC[int]) []int {
			if n := r.EnqueueBurst([]int{2, 3, 4}); n != 3 {
				t.Fatalf("EnqueueBurst inside Close = %d, want 3", n)
			}
			return []int{2, 3, 4}
		}},
		{"Commit", func(r *ring.SPSC[int]) []int {
			a, b := r.Reserve(2)
			if len(a)+len(b) != 2 {
				t.Fatalf("Reserve(2) inside Close = %d slots, want 2", len(a)+len(b))
			}
			copy(b, []int{2, 3}[copy(a, []int{2, 3}):])
			if err := r.Commit(2); err != nil {
				t.Fatalf("Commit inside Close = %v", err)
			}
			return []int{2, 3}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, start := range []uint64{0, ring.WrapPoint - 2} {
				r, err := ring.NewSPSC[int](4)
				if err != nil {
					t.Fatal(err)
				}
				r.SetPos(start)
				if !r.TryEnqueue(1) {
					t.Fatal("TryEnqueue(1) failed on an empty ring")
				}
				want := []int{1}
				calls := 0
				r.SetBeforeMark(func(uint64) {
					if calls++; calls == 1 {
						want = append(want, tc.publish(r)...)
					}
				})
				if err := r.Close(); err != nil {
					t.Fatalf("Close() = %v", err)
				}
				if calls != 2 {
					t.Fatalf("Close looked at a free slot %d times, want 2 (once before the publish, once after)", calls)
				}
				if r.TryEnqueue(9) {
					t.Fatal("TryEnqueue succeeded after Close")
				}
				for _, w := range want {
					if v, err := r.Dequeue(context.Background()); v != w || err != nil {
						t.Fatalf("Dequeue = %d, %v, want %d, nil (elements %v entered before the close)", v, err, w, want)
					}
				}
				if v, err := r.Dequeue(context.Background()); !errors.Is(err, ring.ErrClosed) {
					t.Fatalf("Dequeue on the drained ring = %d, %v, want ErrClosed", v, err)
				}
			}
		})
	}
}

// TestSPSCLenAndCloseFromTheHint checks Len and Close, which start from
// the position the producer last stored and walk on over the slots it
// published since, one element at a time and in bursts: Len is exact at
// every count, and Close closes right after the last element.
func TestSPSCLenAndCloseFromTheHint(t *testing.T) {
	for _, start := range []uint64{0, ring.WrapPoint - 100} {
		r, err := ring.NewSPSC[int](1000)
		if err != nil {
			t.Fatal(err)
		}
		r.SetPos(start)
		n := 0
		for i := range 300 {
			if i%3 == 0 {
				if r.EnqueueBurst([]int{n, n + 1, n + 2, n + 3, n + 4}) != 5 {
					t.Fatal("EnqueueBurst of 5 failed with room")
				}
				n += 5
			} else {
				if !r.TryEnqueue(n) {
					t.Fatal("TryEnqueue failed with room")
				}
				n++
			}
			if got := r.Len(); got != n {
				t.Fatalf("start %d: Len() = %d after %d elements, want %d", start, got, n, n)
			}
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if r.TryEnqueue(-1) {
			t.Fatal("TryEnqueue succeeded after Close")
		}
		for want := range n {
			if v, err := r.Dequeue(context.Background()); v != want || err != nil {
				t.Fatalf("Dequeue = %d, %v, want %d, nil", v, err, want)
			}
		}
		if _, err := r.Dequeue(context.Background()); !errors.Is(err, ring.ErrClosed) {
			t.Fatalf("Dequeue on the drained ring = %v, want ErrClosed", err)
		}
	}
}

// TestSPSCCloseWhileProducerLaps lets the producer and the consumer go on
// in lock step, up to more than two laps of the ring, in the window
// between Close finding the producer's next slot free and marking it: the
// mark fails, and Close, which now finds that slot holding a later lap's
// element (or still this lap's), must go on from the producer's stored tail
// and close the ring right after the last element, neither marking a slot
// in the middle of the elements nor giving up. Rings of a power-of-two
// capacity (where a full ring's next slot still holds an element) and of
// a smaller one, empty and full when Close starts.
func TestSPSCCloseWhileProducerLaps(t *testing.T) {
	for _, c := range []int{3, 4} {
		for _, full := range []bool{false, true} {
			for _, start := range []uint64{0, ring.WrapPoint - 5} {
				for _, steps := range []int{1, 4, 5, 9} {
					name := fmt.Sprintf("cap=%d/full=%v/start=%d/steps=%d", c, full, start, steps)
					t.Run(name, func(t *testing.T) {
						closeWhileLapping(t, c, full, start, steps)
					})
				}
			}
		}
	}
}

func closeWhileLapping(t *testing.T, c int, full bool, start uint64, steps int) {
	r, err := ring.NewSPSC[int](c)
	if err != nil {
		t.Fatal(err)
	}
	r.SetPos(start)
	var held []int // what the ring holds, oldest first
	next := 0
	enqueue := func() {
		if !r.TryEnqueue(next) {
			t.Fatalf("TryEnqueue(%d) failed holding %d of %d", next, len(held), c)
		}
		held = append(held, next)
		next++
	}
	dequeue := func() {
		if v, ok := r.TryDequeue(); !ok || v != held[0] {
			t.Fatalf("TryDequeue = %d, %v, want %d, true", v, ok, held[0])
		}
		held = held[1:]
	}
	if full {
		for range c {
			enqueue()
		}
	}
	calls := 0
	r.SetBeforeMark(func(uint64) {
		if calls++; calls > 1 {
			return
		}
		for range steps {
			if len(held) == c {
				dequeue()
				enqueue()
			} else {
				enqueue()
				dequeue()
			}
		}
	})
	if err := r.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if calls != 2 {
		t.Fatalf("Close found a free slot %d times, want 2 (before the steps and after)", calls)
	}
	if r.TryEnqueue(-1) || r.EnqueueBurst([]int{-2}) != 0 {
		t.Fatal("an enqueue succeeded after Close")
	}
	if got := r.Len(); got != len(held) {
		t.Fatalf("Len() after Close = %d, want %d", got, len(held))
	}
	for _, w := range held {
		if v, err := r.Dequeue(context.Background()); v != w || err != nil {
			t.Fatalf("Dequeue = %d, %v, want %d, nil (the ring holds %v)", v, err, w, held)
		}
	}
	if v, err := r.Dequeue(context.Background()); !errors.Is(err, ring.ErrClosed) {
		t.Fatalf("Dequeue on the drained ring = %d, %v, want ErrClosed", v, err)
	}
	if r.TryEnqueue(-3) {
		t.Fatal("TryEnqueue succeeded on the closed ring once it had room")
	}
}

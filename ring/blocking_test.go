package ring_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ringkit/ringkit/ring"
)

// promptly bounds how long a woken or timed-out waiter may take to return.
const promptly = time.Second

// TestDeadline checks that a waiting Dequeue on an empty ring and a waiting
// Enqueue on a full ring return the context's error soon after its
// deadline, and leave the ring as it was.
func TestDeadline(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind) {
		t.Run("Dequeue", func(t *testing.T) {
			r := mustQueue[int](t, k, 3)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			start := time.Now()
			v, err := r.Dequeue(ctx)
			elapsed := time.Since(start)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Dequeue on an empty ring = %d, %v; want DeadlineExceeded", v, err)
			}
			if elapsed > promptly {
				t.Fatalf("Dequeue returned %v after a 20ms deadline", elapsed)
			}
			if r.Len() != 0 {
				t.Fatalf("Len() = %d after a timed-out Dequeue", r.Len())
			}
			// The ring still works, and the waiter left nothing behind.
			if !r.TryEnqueue(7) {
				t.Fatal("TryEnqueue failed after a timed-out Dequeue")
			}
			if v, ok := r.TryDequeue(); !ok || v != 7 {
				t.Fatalf("TryDequeue = %d, %v", v, ok)
			}
		})
		t.Run("Enqueue", func(t *testing.T) {
			r := mustQueue[int](t, k, 3)
			r.EnqueueBulk([]int{1, 2, 3})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := r.Enqueue(ctx, 4)
			elapsed := time.Since(start)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Enqueue on a full ring = %v; want DeadlineExceeded", err)
			}
			if elapsed > promptly {
				t.Fatalf("Enqueue returned %v after a 20ms deadline", elapsed)
			}
			if r.Len() != 3 || nonZero(r.Slots()) != 3 {
				t.Fatalf("after a timed-out Enqueue: Len() = %d, %d slots used; want 3, 3", r.Len(), nonZero(r.Slots()))
			}
			got := make([]int, 4)
			if n := r.DequeueBurst(got); n != 3 || !slices.Equal(got[:3], []int{1, 2, 3}) {
				t.Fatalf("ring holds %v after a timed-out Enqueue, want [1 2 3]", got[:n])
			}
		})
	})
}

// parkConsumers starts n goroutines blocked in Dequeue on r (which must be
// empty) and waits until they have parked. Each one's result arrives on
// the returned channel.
func parkConsumers(t *testing.T, r queue[int], n int, ctx context.Context) <-chan result {
	t.Helper()
	out := make(chan result, n)
	for range n {
		go func() {
			v, err := r.Dequeue(ctx)
			out <- result{v, err}
		}()
	}
	waitParked(t, func() bool { _, c := r.Parked(); return c })
	return out
}

// parkProducers starts n goroutines blocked in Enqueue(ctx, v0+i) on r
// (which must be full) and waits until they have parked.
func parkProducers(t *testing.T, r queue[int], n, v0 int, ctx context.Context) <-chan result {
	t.Helper()
	out := make(chan result, n)
	for i := range n {
		go func() {
			err := r.Enqueue(ctx, v0+i)
			out <- result{v0 + i, err}
		}()
	}
	waitParked(t, func() bool { p, _ := r.Parked(); return p })
	return out
}

type result struct {
	v   int
	err error
}

// waitParked waits until parked reports a parked goroutine, then a little
// more so that the others, which started together, have parked too (the
// spinning phase before parking lasts microseconds).
func waitParked(t *testing.T, parked func() bool) {
	t.Helper()
	if !eventually(5*time.Second, parked) {
		t.Fatal("no waiter parked within 5s")
	}
	time.Sleep(30 * time.Millisecond)
}

// collect receives n results, each within promptly.
func collect(t *testing.T, what string, ch <-chan result, n int) []result {
	t.Helper()
	var rs []result
	deadline := time.After(promptly)
	for range n {
		select {
		case r := <-ch:
			rs = append(rs, r)
		case <-deadline:
			t.Fatalf("%s: only %d of %d waiters returned within %v", what, len(rs), n, promptly)
		}
	}
	return rs
}

// TestCloseWakesWaiters parks producers on a full ring and consumers on an
// empty one, closes both, and checks that every waiter returns ErrClosed
// promptly; then that a closed ring refuses enqueues and drains.
func TestCloseWakesWaiters(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()

		full := mustQueue[int](t, k, 3)
		full.EnqueueBulk([]int{1, 2, 3})
		np := k.producers(4)
		producers := parkProducers(t, full, np, 10, ctx)

		empty := mustQueue[int](t, k, 3)
		nc := k.consumers(4)
		consumers := parkConsumers(t, empty, nc, ctx)

		for _, r := range []queue[int]{full, empty} {
			if err := r.Close(); err != nil {
				t.Fatalf("Close() = %v", err)
			}
		}
		for _, r := range collect(t, "producers after Close", producers, np) {
			if !errors.Is(r.err, ring.ErrClosed) {
				t.Errorf("blocked Enqueue(%d) returned %v after Close, want ErrClosed", r.v, r.err)
			}
		}
		for _, r := range collect(t, "consumers after Close", consumers, nc) {
			if !errors.Is(r.err, ring.ErrClosed) {
				t.Errorf("blocked Dequeue returned %d, %v after Close, want ErrClosed", r.v, r.err)
			}
		}

		// The closed full ring: enqueues fail, Dequeue drains it, in order,
		// and only then reports ErrClosed.
		if full.TryEnqueue(9) || full.EnqueueBurst([]int{9}) != 0 || full.EnqueueBulk([]int{9}) {
			t.Fatal("an enqueue succeeded on a closed ring")
		}
		if err := full.Enqueue(ctx, 9); !errors.Is(err, ring.ErrClosed) {
			t.Fatalf("Enqueue on a closed ring = %v, want ErrClosed", err)
		}
		if err := full.Close(); err != nil {
			t.Fatalf("second Close() = %v", err)
		}
		for want := 1; want <= 3; want++ {
			if v, err := full.Dequeue(ctx); err != nil || v != want {
				t.Fatalf("Dequeue on a closed ring = %d, %v; want %d", v, err, want)
			}
		}
		if v, err := full.Dequeue(ctx); !errors.Is(err, ring.ErrClosed) {
			t.Fatalf("Dequeue on a closed, drained ring = %d, %v; want ErrClosed", v, err)
		}
		if _, ok := full.TryDequeue(); ok || full.Len() != 0 {
			t.Fatalf("closed drained ring: TryDequeue ok = %v, Len() = %d", ok, full.Len())
		}
		// Not even on an empty closed ring does TryEnqueue succeed.
		if empty.TryEnqueue(1) || empty.Len() != 0 {
			t.Fatal("TryEnqueue succeeded on an empty closed ring")
		}
	})
}

// TestWakeOnPublish parks consumers on an empty ring and checks that each
// way of publishing wakes as many of them as it publishes elements.
func TestWakeOnPublish(t *testing.T) {
	publishers := map[string]func(r queue[int], vs []int) bool{
		"TryEnqueue": func(r queue[int], vs []int) bool {
			for _, v := range vs {
				if !r.TryEnqueue(v) {
					return false
				}
			}
			return true
		},
		"EnqueueBurst": func(r queue[int], vs []int) bool { return r.EnqueueBurst(vs) == len(vs) },
		"EnqueueBulk":  func(r queue[int], vs []int) bool { return r.EnqueueBulk(vs) },
		"Enqueue": func(r queue[int], vs []int) bool {
			for _, v := range vs {
				if r.Enqueue(context.Background(), v) != nil {
					return false
				}
			}
			return true
		},
		"Commit": func(r queue[int], vs []int) bool {
			s := r.(*ring.SPSC[int])
			first, second := s.Reserve(len(vs))
			copy(second, vs[copy(first, vs):])
			return s.Commit(len(vs)) == nil
		},
	}
	forEachKind(t, func(t *testing.T, k kind) {
		for _, name := range []string{"TryEnqueue", "EnqueueBurst", "EnqueueBulk", "Enqueue", "Commit"} {
			if name == "Commit" && k.name != "SPSC" {
				continue
			}
			t.Run(name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				r := mustQueue[int](t, k, 8)
				r.SetPos(ring.WrapPoint - 2)
				n := k.consumers(3)
				consumers := parkConsumers(t, r, n, ctx)
				vs := []int{1, 2, 3}[:n]
				if !publishers[name](r, vs) {
					t.Fatalf("%s failed on an empty ring", name)
				}
				var got []int
				for _, res := range collect(t, "consumers after "+name, consumers, n) {
					if res.err != nil {
						t.Fatalf("woken Dequeue returned %v", res.err)
					}
					got = append(got, res.v)
				}
				slices.Sort(got)
				if !slices.Equal(got, vs) {
					t.Fatalf("woken consumers got %v, want %v", got, vs)
				}
			})
		}
	})
}

// TestWakeOnRelease parks producers on a full ring and checks that each way
// of taking elements wakes as many of them as it frees slots.
func TestWakeOnRelease(t *testing.T) {
	takers := map[string]func(r queue[int], n int) bool{
		"TryDequeue": func(r queue[int], n int) bool {
			for range n {
				if _, ok := r.TryDequeue(); !ok {
					return false
				}
			}
			return true
		},
		"DequeueBurst": func(r queue[int], n int) bool { return r.DequeueBurst(make([]int, n)) == n },
		"DequeueBulk":  func(r queue[int], n int) bool { return r.DequeueBulk(make([]int, n)) },
		"Dequeue": func(r queue[int], n int) bool {
			for range n {
				if _, err := r.Dequeue(context.Background()); err != nil {
					return false
				}
			}
			return true
		},
		"Release": func(r queue[int], n int) bool {
			s := r.(*ring.SPSC[int])
			first, second := s.Peek(n)
			return len(first)+len(second) == n && s.Release(n) == nil
		},
	}
	forEachKind(t, func(t *testing.T, k kind) {
		for _, name := range []string{"TryDequeue", "DequeueBurst", "DequeueBulk", "Dequeue", "Release"} {
			if name == "Release" && k.name != "SPSC" {
				continue
			}
			t.Run(name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				const c = 5
				r := mustQueue[int](t, k, c)
				r.SetPos(ring.WrapPoint - 3)
				r.EnqueueBulk([]int{1, 2, 3, 4, 5})
				n := k.producers(3)
				producers := parkProducers(t, r, n, 10, ctx)
				if !takers[name](r, n) {
					t.Fatalf("%s failed on a full ring", name)
				}
				for _, res := range collect(t, "producers after "+name, producers, n) {
					if res.err != nil {
						t.Fatalf("woken Enqueue(%d) returned %v", res.v, res.err)
					}
				}
				if r.Len() != c {
					t.Fatalf("Len() = %d after the woken producers, want %d", r.Len(), c)
				}
			})
		}
	})
}

// TestBlockingPingPong bounces one element between two goroutines through
// two rings, so that most hand-offs park and wake a waiter (capacity 2:
// see TestCapacity for capacity 1).
func TestBlockingPingPong(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind) {
		ping, pong := mustQueue[int](t, k, 2), mustQueue[int](t, k, 2)
		const rounds = 300
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var wg sync.WaitGroup
		defer func() {
			cancel() // ends the echo goroutine if the test failed
			wg.Wait()
		}()
		wg.Go(func() {
			defer pong.Close()
			for {
				v, err := ping.Dequeue(ctx)
				if err != nil {
					if !errors.Is(err, ring.ErrClosed) && ctx.Err() == nil {
						t.Errorf("echo: Dequeue = %v", err)
					}
					return
				}
				if err := pong.Enqueue(ctx, v+1); err != nil {
					if ctx.Err() == nil {
						t.Errorf("echo: Enqueue = %v", err)
					}
					return
				}
			}
		})
		for i := 0; i < rounds; i++ {
			if err := ping.Enqueue(ctx, 2*i); err != nil {
				t.Fatalf("Enqueue = %v", err)
			}
			v, err := pong.Dequeue(ctx)
			if err != nil || v != 2*i+1 {
				t.Fatalf("round %d: Dequeue = %d, %v; want %d", i, v, err, 2*i+1)
			}
		}
		ping.Close()
		wg.Wait()
		if _, err := pong.Dequeue(ctx); !errors.Is(err, ring.ErrClosed) {
			t.Fatalf("Dequeue after the echo closed = %v, want ErrClosed", err)
		}
	})
}

// TestBurstPingPongWakes bounces bursts between two goroutines: each side
// publishes a burst with EnqueueBurst or hands slots back with
// DequeueBurst while the other is about to park in Dequeue or Enqueue, so
// that the publish and the registration of a waiter race, round after
// round. A wake lost in that race leaves a goroutine parked beside what it
// waits for; each round must finish within a generous deadline.
func TestBurstPingPongWakes(t *testing.T) {
	rounds := 5000
	if testing.Short() {
		rounds = 1000
	}
	forEachKind(t, func(t *testing.T, k kind) {
		const burst = 4
		ping, pong := mustQueue[int](t, k, burst), mustQueue[int](t, k, burst)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var wg sync.WaitGroup
		defer wg.Wait()
		// delay spins for 0 to 40 µs, varying from round to round, so that
		// the publish falls anywhere in the other side's busy wait before
		// it parks (wait.Backoff: some tens of µs), around its
		// registration, and after it has parked.
		delay := func(i int) {
			end := time.Now().Add(time.Duration(i*7919%40000) * time.Nanosecond)
			for time.Now().Before(end) {
			}
		}
		// take takes one element from q, blocking; false when the wait
		// timed out (a lost wake: reported) or the test is ending.
		take := func(what string, i int, q queue[int]) (int, bool) {
			c, stop := context.WithTimeout(ctx, 5*time.Second)
			defer stop()
			v, err := q.Dequeue(c)
			if err != nil && ctx.Err() == nil {
				t.Errorf("round %d: %s has not returned after 5s with %d elements in its ring: a wake was lost", i, what, q.Len())
				cancel()
			}
			return v, err == nil
		}
		// send puts all of buf into q, in bursts; false if the test ends.
		send := func(q queue[int], buf []int) bool {
			for sent := 0; sent < len(buf); {
				if ctx.Err() != nil {
					return false
				}
				sent += q.EnqueueBurst(buf[sent:])
			}
			return true
		}
		wg.Go(func() { // echo: takes a burst one by one, blocking; sends it back in one burst
			buf := make([]int, burst)
			for i := range rounds {
				for j := range buf {
					v, ok := take("echo's Dequeue", i, ping)
					if !ok {
						return
					}
					buf[j] = v + 1
				}
				delay(i)
				if !send(pong, buf) {
					return
				}
			}
		})
		buf := make([]int, burst)
		for i := range rounds {
			for j := range buf {
				buf[j] = i*burst + j
			}
			delay(i + 1)
			if !send(ping, buf) {
				return
			}
			for j := range burst {
				v, ok := take("Dequeue", i, pong)
				if !ok {
					return
				}
				if v != i*burst+j+1 {
					t.Fatalf("round %d: got %d, want %d", i, v, i*burst+j+1)
				}
			}
		}
	})
}

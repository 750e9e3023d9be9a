package ring_test

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ringkit/ringkit/ring"
)

// iterable is a queue with the iterators of iter.go.
type iterable[T any] interface {
	queue[T]
	All(ctx context.Context) iter.Seq[T]
	Drain() iter.Seq[T]
}

func newIterable(t *testing.T, k kind, capacity int) iterable[int] {
	t.Helper()
	q, err := newQueue[int](k, capacity)
	if err != nil {
		t.Fatal(err)
	}
	return q.(iterable[int])
}

// Ranging over All takes every element exactly once, each producer's in
// its order, and the loops end when the ring is closed and drained.
func TestAllDrainsToClose(t *testing.T) {
	per := 20000
	if testing.Short() {
		per = 2000
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			r := newIterable(t, k, 64)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			np, nc := k.producers(3), k.consumers(2)
			var producers sync.WaitGroup
			for p := range np {
				producers.Go(func() {
					for i := range per {
						if err := r.Enqueue(ctx, p*per+i); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			go func() {
				producers.Wait()
				r.Close()
			}()
			got := make([][]int, nc)
			var consumers sync.WaitGroup
			for c := range nc {
				consumers.Go(func() {
					for v := range r.All(ctx) {
						got[c] = append(got[c], v)
					}
				})
			}
			consumers.Wait()
			if ctx.Err() != nil {
				t.Fatal("the loops ended by the context, not at Close")
			}
			seen := make([]bool, np*per)
			for c, vs := range got {
				last := make([]int, np)
				for p := range last {
					last[p] = -1
				}
				for _, v := range vs {
					if seen[v] {
						t.Fatalf("%d yielded twice", v)
					}
					seen[v] = true
					if p, i := v/per, v%per; i <= last[p] {
						t.Fatalf("consumer %d: producer %d's element %d after %d", c, p, i, last[p])
					} else {
						last[p] = i
					}
				}
			}
			if n := slices.Index(seen, false); n >= 0 {
				t.Fatalf("element %d never yielded", n)
			}
		})
	}
}

// All waits on an empty ring and ends, having yielded nothing, when its
// context ends.
func TestAllEndsWithContext(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			r := newIterable(t, k, 8)
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			for v := range r.All(ctx) {
				t.Fatalf("yielded %d from an empty ring", v)
			}
			if ctx.Err() == nil || time.Since(start) < 20*time.Millisecond {
				t.Errorf("All ended after %v with the context %v", time.Since(start), ctx.Err())
			}
		})
	}
}

// Breaking out of All leaves the rest in the ring; Drain then yields what
// is there, oldest first, and ends without waiting on an open ring.
func TestBreakThenDrain(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			r := newIterable(t, k, 16)
			for i := range 10 {
				r.TryEnqueue(i)
			}
			var first []int
			for v := range r.All(context.Background()) {
				first = append(first, v)
				if len(first) == 3 {
					break
				}
			}
			if !slices.Equal(first, []int{0, 1, 2}) || r.Len() != 7 {
				t.Fatalf("took %v before the break, left %d", first, r.Len())
			}
			rest := slices.Collect(r.Drain())
			if !slices.Equal(rest, []int{3, 4, 5, 6, 7, 8, 9}) || r.Len() != 0 {
				t.Fatalf("Drain yielded %v, left %d", rest, r.Len())
			}
			if more := slices.Collect(r.Drain()); len(more) != 0 {
				t.Fatalf("Drain of an empty ring yielded %v", more)
			}
		})
	}
}

// A consumer ranges over the ring until the producer closes it: the loop
// ends once the last element is taken.
func ExampleSPSC_All() {
	r, err := ring.NewSPSC[string](4)
	if err != nil {
		panic(err)
	}
	go func() {
		for _, w := range []string{"receive", "classify", "schedule", "transmit", "sink"} {
			if err := r.Enqueue(context.Background(), w); err != nil {
				panic(err)
			}
		}
		r.Close() // the loop below drains what is left, then ends
	}()
	for stage := range r.All(context.Background()) {
		fmt.Println(stage)
	}
	// Output:
	// receive
	// classify
	// schedule
	// transmit
	// sink
}

// Workers share an MPMC's elements, each ranging over All until the ring
// is closed and empty.
func ExampleMPMC_All() {
	r, err := ring.NewMPMC[int](16)
	if err != nil {
		panic(err)
	}
	var total sync.Map
	var workers sync.WaitGroup
	for w := range 3 {
		workers.Go(func() {
			sum := 0
			for v := range r.All(context.Background()) {
				sum += v
			}
			total.Store(w, sum)
		})
	}
	for i := 1; i <= 100; i++ {
		if err := r.Enqueue(context.Background(), i); err != nil {
			panic(err)
		}
	}
	r.Close()
	workers.Wait()
	sum := 0
	total.Range(func(_, v any) bool { sum += v.(int); return true })
	fmt.Println(sum)
	// Output: 5050
}

// Drain empties a ring at shutdown without waiting for more.
func ExampleMPSC_Drain() {
	r, err := ring.NewMPSC[int](8)
	if err != nil {
		panic(err)
	}
	r.EnqueueBurst([]int{3, 1, 4})
	r.Close()
	for v := range r.Drain() {
		fmt.Print(v, " ")
	}
	fmt.Println()
	// Output: 3 1 4
}

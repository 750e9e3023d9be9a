package ring_test

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ringkit/ringkit/ring"
)

// A producer goroutine hands values to a consumer through an SPSC ring and
// closes it when done; the consumer drains what is left and stops at
// ErrClosed.
func Example() {
	r, err := ring.NewSPSC[int](64)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	go func() {
		defer r.Close()
		for i := 1; i <= 4; i++ {
			if err := r.Enqueue(ctx, i*i); err != nil {
				panic(err)
			}
		}
	}()
	for {
		v, err := r.Dequeue(ctx)
		if errors.Is(err, ring.ErrClosed) {
			break
		}
		fmt.Println(v)
	}
	// Output:
	// 1
	// 4
	// 9
	// 16
}

// Reserve hands out the ring's own slots to fill in place: one slice, or
// two when the free region wraps around the end of the buffer. Peek is the
// consumer's mirror.
func ExampleSPSC_Reserve() {
	r, err := ring.NewSPSC[byte](8)
	if err != nil {
		panic(err)
	}
	msg := "hello"
	first, second := r.Reserve(len(msg))
	copy(second, msg[copy(first, msg):])
	if err := r.Commit(len(msg)); err != nil {
		panic(err)
	}

	first, second = r.Peek(r.Len())
	fmt.Printf("%s%s\n", first, second)
	if err := r.Release(len(first) + len(second)); err != nil {
		panic(err)
	}
	fmt.Println(r.Len())
	// Output:
	// hello
	// 0
}

// Producers add batches with one EnqueueBurst each and wait with Enqueue
// for whatever did not fit; consumers take elements until the ring is
// closed and drained.
func ExampleMPMC() {
	r, err := ring.NewMPMC[int](32)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()

	var producers sync.WaitGroup
	for p := range 4 {
		producers.Go(func() {
			batch := make([]int, 100)
			for i := range batch {
				batch[i] = p*100 + i
			}
			n := r.EnqueueBurst(batch)
			for _, v := range batch[n:] {
				if err := r.Enqueue(ctx, v); err != nil {
					panic(err)
				}
			}
		})
	}
	go func() {
		producers.Wait()
		r.Close() // consumers drain what is left, then see ErrClosed
	}()

	sums := make(chan int)
	for range 2 {
		go func() {
			sum := 0
			for {
				v, err := r.Dequeue(ctx)
				if err != nil {
					break
				}
				sum += v
			}
			sums <- sum
		}()
	}
	fmt.Println(<-sums + <-sums)
	// Output: 79800
}

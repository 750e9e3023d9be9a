package ring_test

import (
	"context"
	"fmt"
	"log"

	"github.com/ringkit/ringkit/ring"
)

// The README's quick start for the rings.
func Example_quickStart() {
	ctx := context.Background()
	r, err := ring.NewMPMC[int](1024) // holds exactly 1024
	if err != nil {
		log.Fatal(err) // capacity < 1 or too large: wraps ring.ErrCapacity
	}

	// Non-blocking, never allocates.
	if !r.TryEnqueue(7) {
		log.Fatal("full or closed")
	}
	v, ok := r.TryDequeue()

	// Bursts and bulks: one claim of the ring for many elements.
	n := r.EnqueueBurst([]int{1, 2, 3, 4}) // as many as fit
	out := make([]int, 32)
	all := r.DequeueBulk(out[:32]) // exactly 32 or nothing: false here
	k := r.DequeueBurst(out)       // up to 32

	// Blocking: spins briefly, then parks at no CPU cost.
	if err := r.Enqueue(ctx, 5); err != nil { // ctx.Err() or ring.ErrClosed
		log.Fatal(err)
	}
	w, err := r.Dequeue(ctx) // after Close: drains, then ring.ErrClosed

	r.Close() // wakes every waiter; idempotent
	fmt.Println(v, ok, n, all, out[:k], w, err)
	// Output: 7 true 4 false [1 2 3 4] 5 <nil>
}

// The README's quick start for an SPSC's zero-copy side.
func ExampleSPSC_quickStart() {
	r, _ := ring.NewSPSC[int](8)
	fill := func(s []int) int {
		for i := range s {
			s[i] = i + 1
		}
		return len(s)
	}
	sum := 0
	process := func(a, b []int) {
		for _, v := range append(a, b...) {
			sum += v
		}
	}

	a, b := r.Reserve(4)                // up to 4 free slots, two slices if they wrap
	n := fill(a) + fill(b)              // write the elements in place
	if err := r.Commit(n); err != nil { // publish the first n, with one compare-and-swap
		log.Fatal(err)
	}

	a, b = r.Peek(4) // up to 4 oldest elements, in place
	process(a, b)
	err := r.Release(len(a) + len(b)) // give the slots back

	fmt.Println(n, sum, err, r.Len())
	// Output: 4 10 <nil> 0
}

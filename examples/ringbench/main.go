// Ringbench moves elements between goroutines through each of ringkit's
// rings, and through a buffered channel of the same shape, and prints what
// each element cost:
//
//	go run ./examples/ringbench            # 2,000,000 elements per case
//	go run ./examples/ringbench -n 20000   # a quick check
//
// Each ring is used as a program would use it: one element at a time with
// the blocking Enqueue and Dequeue, or in bursts of 32 with EnqueueBurst and
// DequeueBurst. Every case checks that each element arrived exactly once,
// and the program exits with status 1 if one did not.
//
// One loop drives every ring and the channel through a small interface, which
// adds an indirect call to each operation. For careful numbers, compared
// with other Go queue libraries and summarized with benchstat, run the
// benchmarks module: benchmarks/run.sh.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringkit/ringkit/ring"
)

// capacity is the number of elements every ring, and the channel, holds.
const capacity = 1024

// queue is the part of the ring API this program uses. All four ring types
// have these methods; chanQueue gives a channel the same ones.
type queue interface {
	Enqueue(ctx context.Context, v uint64) error
	Dequeue(ctx context.Context) (uint64, error)
	EnqueueBurst(src []uint64) int
	DequeueBurst(dst []uint64) int
}

// A shape is a ring type with the producers and consumers it is run with.
type shape struct {
	kind                 string
	producers, consumers int
	newRing              func() (queue, error)
}

var shapes = []shape{
	{"SPSC", 1, 1, func() (queue, error) { return ring.NewSPSC[uint64](capacity) }},
	{"MPSC", 4, 1, func() (queue, error) { return ring.NewMPSC[uint64](capacity) }},
	{"SPMC", 1, 4, func() (queue, error) { return ring.NewSPMC[uint64](capacity) }},
	{"MPMC", 4, 4, func() (queue, error) { return ring.NewMPMC[uint64](capacity) }},
}

var bursts = []int{1, 32}

func main() {
	n := flag.Uint64("n", 2_000_000, "elements to move in each case")
	timeout := flag.Duration("timeout", time.Minute, "give up on a case that takes longer than this")
	flag.Parse()
	if *n == 0 {
		fmt.Fprintln(os.Stderr, "ringbench: -n must be at least 1")
		os.Exit(2)
	}

	fmt.Printf("%d elements per case, capacity %d, GOMAXPROCS %d, %s %s/%s\n\n",
		*n, capacity, runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Printf("%-5s %-5s %5s %9s %9s\n", "type", "shape", "burst", "ns/elem", "Melem/s")
	for _, s := range shapes {
		for _, channel := range []bool{false, true} {
			for _, burst := range bursts {
				if err := report(s, channel, burst, *n, *timeout); err != nil {
					fmt.Fprintln(os.Stderr, "ringbench:", err)
					os.Exit(1)
				}
			}
		}
	}
	fmt.Printf("\nevery case delivered each of its %d elements exactly once\n", *n)
}

// report runs one case, through a ring of the shape's type or through a
// channel, and prints its row of the table.
func report(s shape, channel bool, burst int, n uint64, timeout time.Duration) error {
	kind, name := s.kind, fmt.Sprintf("p%dc%d", s.producers, s.consumers)
	var q queue
	if channel {
		kind, q = "chan", make(chanQueue, capacity)
	} else {
		var err error
		if q, err = s.newRing(); err != nil {
			return fmt.Errorf("%s: %w", kind, err)
		}
	}
	elapsed, err := run(q, s.producers, s.consumers, burst, n, timeout)
	if err != nil {
		return fmt.Errorf("%s %s burst %d: %w", kind, name, burst, err)
	}
	ns := float64(elapsed.Nanoseconds()) / float64(n)
	fmt.Printf("%-5s %-5s %5d %9.1f %9.1f\n", kind, name, burst, ns, 1e3/ns)
	return nil
}

// run moves the values 1..n from producers to consumers goroutines through q
// and returns how long that took. Each producer sends a contiguous range of
// the values and each consumer takes a fixed share of them, so every
// goroutine knows when it is done. The consumers add up what they receive:
// the sum shows a value that was lost, duplicated or corrupted.
func run(q queue, producers, consumers, burst int, n uint64, timeout time.Duration) (time.Duration, error) {
	// A lost element would leave a consumer waiting for ever; the deadline
	// ends the wait, and so does the first error of any goroutine.
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	var (
		wg       sync.WaitGroup
		got, sum atomic.Uint64
		mu       sync.Mutex
		errs     []error
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
		cancel()
	}

	start := make(chan struct{})
	next := uint64(1)
	for i, share := range split(n, producers) {
		first := next
		next += share
		wg.Go(func() {
			<-start
			if err := produce(ctx, q, burst, first, share); err != nil {
				fail(fmt.Errorf("producer %d: %w", i, err))
			}
		})
	}
	for i, share := range split(n, consumers) {
		wg.Go(func() {
			<-start
			g, s, err := consume(ctx, q, burst, share)
			got.Add(g)
			sum.Add(s)
			if err != nil {
				fail(fmt.Errorf("consumer %d, after %d of its %d elements: %w", i, g, share, err))
			}
		})
	}

	began := time.Now()
	close(start)
	wg.Wait()
	elapsed := time.Since(began)

	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	if got.Load() != n || sum.Load() != triangle(n) {
		return 0, fmt.Errorf("received %d elements summing to %d; sent %d summing to %d",
			got.Load(), sum.Load(), n, triangle(n))
	}
	return elapsed, nil
}

// produce enqueues first, first+1, ..., first+n-1, in order.
func produce(ctx context.Context, q queue, burst int, first, n uint64) error {
	if burst == 1 {
		for v := first; v < first+n; v++ {
			if err := q.Enqueue(ctx, v); err != nil {
				return err
			}
		}
		return nil
	}
	buf := make([]uint64, burst)
	for v, end := first, first+n; v < end; {
		batch := buf[:min(uint64(burst), end-v)]
		for i := range batch {
			batch[i] = v + uint64(i)
		}
		v += uint64(len(batch))
		for len(batch) > 0 {
			k := q.EnqueueBurst(batch)
			if k == 0 {
				// The ring is full. Wait for room with the blocking
				// Enqueue, which spins briefly and then parks, instead of
				// retrying the burst in a loop that would keep a core busy.
				if err := q.Enqueue(ctx, batch[0]); err != nil {
					return err
				}
				k = 1
			}
			batch = batch[k:]
		}
	}
	return nil
}

// consume dequeues exactly n elements and returns how many it got and their
// sum. It never asks for more than it still needs, so consumers sharing a
// ring each end with exactly their share.
func consume(ctx context.Context, q queue, burst int, n uint64) (got, sum uint64, err error) {
	if burst == 1 {
		for ; got < n; got++ {
			v, err := q.Dequeue(ctx)
			if err != nil {
				return got, sum, err
			}
			sum += v
		}
		return got, sum, nil
	}
	buf := make([]uint64, burst)
	for got < n {
		k := q.DequeueBurst(buf[:min(uint64(burst), n-got)])
		if k == 0 {
			// The ring is empty: wait for one element, as produce waits
			// for room.
			v, err := q.Dequeue(ctx)
			if err != nil {
				return got, sum, err
			}
			buf[0], k = v, 1
		}
		for _, v := range buf[:k] {
			sum += v
		}
		got += uint64(k)
	}
	return got, sum, nil
}

// split divides n into k shares that differ by at most one and sum to n.
func split(n uint64, k int) []uint64 {
	shares := make([]uint64, k)
	for i := range shares {
		shares[i] = n / uint64(k)
		if uint64(i) < n%uint64(k) {
			shares[i]++
		}
	}
	return shares
}

// triangle returns 1+2+...+n (modulo 2^64), the sum of the values sent.
func triangle(n uint64) uint64 {
	if n%2 == 0 {
		return n / 2 * (n + 1)
	}
	return (n + 1) / 2 * n
}

// chanQueue gives a buffered channel the methods of a ring. Like the ring's,
// Enqueue and Dequeue try first and only then wait, for the channel or for
// the end of ctx. A channel has no burst operation, so its bursts are
// non-blocking sends and receives, one element at a time.
type chanQueue chan uint64

func (c chanQueue) Enqueue(ctx context.Context, v uint64) error {
	select {
	case c <- v:
		return nil
	default:
	}
	select {
	case c <- v:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c chanQueue) Dequeue(ctx context.Context) (uint64, error) {
	select {
	case v := <-c:
		return v, nil
	default:
	}
	select {
	case v := <-c:
		return v, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (c chanQueue) EnqueueBurst(src []uint64) int {
	for i, v := range src {
		select {
		case c <- v:
		default:
			return i
		}
	}
	return len(src)
}

func (c chanQueue) DequeueBurst(dst []uint64) int {
	for i := range dst {
		select {
		case dst[i] = <-c:
		default:
			return i
		}
	}
	return len(dst)
}

package benchmarks

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

const (
	// capacity is the number of elements every implementation can hold:
	// the ring capacity, the channel buffer, Workiva's size.
	capacity = 1024
	// maxBurst is the largest burst; it sizes the batch buffers, which are
	// arrays so that they live on the goroutine's stack.
	maxBurst = 32
)

// bursts are the batch sizes every shape is measured at.
var bursts = []int{1, 8, 32}

// A shape is who moves elements: producers and consumers goroutines, or, for
// the uncontended shape (both zero), one goroutine doing both in turn.
type shape struct {
	name                 string
	producers, consumers int
}

var uncontended = shape{name: "uncontended"}

func pc(producers, consumers int) shape {
	return shape{fmt.Sprintf("p%dc%d", producers, consumers), producers, consumers}
}

// An impl is one queue implementation reduced to the loops the harness
// drives. Each implementation writes these loops itself, calling its own
// methods directly: a call through an interface or a generic dictionary
// would add an indirect call, and stop inlining, on every operation, a
// sizable share of an operation that takes a few nanoseconds. For the same
// reason the functions that make impls are marked go:noinline: where such a
// function is inlined, the compiler copies its closures into the caller and,
// in the copies, no longer inlines the small calls the loops make (fill,
// total, and the queues' own small methods). The only indirect calls left
// are the harness's, once per burst in roundTrip (more) and once per
// goroutine in a pipe, the same for every implementation.
//
// Values are 1, 2, 3, ... so that the harness can check the sum of what was
// received without storing it.
type impl struct {
	name string
	// roundTrip makes a queue and, while more reports true, enqueues the
	// next burst of values and dequeues them again on the calling
	// goroutine. It returns how many elements it dequeued and their sum; it
	// stops early, with short counts, if the queue misbehaves.
	roundTrip func(more func() bool, burst int) (n, sum uint64)
	// pipe makes a queue shared by goroutines that move bursts of burst
	// elements.
	pipe func(burst int) pipe
}

// A pipe is one queue seen from its two sides. produce and consume may run
// on as many goroutines as the queue's type allows.
type pipe struct {
	// produce enqueues first, first+1, ..., first+n-1 in order, waiting as
	// needed, and returns how many it enqueued (n unless the queue failed).
	produce func(first, n uint64) (sent uint64)
	// consume dequeues exactly n elements, waiting as needed, and returns
	// how many it got (n unless the queue failed) and their sum.
	consume func(n uint64) (got, sum uint64)
	// close releases the queue once no goroutine uses it.
	close func()
}

// backoff is the one retry policy every implementation gets after a try that
// found the queue full or empty, so that none wins or loses by how it waits.
// The first few retries spin: on another core the other side is usually in
// the middle of an operation and about to make room or publish. After that
// the retry yields the processor, because on two cores shared by up to 32
// goroutines the goroutine that would make progress is most likely not
// running. It is polling, and burns a core while it waits; that is fine for
// a benchmark, which never waits long, and the reason ringkit's own Enqueue
// and Dequeue park instead. Reset it to zero after a success.
type backoff int

// spinIterations makes one spin last a few tens of nanoseconds.
const spinIterations = 50

func (b *backoff) wait() {
	*b++
	if *b < 8 {
		for i := 0; i < spinIterations; i++ {
			// The empty loop is the delay. The compiler keeps it (checked
			// in the disassembly with Go 1.26); a store or an atomic here
			// would add memory traffic to the very lines being measured.
		}
		return
	}
	runtime.Gosched()
}

// fill sets buf to v, v+1, ....
func fill(buf []uint64, v uint64) {
	for i := range buf {
		buf[i] = v + uint64(i)
	}
}

// total returns the sum of buf.
func total(buf []uint64) (sum uint64) {
	for _, x := range buf {
		sum += x
	}
	return sum
}

// must returns q, and panics if making it failed: every capacity here is a
// constant the implementations accept, so an error is a defect of this file.
func must[Q any](q Q, err error) Q {
	if err != nil {
		panic(err)
	}
	return q
}

// triangle returns 1+2+...+n modulo 2^64: the sum of the values a correct
// run delivers.
func triangle(n uint64) uint64 {
	if n%2 == 0 {
		return n / 2 * (n + 1)
	}
	return (n + 1) / 2 * n
}

// verify checks that the values 1..want were all received exactly once:
// the count must match, and a lost, duplicated or corrupted value changes
// the sum.
func verify(want, sent, got, sum uint64) error {
	switch {
	case sent != want:
		return fmt.Errorf("producers enqueued %d of %d elements", sent, want)
	case got != want:
		return fmt.Errorf("consumers received %d of %d elements", got, want)
	case sum != triangle(want):
		return fmt.Errorf("received elements sum to %d, want %d: some were lost, duplicated or corrupted", sum, triangle(want))
	}
	return nil
}

// split divides n into k shares that differ by at most one and sum to n.
// Each consumer takes exactly its share, so every consumer finishes once all
// n elements are through and none waits for an element that will not come.
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

// pump moves the values 1..n through p with the given numbers of producer
// and consumer goroutines, each producer sending a contiguous range. Once
// every goroutine exists it calls start and releases them all at once; it
// returns when all of them are done, with the totals sent and received.
func pump(p pipe, producers, consumers int, n uint64, start func()) (sent, got, sum uint64) {
	var sentAll, gotAll, sumAll atomic.Uint64
	var wg sync.WaitGroup
	gate := make(chan struct{})
	first := uint64(1)
	for _, share := range split(n, producers) {
		from := first
		first += share
		wg.Go(func() {
			<-gate
			sentAll.Add(p.produce(from, share))
		})
	}
	for _, share := range split(n, consumers) {
		wg.Go(func() {
			<-gate
			g, s := p.consume(share)
			gotAll.Add(g)
			sumAll.Add(s)
		})
	}
	start()
	close(gate)
	wg.Wait()
	return sentAll.Load(), gotAll.Load(), sumAll.Load()
}

// bench runs every suite of a table, each implementation at every shape
// and burst, as ring/shape/burst=N/implementation sub-benchmarks.
func bench(b *testing.B, table []suite) {
	for _, s := range table {
		b.Run(s.name, func(b *testing.B) {
			for _, sh := range s.shapes {
				b.Run(sh.name, func(b *testing.B) {
					for _, burst := range bursts {
						b.Run(fmt.Sprintf("burst=%d", burst), func(b *testing.B) {
							for _, im := range s.impls {
								b.Run(im.name, func(b *testing.B) {
									if sh == uncontended {
										benchRoundTrip(b, im, burst)
									} else {
										benchPipe(b, im, sh, burst)
									}
								})
							}
						})
					}
				})
			}
		})
	}
}

// benchRoundTrip measures one goroutine enqueueing and dequeueing bursts. An
// op is one burst; ns/elem divides by the elements.
func benchRoundTrip(b *testing.B, im impl, burst int) {
	b.ReportAllocs()
	var batches uint64 // counted here: b.N is only set once b.Loop is done
	more := func() bool {
		if b.Loop() {
			batches++
			return true
		}
		return false
	}
	n, sum := im.roundTrip(more, burst)
	want := batches * uint64(burst)
	if err := verify(want, want, n, sum); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(want), "ns/elem")
}

// benchPipe measures the wall time for b.N elements to pass from the
// producers to the consumers, so an op is one element and ns/op is ns/elem.
// The goroutines share b.N among themselves, which b.Loop cannot do.
func benchPipe(b *testing.B, im impl, sh shape, burst int) {
	b.ReportAllocs()
	p := im.pipe(burst)
	defer p.close()
	want := uint64(b.N)
	sent, got, sum := pump(p, sh.producers, sh.consumers, want, b.ResetTimer)
	b.StopTimer()
	if err := verify(want, sent, got, sum); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(want), "ns/elem")
}

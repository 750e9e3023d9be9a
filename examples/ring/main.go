// Command ring is the smallest use of package ring: producers and a
// consumer moving values between goroutines, as with a channel but faster.
//
//  1. Four producers send numbered messages into one MPSC ring with the
//     blocking Enqueue; one consumer takes them with Dequeue until the ring
//     is closed and drained, and checks that each producer's messages came
//     exactly once and in order.
//
//  2. One producer fills an SPSC ring in place (Reserve, Commit) and one
//     consumer reads it in place (Peek, Release): no copy in or out.
//
//     go run ./examples/ring [-n 1000000]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/ringkit/ringkit/ring"
)

// msg is what the producers send: who sent it, and its number.
type msg struct {
	from int
	seq  uint64
}

func main() {
	n := flag.Int("n", 1_000_000, "messages per producer")
	flag.Parse()
	if err := run(uint64(*n)); err != nil {
		fmt.Fprintln(os.Stderr, "ring:", err)
		os.Exit(1)
	}
}

func run(n uint64) error {
	if err := manyToOne(n, 4); err != nil {
		return err
	}
	return zeroCopy(n)
}

// manyToOne runs producers goroutines into one MPSC ring and one consumer.
func manyToOne(n uint64, producers int) error {
	r, err := ring.NewMPSC[msg](1024)
	if err != nil {
		return err
	}
	ctx := context.Background()
	start := time.Now()
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				if err := r.Enqueue(ctx, msg{from: p, seq: i}); err != nil {
					panic(err) // the ring is closed only after every producer is done
				}
			}
		}()
	}
	// Close once every producer is done; the consumer still drains what
	// is left, then gets ErrClosed.
	go func() { wg.Wait(); r.Close() }()

	next := make([]uint64, producers) // the number expected next from each
	for {
		m, err := r.Dequeue(ctx)
		if errors.Is(err, ring.ErrClosed) {
			break
		}
		if err != nil {
			return err
		}
		if m.seq != next[m.from] {
			return fmt.Errorf("producer %d: got message %d, want %d", m.from, m.seq, next[m.from])
		}
		next[m.from]++
	}
	for p, got := range next {
		if got != n {
			return fmt.Errorf("producer %d: %d messages arrived of %d", p, got, n)
		}
	}
	el := time.Since(start)
	total := n * uint64(producers)
	fmt.Printf("MPSC, %d producers → 1 consumer: %d messages in %v (%.1f ns each), each once and in order\n",
		producers, total, round3(el), float64(el.Nanoseconds())/float64(total))
	return nil
}

// zeroCopy moves n values through an SPSC ring in place, in bursts.
func zeroCopy(n uint64) error {
	r, err := ring.NewSPSC[uint64](1024)
	if err != nil {
		return err
	}
	start := time.Now()
	done := make(chan error, 1)
	go func() { // the producer writes straight into the ring's slots
		var i uint64
		for i < n {
			first, second := r.Reserve(int(min(64, n-i)))
			for _, s := range [][]uint64{first, second} {
				for k := range s {
					s[k] = i
					i++
				}
			}
			if k := len(first) + len(second); k > 0 {
				if err := r.Commit(k); err != nil {
					done <- err
					return
				}
			} else {
				time.Sleep(time.Microsecond) // full: the consumer is behind
			}
		}
		done <- nil
	}()
	var want, sum uint64
	for want < n {
		first, second := r.Peek(64)
		k := len(first) + len(second)
		if k == 0 {
			time.Sleep(time.Microsecond) // empty: the producer is behind
			continue
		}
		for _, s := range [][]uint64{first, second} {
			for _, v := range s {
				if v != want {
					return fmt.Errorf("SPSC: got %d, want %d", v, want)
				}
				want++
				sum += v
			}
		}
		if err := r.Release(k); err != nil {
			return err
		}
	}
	if err := <-done; err != nil {
		return err
	}
	el := time.Since(start)
	if sum != n*(n-1)/2 {
		return fmt.Errorf("SPSC: sum %d, want %d", sum, n*(n-1)/2)
	}
	fmt.Printf("SPSC zero-copy (Reserve/Commit, Peek/Release): %d values in order in %v (%.1f ns each)\n",
		n, round3(el), float64(el.Nanoseconds())/float64(n))
	return nil
}

// round3 rounds d to three significant digits: a short run reads "412µs",
// not "0s".
func round3(d time.Duration) time.Duration {
	unit := time.Duration(1)
	for v := d; v >= 1000; v /= 10 {
		unit *= 10
	}
	return d.Round(unit)
}

package sched_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/ring"
	"github.com/ringkit/ringkit/sched"
)

// Packet handles of the concurrent tests carry who sent them in Buf:
// producer (2 bits), port (2 bits), class (3 bits), sequence (25 bits).
func handle(prod, port, tc, seq int) descriptor.Buf {
	return descriptor.Buf(prod<<30 | port<<28 | tc<<25 | seq)
}

func unhandle(b descriptor.Buf) (prod, port, tc, seq int) {
	return int(b >> 30), int(b>>28) & 3, int(b>>25) & 7, int(b) & (1<<25 - 1)
}

// checker records each packet that leaves a port, by sink or by drop, and
// reports duplicates and per-(producer, class) reordering.
type checker struct {
	mu      sync.Mutex
	seen    map[descriptor.Buf]bool
	last    map[[3]int]int // (producer, port, class) -> last sequence sent
	errs    []error
	out     atomic.Int64
	dropped atomic.Int64
}

func newChecker() *checker {
	return &checker{seen: map[descriptor.Buf]bool{}, last: map[[3]int]int{}}
}

func (c *checker) record(port int, pkts []descriptor.Packet, viaSink bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range pkts {
		prod, pp, tc, seq := unhandle(p.Buf)
		switch {
		case c.seen[p.Buf]:
			c.errs = append(c.errs, fmt.Errorf("packet %d/%d/%d/%d twice", prod, pp, tc, seq))
		case pp != port || int(p.TC) != tc:
			c.errs = append(c.errs, fmt.Errorf("packet of port %d class %d left port %d as class %d", pp, tc, port, p.TC))
		}
		c.seen[p.Buf] = true
		k := [3]int{prod, pp, tc}
		if l, ok := c.last[k]; viaSink && ok && seq <= l {
			c.errs = append(c.errs, fmt.Errorf("producer %d port %d class %d: %d after %d", prod, pp, tc, seq, l))
		}
		if viaSink {
			c.last[k] = seq
			c.out.Add(1)
		} else {
			c.dropped.Add(1)
		}
	}
}

// TestStressExactlyOnce: producer goroutines, standing in for the
// classifier, feed 4 ports × 8 classes through MPSC rings while the ports
// run in their own goroutines; every packet comes out of a sink exactly
// once and in its producer's order, or is dropped through OnDrop, and none
// is held when the ports have stopped.
func TestStressExactlyOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mode   sched.Mode
		refuse bool
	}{
		{"serial", sched.ModeSerial, false},
		{"serial/refusing-sink", sched.ModeSerial, true},
		{"parallel", sched.ModeParallel, false},
		{"parallel/refusing-sink", sched.ModeParallel, true},
	} {
		t.Run(tc.name, func(t *testing.T) { concurrentRun(t, tc.mode, tc.refuse) })
	}
}

func concurrentRun(t *testing.T, mode sched.Mode, refuse bool) {
	const ports, tcs, producers = 4, 8, 4
	perRing := 2000
	if testing.Short() {
		perRing = 150
	}
	total := ports * tcs * producers * perRing
	chk := newChecker()
	rings := make([][]*ring.MPSC[descriptor.Packet], ports)
	ps := make([]*sched.Port, ports)
	for port := range ports {
		var cfg []sched.TCConfig
		rings[port] = make([]*ring.MPSC[descriptor.Packet], tcs)
		for c := range tcs {
			r, err := ring.NewMPSC[descriptor.Packet](64)
			if err != nil {
				t.Fatal(err)
			}
			rings[port][c] = r
			cfg = append(cfg, sched.TCConfig{Queue: r, Weight: 1 + c%4, Priority: c / 6})
		}
		cfg[7].Rate = 2e9
		var mu sync.Mutex // ModeParallel calls the sink from several workers
		rng := rand.New(rand.NewPCG(uint64(port), 1))
		sink := sched.SinkFunc(func(p []descriptor.Packet) int {
			mu.Lock()
			defer mu.Unlock()
			k := len(p)
			if refuse {
				k = rng.IntN(len(p) + 1)
			}
			chk.record(port, p[:k], true)
			return k
		})
		ps[port] = mustPort(t, sched.PortConfig{
			Rate: 20e9, Quantum: 50 * time.Microsecond, TCs: cfg, Sink: sink, Mode: mode, TxBurst: 16,
			OnDrop: func(p descriptor.Packet) { chk.record(port, []descriptor.Packet{p}, false) },
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- sched.Run(ctx, ps...) }()
	var prod sync.WaitGroup
	prodErr := make(chan error, producers)
	for pr := range producers {
		prod.Add(1)
		go func() {
			defer prod.Done()
			rng := rand.New(rand.NewPCG(uint64(pr), 2))
			for seq := range perRing {
				for port := range ports {
					for c := range tcs {
						p := descriptor.Packet{Buf: handle(pr, port, c, seq), Len: uint16(60 + rng.IntN(1455)), TC: uint8(c), OutPort: uint16(port)}
						if err := rings[port][c].Enqueue(ctx, p); err != nil {
							prodErr <- err
							return
						}
					}
				}
			}
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	for chk.out.Load()+chk.dropped.Load() < int64(total) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	prod.Wait()
	if err := <-runErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v, want context.Canceled", err)
	}
	for _, p := range ps {
		p.Release()
	}
	close(prodErr)
	for err := range prodErr {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("producer: %v", err)
		}
	}
	for _, err := range chk.errs[:min(len(chk.errs), 5)] {
		t.Error(err)
	}
	out, dropped := chk.out.Load(), chk.dropped.Load()
	if out+dropped != int64(total) || len(chk.seen) != total {
		t.Fatalf("%d sent + %d dropped, %d distinct; want %d", out, dropped, len(chk.seen), total)
	}
	var refused uint64
	for _, p := range ps {
		refused += p.Stats().Refused
		for _, ts := range p.Stats().TCs {
			if ts.Drops != 0 {
				t.Errorf("drops %d with nothing oversize", ts.Drops)
			}
		}
	}
	if refuse && refused == 0 {
		t.Error("the refusing sink refused nothing")
	}
}

// TestRunStops: Run ends with its context and leaves no goroutine (goleak
// checks in TestMain); a second Run at once is refused.
func TestRunStops(t *testing.T) {
	for _, mode := range []sched.Mode{sched.ModeSerial, sched.ModeParallel} {
		t.Run(modeName(mode), func(t *testing.T) {
			stepped := &signalQueue{c: make(chan struct{})}
			p := mustPort(t, sched.PortConfig{Rate: 1e9, Quantum: 100 * time.Microsecond, Sink: newRecorder(2, 24, false), Mode: mode,
				TCs: []sched.TCConfig{{Weight: 1, Queue: idleQueue{}}, {Weight: 1, Queue: stepped}}})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- p.Run(ctx) }()
			<-stepped.c // Run is stepping
			ended, end := context.WithCancel(context.Background())
			end()
			if err := p.Run(ended); !errors.Is(err, sched.ErrRunning) {
				t.Fatalf("second Run: %v, want ErrRunning", err)
			}
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Fatalf("Run: %v", err)
			}
		})
	}
}

// TestCloseEndsRun: Close ends a running Run, which returns nil, waits for
// it, and a Run after Close returns nil at once; Close is idempotent.
func TestCloseEndsRun(t *testing.T) {
	for _, mode := range []sched.Mode{sched.ModeSerial, sched.ModeParallel} {
		t.Run(modeName(mode), func(t *testing.T) {
			stepped := &signalQueue{c: make(chan struct{})}
			p := mustPort(t, sched.PortConfig{Rate: 1e9, Quantum: 100 * time.Microsecond, Sink: newRecorder(2, 24, false), Mode: mode,
				TCs: []sched.TCConfig{{Weight: 1, Queue: idleQueue{}}, {Weight: 1, Queue: stepped}}})
			done := make(chan error, 1)
			go func() { done <- p.Run(context.Background()) }()
			<-stepped.c // Run is stepping
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			// Close has waited for Run's loop to end; Run's result reaches
			// done a moment later, on Run's goroutine.
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Run after Close = %v, want nil", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Run did not return after Close")
			}
			if err := p.Run(context.Background()); err != nil {
				t.Fatalf("Run on a closed port = %v, want nil", err)
			}
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// signalQueue is an empty queue that closes c the first time it is polled.
type signalQueue struct {
	once sync.Once
	c    chan struct{}
}

func (q *signalQueue) DequeueBurst([]descriptor.Packet) int {
	q.once.Do(func() { close(q.c) })
	return 0
}
func (q *signalQueue) Len() int { return 0 }

// TestRunRespectsRate: in real time, with the workers of ModeParallel
// spending their grants while the coordinator takes back and re-grants
// them, a saturated port never sends more than its rate allows: at most
// rate × elapsed plus one bucket depth.
func TestRunRespectsRate(t *testing.T) {
	span := time.Second
	if testing.Short() {
		span = 200 * time.Millisecond
	}
	for _, mode := range []sched.Mode{sched.ModeSerial, sched.ModeParallel} {
		t.Run(modeName(mode), func(t *testing.T) {
			const rate, quantum = 400e6, 200 * time.Microsecond
			var sent atomic.Uint64
			sink := sched.SinkFunc(func(p []descriptor.Packet) int {
				var n uint64
				for i := range p {
					n += uint64(p[i].Len) + sched.DefaultOverhead
				}
				sent.Add(n)
				return len(p)
			})
			var tcs []sched.TCConfig
			for i := range 4 {
				tcs = append(tcs, sched.TCConfig{Weight: 1 + i, Queue: newGen(uint8(i), 64, 1518, 4)})
			}
			const depth = 1 << 16
			p := mustPort(t, sched.PortConfig{Rate: rate, Quantum: quantum, Burst: depth, Sink: sink, TCs: tcs, Mode: mode, Workers: 4 * int(mode)})
			ctx, cancel := context.WithTimeout(context.Background(), span)
			defer cancel()
			start := time.Now()
			if err := p.Run(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Run: %v", err)
			}
			elapsed := time.Since(start)
			limit := rate/8*elapsed.Seconds() + depth
			// Only the upper bound is a property; how much below it the
			// port stays depends on how much CPU a loaded machine gives it.
			if got := float64(sent.Load()); got > limit || got == 0 {
				t.Fatalf("sent %.0f bytes in %v, want at most %.0f (and not nothing)", got, elapsed, limit)
			}
			p.Release()
		})
	}
}

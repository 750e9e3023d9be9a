// Command shares runs one output port's scheduler in real time over six
// traffic classes fed by saturating producers, and shows each class's share
// of the port converging to its configuration: one strict-priority class
// capped at a tenth of the port, and five classes sharing the rest by
// weights 1, 2, 3, 4 and 6 (deficit round robin).
//
//	go run ./examples/shares [-rate 1e9] [-duration 2s] [-quantum 1ms]
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/ring"
	"github.com/ringkit/ringkit/sched"
)

type class struct {
	name     string
	priority int
	weight   int
	capShare float64 // cap as a fraction of the port rate, 0 for none
}

var classes = []class{
	{"voice", 0, 1, 0.10},
	{"video", 1, 6, 0},
	{"gold", 1, 4, 0},
	{"silver", 1, 3, 0},
	{"bronze", 1, 2, 0},
	{"best", 1, 1, 0},
}

func main() {
	rate := flag.Float64("rate", 1e9, "port rate in bits per second")
	duration := flag.Duration("duration", 2*time.Second, "how long to run")
	quantum := flag.Duration("quantum", time.Millisecond, "scheduling quantum")
	every := flag.Duration("every", 250*time.Millisecond, "report interval")
	flag.Parse()
	if err := run(uint64(*rate), *duration, *quantum, *every); err != nil {
		fmt.Fprintln(os.Stderr, "shares:", err)
		os.Exit(1)
	}
}

func run(rate uint64, duration, quantum, every time.Duration) error {
	rings := make([]*ring.SPSC[descriptor.Packet], len(classes))
	tcs := make([]sched.TCConfig, len(classes))
	for i, c := range classes {
		r, err := ring.NewSPSC[descriptor.Packet](4096)
		if err != nil {
			return err
		}
		rings[i] = r
		tcs[i] = sched.TCConfig{Name: c.name, Queue: r, Priority: c.priority, Weight: c.weight,
			Rate: uint64(c.capShare * float64(rate))}
	}
	// The sink stands in for a TxRing: it takes every burst.
	var wire atomic.Uint64
	sink := sched.SinkFunc(func(pkts []descriptor.Packet) int {
		var n uint64
		for i := range pkts {
			n += uint64(pkts[i].Len) + sched.DefaultOverhead
		}
		wire.Add(n)
		return len(pkts)
	})
	port, err := sched.NewPort(sched.PortConfig{Name: "port0", Rate: rate, Quantum: quantum,
		Window: every, TCs: tcs, Sink: sink})
	if err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var wg sync.WaitGroup
	// Saturating producers, one per class, standing in for the
	// classifier: they block (parked, not spinning) while a ring is full.
	for i, r := range rings {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			for {
				p := descriptor.Packet{Len: uint16(64 + rng.IntN(1518-64+1)), TC: uint8(i)}
				if r.Enqueue(ctx, p) != nil {
					return
				}
			}
		}()
	}
	runErr := make(chan error, 1)
	go func() { runErr <- port.Run(ctx) }()

	fmt.Printf("port %.3g Gb/s, quantum %v, %d classes; share over the last %v:\n", float64(rate)/1e9, quantum, len(classes), every)
	header := fmt.Sprintf("%8s", "t")
	for _, c := range classes {
		header += fmt.Sprintf(" %8s", c.name)
	}
	fmt.Println(header + "     Gb/s   Jain")
	start := time.Now()
	tick := time.NewTicker(every)
	defer tick.Stop()
	last := uint64(0)
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-tick.C:
			s := port.Stats()
			line := fmt.Sprintf("%8s", time.Since(start).Round(time.Millisecond))
			for _, t := range s.TCs {
				line += fmt.Sprintf(" %7.2f%%", 100*t.Share)
			}
			w := wire.Load()
			fmt.Printf("%s %8.3f %6.4f\n", line, float64(w-last)*8/every.Seconds()/1e9, s.Fairness(1))
			last = w
		}
	}
	elapsed := time.Since(start)
	if err := <-runErr; err != context.DeadlineExceeded {
		return err
	}
	wg.Wait()
	port.Release()

	s := port.Stats()
	var total uint64
	perTC := make([]uint64, len(s.TCs))
	for i, t := range s.TCs {
		perTC[i] = t.Bytes + t.Packets*sched.DefaultOverhead
		total += perTC[i]
	}
	want := configured()
	fmt.Printf("\nover the whole run (%v, %.3f Gb/s sent):\n", elapsed.Round(time.Millisecond), float64(total)*8/elapsed.Seconds()/1e9)
	fmt.Printf("%-8s %4s %6s %10s %10s %10s\n", "class", "prio", "weight", "configured", "measured", "packets")
	var norm []float64
	for i, c := range classes {
		got := float64(perTC[i]) / float64(total)
		fmt.Printf("%-8s %4d %6d %9.2f%% %9.2f%% %10d\n", c.name, c.priority, c.weight, 100*want[i], 100*got, s.TCs[i].Packets)
		if c.priority == 1 {
			norm = append(norm, float64(perTC[i])/float64(c.weight))
		}
	}
	fmt.Println(strings.Repeat("-", 54))
	fmt.Printf("Jain's fairness index over weight-normalised throughput of priority 1: %.4f\n", sched.Jain(norm))
	return nil
}

// configured returns each class's configured share of a saturated port:
// the capped strict-priority class gets its cap, and the weighted classes
// share the rest in proportion to their weights.
func configured() []float64 {
	want := make([]float64, len(classes))
	rest, sumW := 1.0, 0
	for i, c := range classes {
		if c.capShare > 0 {
			want[i] = c.capShare
			rest -= c.capShare
		} else {
			sumW += c.weight
		}
	}
	for i, c := range classes {
		if c.capShare == 0 {
			want[i] = rest * float64(c.weight) / float64(sumW)
		}
	}
	return want
}

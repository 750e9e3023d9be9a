// Command shares runs one output port's scheduler in real time over six
// traffic classes fed by saturating producers, and shows each class's share
// of the port converging to its configuration: one strict-priority class
// capped at a tenth of the port, and five classes sharing the rest by
// weights 1, 2, 3, 4 and 6 (deficit round robin).
//
// With -pipeline (the default) the producers build UDP frames with each
// class's DSCP into buffers of a descriptor.Pool and put them on one input
// ring; a classify.Stage parses them and moves each to its traffic class's
// ring (DSCP >> 3), dropping what a full class ring cannot take, as a
// router's classifier tail-drops; the scheduler drains the class rings.
// Each class offers -offer times the port rate.
// That is the pipeline of US10999209B2: input ring, classification into
// per-(port, class) rings, and per-port scheduling, each stage in its own
// goroutine, joined only by lock-free rings. With -pipeline=false each
// producer feeds its class ring directly.
//
//	go run ./examples/shares [-rate 1e9] [-duration 2s] [-quantum 1ms] [-pipeline=false] [-offer 1]
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringkit/ringkit/classify"
	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/frame"
	"github.com/ringkit/ringkit/ring"
	"github.com/ringkit/ringkit/sched"
)

type class struct {
	name     string
	priority int
	weight   int
	capShare float64 // cap as a fraction of the port rate, 0 for none
	dscp     uint8   // what the producers mark; the classifier maps DSCP >> 3 to the class
}

var classes = []class{
	{"voice", 0, 1, 0.10, 46},
	{"video", 1, 6, 0, 34},
	{"gold", 1, 4, 0, 26},
	{"silver", 1, 3, 0, 18},
	{"bronze", 1, 2, 0, 10},
	{"best", 1, 1, 0, 0},
}

func main() {
	rate := flag.Float64("rate", 1e9, "port rate in bits per second")
	duration := flag.Duration("duration", 2*time.Second, "how long to run")
	quantum := flag.Duration("quantum", time.Millisecond, "scheduling quantum")
	every := flag.Duration("every", 250*time.Millisecond, "report interval")
	pipeline := flag.Bool("pipeline", true, "feed the class rings through a classify.Stage")
	offer := flag.Float64("offer", 1, "with -pipeline, the load each class offers, as a fraction of the port rate")
	flag.Parse()
	if err := run(uint64(*rate), *duration, *quantum, *every, *pipeline, *offer); err != nil {
		fmt.Fprintln(os.Stderr, "shares:", err)
		os.Exit(1)
	}
}

func run(rate uint64, duration, quantum, every time.Duration, pipeline bool, offer float64) error {
	rings := make([]*ring.SPSC[descriptor.Packet], len(classes))
	tcs := make([]sched.TCConfig, len(classes))
	pool, err := descriptor.NewPool(descriptor.PoolConfig{Buffers: 1 << 15})
	if err != nil {
		return err
	}
	for i, c := range classes {
		r, err := ring.NewSPSC[descriptor.Packet](4096)
		if err != nil {
			return err
		}
		rings[i] = r
		tcs[i] = sched.TCConfig{Name: c.name, Queue: r, Priority: c.priority, Weight: c.weight,
			Rate: uint64(c.capShare * float64(rate))}
	}
	// The sink stands in for a TxRing: it takes every burst and frees
	// the buffers (it runs on the port's goroutine, which owns txCache).
	var wire atomic.Uint64
	txCache := pool.NewCache()
	sink := sched.SinkFunc(func(pkts []descriptor.Packet) int {
		var n uint64
		for i := range pkts {
			n += uint64(pkts[i].Len) + sched.DefaultOverhead
			if pipeline {
				_ = txCache.Put(pkts[i].Buf)
			}
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
	var stage *classify.Stage
	if pipeline {
		if stage, err = newStage(ctx, &wg, pool, rings, rate, offer); err != nil {
			return err
		}
	} else {
		// Saturating producers, one per class ring: they block (parked,
		// not spinning) while their ring is full.
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
	if stage != nil {
		_ = stage.Close()
		st := stage.Stats()
		fmt.Printf("\nclassifier: %d forwarded to class rings, %d tail-dropped at full class rings\n", st.Forwarded, st.RingFull)
	}

	s := port.Stats()
	var total uint64
	perTC := make([]uint64, len(s.TCs))
	for i, t := range s.TCs {
		perTC[i] = t.Bytes + t.Packets*sched.DefaultOverhead
		total += perTC[i]
	}
	want := configured()
	fmt.Printf("over the whole run (%v, %.3f Gb/s sent):\n", elapsed.Round(time.Millisecond), float64(total)*8/elapsed.Seconds()/1e9)
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

// newStage starts the front of the pipeline: one producer per class marking
// its frames with the class's DSCP onto a shared input ring, and a
// classify.Stage moving them to the class rings by DSCP >> 3.
func newStage(ctx context.Context, wg *sync.WaitGroup, pool *descriptor.Pool, rings []*ring.SPSC[descriptor.Packet], rate uint64, offer float64) (*classify.Stage, error) {
	in, err := ring.NewMPSC[descriptor.Packet](4096)
	if err != nil {
		return nil, err
	}
	var out [classify.NumTC]classify.Output
	for i, c := range classes {
		out[c.dscp>>3] = rings[i]
	}
	for tc := range out {
		if out[tc] == nil {
			out[tc] = discard{}
		}
	}
	rc, err := classify.ParseRuleConfig([]byte(`{"default": {"port": 0}}`)) // TC from DSCP >> 3
	if err != nil {
		return nil, err
	}
	rules, err := classify.NewRuleSet(rc)
	if err != nil {
		return nil, err
	}
	dropCache := pool.NewCache() // the stage's goroutine calls Drop
	stage, err := classify.NewStage(classify.StageConfig{
		In: in, Frames: pool, Out: [][classify.NumTC]classify.Output{out}, Rules: rules,
		Full: classify.DropWhenFull,
		Drop: func(_ classify.Verdict, pkts []descriptor.Packet) {
			for _, p := range pkts {
				_ = dropCache.Put(p.Buf)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = stage.Run(ctx) // until ctx ends or Close
	}()
	for i, c := range classes {
		// A few frame sizes per class, built once; each packet copies one
		// into a fresh buffer.
		var frames [][]byte
		for _, payload := range []int{18, 200, 500, 900, 1200, 1472} {
			frames = append(frames, frame.Build(nil, &frame.Spec{
				Src: netip.AddrFrom4([4]byte{10, 0, byte(i), 1}), Dst: netip.AddrFrom4([4]byte{10, 1, 0, 1}),
				DSCP: c.dscp, Proto: frame.ProtoUDP, SrcPort: 4000 + uint16(i), DstPort: 5000, PayloadLen: payload,
			}))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cache := pool.NewCache()
			defer func() { _ = cache.Flush() }()
			rng := rand.New(rand.NewPCG(uint64(i), 2))
			// Each class offers the whole port rate, paced per
			// millisecond: six times what the port can send, so every
			// class stays backlogged and the classifier tail-drops the
			// excess, without the producers taking the CPU the stages
			// need (flat out, they would on a two-core machine).
			const tick = time.Millisecond
			perTick := int64(offer * float64(rate) / 8 * tick.Seconds())
			t := time.NewTicker(tick)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				for sent := int64(0); sent < perTick; {
					b, ok := cache.Get()
					if !ok { // every buffer is in flight: wait for the next tick
						break
					}
					f := frames[rng.IntN(len(frames))]
					n := copy(pool.Data(b), f)
					if in.Enqueue(ctx, descriptor.Packet{Buf: b, Len: uint16(n)}) != nil {
						_ = cache.Put(b)
						return
					}
					sent += int64(n) + sched.DefaultOverhead
				}
			}
		}()
	}
	return stage, nil
}

// discard is a class ring for the traffic classes no class uses: it takes
// nothing, so the stage drops (and frees) what lands there.
type discard struct{}

func (discard) EnqueueBurst([]descriptor.Packet) int { return 0 }

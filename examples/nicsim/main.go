// Nicsim runs the receive path of a software data plane against ringkit's
// in-memory NIC: generated traffic arrives at a port, RSS spreads it over
// several RX queues, the NIC copies each frame into the buffer of the next
// receive descriptor it owns, and one driver goroutine per queue takes
// bursts of done descriptors, refills the ring from the buffer pool and
// frees the packets. At the end it prints the counters of every queue:
//
//	go run ./examples/nicsim                          # 2 s, 4 queues, 1 Mpps offered
//	go run ./examples/nicsim -rate 0 -duration 5s     # as fast as the NIC goes
//	go run ./examples/nicsim -imix -ipv6 0.5 -flows 100000
//
// The drivers check every packet (the frame parses, its hash and queue are
// the NIC's), and the program exits with status 1 if a frame was delivered
// damaged or a buffer was not back in the pool at the end.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/ringkit/ringkit/classify"
	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/nicsim"
)

func main() {
	duration := flag.Duration("duration", 2*time.Second, "how long the NIC receives")
	rate := flag.Float64("rate", 1e6, "offered frames per second; 0 sends as fast as the NIC takes them")
	queues := flag.Int("queues", 4, "RX queues (one driver goroutine each)")
	flows := flag.Int("flows", 1024, "distinct flows")
	imix := flag.Bool("imix", false, "IMIX frame sizes instead of 64 bytes")
	ipv6 := flag.Float64("ipv6", 0.2, "fraction of IPv6 flows")
	descs := flag.Int("descs", 2048, "descriptors per RX ring")
	flag.Parse()
	if err := run(*duration, *rate, *queues, *flows, *imix, *ipv6, *descs); err != nil {
		fmt.Fprintln(os.Stderr, "nicsim:", err)
		os.Exit(1)
	}
}

// driverStats are what one driver goroutine saw.
type driverStats struct {
	packets, bytes, bursts, maxBurst uint64
	bad                              error
}

func run(duration time.Duration, rate float64, queues, flows int, imix bool, ipv6 float64, descs int) error {
	pool, err := descriptor.NewPool(descriptor.PoolConfig{Buffers: 2 * queues * descs})
	if err != nil {
		return err
	}
	nic, err := nicsim.New(nicsim.Config{Pool: pool, Queues: queues,
		Rx: descriptor.RxConfig{Descs: descs}, Tx: descriptor.TxConfig{Descs: 64}})
	if err != nil {
		return err
	}
	gcfg := nicsim.GenConfig{Rate: rate, Burst: 64, Flows: flows, IPv6: ipv6, TCP: 0.5,
		DSCP: []nicsim.DSCPWeight{{DSCP: 0, Weight: 6}, {DSCP: 10, Weight: 2}, {DSCP: 46, Weight: 1}}}
	if imix {
		gcfg.Sizes = nicsim.IMIX
	}
	gen, err := nicsim.NewGenerator(gcfg)
	if err != nil {
		return err
	}
	port := nic.Port(0)
	port.Attach(gen)

	var stop atomic.Bool
	var wg sync.WaitGroup
	stats := make([]driverStats, queues)
	for q := range queues {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stats[q] = drive(port.RxRing(q), q, &stop)
		}()
	}

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	// The NIC's engine runs on this goroutine until the deadline; when Run
	// returns, the NIC has let go of every ring.
	if err := nic.Run(ctx); err != context.DeadlineExceeded {
		return err
	}
	elapsed := time.Since(start)
	stop.Store(true)
	wg.Wait()

	var failed error
	for q := range queues {
		if stats[q].bad != nil {
			failed = errors.Join(failed, fmt.Errorf("queue %d: %w", q, stats[q].bad))
		}
		if _, err := port.RxRing(q).Close(); err != nil {
			failed = errors.Join(failed, err)
		}
		if _, err := port.TxRing(q).Close(); err != nil {
			failed = errors.Join(failed, err)
		}
	}

	ps := port.Stats()
	fmt.Printf("%d frames generated in %v (%.2f Mpps offered), %d flows, %d queues of %d descriptors\n\n",
		gen.Sent(), elapsed.Round(time.Millisecond), float64(gen.Sent())/elapsed.Seconds()/1e6, flows, queues, descs)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "queue\trx pkts\trx bytes\tMpps\tmissed\terrors\trefill failed\tdriver pkts\tbursts\tavg burst\tmax burst\t")
	var total driverStats
	for q, d := range stats {
		s := ps.Queues[q]
		avg := 0.0
		if d.bursts > 0 {
			avg = float64(d.packets) / float64(d.bursts)
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%.3f\t%d\t%d\t%d\t%d\t%d\t%.1f\t%d\t\n", q, s.RxPackets, s.RxBytes,
			float64(s.RxPackets)/elapsed.Seconds()/1e6, s.RxMissed, s.RxErrors, s.RefillFailed, d.packets, d.bursts, avg, d.maxBurst)
		total.packets += d.packets
		total.bursts += d.bursts
	}
	t := ps.Total
	fmt.Fprintf(tw, "total\t%d\t%d\t%.3f\t%d\t%d\t%d\t%d\t%d\t\t\t\n", t.RxPackets, t.RxBytes,
		float64(t.RxPackets)/elapsed.Seconds()/1e6, t.RxMissed, t.RxErrors, t.RefillFailed, total.packets, total.bursts)
	if err := tw.Flush(); err != nil {
		return err
	}
	st := pool.Stats()
	fmt.Printf("\npool after closing the rings: %v\n", st)
	if st.Free != st.Buffers {
		failed = errors.Join(failed, fmt.Errorf("%d buffers not back in the pool", st.Buffers-st.Free))
	}
	if total.packets != t.RxPackets {
		failed = errors.Join(failed, fmt.Errorf("the NIC placed %d frames, the drivers received %d", t.RxPackets, total.packets))
	}
	return failed
}

// drive is one queue's driver: burst receive (which refills the ring),
// a check of every packet, free. It drains the ring after stop is set (the
// NIC has stopped by then).
func drive(rx *descriptor.RxRing, q int, stop *atomic.Bool) driverStats {
	pool := rx.Pool()
	var d driverStats
	var burst [descriptor.DefaultBurst]descriptor.Packet
	idle := 0
	for {
		stopping := stop.Load()
		n := rx.Receive(burst[:])
		if n == 0 {
			if stopping {
				return d
			}
			if idle++; idle > 100 {
				time.Sleep(20 * time.Microsecond)
			}
			continue
		}
		idle = 0
		d.bursts++
		d.maxBurst = max(d.maxBurst, uint64(n))
		for i := range burst[:n] {
			p := &burst[i]
			b := pool.Bytes(*p)
			var meta descriptor.Packet
			if r := classify.Parse(b, &meta); r != classify.OK && d.bad == nil {
				d.bad = fmt.Errorf("frame of %d bytes does not parse: %v", len(b), r)
			}
			if (int(p.Queue) != q || !p.Flags.Has(descriptor.FlagHash) || meta.Type != p.Type) && d.bad == nil {
				d.bad = fmt.Errorf("packet metadata %+v on queue %d", *p, q)
			}
			d.bytes += uint64(len(b))
		}
		d.packets += uint64(n)
		if err := rx.Free(burst[:n]); err != nil && d.bad == nil {
			d.bad = err
		}
	}
}

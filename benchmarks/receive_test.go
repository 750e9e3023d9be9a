package benchmarks

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/nicsim"
)

// The receive benchmarks move pre-generated 64-byte frames from a NIC model
// into a driver, one queue, bursts of rxBurst, and report Mpps and ns/pkt.
// Frame generation is excluded (BenchmarkReceiveGenerator measures it):
//
//   - path=nicsim: nicsim's Port.Receive (parse, Toeplitz RSS, redirection
//     table, the NIC's copy into the next descriptor, done stamp), then the
//     driver's RxRing.Receive, refill, and Free of every packet;
//   - path=ring: the same without the parser and RSS: RxRing.NICPlace;
//   - path=chan: the same move done with a chan []byte: the NIC takes a
//     buffer from a free-list channel, copies the frame in and sends it;
//     the driver receives it and sends the buffer back.
//
// mode=step runs NIC and driver alternately in one goroutine (a burst
// each); mode=goroutines runs them in two goroutines, the NIC never
// dropping (it waits for descriptors, as the channel sender waits for room).
const (
	rxBurst  = 32
	rxDescs  = 1024
	rxFrames = 1024 // pre-generated frames, cycled
)

// rxTestFrames pre-generates 64-byte frames of 256 IPv4 UDP flows.
func rxTestFrames(b *testing.B) [][]byte {
	g, err := nicsim.NewGenerator(nicsim.GenConfig{Flows: 256})
	if err != nil {
		b.Fatal(err)
	}
	frames := make([][]byte, rxFrames)
	for i := range frames {
		frames[i] = g.Next(make([]byte, 0, 64))
	}
	return frames
}

// rxReport reports the per-packet metrics of a run that moved pkts packets.
func rxReport(b *testing.B, pkts int) {
	ns := float64(b.Elapsed().Nanoseconds())
	b.ReportMetric(ns/float64(pkts), "ns/pkt")
	b.ReportMetric(float64(pkts)/ns*1e3, "Mpps")
}

func rxPool(b *testing.B) *descriptor.Pool {
	p, err := descriptor.NewPool(descriptor.PoolConfig{Buffers: 4 * rxDescs})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func BenchmarkReceive(b *testing.B) {
	b.Run("path=nicsim/mode=step", func(b *testing.B) { benchNicsimStep(b) })
	b.Run("path=ring/mode=step", func(b *testing.B) { benchRingStep(b) })
	b.Run("path=chan/mode=step", func(b *testing.B) { benchChanStep(b) })
	b.Run("path=nicsim/mode=goroutines", func(b *testing.B) { benchRxGoroutines(b, true) })
	b.Run("path=ring/mode=goroutines", func(b *testing.B) { benchRxGoroutines(b, false) })
	b.Run("path=chan/mode=goroutines", func(b *testing.B) { benchChanGoroutines(b) })
}

func benchNicsimStep(b *testing.B) {
	frames := rxTestFrames(b)
	pool := rxPool(b)
	nic, err := nicsim.New(nicsim.Config{Pool: pool, Rx: descriptor.RxConfig{Descs: rxDescs}})
	if err != nil {
		b.Fatal(err)
	}
	port := nic.Port(0)
	rx := port.RxRing(0)
	var dst [rxBurst]descriptor.Packet
	pkts, i := 0, 0
	b.ReportAllocs()
	for b.Loop() {
		port.Receive(frames[i : i+rxBurst])
		i = (i + rxBurst) % rxFrames
		k := rx.Receive(dst[:])
		_ = rx.Free(dst[:k])
		pkts += k
	}
	if st := port.QueueStats(0); st.RxMissed != 0 || uint64(pkts) != st.RxPackets {
		b.Fatalf("received %d, stats %+v", pkts, st)
	}
	rxReport(b, pkts)
}

func benchRingStep(b *testing.B) {
	frames := rxTestFrames(b)
	pool := rxPool(b)
	rx, err := descriptor.NewRxRing(pool, descriptor.RxConfig{Descs: rxDescs})
	if err != nil {
		b.Fatal(err)
	}
	var dst [rxBurst]descriptor.Packet
	meta := descriptor.Packet{Flags: descriptor.FlagHash}
	pkts, i := 0, 0
	b.ReportAllocs()
	for b.Loop() {
		for _, f := range frames[i : i+rxBurst] {
			rx.NICPlace(f, meta)
		}
		i = (i + rxBurst) % rxFrames
		k := rx.Receive(dst[:])
		_ = rx.Free(dst[:k])
		pkts += k
	}
	if rx.Stats().Missed != 0 || pkts != b.N*rxBurst {
		b.Fatalf("received %d of %d, stats %+v", pkts, b.N*rxBurst, rx.Stats())
	}
	rxReport(b, pkts)
}

func benchChanStep(b *testing.B) {
	frames := rxTestFrames(b)
	free := make(chan []byte, rxDescs)
	for range rxDescs {
		free <- make([]byte, descriptor.DefaultDataRoom)
	}
	rx := make(chan []byte, rxDescs)
	pkts, i := 0, 0
	var sink byte
	b.ReportAllocs()
	for b.Loop() {
		for _, f := range frames[i : i+rxBurst] {
			buf := <-free
			rx <- buf[:copy(buf[:cap(buf)], f)]
		}
		i = (i + rxBurst) % rxFrames
		for range rxBurst {
			p := <-rx
			sink ^= p[0]
			free <- p[:cap(p)]
			pkts++
		}
	}
	_ = sink
	rxReport(b, pkts)
}

// benchRxGoroutines runs the NIC side in its own goroutine, placing bursts
// whenever it owns descriptors; the benchmark goroutine is the driver.
func benchRxGoroutines(b *testing.B, viaNicsim bool) {
	frames := rxTestFrames(b)
	pool := rxPool(b)
	nic, err := nicsim.New(nicsim.Config{Pool: pool, Rx: descriptor.RxConfig{Descs: rxDescs}})
	if err != nil {
		b.Fatal(err)
	}
	port := nic.Port(0)
	rx := port.RxRing(0)
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the NIC
		defer wg.Done()
		meta := descriptor.Packet{Flags: descriptor.FlagHash}
		i, idle := 0, 0
		for !stop.Load() {
			own := rx.NICOwned()
			if own < rxBurst {
				if idle++; idle > 64 {
					runtime.Gosched()
				}
				continue
			}
			idle = 0
			if viaNicsim {
				port.Receive(frames[i : i+rxBurst])
			} else {
				for _, f := range frames[i : i+rxBurst] {
					rx.NICPlace(f, meta)
				}
			}
			i = (i + rxBurst) % rxFrames
		}
	}()
	var dst [rxBurst]descriptor.Packet
	pkts, idle := 0, 0
	b.ReportAllocs()
	for b.Loop() {
		for got := 0; got < rxBurst; {
			k := rx.Receive(dst[:rxBurst-got])
			if k == 0 {
				if idle++; idle > 64 {
					runtime.Gosched()
				}
				continue
			}
			idle = 0
			_ = rx.Free(dst[:k])
			got += k
		}
		pkts += rxBurst
	}
	stop.Store(true)
	wg.Wait()
	if st := port.QueueStats(0); st.RxMissed != 0 {
		b.Fatalf("the NIC missed frames: %+v", st)
	}
	rxReport(b, pkts)
}

func benchChanGoroutines(b *testing.B) {
	frames := rxTestFrames(b)
	free := make(chan []byte, rxDescs)
	for range rxDescs {
		free <- make([]byte, descriptor.DefaultDataRoom)
	}
	rx := make(chan []byte, rxDescs)
	var stop atomic.Bool
	done := make(chan struct{})
	go func() { // the NIC
		defer close(done)
		for i := 0; !stop.Load(); i = (i + 1) % rxFrames {
			buf := <-free
			rx <- buf[:copy(buf[:cap(buf)], frames[i])]
		}
	}()
	pkts := 0
	var sink byte
	b.ReportAllocs()
	for b.Loop() {
		for range rxBurst {
			p := <-rx
			sink ^= p[0]
			free <- p[:cap(p)]
		}
		pkts += rxBurst
	}
	stop.Store(true)
	for { // keep the NIC's channel operations moving until it sees stop
		select {
		case p := <-rx:
			free <- p[:cap(p)]
		case <-done:
			_ = sink
			rxReport(b, pkts)
			return
		case <-time.After(time.Second):
			b.Fatal("the NIC goroutine did not stop")
		}
	}
}

// BenchmarkReceiveGenerator is the cost of making one frame with nicsim's
// generator (frame's builder, checksums included, or a copy of
// the flow's previous frame when it is the same), the part the receive
// benchmarks leave out.
func BenchmarkReceiveGenerator(b *testing.B) {
	for _, c := range []struct {
		name string
		cfg  nicsim.GenConfig
	}{
		// 256 flows of one size: frames come from the generator's per-flow
		// cache (a copy).
		{"size=64/flows=256", nicsim.GenConfig{Flows: 256}},
		// Too many flows to cache: every frame is built, checksums included.
		{"size=64/flows=1M", nicsim.GenConfig{Flows: 1 << 20}},
		{"size=imix/flows=256/mixed", nicsim.GenConfig{Flows: 256, IPv6: 0.5, TCP: 0.5, Sizes: nicsim.IMIX}},
	} {
		b.Run(c.name, func(b *testing.B) {
			g, err := nicsim.NewGenerator(c.cfg)
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 0, 2048)
			b.ReportAllocs()
			for b.Loop() {
				buf = g.Next(buf)
			}
			rxReport(b, b.N)
		})
	}
}

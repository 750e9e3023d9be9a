package nicsim_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringkit/ringkit/classify"
	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/frame"
	"github.com/ringkit/ringkit/internal/stress"
	"github.com/ringkit/ringkit/nicsim"
	ringport "github.com/ringkit/ringkit/port"
)

// TestRunningOwnership runs the NIC in its goroutine against one driver
// goroutine per queue, with a pool small enough to run empty at times. The
// drivers check every packet (a valid frame, its hash, no buffer delivered
// while held: an ownership array flipped with compare-and-swap, plus the
// race detector on the frame bytes), hold packets for a while, and never
// get a burst above the maximum. After Stop and Close the pool is full and
// the counters add up: every generated frame was received, missed or
// refused, and every received one reached a driver.
func TestRunningOwnership(t *testing.T) {
	const (
		queues = 3
		burst  = 16
	)
	frames := uint64(stress.N(300_000, 20_000))
	pool := newPool(t, 3*128)
	n := newNIC(t, nicsim.Config{Pool: pool, Queues: queues, Rx: descriptor.RxConfig{Descs: 128, Burst: burst, FreeThresh: 16}})
	port := n.Port(0)
	gen := newGen(t, nicsim.GenConfig{Flows: 1000, IPv6: 0.3, TCP: 0.5, Count: frames, Sizes: nicsim.IMIX})
	port.Attach(gen)
	tz, _ := classify.NewToeplitz(classify.DefaultKey[:])

	owner := make([]atomic.Bool, pool.Buffers())
	var stop atomic.Bool
	var delivered atomic.Uint64
	var wg sync.WaitGroup
	for q := range queues {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := port.RxRing(q)
			dst := make([]descriptor.Packet, 64)
			var held []descriptor.Packet
			free := func(k int) {
				for _, pk := range held[:k] {
					if !owner[pool.Index(pk.Buf)].CompareAndSwap(true, false) {
						t.Errorf("freeing %#x not held", pk.Buf)
					}
					pool.Bytes(pk)[0] = 0 // a driver write: races any NIC write
				}
				if err := r.Free(held[:k]); err != nil {
					t.Error(err)
				}
				held = append(held[:0], held[k:]...)
			}
			for !stop.Load() {
				k := r.Receive(dst)
				if k > burst {
					t.Errorf("queue %d: burst of %d, maximum %d", q, k, burst)
					return
				}
				for _, pk := range dst[:k] {
					if !owner[pool.Index(pk.Buf)].CompareAndSwap(false, true) {
						t.Errorf("buffer %#x delivered while held", pk.Buf)
						return
					}
					b := pool.Bytes(pk)
					var meta descriptor.Packet
					classify.Parse(b, &meta)
					if h, _ := tz.HashFrame(b, &meta, true); h != pk.Hash || int(pk.Queue) != q {
						t.Errorf("queue %d: packet of hash %#x (want %#x) queue %d", q, pk.Hash, h, pk.Queue)
						return
					}
				}
				delivered.Add(uint64(k))
				held = append(held, dst[:k]...)
				if len(held) > 100 {
					free(len(held) - 20)
				}
				if k == 0 {
					time.Sleep(10 * time.Microsecond)
				}
			}
			free(len(held))
		}()
	}
	stopNIC := run(t, n)
	for n.Rounds() == 0 { // Run has claimed the ports
		time.Sleep(time.Millisecond)
	}
	if err := n.Run(context.Background()); !errors.Is(err, ringport.ErrRunning) {
		t.Errorf("a second Run = %v, want ringport.ErrRunning", err)
	}
	if _, err := n.Step(); !errors.Is(err, ringport.ErrRunning) {
		t.Errorf("Step while running = %v, want ringport.ErrRunning", err)
	}
	if _, err := n.Port(0).Step(); !errors.Is(err, ringport.ErrRunning) {
		t.Errorf("a port's Step while its NIC runs = %v, want ringport.ErrRunning", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for gen.Sent() < frames && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	stopNIC()
	time.Sleep(5 * time.Millisecond) // let the drivers take what is left
	stop.Store(true)
	wg.Wait()
	st := port.Stats().Total
	if gen.Sent() != frames {
		t.Fatalf("generated %d of %d", gen.Sent(), frames)
	}
	if st.RxPackets+st.RxMissed+st.RxErrors != frames || st.RxErrors != 0 {
		t.Fatalf("generated %d, stats %+v", frames, st)
	}
	var left uint64
	for q := range queues {
		dropped, err := port.RxRing(q).Close()
		if err != nil {
			t.Fatal(err)
		}
		left += uint64(dropped)
		_, _ = port.TxRing(q).Close()
	}
	if delivered.Load()+left != st.RxPackets {
		t.Fatalf("placed %d, delivered %d, left in rings %d", st.RxPackets, delivered.Load(), left)
	}
	if ps := pool.Stats(); ps.InUse != 0 {
		t.Fatalf("pool not full: %+v", ps)
	}
	t.Logf("frames %d: received %d, missed %d, refill failures %d", frames, st.RxPackets, st.RxMissed, st.RefillFailed)
}

// TestEmptyPoolRecovers starves a queue (the driver keeps every buffer):
// frames are counted as missed, none is delivered twice or corrupted, and
// reception resumes once the driver frees.
func TestEmptyPoolRecovers(t *testing.T) {
	pool := newPool(t, 64)
	n := newNIC(t, nicsim.Config{Pool: pool, Rx: descriptor.RxConfig{Descs: 32, FreeThresh: 8}})
	port := n.Port(0)
	port.Attach(newGen(t, nicsim.GenConfig{Flows: 5, Count: 1000}))
	var dst [32]descriptor.Packet
	var held []descriptor.Packet
	seen := map[descriptor.Buf]bool{}
	receive := func() {
		for {
			k := port.RxRing(0).Receive(dst[:])
			if k == 0 {
				return
			}
			for _, pk := range dst[:k] {
				if seen[pk.Buf] {
					t.Fatalf("buffer %#x delivered twice without a free", pk.Buf)
				}
				seen[pk.Buf] = true
				if err := frame.Verify(pool.Bytes(pk)); err != nil {
					t.Fatalf("corrupted frame: %v", err)
				}
			}
			held = append(held, dst[:k]...)
		}
	}
	for range 10 {
		step(t, n)
		receive()
	}
	st := port.QueueStats(0)
	if st.RxMissed == 0 || st.RefillFailed == 0 || len(held) != pool.Buffers() {
		t.Fatalf("not starved: held %d, %+v", len(held), st)
	}
	before := st.RxMissed
	step(t, n)
	if port.QueueStats(0).RxMissed != before+32 {
		t.Fatalf("missed %d → %d, want 32 more", before, port.QueueStats(0).RxMissed)
	}
	if err := port.RxRing(0).Free(held); err != nil {
		t.Fatal(err)
	}
	held, seen = held[:0], map[descriptor.Buf]bool{}
	port.RxRing(0).Refill()
	rx := port.QueueStats(0).RxPackets
	step(t, n)
	receive()
	if got := port.QueueStats(0).RxPackets - rx; got == 0 || len(held) != int(got) {
		t.Fatalf("after freeing: %d placed, %d received", got, len(held))
	}
	_ = port.RxRing(0).Free(held)
	held, seen = held[:0], map[descriptor.Buf]bool{}
	for step(t, n) > 0 { // drain the generator
		receive()
		_ = port.RxRing(0).Free(held)
		held, seen = held[:0], map[descriptor.Buf]bool{}
	}
	st = port.QueueStats(0)
	if st.RxPackets+st.RxMissed != 1000 {
		t.Fatalf("1000 frames: %+v", st)
	}
	closeAll(t, pool, n)
}

func TestStopQueueAndLink(t *testing.T) {
	pool := newPool(t, 512)
	n := newNIC(t, nicsim.Config{Pool: pool, Queues: 2, Rx: descriptor.RxConfig{Descs: 64}, Tx: descriptor.TxConfig{Descs: 64}})
	port := n.Port(0)
	port.SetRSS(classify.DefaultKey[:], []uint16{1}) // everything to queue 1
	g := newGen(t, nicsim.GenConfig{Flows: 3})
	port.Attach(g)
	if err := port.StopQueue(1); err != nil {
		t.Fatal(err)
	}
	step(t, n)
	if st := port.QueueStats(1); st.RxMissed != 32 || st.RxPackets != 0 || !st.Stopped {
		t.Fatalf("stopped queue: %+v", st)
	}
	// While stopped, the driver may close and the NIC must not touch it.
	if _, err := port.RxRing(1).Close(); err != nil {
		t.Fatal(err)
	}
	step(t, n)
	if st := port.QueueStats(1); st.RxMissed != 64 {
		t.Fatalf("stopped queue: %+v", st)
	}
	port.SetRSS(classify.DefaultKey[:], []uint16{0})
	port.SetLink(false)
	step(t, n)
	if ps := port.Stats(); ps.LinkDrops != 32 || ps.LinkUp || ps.Total.RxPackets != 0 {
		t.Fatalf("link down: %+v", ps)
	}
	port.SetLink(true)
	step(t, n)
	if st := port.QueueStats(0); st.RxPackets != 32 {
		t.Fatalf("after link up: %+v", st)
	}
	if table := port.Stats().String(); !strings.Contains(table, "(stopped)") || !strings.Contains(table, "total") {
		t.Fatalf("table:\n%s", table)
	}
	// Transmit while the link is down: completed, counted as dropped.
	var dst [32]descriptor.Packet
	k := port.RxRing(0).Receive(dst[:])
	port.SetLink(false)
	if sent, err := port.TxRing(0).Transmit(dst[:k]); err != nil || sent != k {
		t.Fatalf("Transmit %d of %d: %v", sent, k, err)
	}
	port.Attach(nil)
	step(t, n)
	if st := port.QueueStats(0); st.TxDropped != uint64(k) || st.TxPackets != 0 {
		t.Fatalf("tx with link down: %+v", st)
	}
	closeAll(t, pool, n)
}

// TestWire sends frames from one NIC's TX queue over a wire into another
// NIC and checks they arrive intact and counted on both sides.
func TestWire(t *testing.T) {
	pool := newPool(t, 1024)
	a := newNIC(t, nicsim.Config{Pool: pool, Rx: descriptor.RxConfig{Descs: 64}, Tx: descriptor.TxConfig{Descs: 64}})
	b := newNIC(t, nicsim.Config{Pool: pool, Queues: 2, Rx: descriptor.RxConfig{Descs: 128}, Tx: descriptor.TxConfig{Descs: 64}})
	if err := nicsim.Connect(a.Port(0), b.Port(0)); err != nil {
		t.Fatal(err)
	}
	if err := nicsim.Connect(a.Port(0), b.Port(0)); err == nil {
		t.Fatal("connected a port twice")
	}
	g := newGen(t, nicsim.GenConfig{Flows: 50, TCP: 1, Sizes: nicsim.IMIX, Seed: 3})
	tx := a.Port(0).TxRing(0)
	var want [][]byte
	var pkts []descriptor.Packet
	for range 40 {
		buf, _ := tx.Cache().Get()
		f := g.Next(pool.Data(buf)[:0])
		want = append(want, append([]byte(nil), f...))
		pkts = append(pkts, descriptor.Packet{Buf: buf, Len: uint16(len(f))})
	}
	if n, err := tx.Transmit(pkts); n != 40 || err != nil {
		t.Fatalf("Transmit = %d, %v", n, err)
	}
	for step(t, a) > 0 {
	}
	got := map[string]int{}
	var dst [32]descriptor.Packet
	for q := range 2 {
		for {
			k := b.Port(0).RxRing(q).Receive(dst[:])
			if k == 0 {
				break
			}
			for _, pk := range dst[:k] {
				got[string(pool.Bytes(pk))]++
			}
			_ = b.Port(0).RxRing(q).Free(dst[:k])
		}
	}
	for i, f := range want {
		if got[string(f)] == 0 {
			t.Fatalf("frame %d did not arrive", i)
		}
		got[string(f)]--
	}
	as, bs := a.Port(0).Stats().Total, b.Port(0).Stats().Total
	if as.TxPackets != 40 || bs.RxPackets != 40 || as.TxBytes != bs.RxBytes {
		t.Fatalf("A sent %+v, B received %+v", as, bs)
	}
	if k := tx.Reclaim(); k != 40 {
		t.Fatalf("reclaimed %d of 40 sent", k)
	}
	a.Port(0).Disconnect()
	closeAll(t, pool, a, b)
}

func TestGeneratorRate(t *testing.T) {
	g := newGen(t, nicsim.GenConfig{Rate: 1000, Burst: 10})
	if d := g.Due(0); d != 10 {
		t.Fatalf("Due(0) = %d, want a full bucket of 10", d)
	}
	buf := make([]byte, 0, 2048)
	for range 10 {
		g.Next(buf)
	}
	if d := g.Due(0); d != 0 {
		t.Fatalf("Due after spending the bucket = %d", d)
	}
	if d := g.Due(5 * time.Millisecond); d != 5 {
		t.Fatalf("Due(5ms) at 1000/s = %d, want 5", d)
	}
	if d := g.Due(time.Second); d != 10 {
		t.Fatalf("Due(1s) = %d, want the bucket depth 10", d)
	}
	b := newGen(t, nicsim.GenConfig{Rate: 1000, Burst: 10, Bursty: true})
	for range 10 {
		b.Next(buf)
	}
	if d := b.Due(9 * time.Millisecond); d != 0 {
		t.Fatalf("bursty Due(9ms) = %d, want 0 until a whole burst accrued", d)
	}
	if d := b.Due(10 * time.Millisecond); d != 10 {
		t.Fatalf("bursty Due(10ms) = %d, want 10", d)
	}
	c := newGen(t, nicsim.GenConfig{Count: 5})
	if d := c.Due(0); d != 5 {
		t.Fatalf("Due with 5 left = %d", d)
	}
	for range 5 {
		c.Next(buf)
	}
	if d := c.Due(time.Hour); d != 0 || !c.Done() {
		t.Fatalf("Due after Count = %d", d)
	}
}

// TestGeneratorMix checks the generated frames: valid, of the mix's sizes
// in proportion, of the configured flows, IPv6 share and DSCP mix.
func TestGeneratorMix(t *testing.T) {
	g := newGen(t, nicsim.GenConfig{Sizes: nicsim.IMIX, Flows: 100, IPv6: 0.25, TCP: 0.5,
		DSCP: []nicsim.DSCPWeight{{DSCP: 0, Weight: 1}, {DSCP: 46, Weight: 1}}, Seed: 7})
	const n = 12000
	sizes := map[int]int{}
	dscp := map[uint8]int{}
	flows := map[classify.Flow]bool{}
	v6, tcp := 0, 0
	buf := make([]byte, 0, 2048)
	for range n {
		f := g.Next(buf)
		if err := frame.Verify(f); err != nil {
			t.Fatal(err)
		}
		var p descriptor.Packet
		if r := classify.Parse(f, &p); r != classify.OK {
			t.Fatalf("generated frame does not parse: %v", r)
		}
		var fl classify.Flow
		fl.Extract(f, &p)
		flows[fl] = true
		sizes[len(f)]++
		dscp[p.DSCP]++
		if p.Type.Has(descriptor.L3IPv6) {
			v6++
		}
		if p.Type.Has(descriptor.L4TCP) {
			tcp++
		}
	}
	if len(flows) != 100 {
		t.Errorf("%d flows, want 100", len(flows))
	}
	if sizes[590] == 0 || sizes[1514] == 0 || sizes[60]+sizes[74]+sizes[86] == 0 {
		t.Errorf("sizes %v", sizes)
	}
	if r := float64(sizes[590]) / float64(sizes[1514]); r < 3 || r > 5 {
		t.Errorf("594:1518 ratio %.2f, want about 4 (sizes %v)", r, sizes)
	}
	if r := float64(dscp[46]) / n; r < 0.45 || r > 0.55 || dscp[0]+dscp[46] != n {
		t.Errorf("DSCP mix %v", dscp)
	}
	if r := float64(v6) / n; r < 0.1 || r > 0.4 {
		t.Errorf("IPv6 share %.2f, want about 0.25", r)
	}
	if r := float64(tcp) / n; r < 0.35 || r > 0.65 {
		t.Errorf("TCP share %.2f, want about 0.5", r)
	}
	if _, err := nicsim.NewGenerator(nicsim.GenConfig{Sizes: []nicsim.SizeWeight{{0, 1}}}); err == nil {
		t.Error("size 0 accepted")
	}
	if _, err := nicsim.NewGenerator(nicsim.GenConfig{IPv6: 2}); err == nil {
		t.Error("IPv6 share 2 accepted")
	}
}

// TestStepAllocs checks that a steady round (generate, RSS, place, receive,
// free) allocates nothing.
func TestStepAllocs(t *testing.T) {
	pool := newPool(t, 1024)
	n := newNIC(t, nicsim.Config{Pool: pool, Queues: 2, Rx: descriptor.RxConfig{Descs: 256}})
	port := n.Port(0)
	port.Attach(newGen(t, nicsim.GenConfig{Flows: 64, IPv6: 0.5, TCP: 0.5}))
	var dst [32]descriptor.Packet
	a := testing.AllocsPerRun(200, func() {
		_, _ = n.Step()
		for q := range 2 {
			k := port.RxRing(q).Receive(dst[:])
			_ = port.RxRing(q).Free(dst[:k])
		}
	})
	if a != 0 {
		t.Fatalf("%v allocs per round, want 0", a)
	}
	closeAll(t, pool, n)
}

// TestQueueRestartAndSetRings stops a queue, moves it to new rings while
// stopped, starts it again, and checks that traffic resumes into the new
// rings, the counters of the old ring are kept, and SetRings refuses a
// running queue or rings of another pool.
func TestQueueRestartAndSetRings(t *testing.T) {
	pool := newPool(t, 512)
	n := newNIC(t, nicsim.Config{Pool: pool, Rx: descriptor.RxConfig{Descs: 32, FreeThresh: 8}, Tx: descriptor.TxConfig{Descs: 32}})
	port := n.Port(0)
	port.Attach(newGen(t, nicsim.GenConfig{Flows: 4}))
	step(t, n) // 32 frames, 24 posted descriptors: 8 missed
	st := port.QueueStats(0)
	if st.RxPackets != 24 || st.RxMissed != 8 {
		t.Fatalf("first round: %+v", st)
	}
	rx, _ := descriptor.NewRxRing(pool, descriptor.RxConfig{Descs: 64})
	tx, _ := descriptor.NewTxRing(pool, descriptor.TxConfig{Descs: 32})
	if err := port.SetRings(0, rx, tx); err == nil {
		t.Fatal("SetRings on a running queue succeeded")
	}
	other := newPool(t, 64)
	orx, _ := descriptor.NewRxRing(other, descriptor.RxConfig{Descs: 8})
	if err := port.StopQueue(0); err != nil {
		t.Fatal(err)
	}
	if err := port.SetRings(0, orx, tx); err == nil {
		t.Fatal("SetRings with a ring of another pool succeeded")
	}
	old, oldTx := port.RxRing(0), port.TxRing(0)
	if err := port.SetRings(0, rx, tx); err != nil {
		t.Fatal(err)
	}
	if _, err := old.Close(); err != nil {
		t.Fatal(err)
	}
	_, _ = oldTx.Close()
	_, _ = orx.Close()
	if err := port.StartQueue(0); err != nil {
		t.Fatal(err)
	}
	step(t, n)
	var dst [32]descriptor.Packet
	if k := rx.Receive(dst[:]); k != 32 {
		t.Fatalf("new ring received %d of 32", k)
	} else {
		_ = rx.Free(dst[:k])
	}
	st = port.QueueStats(0)
	if st.RxPackets != 56 || st.RxMissed != 8 || st.Stopped {
		t.Fatalf("after the move: %+v", st)
	}
	closeAll(t, pool, n)
}

func TestRunStopRestart(t *testing.T) {
	pool := newPool(t, 256)
	n := newNIC(t, nicsim.Config{Pool: pool, Rx: descriptor.RxConfig{Descs: 64}, Tx: descriptor.TxConfig{Descs: 64}})
	n.Port(0).Attach(newGen(t, nicsim.GenConfig{Count: 40}))
	for range 2 {
		stop := run(t, n)
		time.Sleep(2 * time.Millisecond)
		stop()
	}
	for { // Step works after Run returned; finish what Run left
		k, err := n.Step()
		if err != nil {
			t.Fatalf("Step after Stop: %v", err)
		}
		if k == 0 {
			break
		}
	}
	if st := n.Port(0).QueueStats(0); st.RxPackets+st.RxMissed != 40 || n.Rounds() == 0 {
		t.Fatalf("stats %+v after %d rounds", st, n.Rounds())
	}
	closeAll(t, pool, n)
}

// TestGeneratorCache checks that frames copied from the generator's cache
// are byte for byte those it would build.
func TestGeneratorCache(t *testing.T) {
	for _, cfg := range []nicsim.GenConfig{
		{Flows: 10},
		{Flows: 300, Sizes: nicsim.IMIX, IPv6: 0.5, TCP: 0.5, Seed: 9},
		{Flows: 50, DSCP: []nicsim.DSCPWeight{{DSCP: 0, Weight: 3}, {DSCP: 46, Weight: 1}}, Sizes: []nicsim.SizeWeight{{Size: 60, Weight: 1}, {Size: 100, Weight: 1}}},
	} {
		cached, built := newGen(t, cfg), newGen(t, cfg)
		built.NoCache()
		a, b := make([]byte, 0, 2048), make([]byte, 0, 2048)
		for i := range 5000 {
			fa, fb := cached.Next(a), built.Next(b)
			if !bytes.Equal(fa, fb) {
				t.Fatalf("%+v: frame %d differs from the built one", cfg, i)
			}
		}
	}
}

// TestRunningForward runs two started NICs wired together: A receives
// generated traffic and its drivers forward every packet to A's TX queues;
// B receives them over the wire and its drivers check and free them. Every
// driver checks buffer ownership as TestRunningOwnership does. After both
// NICs stop, the pool is full and the counters agree end to end.
func TestRunningForward(t *testing.T) {
	const queues = 2
	frames := uint64(stress.N(200_000, 10_000))
	pool := newPool(t, 2048)
	cfg := nicsim.Config{Pool: pool, Queues: queues, Rx: descriptor.RxConfig{Descs: 128}, Tx: descriptor.TxConfig{Descs: 128}}
	a, b := newNIC(t, cfg), newNIC(t, cfg)
	if err := nicsim.Connect(a.Port(0), b.Port(0)); err != nil {
		t.Fatal(err)
	}
	gen := newGen(t, nicsim.GenConfig{Flows: 500, IPv6: 0.5, TCP: 0.5, Sizes: nicsim.IMIX, Count: frames})
	a.Port(0).Attach(gen)

	owner := make([]atomic.Bool, pool.Buffers())
	take := func(pk descriptor.Packet) bool { return owner[pool.Index(pk.Buf)].CompareAndSwap(false, true) }
	give := func(pk descriptor.Packet) bool { return owner[pool.Index(pk.Buf)].CompareAndSwap(true, false) }
	var stop atomic.Bool
	var forwarded, checked atomic.Uint64
	var wg sync.WaitGroup
	for q := range queues {
		wg.Add(2)
		go func() { // A's driver: forward
			defer wg.Done()
			rx, tx := a.Port(0).RxRing(q), a.Port(0).TxRing(q)
			var dst [32]descriptor.Packet
			for !stop.Load() {
				k := rx.Receive(dst[:])
				if k == 0 {
					tx.Reclaim()
					time.Sleep(10 * time.Microsecond)
					continue
				}
				for _, pk := range dst[:k] {
					if !take(pk) {
						t.Errorf("A: buffer %#x owned twice", pk.Buf)
						return
					}
					if err := frame.Verify(pool.Bytes(pk)); err != nil {
						t.Errorf("A: %v", err)
						return
					}
					give(pk) // the NIC owns it once transmitted
				}
				for sent := 0; sent < k; {
					n, err := tx.Transmit(dst[sent:k])
					if err != nil {
						t.Error(err)
						return
					}
					if sent += n; sent < k {
						time.Sleep(10 * time.Microsecond)
					}
				}
				forwarded.Add(uint64(k))
			}
		}()
		go func() { // B's driver: check and free
			defer wg.Done()
			rx := b.Port(0).RxRing(q)
			var dst [32]descriptor.Packet
			for !stop.Load() {
				k := rx.Receive(dst[:])
				if k == 0 {
					time.Sleep(10 * time.Microsecond)
					continue
				}
				for _, pk := range dst[:k] {
					if !take(pk) {
						t.Errorf("B: buffer %#x owned twice", pk.Buf)
						return
					}
					if err := frame.Verify(pool.Bytes(pk)); err != nil {
						t.Errorf("B: %v", err)
						return
					}
					give(pk)
				}
				_ = rx.Free(dst[:k])
				checked.Add(uint64(k))
			}
		}()
	}
	stopA, stopB := run(t, a), run(t, b)
	// Wait until everything generated has been received or dropped along
	// the way: B's count of what reached it equals what A sent, and A sent
	// what its drivers forwarded.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		as, bs := a.Port(0).Stats().Total, b.Port(0).Stats().Total
		if gen.Done() && as.RxPackets+as.RxMissed == frames && forwarded.Load() == as.RxPackets &&
			as.TxPackets == as.RxPackets && bs.RxPackets+bs.RxMissed == as.TxPackets && checked.Load() == bs.RxPackets {
			break
		}
		time.Sleep(time.Millisecond)
	}
	stopA()
	stopB()
	stop.Store(true)
	wg.Wait()
	as, bs := a.Port(0).Stats().Total, b.Port(0).Stats().Total
	if as.RxPackets+as.RxMissed != frames || as.TxPackets != as.RxPackets || forwarded.Load() != as.RxPackets ||
		bs.RxPackets+bs.RxMissed != as.TxPackets || checked.Load() != bs.RxPackets {
		t.Fatalf("generated %d; A %+v forwarded %d; B %+v checked %d", frames, as, forwarded.Load(), bs, checked.Load())
	}
	closeAll(t, pool, a, b)
	t.Logf("generated %d, A received %d (missed %d), B received %d (missed %d)", frames, as.RxPackets, as.RxMissed, bs.RxPackets, bs.RxMissed)
}

package descriptor_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/ringkit/ringkit/descriptor"
)

func TestPoolUMEMLayout(t *testing.T) {
	p := newPool(t, descriptor.PoolConfig{Buffers: 8, Headroom: 256, DataRoom: 1792, Align: 4096})
	slab := p.Slab()
	if p.Stride() != 2048 || len(slab) != 8*2048 {
		t.Fatalf("stride %d, slab %d bytes; want 2048 and %d", p.Stride(), len(slab), 8*2048)
	}
	if a := uintptr(unsafe.Pointer(&slab[0])) % 4096; a != 0 {
		t.Fatalf("slab starts %d bytes past a page", a)
	}
	var seen [8]bool
	for range 8 {
		b, ok := p.Get()
		if !ok {
			t.Fatal("Get failed")
		}
		off, ok := p.Offset(b)
		if !ok || off%2048 != 256 {
			t.Fatalf("Offset(%#x) = %d, %v; want 256 into a 2048-byte chunk", uint32(b), off, ok)
		}
		// The data room seen through Data is the slab at the offset.
		p.Data(b)[0] = 0xa5
		if slab[off] != 0xa5 {
			t.Fatalf("Data(%#x) is not Slab()[%d:]", uint32(b), off)
		}
		for _, at := range []uint64{off, off - 256, off + 1791} {
			got, dataOff, ok := p.BufAt(at)
			if !ok || got != b || dataOff != int(at)-int(off) {
				t.Fatalf("BufAt(%d) = %#x, %d, %v; want %#x, %d", at, uint32(got), dataOff, ok, uint32(b), int(at)-int(off))
			}
		}
		seen[p.Index(b)] = true
	}
	for i, s := range seen {
		if !s {
			t.Fatalf("buffer %d never handed out", i)
		}
	}
	if _, _, ok := p.BufAt(uint64(len(slab))); ok {
		t.Fatal("BufAt past the slab succeeded")
	}
	other := newPool(t, descriptor.PoolConfig{Buffers: 8})
	b, _ := other.Get()
	if _, ok := p.Offset(b); ok {
		t.Fatal("Offset of another pool's buffer succeeded")
	}
}

func TestPoolAlignConfig(t *testing.T) {
	for _, a := range []int{-1, 3, 4097, 1 << 21} {
		if _, err := descriptor.NewPool(descriptor.PoolConfig{Buffers: 4, Align: a}); !errors.Is(err, descriptor.ErrConfig) {
			t.Errorf("Align %d: %v, want ErrConfig", a, err)
		}
	}
	for _, a := range []int{0, 1, 64, 1 << 20} {
		p, err := descriptor.NewPool(descriptor.PoolConfig{Buffers: 4, Align: a})
		if err != nil {
			t.Fatalf("Align %d: %v", a, err)
		}
		if a > 1 && uintptr(unsafe.Pointer(&p.Slab()[0]))%uintptr(a) != 0 {
			t.Fatalf("Align %d: slab not aligned", a)
		}
	}
}

// owner names who holds a buffer in the zero-copy models.
type owner int

const (
	ownFree owner = iota
	ownKernel
	ownDriver
	ownRing
)

// drainCheck flushes cache, takes every free buffer out of p and checks
// that it is none of the buffers the model says someone holds, and that the
// pool holds exactly total minus held; then returns them.
func drainCheck(tb testing.TB, p *descriptor.Pool, cache *descriptor.Cache, held map[descriptor.Buf]owner, want int) {
	tb.Helper()
	if err := cache.Flush(); err != nil {
		tb.Fatal(err)
	}
	var got []descriptor.Buf
	for {
		b, ok := p.Get()
		if !ok {
			break
		}
		if o, in := held[b]; in && o != ownFree {
			tb.Fatalf("buffer %#x is free in the pool but held by %d", uint32(b), o)
		}
		got = append(got, b)
	}
	if len(got) != want {
		tb.Fatalf("%d buffers free, want %d", len(got), want)
	}
	if err := p.PutBulk(got); err != nil {
		tb.Fatal(err)
	}
}

// TestZeroCopyRxModel drives an RxRing's zero-copy NIC side as an AF_XDP
// fill and RX ring would, completing buffers in random order, against a
// model of who holds each buffer: a taken buffer is held by no one else, a
// received packet is the buffer and length placed, in placement order, the
// NIC never owns more than N-1 descriptors, and the pool's free buffers are
// exactly those nobody holds.
func TestZeroCopyRxModel(t *testing.T) {
	for seed := range uint64(4) {
		for _, start := range []uint64{0, 1<<32 - 37} {
			t.Run(fmt.Sprintf("seed=%d/start=%#x", seed, start), func(t *testing.T) {
				zeroCopyRxModel(t, seed, start)
			})
		}
	}
}

func zeroCopyRxModel(t *testing.T, seed, start uint64) {
	const bufs, descs = 48, 16
	p := newPool(t, descriptor.PoolConfig{Buffers: bufs, DataRoom: 64, CacheSize: 4, Check: true})
	r := newRx(t, p, descriptor.RxConfig{Descs: descs, FreeThresh: 4, Burst: 8})
	r.SetPos(start)
	r.Refill()
	rng := rand.New(rand.NewPCG(seed, 99))
	held := map[descriptor.Buf]owner{}
	var kernel, driver []descriptor.Buf
	type placed struct {
		b    descriptor.Buf
		n    int
		hash uint32
	}
	var fifo []placed
	var seq uint32
	take := make([]descriptor.Buf, descs)
	dst := make([]descriptor.Packet, 8)
	steps := 4000
	if testing.Short() {
		steps = 1000
	}
	for step := range steps {
		switch op := rng.IntN(7); op {
		case 0: // the fill ring takes posted buffers
			k := r.NICTake(take[:rng.IntN(descs)+1])
			for _, b := range take[:k] {
				if o := held[b]; o != ownFree {
					t.Fatalf("step %d: NICTake gave %#x, held by %d", step, uint32(b), o)
				}
				held[b] = ownKernel
				kernel = append(kernel, b)
			}
		case 1, 2: // the kernel fills one of its buffers, in any order
			if len(kernel) == 0 {
				continue
			}
			i := rng.IntN(len(kernel))
			b := kernel[i]
			n := rng.IntN(64) + 1
			f := p.Data(b)[:n]
			for j := range f {
				f[j] = byte(seq + uint32(j))
			}
			if err := r.NICPlaceBuf(b, n, descriptor.Packet{Hash: seq, Queue: 3}); err != nil {
				t.Fatalf("step %d: NICPlaceBuf(%#x): %v", step, uint32(b), err)
			}
			kernel[i] = kernel[len(kernel)-1]
			kernel = kernel[:len(kernel)-1]
			held[b] = ownRing
			fifo = append(fifo, placed{b, n, seq})
			seq++
		case 3: // a buffer the kernel does not hold is refused
			var b descriptor.Buf
			switch {
			case len(driver) > 0 && rng.IntN(2) == 0:
				b = driver[rng.IntN(len(driver))]
			case len(fifo) > 0:
				b = fifo[0].b
			default:
				continue
			}
			if err := r.NICPlaceBuf(b, 10, descriptor.Packet{}); !errors.Is(err, descriptor.ErrForeign) {
				t.Fatalf("step %d: NICPlaceBuf of unheld %#x = %v, want ErrForeign", step, uint32(b), err)
			}
			if len(kernel) > 0 {
				if err := r.NICPlaceBuf(kernel[0], 65, descriptor.Packet{}); !errors.Is(err, descriptor.ErrLength) {
					t.Fatalf("step %d: NICPlaceBuf of 65 bytes = %v, want ErrLength", step, err)
				}
			}
		case 4: // the driver receives
			k := r.Receive(dst[:rng.IntN(len(dst))+1])
			for _, pk := range dst[:k] {
				if len(fifo) == 0 {
					t.Fatalf("step %d: received %#x with nothing placed", step, uint32(pk.Buf))
				}
				w := fifo[0]
				fifo = fifo[1:]
				if pk.Buf != w.b || int(pk.Len) != w.n || pk.Hash != w.hash || pk.Queue != 3 {
					t.Fatalf("step %d: received %#x len %d hash %d, want %#x len %d hash %d", step, uint32(pk.Buf), pk.Len, pk.Hash, uint32(w.b), w.n, w.hash)
				}
				for j, c := range p.Bytes(pk) {
					if c != byte(w.hash+uint32(j)) {
						t.Fatalf("step %d: frame %d byte %d is %d", step, w.hash, j, c)
					}
				}
				held[pk.Buf] = ownDriver
				driver = append(driver, pk.Buf)
			}
		case 5: // the driver frees what it received
			k := rng.IntN(len(driver) + 1)
			pk := make([]descriptor.Packet, k)
			for i, b := range driver[:k] {
				pk[i].Buf = b
				delete(held, b)
			}
			driver = driver[k:]
			if err := r.Free(pk); err != nil {
				t.Fatalf("step %d: Free: %v", step, err)
			}
		case 6:
			r.Refill()
		}
		next, tail := r.DriverView()
		if tail-next > descs-1 {
			t.Fatalf("step %d: the NIC owns %d descriptors of %d", step, tail-next, descs)
		}
		if r.NICHeld() != len(kernel) {
			t.Fatalf("step %d: NICHeld %d, the kernel holds %d", step, r.NICHeld(), len(kernel))
		}
		if step%50 == 0 {
			drainCheck(t, p, r.Cache(), held, bufs-int(tail-next)-len(driver))
		}
	}
	// Close with buffers still out with the kernel (its socket closed):
	// the ring returns them with the rest.
	if err := r.Free(packets(driver)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wantFull(t, p)
}

func packets(bs []descriptor.Buf) []descriptor.Packet {
	pk := make([]descriptor.Packet, len(bs))
	for i, b := range bs {
		pk[i].Buf = b
	}
	return pk
}

// TestZeroCopyTxModel drives a TxRing's NIC side as an AF_XDP TX and
// completion ring would, completing buffers in random order: a buffer goes
// back to the pool only after the kernel completed it, never twice, and
// the pool's free buffers are exactly those nobody holds.
func TestZeroCopyTxModel(t *testing.T) {
	for seed := range uint64(4) {
		for _, start := range []uint64{0, 1<<32 - 37} {
			t.Run(fmt.Sprintf("seed=%d/start=%#x", seed, start), func(t *testing.T) {
				zeroCopyTxModel(t, seed, start)
			})
		}
	}
}

func zeroCopyTxModel(t *testing.T, seed, start uint64) {
	const bufs, descs = 48, 16
	p := newPool(t, descriptor.PoolConfig{Buffers: bufs, DataRoom: 64, CacheSize: 4, Check: true})
	r := newTx(t, p, descriptor.TxConfig{Descs: descs, FreeThresh: 4})
	r.SetPos(start)
	rng := rand.New(rand.NewPCG(seed, 7))
	held := map[descriptor.Buf]owner{}
	var app, kernel []descriptor.Buf // the application's unsent buffers; the kernel's fetched ones
	fetch := make([]descriptor.Packet, descs)
	steps := 4000
	if testing.Short() {
		steps = 1000
	}
	for step := range steps {
		switch rng.IntN(6) {
		case 0: // the application gets buffers
			for range rng.IntN(6) {
				b, ok := p.Get()
				if !ok {
					break
				}
				// A completed buffer may have been freed by a Transmit's
				// reclaim since the model last looked.
				if o := held[b]; o != ownFree && (o != ownRing || inFlight(r, b)) {
					t.Fatalf("step %d: pool gave %#x, held by %d", step, uint32(b), o)
				}
				held[b] = ownDriver
				app = append(app, b)
			}
		case 1: // and transmits some
			k := rng.IntN(len(app) + 1)
			pk := packets(app[:k])
			for i := range pk {
				pk[i].Len = 60
			}
			n, err := r.Transmit(pk)
			if err != nil {
				t.Fatalf("step %d: Transmit: %v", step, err)
			}
			for _, b := range app[:n] {
				held[b] = ownRing
			}
			app = app[n:]
		case 2: // the TX ring fetches
			k := r.NICFetch(fetch[:rng.IntN(descs)+1])
			for _, pk := range fetch[:k] {
				if held[pk.Buf] != ownRing {
					t.Fatalf("step %d: fetched %#x, held by %d", step, uint32(pk.Buf), held[pk.Buf])
				}
				held[pk.Buf] = ownKernel
				kernel = append(kernel, pk.Buf)
			}
		case 3: // the completion ring returns some, in any order
			k := rng.IntN(len(kernel) + 1)
			rng.Shuffle(len(kernel), func(i, j int) { kernel[i], kernel[j] = kernel[j], kernel[i] })
			n, err := r.NICCompleteBufs(kernel[:k])
			if n != k || err != nil {
				t.Fatalf("step %d: NICCompleteBufs = %d, %v; want %d", step, n, err, k)
			}
			for _, b := range kernel[:k] {
				held[b] = ownRing // completed, until the driver frees it
			}
			kernel = kernel[k:]
		case 4: // a buffer the kernel does not hold is refused
			b, ok := p.Get()
			if !ok {
				continue
			}
			if n, err := r.NICCompleteBufs([]descriptor.Buf{b}); n != 0 || !errors.Is(err, descriptor.ErrForeign) {
				t.Fatalf("step %d: NICCompleteBufs of unsent %#x = %d, %v; want ErrForeign", step, uint32(b), n, err)
			}
			if err := p.Put(b); err != nil {
				t.Fatal(err)
			}
		case 5:
			r.Reclaim()
		}
		if r.NICFetched() != len(kernel) {
			t.Fatalf("step %d: NICFetched %d, kernel holds %d", step, r.NICFetched(), len(kernel))
		}
		if step%50 == 0 {
			r.Reclaim()
			for b, o := range held {
				if o == ownRing && !inFlight(r, b) {
					delete(held, b)
				}
			}
			drainCheck(t, p, r.Cache(), held, bufs-r.InFlight()-len(app))
		}
	}
	if _, err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, b := range app {
		_ = p.Put(b)
	}
	wantFull(t, p)
}

// inFlight reports whether b is still held by the ring, between clean and
// tail. The model learns which completed buffers a Reclaim freed this way.
func inFlight(r *descriptor.TxRing, b descriptor.Buf) bool { return r.Holds(b) }

func TestZeroCopyAllocs(t *testing.T) {
	p := newPool(t, descriptor.PoolConfig{Buffers: 1024, DataRoom: 128})
	rx := newRx(t, p, descriptor.RxConfig{Descs: 256})
	tx := newTx(t, p, descriptor.TxConfig{Descs: 256})
	take := make([]descriptor.Buf, 32)
	dst := make([]descriptor.Packet, 32)
	done := make([]descriptor.Buf, 32)
	a := testing.AllocsPerRun(1000, func() {
		k := rx.NICTake(take)
		for i := k - 1; i >= 0; i-- { // out of order
			_ = rx.NICPlaceBuf(take[i], 60, descriptor.Packet{})
		}
		k = rx.Receive(dst)
		n, _ := tx.Transmit(dst[:k])
		_ = rx.Free(dst[n:k])
		m := tx.NICFetch(dst)
		for i := range m {
			done[m-1-i] = dst[i].Buf
		}
		_, _ = tx.NICCompleteBufs(done[:m])
		tx.Reclaim()
	})
	if a != 0 {
		t.Fatalf("%v allocs per round, want 0", a)
	}
}

package descriptor_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/internal/stress"
)

func newTx(tb testing.TB, p *descriptor.Pool, cfg descriptor.TxConfig) *descriptor.TxRing {
	tb.Helper()
	r, err := descriptor.NewTxRing(p, cfg)
	if err != nil {
		tb.Fatalf("NewTxRing(%+v): %v", cfg, err)
	}
	return r
}

// getFrames takes k buffers and writes numbered frames into them.
func getFrames(tb testing.TB, p *descriptor.Pool, first uint64, k int) []descriptor.Packet {
	tb.Helper()
	pkts := make([]descriptor.Packet, k)
	for i := range pkts {
		b, ok := p.Get()
		if !ok {
			tb.Fatalf("pool empty after %d", i)
		}
		seq := first + uint64(i)
		n := 8 + int(seq%50)
		seqFrame(p.Data(b), seq, n)
		pkts[i] = descriptor.Packet{Buf: b, Len: uint16(n)}
	}
	return pkts
}

func TestNewTxRingConfig(t *testing.T) {
	p := newPool(t, descriptor.PoolConfig{Buffers: 8})
	for name, cfg := range map[string]descriptor.TxConfig{
		"not a power of two": {Descs: 12},
		"threshold N":        {Descs: 8, FreeThresh: 8},
		"negative threshold": {Descs: 8, FreeThresh: -1},
	} {
		if _, err := descriptor.NewTxRing(p, cfg); !errors.Is(err, descriptor.ErrConfig) {
			t.Errorf("%s: NewTxRing = %v, want ErrConfig", name, err)
		}
	}
	if _, err := descriptor.NewTxRing(nil, descriptor.TxConfig{}); !errors.Is(err, descriptor.ErrConfig) {
		t.Errorf("nil pool: %v", err)
	}
}

// TestTxPath posts packets, fetches them on the NIC side in order and
// intact, completes them, and checks that the buffers come back lazily, in
// batches, and all of them by Reclaim.
func TestTxPath(t *testing.T) {
	p := newPool(t, descriptor.PoolConfig{Buffers: 64, DataRoom: 64, CacheSize: 4, Check: true})
	r := newTx(t, p, descriptor.TxConfig{Descs: 16, FreeThresh: 4})
	pkts := getFrames(t, p, 0, 10)
	n, err := r.Transmit(pkts)
	if err != nil || n != 10 {
		t.Fatalf("Transmit = %d, %v", n, err)
	}
	if r.NICPending() != 10 {
		t.Fatalf("NICPending = %d", r.NICPending())
	}
	var got [16]descriptor.Packet
	k := r.NICFetch(got[:6])
	k += r.NICFetch(got[6:])
	if k != 10 {
		t.Fatalf("NICFetch = %d", k)
	}
	for i, pk := range got[:k] {
		if pk != pkts[i] {
			t.Fatalf("fetched %d = %+v, want %+v", i, pk, pkts[i])
		}
		if s, err := checkSeqFrame(p.Bytes(pk)); err != nil || s != uint64(i) {
			t.Fatalf("fetched %d: seq %d, %v", i, s, err)
		}
	}
	r.NICComplete(7)
	if st := r.Stats(); st.Posted != 10 || st.Completed != 7 {
		t.Fatalf("stats %+v", st)
	}
	// Lazy: nothing is freed until the driver runs short or reclaims.
	if p.Stats().InUse != 10 {
		t.Fatalf("in use %d before any reclaim", p.Stats().InUse)
	}
	if r.Reclaim() != 7 {
		t.Fatal("Reclaim did not free the 7 completed")
	}
	r.NICComplete(3)
	if r.Reclaim() != 3 || r.InFlight() != 0 {
		t.Fatal("Reclaim did not free the last 3")
	}
	if _, err := r.Close(); err != nil {
		t.Fatal(err)
	}
	wantFull(t, p)
}

// TestTxFullAndBatchReclaim fills the ring to N-1, checks that Transmit
// then accepts nothing, and that completions make room in FreeThresh
// batches on the next Transmit.
func TestTxFullAndBatchReclaim(t *testing.T) {
	p := newPool(t, descriptor.PoolConfig{Buffers: 64, DataRoom: 64, CacheSize: 4, Check: true})
	r := newTx(t, p, descriptor.TxConfig{Descs: 16, FreeThresh: 4})
	pkts := getFrames(t, p, 0, 20)
	n, err := r.Transmit(pkts)
	if err != nil || n != 15 {
		t.Fatalf("Transmit into an empty ring of 16 = %d, %v; want 15", n, err)
	}
	if n, _ := r.Transmit(pkts[15:]); n != 0 {
		t.Fatalf("Transmit into a full ring = %d", n)
	}
	var got [16]descriptor.Packet
	r.NICFetch(got[:])
	r.NICComplete(6) // one batch of 4 complete, the second half done
	n, err = r.Transmit(pkts[15:])
	if err != nil || n != 4 {
		t.Fatalf("Transmit after 6 completions = %d, %v; want 4 (one batch freed)", n, err)
	}
	if r.InFlight() != 15 {
		t.Fatalf("in flight %d, want 15", r.InFlight())
	}
	_ = p.PutBulk([]descriptor.Buf{pkts[19].Buf})
	r.NICFetch(got[:])
	r.NICComplete(13) // the 9 fetched before and the 4 just fetched
	if dropped, err := r.Close(); err != nil || dropped != 0 {
		t.Fatalf("Close = %d, %v", dropped, err)
	}
	wantFull(t, p)
}

func TestTxInvalidPackets(t *testing.T) {
	p := newPool(t, descriptor.PoolConfig{Buffers: 16, DataRoom: 64})
	other := newPool(t, descriptor.PoolConfig{Buffers: 4})
	r := newTx(t, p, descriptor.TxConfig{Descs: 8, FreeThresh: 2})
	good := getFrames(t, p, 0, 2)
	ob, _ := other.Get()
	tests := []struct {
		name string
		bad  descriptor.Packet
		want error
	}{
		{"foreign", descriptor.Packet{Buf: ob, Len: 10}, descriptor.ErrForeign},
		{"zero buf", descriptor.Packet{Len: 10}, descriptor.ErrForeign},
		{"zero length", descriptor.Packet{Buf: good[0].Buf}, descriptor.ErrLength},
		{"too long", descriptor.Packet{Buf: good[0].Buf, Len: 65}, descriptor.ErrLength},
	}
	for _, tt := range tests {
		n, err := r.Transmit([]descriptor.Packet{good[1], tt.bad, good[0]})
		if n != 1 || !errors.Is(err, tt.want) {
			t.Errorf("%s: Transmit = %d, %v; want 1, %v", tt.name, n, err, tt.want)
		}
		var f [4]descriptor.Packet
		if k := r.NICFetch(f[:]); k != 1 || f[0] != good[1] {
			t.Fatalf("%s: NIC fetched %d", tt.name, k)
		}
		r.NICComplete(1)
		r.Reclaim()
		good[1] = getFrames(t, p, 1, 1)[0]
	}
	_ = p.PutBulk([]descriptor.Buf{good[0].Buf, good[1].Buf})
	if _, err := r.Close(); err != nil {
		t.Fatal(err)
	}
	wantFull(t, p)
}

func TestTxCloseDropsUnsent(t *testing.T) {
	p := newPool(t, descriptor.PoolConfig{Buffers: 16, Check: true})
	r := newTx(t, p, descriptor.TxConfig{Descs: 8, FreeThresh: 2})
	pkts := getFrames(t, p, 0, 5)
	if n, _ := r.Transmit(pkts); n != 5 {
		t.Fatal("Transmit failed")
	}
	var f [2]descriptor.Packet
	r.NICFetch(f[:])
	r.NICComplete(2)
	dropped, err := r.Close()
	if err != nil || dropped != 3 {
		t.Fatalf("Close = %d, %v; want 3 dropped", dropped, err)
	}
	wantFull(t, p)
	if n, _ := r.Transmit(getFrames(t, p, 0, 1)); n != 0 {
		t.Fatal("Transmit after Close accepted a packet")
	}
}

// TestTxBadFreeCounted frees a buffer the driver transmitted (a double
// free): the ring does not put it twice and counts it.
func TestTxBadFreeCounted(t *testing.T) {
	p := newPool(t, descriptor.PoolConfig{Buffers: 16, Check: true})
	r := newTx(t, p, descriptor.TxConfig{Descs: 8, FreeThresh: 2})
	pkts := getFrames(t, p, 0, 2)
	_, _ = r.Transmit(pkts)
	if err := p.Put(pkts[0].Buf); err != nil { // the caller's mistake
		t.Fatal(err)
	}
	var f [2]descriptor.Packet
	r.NICFetch(f[:])
	r.NICComplete(2)
	r.Reclaim()
	if st := r.Stats(); st.BadFrees != 1 {
		t.Fatalf("BadFrees = %d, want 1", st.BadFrees)
	}
	if _, err := r.Close(); err != nil {
		t.Fatal(err)
	}
	wantFull(t, p)
}

func TestTxWrap(t *testing.T) {
	p := newPool(t, descriptor.PoolConfig{Buffers: 64, DataRoom: 64, CacheSize: 8, Check: true})
	r := newTx(t, p, descriptor.TxConfig{Descs: 16, FreeThresh: 4})
	r.SetPos(1<<32 - 50)
	var f [16]descriptor.Packet
	next := uint64(0)
	for seq := uint64(0); seq < 500; seq += 3 {
		pkts := getFrames(t, p, seq, 3)
		if n, err := r.Transmit(pkts); n != 3 || err != nil {
			t.Fatalf("seq %d: Transmit = %d, %v", seq, n, err)
		}
		k := r.NICFetch(f[:])
		for _, pk := range f[:k] {
			if s, err := checkSeqFrame(p.Bytes(pk)); err != nil || s != next {
				t.Fatalf("fetched seq %d, want %d: %v", s, next, err)
			}
			next++
		}
		r.NICComplete(k)
	}
	if _, err := r.Close(); err != nil {
		t.Fatal(err)
	}
	wantFull(t, p)
}

// TestTxStress runs a driver goroutine that transmits numbered frames
// against a NIC goroutine that fetches, checks and completes them. The NIC
// writes into each buffer it holds (a data race, for the race detector, if
// the driver's side touched it at the same time) and every frame must
// arrive once, in order, intact; the pool is full at the end.
func TestTxStress(t *testing.T) {
	frames := uint64(stress.N(1_000_000, 50_000))
	p := newPool(t, descriptor.PoolConfig{Buffers: 128, DataRoom: 64, CacheSize: 16, Check: true})
	r := newTx(t, p, descriptor.TxConfig{Descs: 64, FreeThresh: 8})
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the NIC
		defer wg.Done()
		var f [32]descriptor.Packet
		want := uint64(0)
		for want < frames && !stop.Load() {
			k := r.NICFetch(f[:1+want%32])
			for _, pk := range f[:k] {
				b := p.Bytes(pk)
				if s, err := checkSeqFrame(b); err != nil || s != want {
					t.Errorf("NIC fetched seq %d, want %d: %v", s, want, err)
					stop.Store(true)
					return
				}
				b[0] ^= 0 // a NIC write while it owns the buffer
				want++
			}
			r.NICComplete(k)
		}
	}()
	var pend []descriptor.Packet
	for seq := uint64(0); seq < frames && !stop.Load(); {
		if len(pend) == 0 {
			k := min(1+int(seq%24), int(frames-seq))
			var ok bool
			pend = pend[:0]
			for i := range k {
				b, got := r.Cache().Get()
				if !got {
					break
				}
				ok = true
				n := 8 + int((seq+uint64(i))%50)
				seqFrame(p.Data(b), seq+uint64(i), n)
				pend = append(pend, descriptor.Packet{Buf: b, Len: uint16(n)})
			}
			if !ok {
				r.Reclaim()
				continue
			}
		}
		n, err := r.Transmit(pend)
		if err != nil {
			t.Fatal(err)
		}
		seq += uint64(n)
		pend = pend[n:]
	}
	wg.Wait()
	r.Reclaim()
	if dropped, err := r.Close(); err != nil || dropped != 0 {
		t.Fatalf("Close = %d, %v", dropped, err)
	}
	wantFull(t, p)
	if st := r.Stats(); st.Posted != frames || st.Completed != frames {
		t.Fatalf("stats %+v, want %d", st, frames)
	}
}

func TestTxAllocs(t *testing.T) {
	p := newPool(t, descriptor.PoolConfig{Buffers: 1024, DataRoom: 64})
	r := newTx(t, p, descriptor.TxConfig{Descs: 256})
	pkts := make([]descriptor.Packet, 32)
	var f [32]descriptor.Packet
	a := testing.AllocsPerRun(1000, func() {
		for i := range pkts {
			b, _ := r.Cache().Get()
			pkts[i] = descriptor.Packet{Buf: b, Len: 64}
		}
		_, _ = r.Transmit(pkts)
		r.NICComplete(r.NICFetch(f[:]))
	})
	if a != 0 {
		t.Fatalf("%v allocs per burst, want 0", a)
	}
}

// TestTxReclaimOnlyCompleted checks that neither Reclaim nor the batch
// reclaim in Transmit frees a buffer the NIC has not completed, from start
// positions around the wrap of the 32-bit stamps.
func TestTxReclaimOnlyCompleted(t *testing.T) {
	for _, start := range []uint64{0, 1<<32 - 1, 1<<32 - 5, 1<<64 - 1} {
		p := newPool(t, descriptor.PoolConfig{Buffers: 64, Check: true, CacheSize: 4})
		r := newTx(t, p, descriptor.TxConfig{Descs: 16, FreeThresh: 4})
		r.SetPos(start)
		if n, _ := r.Transmit(getFrames(t, p, 0, 15)); n != 15 {
			t.Fatal("Transmit failed")
		}
		if k := r.Reclaim(); k != 0 {
			t.Fatalf("start %#x: Reclaim freed %d with nothing completed", start, k)
		}
		more := getFrames(t, p, 15, 4)
		if n, _ := r.Transmit(more); n != 0 {
			t.Fatalf("start %#x: Transmit into a full ring with nothing completed accepted %d", start, n)
		}
		var f [16]descriptor.Packet
		r.NICFetch(f[:])
		r.NICComplete(5)
		if n, _ := r.Transmit(more); n != 4 {
			t.Fatalf("start %#x: Transmit after 5 completions accepted %d, want one batch of 4", start, n)
		}
		if k := r.Reclaim(); k != 1 {
			t.Fatalf("start %#x: Reclaim freed %d, want the fifth completed", start, k)
		}
		if r.InFlight() != 14 {
			t.Fatalf("start %#x: %d in flight, want 14", start, r.InFlight())
		}
		r.NICComplete(r.NICFetch(f[:]) + 10)
		if dropped, err := r.Close(); dropped != 0 || err != nil {
			t.Fatalf("Close = %d, %v", dropped, err)
		}
		wantFull(t, p)
	}
}

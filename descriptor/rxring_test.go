package descriptor_test

import (
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/internal/stress"
)

func newRx(tb testing.TB, p *descriptor.Pool, cfg descriptor.RxConfig) *descriptor.RxRing {
	tb.Helper()
	r, err := descriptor.NewRxRing(p, cfg)
	if err != nil {
		tb.Fatalf("NewRxRing(%+v): %v", cfg, err)
	}
	return r
}

// seqFrame writes a frame of length n whose bytes are derived from seq, so
// that the receiver can check the whole frame without a copy of it.
func seqFrame(dst []byte, seq uint64, n int) []byte {
	f := dst[:n]
	binary.LittleEndian.PutUint64(f, seq)
	for i := 8; i < n; i++ {
		f[i] = byte(seq*7 + uint64(i))
	}
	return f
}

// checkSeqFrame returns the sequence number of a frame seqFrame wrote, or
// an error if any byte differs.
func checkSeqFrame(f []byte) (uint64, error) {
	if len(f) < 8 {
		return 0, errors.New("frame shorter than 8 bytes")
	}
	seq := binary.LittleEndian.Uint64(f)
	for i := 8; i < len(f); i++ {
		if f[i] != byte(seq*7+uint64(i)) {
			return seq, errors.New("frame corrupted")
		}
	}
	return seq, nil
}

func TestNewRxRingConfig(t *testing.T) {
	p := newPool(t, descriptor.PoolConfig{Buffers: 64})
	other := newPool(t, descriptor.PoolConfig{Buffers: 64})
	tests := []struct {
		name string
		pool *descriptor.Pool
		cfg  descriptor.RxConfig
		ok   bool
	}{
		{"defaults", p, descriptor.RxConfig{Descs: 32}, true},
		{"two descriptors", p, descriptor.RxConfig{Descs: 2}, true},
		{"nil pool", nil, descriptor.RxConfig{}, false},
		{"not a power of two", p, descriptor.RxConfig{Descs: 24}, false},
		{"one descriptor", p, descriptor.RxConfig{Descs: 1}, false},
		{"too many", p, descriptor.RxConfig{Descs: descriptor.MaxDescs * 2}, false},
		{"threshold N", p, descriptor.RxConfig{Descs: 8, FreeThresh: 8}, false},
		{"negative burst", p, descriptor.RxConfig{Descs: 8, Burst: -1}, false},
		{"cache of another pool", p, descriptor.RxConfig{Descs: 8, Cache: other.NewCache()}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := descriptor.NewRxRing(tt.pool, tt.cfg)
			if tt.ok != (err == nil) {
				t.Fatalf("NewRxRing = %v, want ok=%v", err, tt.ok)
			}
			if err != nil {
				if !errors.Is(err, descriptor.ErrConfig) {
					t.Fatalf("%v does not wrap ErrConfig", err)
				}
				return
			}
			if _, err := r.Close(); err != nil {
				t.Fatal(err)
			}
			wantFull(t, tt.pool)
		})
	}
}

// TestRxReceive places frames with distinct contents and metadata and
// checks that Receive returns them in order, intact, with the NIC's
// metadata and the descriptor's buffer.
func TestRxReceive(t *testing.T) {
	p := newPool(t, descriptor.PoolConfig{Buffers: 64, Check: true, DataRoom: 256})
	r := newRx(t, p, descriptor.RxConfig{Descs: 16, FreeThresh: 4})
	var scratch [256]byte
	const k = 10
	for i := range k {
		meta := descriptor.Packet{Port: 3, Queue: 5, Hash: uint32(1000 + i), Flags: descriptor.FlagHash, Buf: 12345, Len: 1}
		if !r.NICPlace(seqFrame(scratch[:], uint64(i), 20+i), meta) {
			t.Fatalf("NICPlace %d failed", i)
		}
	}
	var dst [32]descriptor.Packet
	n := r.Receive(dst[:])
	if n != k {
		t.Fatalf("Receive = %d, want %d", n, k)
	}
	seen := map[descriptor.Buf]bool{}
	for i, pk := range dst[:n] {
		if pk.Port != 3 || pk.Queue != 5 || pk.Hash != uint32(1000+i) || !pk.Flags.Has(descriptor.FlagHash) {
			t.Fatalf("packet %d metadata %+v", i, pk)
		}
		if int(pk.Len) != 20+i {
			t.Fatalf("packet %d Len %d, want %d", i, pk.Len, 20+i)
		}
		if !p.Owns(pk.Buf) || seen[pk.Buf] {
			t.Fatalf("packet %d buffer %#x foreign or repeated", i, pk.Buf)
		}
		seen[pk.Buf] = true
		seq, err := checkSeqFrame(p.Bytes(pk))
		if err != nil || seq != uint64(i) {
			t.Fatalf("packet %d: seq %d, %v", i, seq, err)
		}
	}
	if r.Receive(dst[:]) != 0 {
		t.Fatal("Receive returned packets twice")
	}
	if err := r.Free(dst[:n]); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Close(); err != nil {
		t.Fatal(err)
	}
	wantFull(t, p)
}

func TestRxBurstLimit(t *testing.T) {
	p := newPool(t, descriptor.PoolConfig{Buffers: 256, DataRoom: 64})
	r := newRx(t, p, descriptor.RxConfig{Descs: 128, Burst: 16})
	frame := make([]byte, 64)
	for range 90 {
		if !r.NICPlace(frame, descriptor.Packet{}) {
			t.Fatal("NICPlace failed")
		}
	}
	dst := make([]descriptor.Packet, 90)
	total := 0
	for total < 90 {
		n := r.Receive(dst)
		if n > 16 || n == 0 {
			t.Fatalf("Receive = %d with %d done, burst 16", n, 90-total)
		}
		total += n
		if err := r.Free(dst[:n]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Close(); err != nil {
		t.Fatal(err)
	}
	wantFull(t, p)
}

// TestRxNICOwnsAtMostNMinus1 refills one descriptor at a time, the case in
// which a ring could be filled completely, and checks that the NIC owns
// N-1 and that the N-th frame is missed.
func TestRxNICOwnsAtMostNMinus1(t *testing.T) {
	for _, n := range []int{2, 4, 64} {
		p := newPool(t, descriptor.PoolConfig{Buffers: 4 * n, DataRoom: 64})
		r := newRx(t, p, descriptor.RxConfig{Descs: n, FreeThresh: 1})
		frame := make([]byte, 60)
		dst := make([]descriptor.Packet, n)
		for round := range 3 {
			if got := r.NICOwned(); got != n-1 {
				t.Fatalf("N=%d round %d: NIC owns %d, want N-1", n, round, got)
			}
			placed := 0
			for placed <= n && r.NICPlace(frame, descriptor.Packet{}) {
				placed++
			}
			if placed != n-1 {
				t.Fatalf("N=%d: placed %d before a miss, want N-1", n, placed)
			}
			got := 0
			for got < placed {
				k := r.Receive(dst)
				if k == 0 {
					t.Fatalf("N=%d: received %d of %d", n, got, placed)
				}
				got += k
				if err := r.Free(dst[:k]); err != nil {
					t.Fatal(err)
				}
			}
		}
		if st := r.Stats(); st.Missed != 3 {
			t.Fatalf("N=%d: missed %d, want 3", n, st.Missed)
		}
		if _, err := r.Close(); err != nil {
			t.Fatal(err)
		}
		wantFull(t, p)
	}
}

func TestRxFrameErrors(t *testing.T) {
	p := newPool(t, descriptor.PoolConfig{Buffers: 16, DataRoom: 100})
	r := newRx(t, p, descriptor.RxConfig{Descs: 8, FreeThresh: 2})
	for _, f := range [][]byte{nil, {}, make([]byte, 101), make([]byte, 1<<17)} {
		if r.NICPlace(f, descriptor.Packet{}) {
			t.Fatalf("NICPlace of %d bytes succeeded", len(f))
		}
	}
	if !r.NICPlace(make([]byte, 100), descriptor.Packet{}) || !r.NICPlace([]byte{1}, descriptor.Packet{}) {
		t.Fatal("NICPlace of 100 and 1 bytes failed")
	}
	if st := r.Stats(); st.Errors != 4 || st.Missed != 0 {
		t.Fatalf("stats %+v, want 4 errors", st)
	}
	var dst [8]descriptor.Packet
	if n := r.Receive(dst[:]); n != 2 || dst[0].Len != 100 || dst[1].Len != 1 {
		t.Fatalf("Receive = %d: %+v", n, dst[:n])
	}
	_ = r.Free(dst[:2])
	if _, err := r.Close(); err != nil {
		t.Fatal(err)
	}
	wantFull(t, p)
}

// TestRxEmptyPool starves the ring: with every spare buffer held by the
// driver, frames are missed (counted), refills fail (counted), what was
// received stays intact, and the ring recovers once buffers come back, with
// no frame delivered twice.
func TestRxEmptyPool(t *testing.T) {
	const n = 16
	p := newPool(t, descriptor.PoolConfig{Buffers: 20, DataRoom: 64, CacheSize: 4, Check: true})
	r := newRx(t, p, descriptor.RxConfig{Descs: n, FreeThresh: 4, Burst: 8})
	var scratch [64]byte
	seq := uint64(0)
	sent, missed := 0, 0
	place := func(k int) {
		for range k {
			if r.NICPlace(seqFrame(scratch[:], seq, 64), descriptor.Packet{}) {
				sent++
			} else {
				missed++
			}
			seq++
		}
	}
	var held []descriptor.Packet
	var dst [8]descriptor.Packet
	want := uint64(0)
	receive := func() int {
		k := r.Receive(dst[:])
		for _, pk := range dst[:k] {
			s, err := checkSeqFrame(p.Bytes(pk))
			if err != nil || s < want {
				t.Fatalf("received seq %d (want ≥ %d): %v", s, want, err)
			}
			want = s + 1
		}
		held = append(held, dst[:k]...)
		return k
	}
	place(40) // the ring holds 12 posted; the rest are missed
	for receive() > 0 {
	}
	if missed == 0 || r.Stats().Missed != uint64(missed) {
		t.Fatalf("missed %d, stats %+v", missed, r.Stats())
	}
	if r.Stats().RefillFailed == 0 {
		t.Fatalf("no refill failure with %d of 20 buffers held: %+v", len(held), r.Stats())
	}
	// The NIC fills what it still owns; once the driver holds every buffer,
	// nothing can be posted and every frame is missed.
	place(10)
	for receive() > 0 {
	}
	if len(held) != p.Buffers() {
		t.Fatalf("driver holds %d of %d buffers", len(held), p.Buffers())
	}
	before := r.Stats().Missed
	place(5)
	if r.NICOwned() != 0 || r.Stats().Missed != before+5 || receive() != 0 {
		t.Fatalf("with the pool empty: NIC owns %d, missed %d (was %d)", r.NICOwned(), r.Stats().Missed, before)
	}
	// Buffers come back: the next Receive refills and traffic flows again.
	if err := r.Free(held); err != nil {
		t.Fatal(err)
	}
	got := len(held)
	held = held[:0]
	if r.Receive(dst[:]) != 0 {
		t.Fatal("received with no frame placed")
	}
	if r.NICOwned() == 0 {
		t.Fatal("the ring did not recover")
	}
	place(8)
	for receive() > 0 {
	}
	got += len(held)
	if got != sent {
		t.Fatalf("delivered %d of %d placed", got, sent)
	}
	if uint64(missed) != r.Stats().Missed {
		t.Fatalf("missed %d, counted %d", missed, r.Stats().Missed)
	}
	_ = r.Free(held)
	if _, err := r.Close(); err != nil {
		t.Fatal(err)
	}
	wantFull(t, p)
}

// TestRxWrap runs the positions across the 32-bit stamp wrap and the
// 64-bit counter wrap.
func TestRxWrap(t *testing.T) {
	for _, start := range []uint64{1<<32 - 100, 1<<32 - 7, 1<<64 - 100} {
		p := newPool(t, descriptor.PoolConfig{Buffers: 64, DataRoom: 64, CacheSize: 8})
		r := newRx(t, p, descriptor.RxConfig{Descs: 16, FreeThresh: 4, Burst: 5})
		r.SetPos(start)
		r.Refill()
		var scratch [64]byte
		var dst [5]descriptor.Packet
		next := uint64(0)
		for seq := range uint64(1000) {
			if !r.NICPlace(seqFrame(scratch[:], seq, 40), descriptor.Packet{}) {
				t.Fatalf("start %#x: NICPlace %d missed", start, seq)
			}
			if seq%3 == 2 {
				for {
					k := r.Receive(dst[:])
					if k == 0 {
						break
					}
					for _, pk := range dst[:k] {
						s, err := checkSeqFrame(p.Bytes(pk))
						if err != nil || s != next {
							t.Fatalf("start %#x: got seq %d, want %d: %v", start, s, next, err)
						}
						next++
					}
					_ = r.Free(dst[:k])
				}
			}
		}
		if next != 999 {
			t.Fatalf("start %#x: received %d", start, next)
		}
		if dropped, err := r.Close(); err != nil || dropped != 1 {
			t.Fatalf("Close = %d, %v; want 1 dropped", dropped, err)
		}
		wantFull(t, p)
	}
}

// TestRxStress runs a NIC goroutine that places numbered frames as fast as
// it can against a driver goroutine that receives them in bursts, checks
// them and frees them after holding some for a while. It checks:
//   - every buffer is owned by one side at a time: an ownership array the
//     driver flips with compare-and-swap, and the frame bytes (two owners
//     at once are a data race for the race detector, and a corruption);
//   - the NIC never owns more than N-1 descriptors;
//   - no burst exceeds the maximum;
//   - frames arrive in order, each at most once, and placed = received,
//     placed + missed = sent;
//   - the pool is full after the NIC stops and the ring is closed.
func TestRxStress(t *testing.T) {
	const (
		n     = 64
		burst = 16
	)
	frames := uint64(stress.N(1_000_000, 50_000))
	p := newPool(t, descriptor.PoolConfig{Buffers: 2 * n, DataRoom: 128, CacheSize: 16, Check: true})
	r := newRx(t, p, descriptor.RxConfig{Descs: n, FreeThresh: 8, Burst: burst})
	r.SetPos(1<<32 - 1000)
	r.Refill()

	var placed atomic.Uint64
	var nicDone atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the NIC
		defer wg.Done()
		defer nicDone.Store(true)
		var scratch [128]byte
		ok := uint64(0)
		for seq := range frames {
			if r.NICPlace(seqFrame(scratch[:], seq, 8+int(seq%120)), descriptor.Packet{Hash: uint32(seq)}) {
				ok++
			}
			if own := r.NICOwned(); own > n-1 {
				t.Errorf("NIC owns %d descriptors of %d", own, n)
				return
			}
		}
		placed.Store(ok)
	}()

	owner := make([]atomic.Bool, p.Buffers())
	dst := make([]descriptor.Packet, 2*burst)
	var held []descriptor.Packet
	received, want := uint64(0), uint64(0)
	freeSome := func(k int) {
		for _, pk := range held[:k] {
			if !owner[p.Index(pk.Buf)].CompareAndSwap(true, false) {
				t.Fatalf("freeing %#x not held by the driver", pk.Buf)
			}
			p.Bytes(pk)[0] = 0xff // the driver's write, racing any NIC write
		}
		if err := r.Free(held[:k]); err != nil {
			t.Fatal(err)
		}
		held = append(held[:0], held[k:]...)
	}
	for {
		done := nicDone.Load() // before Receive: once done, an empty Receive means drained
		k := r.Receive(dst)
		if k > burst {
			t.Fatalf("burst of %d, maximum %d", k, burst)
		}
		for _, pk := range dst[:k] {
			if !owner[p.Index(pk.Buf)].CompareAndSwap(false, true) {
				t.Fatalf("buffer %#x delivered while the driver holds it", pk.Buf)
			}
			s, err := checkSeqFrame(p.Bytes(pk))
			if err != nil || s < want || pk.Hash != uint32(s) || int(pk.Len) != 8+int(s%120) {
				t.Fatalf("frame seq %d (want ≥ %d) len %d hash %d: %v", s, want, pk.Len, pk.Hash, err)
			}
			want = s + 1
		}
		received += uint64(k)
		held = append(held, dst[:k]...)
		if len(held) > n { // hold up to a ring's worth, starving the pool at times
			freeSome(len(held) - int(received%uint64(n)))
		}
		if k == 0 && done {
			break
		}
	}
	wg.Wait()
	freeSome(len(held))
	st := r.Stats()
	if received != placed.Load() || placed.Load()+st.Missed != frames {
		t.Fatalf("sent %d, placed %d, received %d, missed %d", frames, placed.Load(), received, st.Missed)
	}
	if dropped, err := r.Close(); err != nil || dropped != 0 {
		t.Fatalf("Close = %d, %v", dropped, err)
	}
	wantFull(t, p)
	t.Logf("sent %d received %d missed %d refill failures %d", frames, received, st.Missed, st.RefillFailed)
}

func TestRxAllocs(t *testing.T) {
	p := newPool(t, descriptor.PoolConfig{Buffers: 1024, DataRoom: 128})
	r := newRx(t, p, descriptor.RxConfig{Descs: 256})
	frame := make([]byte, 64)
	dst := make([]descriptor.Packet, 32)
	a := testing.AllocsPerRun(1000, func() {
		for range 32 {
			r.NICPlace(frame, descriptor.Packet{})
		}
		k := r.Receive(dst)
		_ = r.Free(dst[:k])
	})
	if a != 0 {
		t.Fatalf("%v allocs per burst, want 0", a)
	}
}

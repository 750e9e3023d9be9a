package descriptor_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/internal/stress"
)

func newPool(tb testing.TB, cfg descriptor.PoolConfig) *descriptor.Pool {
	tb.Helper()
	p, err := descriptor.NewPool(cfg)
	if err != nil {
		tb.Fatalf("NewPool(%+v): %v", cfg, err)
	}
	return p
}

// wantFull fails unless every buffer of p is back in the Pool.
func wantFull(tb testing.TB, p *descriptor.Pool) {
	tb.Helper()
	st := p.Stats()
	if st.InUse != 0 || st.Free+st.Cached != st.Buffers {
		tb.Fatalf("pool not full: %+v", st)
	}
}

func TestNewPoolConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  descriptor.PoolConfig
		ok   bool
	}{
		{"defaults", descriptor.PoolConfig{Buffers: 8}, true},
		{"one buffer", descriptor.PoolConfig{Buffers: 1}, true},
		{"no buffers", descriptor.PoolConfig{}, false},
		{"negative buffers", descriptor.PoolConfig{Buffers: -1}, false},
		{"too many buffers", descriptor.PoolConfig{Buffers: descriptor.MaxBuffers + 1}, false},
		{"data room too large", descriptor.PoolConfig{Buffers: 1, DataRoom: descriptor.MaxDataRoom + 1}, false},
		{"negative data room", descriptor.PoolConfig{Buffers: 1, DataRoom: -5}, false},
		{"negative headroom", descriptor.PoolConfig{Buffers: 1, Headroom: -1}, false},
		{"negative cache", descriptor.PoolConfig{Buffers: 1, CacheSize: -1}, false},
		{"no headroom", descriptor.PoolConfig{Buffers: 1, NoHeadroom: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := descriptor.NewPool(tt.cfg)
			if tt.ok != (err == nil) {
				t.Fatalf("NewPool(%+v) = %v, want ok=%v", tt.cfg, err, tt.ok)
			}
			if err != nil {
				if !errors.Is(err, descriptor.ErrConfig) {
					t.Fatalf("error %v does not wrap ErrConfig", err)
				}
				return
			}
			wantFull(t, p)
			if p.Stats().Free != tt.cfg.Buffers {
				t.Fatalf("Free = %d, want %d", p.Stats().Free, tt.cfg.Buffers)
			}
		})
	}
}

func TestPoolDefaults(t *testing.T) {
	p := newPool(t, descriptor.PoolConfig{Buffers: 4})
	if p.DataRoom() != descriptor.DefaultDataRoom || p.Headroom() != descriptor.DefaultHeadroom {
		t.Fatalf("data room %d headroom %d, want %d and %d", p.DataRoom(), p.Headroom(), descriptor.DefaultDataRoom, descriptor.DefaultHeadroom)
	}
	q := newPool(t, descriptor.PoolConfig{Buffers: 4, NoHeadroom: true, DataRoom: 100})
	if q.Headroom() != 0 || q.DataRoom() != 100 {
		t.Fatalf("headroom %d data room %d, want 0 and 100", q.Headroom(), q.DataRoom())
	}
}

// TestPoolGetPut takes every buffer, checks they are distinct, that the
// pool then reports empty, and that all come back.
func TestPoolGetPut(t *testing.T) {
	const n = 100
	p := newPool(t, descriptor.PoolConfig{Buffers: n, Check: true})
	seen := map[descriptor.Buf]bool{}
	var bufs []descriptor.Buf
	for range n {
		b, ok := p.Get()
		if !ok {
			t.Fatalf("Get failed after %d", len(bufs))
		}
		if seen[b] {
			t.Fatalf("buffer %#x handed out twice", b)
		}
		seen[b] = true
		bufs = append(bufs, b)
	}
	if _, ok := p.Get(); ok {
		t.Fatal("Get succeeded on an empty pool")
	}
	st := p.Stats()
	if st.InUse != n || st.Free != 0 || st.Empty != 1 {
		t.Fatalf("stats after taking all: %+v", st)
	}
	idx := map[int]bool{}
	for _, b := range bufs {
		i := p.Index(b)
		if i < 0 || i >= n || idx[i] {
			t.Fatalf("Index(%#x) = %d: out of range or repeated", b, i)
		}
		idx[i] = true
	}
	if err := p.PutBulk(bufs); err != nil {
		t.Fatal(err)
	}
	wantFull(t, p)
}

func TestPoolGetBulkAllOrNothing(t *testing.T) {
	p := newPool(t, descriptor.PoolConfig{Buffers: 10})
	got := make([]descriptor.Buf, 7)
	if !p.GetBulk(got) {
		t.Fatal("GetBulk(7) of 10 failed")
	}
	more := make([]descriptor.Buf, 4)
	if p.GetBulk(more) {
		t.Fatal("GetBulk(4) with 3 free succeeded")
	}
	if st := p.Stats(); st.Free != 3 || st.Empty != 1 {
		t.Fatalf("a failed GetBulk changed the pool: %+v", st)
	}
	if err := p.PutBulk(got); err != nil {
		t.Fatal(err)
	}
	wantFull(t, p)
}

// TestPoolForeign checks that a Buf of another Pool, the zero Buf and an
// index past the end are refused by Put, PutBulk, Cache.Put and Owns, with
// or without Check, and that the Pool is unchanged.
func TestPoolForeign(t *testing.T) {
	for _, check := range []bool{false, true} {
		t.Run(fmt.Sprintf("check=%v", check), func(t *testing.T) {
			p := newPool(t, descriptor.PoolConfig{Buffers: 8, Check: check})
			other := newPool(t, descriptor.PoolConfig{Buffers: 8, Check: check})
			ob, _ := other.Get()
			mine, _ := p.Get()
			pastEnd := descriptor.Buf(p.PoolID() | 8)
			for name, b := range map[string]descriptor.Buf{"other pool": ob, "zero": 0, "past end": pastEnd, "all ones": ^descriptor.Buf(0)} {
				if p.Owns(b) {
					t.Errorf("%s: Owns(%#x) = true", name, b)
				}
				if err := p.Put(b); !errors.Is(err, descriptor.ErrForeign) {
					t.Errorf("%s: Put = %v, want ErrForeign", name, err)
				}
				c := p.NewCache()
				if err := c.Put(b); !errors.Is(err, descriptor.ErrForeign) {
					t.Errorf("%s: Cache.Put = %v, want ErrForeign", name, err)
				}
				if err := p.PutBulk([]descriptor.Buf{b}); !errors.Is(err, descriptor.ErrForeign) {
					t.Errorf("%s: PutBulk = %v, want ErrForeign", name, err)
				}
				if c.Len() != 0 {
					t.Errorf("%s: the cache kept a foreign buffer", name)
				}
			}
			if st := p.Stats(); st.Free != 7 {
				t.Fatalf("foreign puts changed the pool: %+v", st)
			}
			// A good Buf next to a bad one in a bulk put still goes back.
			if err := p.PutBulk([]descriptor.Buf{ob, mine}); !errors.Is(err, descriptor.ErrForeign) {
				t.Fatalf("PutBulk = %v, want ErrForeign", err)
			}
			wantFull(t, p)
			if !other.Owns(ob) || other.Put(ob) != nil {
				t.Fatal("the other pool lost its buffer")
			}
		})
	}
}

func TestPoolPanicsOnForeignAccess(t *testing.T) {
	p := newPool(t, descriptor.PoolConfig{Buffers: 2, DataRoom: 64})
	b, _ := p.Get()
	for name, f := range map[string]func(){
		"Data zero":      func() { p.Data(0) },
		"Bytes zero":     func() { p.Bytes(descriptor.Packet{}) },
		"Bytes too long": func() { p.Bytes(descriptor.Packet{Buf: b, Len: 65}) },
		"Index zero":     func() { p.Index(0) },
		"HeadroomOf":     func() { p.HeadroomOf(0) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", name)
				}
			}()
			f()
		}()
	}
}

// TestPoolDoubleFree checks that with Check every second put of a buffer
// is refused, through every path, and that without Check a double free is
// still refused once it would overfill the pool.
func TestPoolDoubleFree(t *testing.T) {
	p := newPool(t, descriptor.PoolConfig{Buffers: 8, Check: true, CacheSize: 4})
	b, _ := p.Get()
	if err := p.Put(b); err != nil {
		t.Fatal(err)
	}
	if err := p.Put(b); !errors.Is(err, descriptor.ErrDoubleFree) {
		t.Fatalf("second Put = %v, want ErrDoubleFree", err)
	}
	c := p.NewCache()
	b, _ = c.Get()
	if err := c.Put(b); err != nil {
		t.Fatal(err)
	}
	if err := c.Put(b); !errors.Is(err, descriptor.ErrDoubleFree) {
		t.Fatalf("second Cache.Put = %v, want ErrDoubleFree", err)
	}
	if err := p.Put(b); !errors.Is(err, descriptor.ErrDoubleFree) {
		t.Fatalf("Put of a buffer in a cache = %v, want ErrDoubleFree", err)
	}
	b2, _ := c.Get()
	if err := c.PutBulk([]descriptor.Buf{b2, b2}); !errors.Is(err, descriptor.ErrDoubleFree) {
		t.Fatalf("PutBulk with a duplicate = %v, want ErrDoubleFree", err)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	wantFull(t, p)

	// Without Check: the free list holds exactly Buffers, so a put into a
	// full pool is a double free.
	q := newPool(t, descriptor.PoolConfig{Buffers: 4})
	qb, _ := q.Get()
	if err := q.Put(qb); err != nil {
		t.Fatal(err)
	}
	if err := q.Put(qb); !errors.Is(err, descriptor.ErrDoubleFree) {
		t.Fatalf("Put into a full unchecked pool = %v, want ErrDoubleFree", err)
	}
	wantFull(t, q)
}

// TestCacheBehaviour follows a Cache through refill, hits, LIFO reuse,
// the flush threshold and a final flush.
func TestCacheBehaviour(t *testing.T) {
	const size = 8
	p := newPool(t, descriptor.PoolConfig{Buffers: 64, CacheSize: size, Check: true})
	c := p.NewCache()
	b, ok := c.Get()
	if !ok {
		t.Fatal("Get failed")
	}
	// The first get refills size+1 and hands one out.
	if c.Len() != size {
		t.Fatalf("after the first Get the cache holds %d, want %d", c.Len(), size)
	}
	if st := c.Stats(); st.Refills != 1 || st.Hits != 0 {
		t.Fatalf("stats after the first Get: %+v", st)
	}
	if p.Stats().Free != 64-size-1 {
		t.Fatalf("free list holds %d, want %d", p.Stats().Free, 64-size-1)
	}
	if err := c.Put(b); err != nil {
		t.Fatal(err)
	}
	again, _ := c.Get()
	if again != b {
		t.Fatalf("Get after Put returned %#x, want the buffer just put (%#x)", again, b)
	}
	if st := c.Stats(); st.Hits != 1 || st.Refills != 1 {
		t.Fatalf("a get served by the cache: %+v", st)
	}
	// Take everything the cache holds, then put back more than 1.5 × size.
	got := make([]descriptor.Buf, size)
	if !c.GetBulk(got) {
		t.Fatal("GetBulk(size) failed")
	}
	extra := make([]descriptor.Buf, size)
	if !p.GetBulk(extra) {
		t.Fatal("pool GetBulk failed")
	}
	all := append(append([]descriptor.Buf{again}, got...), extra...)
	for i, x := range all {
		if err := c.Put(x); err != nil {
			t.Fatal(err)
		}
		if c.Len() > size+size/2 {
			t.Fatalf("after put %d the cache holds %d, above 1.5 × %d", i, c.Len(), size)
		}
	}
	if st := c.Stats(); st.Flushes == 0 {
		t.Fatalf("no flush after %d puts: %+v", len(all), st)
	}
	// A bulk get larger than the cache goes to the free list directly.
	big := make([]descriptor.Buf, size*2)
	before := c.Len()
	if !c.GetBulk(big) {
		t.Fatal("GetBulk(2 × size) failed")
	}
	if c.Len() != before {
		t.Fatalf("a bulk get larger than the cache used it: %d → %d", before, c.Len())
	}
	if err := c.PutBulk(big); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if c.Len() != 0 {
		t.Fatalf("Flush left %d", c.Len())
	}
	wantFull(t, p)
	if p.Stats().Free != 64 || p.Stats().CacheHits == 0 {
		t.Fatalf("after Flush: %+v", p.Stats())
	}
}

// TestCacheEmptyPool checks that a cache get on an exhausted pool fails,
// counts an empty event, keeps what it could move, and succeeds again once
// buffers come back.
func TestCacheEmptyPool(t *testing.T) {
	p := newPool(t, descriptor.PoolConfig{Buffers: 5, CacheSize: 4})
	c := p.NewCache()
	four := make([]descriptor.Buf, 4)
	if !c.GetBulk(four) {
		t.Fatal("GetBulk(4) of 5 failed")
	}
	two := make([]descriptor.Buf, 2)
	if c.GetBulk(two) {
		t.Fatal("GetBulk(2) with one buffer left succeeded")
	}
	if c.Len() != 1 || p.Stats().Empty != 1 {
		t.Fatalf("after a failed get: cache %d, stats %+v", c.Len(), p.Stats())
	}
	if err := c.PutBulk(four[:1]); err != nil {
		t.Fatal(err)
	}
	if !c.GetBulk(two) {
		t.Fatal("GetBulk(2) failed after a buffer came back")
	}
	if err := c.PutBulk(append(two, four[1:]...)); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	wantFull(t, p)
}

func TestPoolBytes(t *testing.T) {
	p := newPool(t, descriptor.PoolConfig{Buffers: 3, DataRoom: 100, Headroom: 16})
	var bufs [3]descriptor.Buf
	if !p.GetBulk(bufs[:]) {
		t.Fatal("GetBulk failed")
	}
	for i, b := range bufs {
		d := p.Data(b)
		if len(d) != 100 || cap(d) != 100 {
			t.Fatalf("Data: len %d cap %d, want 100", len(d), cap(d))
		}
		for j := range d {
			d[j] = byte(i)
		}
		if h := p.HeadroomOf(b); len(h) != 16 {
			t.Fatalf("HeadroomOf: len %d", len(h))
		}
	}
	for i, b := range bufs {
		f := p.Bytes(descriptor.Packet{Buf: b, Len: 60})
		if len(f) != 60 || cap(f) != 100 {
			t.Fatalf("Bytes: len %d cap %d", len(f), cap(f))
		}
		for _, x := range f {
			if x != byte(i) {
				t.Fatalf("buffer %d overlaps another: byte %d", i, x)
			}
		}
		// Headroom is separate from every data room.
		for _, x := range p.HeadroomOf(b) {
			if x != 0 {
				t.Fatal("headroom overlaps a data room")
			}
		}
	}
}

// TestPoolStressExactlyOnce has workers get and put buffers through their
// own caches and the shared free list at once. Each worker marks a buffer
// it holds in a shared ownership array (a second holder fails the
// compare-and-swap) and writes its id into the buffer (two holders at once
// are a data race the race detector reports); at the end the pool is full.
func TestPoolStressExactlyOnce(t *testing.T) {
	const buffers = 256
	p := newPool(t, descriptor.PoolConfig{Buffers: buffers, CacheSize: 16, Check: true, DataRoom: 64})
	owner := make([]atomic.Int32, buffers)
	workers := 8
	rounds := stress.N(200_000, 10_000)
	var wg sync.WaitGroup
	var failed atomic.Bool
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			c := p.NewCache()
			held := make([]descriptor.Buf, 0, 64)
			take := func(b descriptor.Buf) {
				if !owner[p.Index(b)].CompareAndSwap(0, int32(w+1)) {
					t.Errorf("buffer %#x handed to worker %d while worker %d holds it", b, w, owner[p.Index(b)].Load()-1)
					failed.Store(true)
				}
				d := p.Data(b)
				d[0], d[63] = byte(w), byte(w)
				held = append(held, b)
			}
			give := func(b descriptor.Buf) {
				d := p.Data(b)
				if d[0] != byte(w) || d[63] != byte(w) {
					t.Errorf("buffer %#x changed while worker %d held it", b, w)
					failed.Store(true)
				}
				owner[p.Index(b)].Store(0)
			}
			var batch [24]descriptor.Buf
			for i := 0; i < rounds && !failed.Load(); i++ {
				switch op := rng.IntN(6); {
				case op == 0 && len(held) < cap(held):
					if b, ok := c.Get(); ok {
						take(b)
					}
				case op == 1 && len(held)+len(batch) <= cap(held):
					k := 1 + rng.IntN(len(batch))
					if c.GetBulk(batch[:k]) {
						for _, b := range batch[:k] {
							take(b)
						}
					}
				case op == 2 && len(held) < cap(held):
					if b, ok := p.Get(); ok {
						take(b)
					}
				case op == 3 && len(held) > 0:
					b := held[len(held)-1]
					held = held[:len(held)-1]
					give(b)
					if err := c.Put(b); err != nil {
						t.Error(err)
					}
				case op == 4 && len(held) > 0:
					k := 1 + rng.IntN(len(held))
					out := held[len(held)-k:]
					for _, b := range out {
						give(b)
					}
					if err := c.PutBulk(out); err != nil {
						t.Error(err)
					}
					held = held[:len(held)-k]
				case op == 5 && len(held) > 0:
					b := held[0]
					held = held[1:]
					give(b)
					if err := p.Put(b); err != nil {
						t.Error(err)
					}
				}
			}
			for _, b := range held {
				give(b)
			}
			if err := c.PutBulk(held); err != nil {
				t.Error(err)
			}
			if err := c.Flush(); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	wantFull(t, p)
	if p.Stats().Free != buffers {
		t.Fatalf("free list holds %d of %d", p.Stats().Free, buffers)
	}
}

func TestPoolAllocs(t *testing.T) {
	p := newPool(t, descriptor.PoolConfig{Buffers: 1024, CacheSize: 32})
	c := p.NewCache()
	var batch [32]descriptor.Buf
	ops := map[string]func(){
		"Pool.Get+Put": func() {
			b, _ := p.Get()
			_ = p.Put(b)
		},
		"Pool.GetBulk+PutBulk": func() {
			p.GetBulk(batch[:])
			_ = p.PutBulk(batch[:])
		},
		"Cache.Get+Put": func() {
			b, _ := c.Get()
			_ = c.Put(b)
		},
		"Cache.GetBulk+PutBulk": func() {
			c.GetBulk(batch[:])
			_ = c.PutBulk(batch[:])
		},
		"Bytes+Data": func() {
			b, _ := c.Get()
			_ = p.Bytes(descriptor.Packet{Buf: b, Len: 64})[0] + p.Data(b)[0]
			_ = c.Put(b)
		},
	}
	for name, op := range ops {
		if a := testing.AllocsPerRun(1000, op); a != 0 {
			t.Errorf("%s: %v allocs per run, want 0", name, a)
		}
	}
}

func BenchmarkPool(b *testing.B) {
	p := newPool(b, descriptor.PoolConfig{Buffers: 4096})
	b.Run("op=cache-get-put", func(b *testing.B) {
		c := p.NewCache()
		b.ReportAllocs()
		for b.Loop() {
			x, _ := c.Get()
			_ = c.Put(x)
		}
	})
	b.Run("op=cache-bulk32", func(b *testing.B) {
		c := p.NewCache()
		var batch [32]descriptor.Buf
		b.ReportAllocs()
		for b.Loop() {
			c.GetBulk(batch[:])
			_ = c.PutBulk(batch[:])
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*32), "ns/buf")
	})
	b.Run("op=pool-get-put", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			x, _ := p.Get()
			_ = p.Put(x)
		}
	})
}

// TestDoubleFreeCaughtUnderRace: under -race the Pool keeps ownership
// state whatever PoolConfig.Check says, so a double free is refused while
// the pool is far from full, through the Pool and through a Cache; a test
// of code that frees a buffer twice fails there, rather than hand the
// buffer out twice later.
func TestDoubleFreeCaughtUnderRace(t *testing.T) {
	p := newPool(t, descriptor.PoolConfig{Buffers: 64, CacheSize: 4})
	if p.Checked() != raceEnabled {
		t.Fatalf("Checked() = %v without PoolConfig.Check, want %v (on exactly under -race)", p.Checked(), raceEnabled)
	}
	if !raceEnabled {
		t.Skip("ownership checks are on without PoolConfig.Check only under -race")
	}
	held := make([]descriptor.Buf, 8)
	if !p.GetBulk(held) {
		t.Fatal("GetBulk failed on a full pool")
	}
	if err := p.Put(held[0]); err != nil {
		t.Fatal(err)
	}
	if err := p.Put(held[0]); !errors.Is(err, descriptor.ErrDoubleFree) {
		t.Fatalf("second Put with 57 of 64 buffers free = %v, want ErrDoubleFree", err)
	}
	c := p.NewCache()
	if err := c.Put(held[1]); err != nil {
		t.Fatal(err)
	}
	if err := c.Put(held[1]); !errors.Is(err, descriptor.ErrDoubleFree) {
		t.Fatalf("second Cache.Put = %v, want ErrDoubleFree", err)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := p.PutBulk(held[2:]); err != nil {
		t.Fatal(err)
	}
	wantFull(t, p)
}

// TestNewPoolMemoryLimit: a Pool of legal sizes whose memory would exceed
// its limit is refused with an error wrapping ErrConfig that says the bytes
// asked for and the limit, before anything is allocated (the process would
// otherwise die with "fatal error: out of memory", which no recover
// catches); PoolConfig.MaxBytes moves the limit.
func TestNewPoolMemoryLimit(t *testing.T) {
	_, err := descriptor.NewPool(descriptor.PoolConfig{Buffers: descriptor.MaxBuffers, DataRoom: 60000})
	if err == nil {
		t.Fatal("NewPool of MaxBuffers buffers of 60000 bytes succeeded")
	}
	if !errors.Is(err, descriptor.ErrConfig) {
		t.Fatalf("NewPool of %d buffers of 60000 bytes = %v, want ErrConfig", descriptor.MaxBuffers, err)
	}
	for _, want := range []string{"bytes", fmt.Sprintf("limit of %d bytes", int64(descriptor.DefaultMaxBytes)), "PoolConfig.MaxBytes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	// Eight buffers of 128+2048 bytes take more than 16 KiB.
	if _, err := descriptor.NewPool(descriptor.PoolConfig{Buffers: 8, MaxBytes: 16 << 10}); !errors.Is(err, descriptor.ErrConfig) {
		t.Errorf("NewPool of 8 default buffers with MaxBytes 16 KiB = %v, want ErrConfig", err)
	}
	if _, err := descriptor.NewPool(descriptor.PoolConfig{Buffers: 8, MaxBytes: 32 << 10}); err != nil {
		t.Errorf("NewPool of 8 default buffers with MaxBytes 32 KiB = %v", err)
	}
	if _, err := descriptor.NewPool(descriptor.PoolConfig{Buffers: 8, MaxBytes: -1}); !errors.Is(err, descriptor.ErrConfig) {
		t.Errorf("NewPool with MaxBytes -1 = %v, want ErrConfig", err)
	}
}

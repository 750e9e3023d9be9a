package nicsim_test

import (
	"context"
	"errors"
	"testing"

	"go.uber.org/goleak"

	"github.com/ringkit/ringkit/classify"
	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/frame"
	"github.com/ringkit/ringkit/nicsim"
)

// TestMain checks that Stop ends every goroutine Start started.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newPool(tb testing.TB, n int) *descriptor.Pool {
	tb.Helper()
	p, err := descriptor.NewPool(descriptor.PoolConfig{Buffers: n, Check: true, CacheSize: 32})
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func newNIC(tb testing.TB, cfg nicsim.Config) *nicsim.NIC {
	tb.Helper()
	n, err := nicsim.New(cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return n
}

func newGen(tb testing.TB, cfg nicsim.GenConfig) *nicsim.Generator {
	tb.Helper()
	g, err := nicsim.NewGenerator(cfg)
	if err != nil {
		tb.Fatalf("NewGenerator: %v", err)
	}
	return g
}

func step(tb testing.TB, n *nicsim.NIC) int {
	tb.Helper()
	k, err := n.Step()
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// run runs n.Run on a goroutine of its own and returns what stops it: a
// cancel of Run's context that waits for Run's return and checks that it
// returned the context's error.
func run(tb testing.TB, n interface{ Run(context.Context) error }) (stop func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	return func() {
		tb.Helper()
		cancel()
		if err := <-done; err != context.Canceled {
			tb.Errorf("Run = %v, want context.Canceled", err)
		}
	}
}

// closeAll closes every ring of the NICs (they must be stopped) and checks
// that the pool is full.
func closeAll(tb testing.TB, pool *descriptor.Pool, nics ...*nicsim.NIC) {
	tb.Helper()
	for _, n := range nics {
		closeRings(tb, n)
	}
	if st := pool.Stats(); st.InUse != 0 || st.Free != st.Buffers {
		tb.Fatalf("pool not full after closing every ring: %+v", st)
	}
}

func closeRings(tb testing.TB, n *nicsim.NIC) {
	tb.Helper()
	for i := range n.Ports() {
		p := n.Port(i)
		for q := range p.Queues() {
			if _, err := p.RxRing(q).Close(); err != nil {
				tb.Fatal(err)
			}
			if _, err := p.TxRing(q).Close(); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

func TestNewConfig(t *testing.T) {
	pool := newPool(t, 256)
	tests := []struct {
		name string
		cfg  nicsim.Config
	}{
		{"no pool", nicsim.Config{}},
		{"negative ports", nicsim.Config{Pool: pool, Ports: -1}},
		{"short key", nicsim.Config{Pool: pool, RSSKey: make([]byte, 10)}},
		{"reta not a power of two", nicsim.Config{Pool: pool, RETASize: 100}},
		{"max frame above data room", nicsim.Config{Pool: pool, MaxFrame: 4096}},
		{"max frame below header", nicsim.Config{Pool: pool, MaxFrame: 10}},
		{"bad ring", nicsim.Config{Pool: pool, Rx: descriptor.RxConfig{Descs: 3}}},
		{"shared cache", nicsim.Config{Pool: pool, Rx: descriptor.RxConfig{Cache: pool.NewCache()}}},
		{"negative burst", nicsim.Config{Pool: pool, Burst: -1}},
	}
	for _, tt := range tests {
		if _, err := nicsim.New(tt.cfg); err == nil {
			t.Errorf("%s: New succeeded", tt.name)
		} else if !errors.Is(err, nicsim.ErrConfig) && !errors.Is(err, descriptor.ErrConfig) {
			t.Errorf("%s: %v wraps neither ErrConfig", tt.name, err)
		}
	}
	n := newNIC(t, nicsim.Config{Pool: pool, Queues: 2, Rx: descriptor.RxConfig{Descs: 32}, Tx: descriptor.TxConfig{Descs: 32}})
	p := n.Port(0)
	if err := p.SetRSS(classify.DefaultKey[:], []uint16{0, 2}); !errors.Is(err, nicsim.ErrConfig) {
		t.Errorf("SetRSS with queue 2 of 2: %v", err)
	}
	if err := p.StopQueue(5); !errors.Is(err, nicsim.ErrConfig) {
		t.Errorf("StopQueue(5): %v", err)
	}
	if got := p.RETA(); len(got) != nicsim.DefaultRETASize || got[0] != 0 || got[1] != 1 || got[2] != 0 {
		t.Errorf("default RETA %v", got[:4])
	}
	closeAll(t, pool, n)
}

// TestRSS receives frames of many flows on four queues and checks each
// packet's hash against classify's Toeplitz over its own bytes, its queue
// against the redirection table, and that every queue gets traffic.
func TestRSS(t *testing.T) {
	pool := newPool(t, 2048)
	n := newNIC(t, nicsim.Config{Pool: pool, Queues: 4, Rx: descriptor.RxConfig{Descs: 256}})
	port := n.Port(0)
	reta := make([]uint16, 64)
	for i := range reta {
		reta[i] = uint16(i*7) % 4
	}
	key := classify.DefaultKey
	key[0] ^= 0xff // not the default: SetRSS must take effect
	if err := port.SetRSS(key[:], reta); err != nil {
		t.Fatal(err)
	}
	tz, _ := classify.NewToeplitz(key[:])
	port.Attach(newGen(t, nicsim.GenConfig{Flows: 97, IPv6: 0.5, TCP: 0.5, Count: 400, Sizes: nicsim.IMIX}))
	for step(t, n) > 0 {
	}
	var dst [32]descriptor.Packet
	per := make([]int, 4)
	for q := range 4 {
		r := port.RxRing(q)
		for {
			k := r.Receive(dst[:])
			if k == 0 {
				break
			}
			for _, pk := range dst[:k] {
				b := pool.Bytes(pk)
				var want descriptor.Packet
				classify.Parse(b, &want)
				h, ok := tz.HashFrame(b, &want, true)
				if !ok || !pk.Flags.Has(descriptor.FlagHash) || pk.Hash != h {
					t.Fatalf("queue %d: hash %#x flags %b, want %#x (ok %v)", q, pk.Hash, pk.Flags, h, ok)
				}
				if int(pk.Queue) != q || int(reta[h%64]) != q || pk.Port != 0 {
					t.Fatalf("packet with hash %#x on queue %d (field %d), table says %d", h, q, pk.Queue, reta[h%64])
				}
				if !pk.Flags.Has(descriptor.FlagParsed) {
					t.Fatalf("well-formed frame without FlagParsed: flags %b", pk.Flags)
				}
				if pk.Type != want.Type || pk.L4Off != want.L4Off || pk.DataOff != want.DataOff || pk.DSCP != want.DSCP || pk.Proto != want.Proto {
					t.Fatalf("parse metadata %v/%d, want %v/%d", pk.Type, pk.L4Off, want.Type, want.L4Off)
				}
				if err := frame.Verify(b); err != nil {
					t.Fatalf("received frame: %v", err)
				}
			}
			per[q] += k
			_ = r.Free(dst[:k])
		}
	}
	for q, c := range per {
		if c == 0 {
			t.Errorf("queue %d got nothing: %v", q, per)
		}
	}
	st := port.Stats()
	if st.Total.RxPackets != 400 || per[0]+per[1]+per[2]+per[3] != 400 {
		t.Fatalf("received %v, stats %+v", per, st.Total)
	}
	for q := range 4 {
		if st.Queues[q].RxPackets != uint64(per[q]) {
			t.Errorf("queue %d: counted %d, received %d", q, st.Queues[q].RxPackets, per[q])
		}
	}
	closeAll(t, pool, n)
}

// flowKey is a flow's 5-tuple with the endpoints in a canonical order, so
// both directions map to one key.
type flowKey struct {
	a, b  [16]byte
	pa    uint16
	pb    uint16
	proto uint8
}

func canonical(f *classify.Flow) flowKey {
	var a, b [16]byte
	sa, sb := f.Src().As16(), f.Dst().As16()
	pa, pb := f.SrcPort, f.DstPort
	if string(sa[:]) > string(sb[:]) || sa == sb && pa > pb {
		sa, sb, pa, pb = sb, sa, pb, pa
	}
	a, b = sa, sb
	return flowKey{a, b, pa, pb, f.Proto}
}

// symmetricRun wires NIC A to NIC B. A's generator sends flows that A's
// driver forwards onto the wire, so B receives them from A; B's generator
// sends the reverse direction of the same flows, which B receives
// directly. It returns, for each flow, the set of B's queues it arrived on.
func symmetricRun(t *testing.T, key []byte) map[flowKey]map[int]bool {
	const queues = 4
	pool := newPool(t, 4096)
	cfg := nicsim.Config{Pool: pool, Queues: queues, RSSKey: key, Rx: descriptor.RxConfig{Descs: 256}, Tx: descriptor.TxConfig{Descs: 256}}
	a, b := newNIC(t, cfg), newNIC(t, cfg)
	if err := nicsim.Connect(a.Port(0), b.Port(0)); err != nil {
		t.Fatal(err)
	}
	gcfg := nicsim.GenConfig{Flows: 64, IPv6: 0.5, TCP: 0.5, Count: 640}
	a.Port(0).Attach(newGen(t, gcfg))
	gcfg.Reverse = true
	b.Port(0).Attach(newGen(t, gcfg))

	seen := map[flowKey]map[int]bool{}
	dirs := map[flowKey]map[[16]byte]bool{}
	var dst [32]descriptor.Packet
	for round := 0; round < 1000; round++ {
		moved := step(t, a) + step(t, b)
		got := 0
		for q := range queues {
			// A forwards what it receives.
			ar, at := a.Port(0).RxRing(q), a.Port(0).TxRing(q)
			if k := ar.Receive(dst[:]); k > 0 {
				if sent, err := at.Transmit(dst[:k]); err != nil || sent != k {
					t.Fatalf("A transmit %d of %d: %v", sent, k, err)
				}
				got += k
			}
			// B records the queue of every flow.
			br := b.Port(0).RxRing(q)
			k := br.Receive(dst[:])
			for _, pk := range dst[:k] {
				var f classify.Flow
				f.Extract(pool.Bytes(pk), &pk)
				key := canonical(&f)
				if seen[key] == nil {
					seen[key], dirs[key] = map[int]bool{}, map[[16]byte]bool{}
				}
				seen[key][q] = true
				dirs[key][f.Src().As16()] = true
			}
			_ = br.Free(dst[:k])
			got += k
		}
		if moved == 0 && got == 0 {
			break
		}
	}
	if st := b.Port(0).Stats().Total; st.RxPackets != 1280 || st.RxMissed != 0 {
		t.Fatalf("B received %+v, want 1280 frames", st)
	}
	for k, d := range dirs {
		if len(d) != 2 {
			t.Fatalf("flow %v seen in %d directions at B", k, len(d))
		}
	}
	closeAll(t, pool, a, b)
	return seen
}

// TestSymmetricRSS checks, end to end through two wired NICs, that with
// classify.SymmetricKey both directions of every flow reach the same queue,
// and that with the default key some flow does not (so the check can fail).
func TestSymmetricRSS(t *testing.T) {
	for _, f := range []struct {
		name      string
		key       []byte
		symmetric bool
	}{{"symmetric key", classify.SymmetricKey[:], true}, {"default key", classify.DefaultKey[:], false}} {
		t.Run(f.name, func(t *testing.T) {
			seen := symmetricRun(t, f.key)
			split := 0
			for _, qs := range seen {
				if len(qs) != 1 {
					split++
				}
			}
			if len(seen) != 64 {
				t.Fatalf("%d flows seen, want 64", len(seen))
			}
			if f.symmetric && split != 0 {
				t.Fatalf("%d of %d flows reached two queues", split, len(seen))
			}
			if !f.symmetric && split == 0 {
				t.Fatal("with the default key every flow kept one queue in both directions")
			}
		})
	}
}

// TestNoRSS checks that a port with RSS off hashes nothing and places every
// frame, of any flow, on queue 0, parsed as with RSS on.
func TestNoRSS(t *testing.T) {
	pool := newPool(t, 1024)
	n := newNIC(t, nicsim.Config{Pool: pool, Queues: 2, NoRSS: true, Rx: descriptor.RxConfig{Descs: 256}})
	port := n.Port(0)
	port.Attach(newGen(t, nicsim.GenConfig{Flows: 97, IPv6: 0.5, TCP: 0.5, Count: 200, Sizes: nicsim.IMIX}))
	for step(t, n) > 0 {
	}
	var dst [32]descriptor.Packet
	if k := port.RxRing(1).Receive(dst[:]); k != 0 {
		t.Fatalf("%d packets on queue 1 with RSS off", k)
	}
	got := 0
	for r := port.RxRing(0); ; {
		k := r.Receive(dst[:])
		if k == 0 {
			break
		}
		for _, pk := range dst[:k] {
			var want descriptor.Packet
			classify.Parse(pool.Bytes(pk), &want)
			if pk.Flags.Has(descriptor.FlagHash) || pk.Hash != 0 || pk.Queue != 0 || pk.Type != want.Type ||
				!pk.Flags.Has(descriptor.FlagParsed) {
				t.Fatalf("packet %+v with RSS off (parse %v)", pk, want.Type)
			}
		}
		got += k
		_ = r.Free(dst[:k])
	}
	if got != 200 {
		t.Fatalf("received %d of 200", got)
	}
	closeAll(t, pool, n)
}

package classify

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/frame"
	"github.com/ringkit/ringkit/ring"
)

// frameTable resolves a packet's Buf as an index into a table of frames.
type frameTable [][]byte

func (t frameTable) Bytes(p descriptor.Packet) []byte { return t[p.Buf][:p.Len] }

// outputs makes ports×NumTC SPSC rings of capacity c.
func outputs(t testing.TB, ports, c int) ([][NumTC]Output, [][NumTC]*ring.SPSC[descriptor.Packet]) {
	t.Helper()
	out := make([][NumTC]Output, ports)
	rings := make([][NumTC]*ring.SPSC[descriptor.Packet], ports)
	for p := range out {
		for tc := range NumTC {
			r, err := ring.NewSPSC[descriptor.Packet](c)
			if err != nil {
				t.Fatal(err)
			}
			out[p][tc], rings[p][tc] = r, r
		}
	}
	return out, rings
}

// drops records what a Stage hands to its drop callback.
type drops struct {
	mu  sync.Mutex
	ids map[Verdict][]descriptor.Buf
}

func (d *drops) fn(v Verdict, pkts []descriptor.Packet) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ids == nil {
		d.ids = map[Verdict][]descriptor.Buf{}
	}
	for _, p := range pkts {
		d.ids[v] = append(d.ids[v], p.Buf)
	}
}

func (d *drops) get(v Verdict) []descriptor.Buf {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]descriptor.Buf(nil), d.ids[v]...)
}

// exactlyOnce runs producers into an MPSC input ring, a started Stage, and
// one consumer per output port, and checks that every packet is delivered
// to the ring of its (port, TC) or handed to the drop callback, exactly
// once, each flow in order.
func exactlyOnce(t *testing.T, policy FullPolicy) {
	const producers, flowsPer = 4, 16
	n := 40000
	if testing.Short() {
		n = 8000
	}
	r := rand.New(rand.NewPCG(21, 22))
	table := make(frameTable, n)
	type want struct {
		port, tc uint8
		flow     int
		bad      bool
	}
	wants := make([]want, n)
	specs := make([]frame.Spec, producers*flowsPer)
	for i := range specs {
		specs[i] = frame.Spec{Src: netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), Dst: netip.AddrFrom4([4]byte{10, 1, 0, 1}),
			Proto: ProtoUDP, SrcPort: uint16(i * 100), DstPort: 9, DSCP: uint8(r.IntN(64)), PayloadLen: 8}
	}
	for id := range n {
		f := (id%producers)*flowsPer + r.IntN(flowsPer) // producer id%producers sends this packet
		s := specs[f]
		s.Payload = []byte{byte(id), byte(id >> 8), byte(id >> 16), 0, 0, 0, 0, 0}
		table[id] = frame.Build(nil, &s)
		w := want{tc: s.DSCP >> 3, flow: f}
		if s.SrcPort >= 1000 {
			w.port = 1
		}
		if id%97 == 0 {
			table[id] = table[id][:20] // malformed
			w.bad = true
		}
		wants[id] = w
	}
	rs := mustRuleSet(t, RuleConfig{
		Rules:   []Rule{{Name: "low", Proto: ProtoUDP, SrcPorts: PortRange{0, 999}, Action: Action{0, TCFromDSCP}}},
		Default: &Action{1, TCFromDSCP},
	})
	in, err := ring.NewMPSC[descriptor.Packet](256)
	if err != nil {
		t.Fatal(err)
	}
	out, rings := outputs(t, 2, 16)
	var d drops
	var done atomic.Int64
	seen := make([]atomic.Int32, n)
	st, err := NewStage(StageConfig{In: in, Frames: table, Out: out, Rules: rs, Full: policy, CacheSize: 64,
		Drop: func(v Verdict, pkts []descriptor.Packet) {
			d.fn(v, pkts)
			for _, p := range pkts {
				seen[p.Buf].Add(1)
			}
			done.Add(int64(len(pkts)))
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- st.Run(ctx) }()
	var wg sync.WaitGroup
	errs := make(chan error, producers+2)
	for pr := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := pr; id < n; id += producers {
				if err := in.Enqueue(ctx, descriptor.Packet{Buf: descriptor.Buf(id), Len: uint16(len(table[id]))}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for port := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := map[int]int{} // flow -> last id seen
			buf := make([]descriptor.Packet, 8)
			for done.Load() < int64(n) && ctx.Err() == nil {
				got := 0
				for tc := range NumTC {
					k := rings[port][tc].DequeueBurst(buf)
					got += k
					for _, p := range buf[:k] {
						id := int(p.Buf)
						w := wants[id]
						if w.bad || int(w.port) != port || int(w.tc) != tc || p.OutPort != uint16(port) || p.TC != uint8(tc) {
							errs <- errors.New("packet on the wrong ring")
							cancel()
							return
						}
						if l, ok := last[w.flow]; ok && l >= id {
							errs <- errors.New("flow out of order")
							cancel()
							return
						}
						last[w.flow] = id
						seen[id].Add(1)
					}
					done.Add(int64(k))
				}
				if got == 0 {
					time.Sleep(10 * time.Microsecond)
				}
			}
		}()
	}
	wg.Wait()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-ran; err != nil && err != ctx.Err() {
		t.Fatalf("Run = %v", err)
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatalf("timed out: %d of %d accounted for", done.Load(), n)
	}
	bad := 0
	for id := range n {
		if c := seen[id].Load(); c != 1 {
			t.Fatalf("packet %d seen %d times", id, c)
		}
		if wants[id].bad {
			bad++
		}
	}
	stats := st.Stats()
	if stats.Packets != uint64(n) || stats.Malformed != uint64(bad) || stats.Forwarded+stats.RingFull+stats.Malformed != uint64(n) {
		t.Fatalf("stats %+v, %d packets, %d malformed", stats, n, bad)
	}
	if got := len(d.get(DropMalformed)); got != bad {
		t.Fatalf("%d malformed dropped, want %d", got, bad)
	}
	if policy == BackPressure && stats.RingFull != 0 {
		t.Fatalf("back-pressure dropped %d", stats.RingFull)
	}
	if uint64(len(d.get(DropRingFull))) != stats.RingFull {
		t.Fatalf("ring-full drops: callback %d, counter %d", len(d.get(DropRingFull)), stats.RingFull)
	}
}

func TestStageExactlyOnceBackPressure(t *testing.T) { exactlyOnce(t, BackPressure) }

func TestStageExactlyOnceDropWhenFull(t *testing.T) { exactlyOnce(t, DropWhenFull) }

// stepFixture is a Stage over an SPSC input of n packets of one flow
// (port 0, TC 0), with output rings of capacity c.
func stepFixture(t *testing.T, n, c int, policy FullPolicy) (*Stage, *ring.SPSC[descriptor.Packet], [][NumTC]*ring.SPSC[descriptor.Packet], *drops) {
	t.Helper()
	b := frame.Build(nil, &frame.Spec{Src: a4, Dst: b4, Proto: ProtoTCP, SrcPort: 1, DstPort: 2})
	table := make(frameTable, n)
	in, _ := ring.NewSPSC[descriptor.Packet](n)
	for i := range table {
		table[i] = b
		in.TryEnqueue(descriptor.Packet{Buf: descriptor.Buf(i), Len: uint16(len(b))})
	}
	out, rings := outputs(t, 1, c)
	d := &drops{}
	st, err := NewStage(StageConfig{In: in, Frames: table, Out: out, Rules: mustRuleSet(t, RuleConfig{Default: &Action{0, 0}}), Full: policy, Drop: d.fn})
	if err != nil {
		t.Fatal(err)
	}
	return st, in, rings, d
}

func bufs(from, to int) []descriptor.Buf {
	var b []descriptor.Buf
	for i := from; i < to; i++ {
		b = append(b, descriptor.Buf(i))
	}
	return b
}

func equalBufs(a, b []descriptor.Buf) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestStageDropWhenFull(t *testing.T) {
	st, _, rings, d := stepFixture(t, 40, 8, DropWhenFull)
	if n := st.Step(); n != 32 {
		t.Fatalf("Step took %d", n)
	}
	if got := d.get(DropRingFull); !equalBufs(got, bufs(8, 32)) {
		t.Fatalf("dropped %v", got)
	}
	if n := st.Step(); n != 8 {
		t.Fatalf("second Step took %d", n)
	}
	s := st.Stats()
	if s.Forwarded != 8 || s.RingFull != 32 || rings[0][0].Len() != 8 {
		t.Fatalf("stats %+v, ring %d", s, rings[0][0].Len())
	}
	if st.Step() != 0 {
		t.Fatal("Step on empty input did work")
	}
	st.Close()
}

func TestStageBackPressure(t *testing.T) {
	st, in, rings, d := stepFixture(t, 42, 8, BackPressure)
	if n := st.Step(); n != 32 {
		t.Fatalf("Step took %d", n)
	}
	if n := st.Step(); n != 0 || in.Len() != 10 {
		t.Fatalf("blocked Step moved %d, input left %d (want 0, 10)", n, in.Len())
	}
	// Each round frees the ring; the stage delivers 8 held packets, then,
	// with none held, takes the last 10 from the input and holds 2.
	var got []descriptor.Buf
	buf := make([]descriptor.Packet, 8)
	for range 4 {
		k := rings[0][0].DequeueBurst(buf)
		for _, p := range buf[:k] {
			got = append(got, p.Buf)
		}
		st.Step()
	}
	if !equalBufs(got, bufs(0, 32)) || in.Len() != 0 || rings[0][0].Len() != 8 {
		t.Fatalf("delivered %v, input %d, ring %d", got, in.Len(), rings[0][0].Len())
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	s := st.Stats()
	if dc := d.get(DropClosed); !equalBufs(dc, bufs(40, 42)) || s.Closed != 2 || s.RingFull != 0 || s.Forwarded != 40 {
		t.Fatalf("closed %v, stats %+v", dc, s)
	}
}

func TestStageMalformedAndNoRoute(t *testing.T) {
	good := frame.Build(nil, &frame.Spec{Src: a4, Dst: b4, Proto: ProtoTCP, SrcPort: 1, DstPort: 2})
	toPort5 := frame.Build(nil, &frame.Spec{Src: a4, Dst: b4, Proto: ProtoTCP, SrcPort: 5, DstPort: 2})
	unrouted := frame.Build(nil, &frame.Spec{Src: b4, Dst: a4, Proto: ProtoUDP, SrcPort: 1, DstPort: 2})
	table := frameTable{good, good[:30], unrouted, toPort5, good}
	in, _ := ring.NewSPSC[descriptor.Packet](8)
	for i, b := range table {
		in.TryEnqueue(descriptor.Packet{Buf: descriptor.Buf(i), Len: uint16(len(b))})
	}
	out, rings := outputs(t, 1, 8)
	var d drops
	rs := mustRuleSet(t, RuleConfig{Rules: []Rule{
		{Src: netip.PrefixFrom(a4, 32), SrcPorts: PortRange{5, 5}, Proto: ProtoTCP, Action: Action{5, 0}},
		{Src: netip.PrefixFrom(a4, 32), Action: Action{0, 3}},
	}})
	st, err := NewStage(StageConfig{In: in, Frames: table, Out: out, Rules: rs, Drop: d.fn})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.Step() != 5 {
		t.Fatal("Step did not take 5")
	}
	if !equalBufs(d.get(DropMalformed), []descriptor.Buf{1}) || !equalBufs(d.get(DropNoRoute), []descriptor.Buf{2, 3}) || rings[0][3].Len() != 2 {
		t.Fatalf("malformed %v, no route %v, delivered %d", d.get(DropMalformed), d.get(DropNoRoute), rings[0][3].Len())
	}
	s := st.Stats()
	if s.Malformed != 1 || s.NoRoute != 2 || s.Forwarded != 2 || st.ParseStats().Get(ReasonIPv4Short) != 1 {
		t.Fatalf("stats %+v", s)
	}
	if rs.Hits(1) != 2 || rs.Hits(0) != 1 {
		t.Fatalf("rule hits %d %d", rs.Hits(0), rs.Hits(1))
	}
}

func TestStageSetRules(t *testing.T) {
	st, in, rings, _ := stepFixture(t, 64, 64, DropWhenFull)
	defer st.Close()
	st.Step()
	if rings[0][0].Len() != 32 {
		t.Fatalf("first rules: %d on TC 0", rings[0][0].Len())
	}
	if err := st.SetRules(mustRuleSet(t, RuleConfig{Default: &Action{0, 5}})); err != nil {
		t.Fatal(err)
	}
	if st.SetRules(nil) == nil {
		t.Fatal("nil rules accepted")
	}
	st.Step()
	if rings[0][5].Len() != 32 || in.Len() != 0 {
		t.Fatalf("new rules: %d on TC 5", rings[0][5].Len())
	}
}

func TestStageRunAndClose(t *testing.T) {
	st, _, rings, _ := stepFixture(t, 40, 64, DropWhenFull)
	errc := make(chan error, 1)
	go func() { errc <- st.Run(context.Background()) }()
	deadline := time.Now().Add(10 * time.Second)
	for rings[0][0].Len() != 40 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if rings[0][0].Len() != 40 {
		t.Fatal("Run did not move the packets")
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st.Step() // Run has returned: under -race a Step racing with it would be reported
	if err := <-errc; err != nil {
		t.Fatalf("Run after Close: %v", err)
	}
	if err := st.Run(context.Background()); err != nil {
		t.Fatalf("Run on a closed stage = %v, want nil at once", err)
	}
	st.Close() // idempotent

	st2, _, _, _ := stepFixture(t, 1, 1, DropWhenFull)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	if err := st2.Run(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run with an ending ctx: %v", err)
	}
	st2.Close()
}

func TestNewStageErrors(t *testing.T) {
	st, in, _, _ := stepFixture(t, 1, 1, DropWhenFull)
	st.Close()
	out, _ := outputs(t, 1, 1)
	rs := mustRuleSet(t, RuleConfig{})
	good := StageConfig{In: in, Frames: frameTable{}, Out: out, Rules: rs, Drop: func(Verdict, []descriptor.Packet) {}}
	holed := make([][NumTC]Output, 2)
	holed[0] = out[0]
	cases := map[string]func(c *StageConfig){
		"In is nil":        func(c *StageConfig) { c.In = nil },
		"Frames is nil":    func(c *StageConfig) { c.Frames = nil },
		"Drop is nil":      func(c *StageConfig) { c.Drop = nil },
		"Rules is nil":     func(c *StageConfig) { c.Rules = nil },
		"no output port":   func(c *StageConfig) { c.Out = nil },
		"Out[1][0] is nil": func(c *StageConfig) { c.Out = holed },
		"Full policy 7":    func(c *StageConfig) { c.Full = 7 },
		"Burst -1":         func(c *StageConfig) { c.Burst = -1 },
	}
	for want, f := range cases {
		c := good
		f(&c)
		if _, err := NewStage(c); !errors.Is(err, ErrConfig) || !contains(err.Error(), want) {
			t.Errorf("%s: %v", want, err)
		}
	}
	if s, err := NewStage(good); err != nil {
		t.Fatal(err)
	} else {
		s.Close()
	}
}

func TestStageStepAllocs(t *testing.T) {
	st, in, rings, _ := stepFixture(t, 32, 64, DropWhenFull)
	defer st.Close()
	buf := make([]descriptor.Packet, 32)
	a := testing.AllocsPerRun(100, func() {
		st.Step()
		k := rings[0][0].DequeueBurst(buf)
		in.EnqueueBurst(buf[:k])
	})
	if a != 0 {
		t.Fatalf("%v allocs per Step", a)
	}
}

func TestVerdictString(t *testing.T) {
	for v, want := range map[Verdict]string{Forward: "forward", DropMalformed: "malformed", DropNoRoute: "no route", DropRingFull: "ring full", DropClosed: "closed", 9: "unknown verdict"} {
		if v.String() != want {
			t.Errorf("%d: %q", v, v.String())
		}
	}
}

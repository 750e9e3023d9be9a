package tcpip

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	eth "github.com/ringkit/ringkit/frame"
)

// receiver is an established connection of a stack on a bench, fed
// segments of a peer's stream built by hand.
type receiver struct {
	b    *bench
	c    *Conn
	irs  uint32 // the peer's sequence number of stream byte 0
	got  []byte // what the application read
	acks []uint32
}

func newReceiver(t *testing.T, cfg StackConfig, irs uint32) *receiver {
	b := newBench(t, cfg)
	vm, peer := netip.AddrPortFrom(vmIP, 40000), netip.AddrPortFrom(peerIP, 80)
	s := &Session{ID: 1, Tuple: FiveTuple{Proto: eth.ProtoTCP, Src: vm, Dst: peer}, State: Established,
		SndUna: 1000, SndNxt: 1000, RcvNxt: irs, SndWnd: 1 << 16, RcvWnd: 1 << 16, MSS: 1460}
	if err := b.st.Import([]*Session{s}); err != nil {
		t.Fatal(err)
	}
	if err := b.st.ImportNeighbors([]Neighbor{{Addr: peerIP, MAC: peerMAC, State: NeighborReachable, TimerIn: time.Minute}}); err != nil {
		t.Fatal(err)
	}
	return &receiver{b: b, c: b.st.Conn(1), irs: irs}
}

// send gives the stack stream bytes [off, off+len(data)), with the FIN
// after them when fin is set, and reads what the application can.
func (r *receiver) send(off int, data []byte, fin bool) {
	flags := eth.TCPAck | eth.TCPPsh
	if fin {
		flags |= eth.TCPFin
	}
	spec := eth.Spec{DstMAC: vmMAC, SrcMAC: peerMAC, Src: peerIP, Dst: vmIP, Proto: eth.ProtoTCP, SrcPort: 80, DstPort: 40000,
		Seq: r.irs + uint32(off), Ack: 1000, TCPFlags: flags, Payload: data}
	r.b.st.Input(eth.Build(nil, &spec))
	for _, f := range r.b.take() {
		var seg segment
		if ok, err := parseSegment(f, &seg); ok && err == nil {
			r.acks = append(r.acks, seg.ack)
		}
	}
	var buf [64 << 10]byte
	for {
		n, _ := r.c.Read(buf[:])
		if n == 0 {
			break
		}
		r.got = append(r.got, buf[:n]...)
	}
}

// TestOutOfOrderModel feeds a stream cut into segments, reordered,
// duplicated, overlapping and with some lost until they are sent again,
// and compares after every segment with a reference model: the
// application has read exactly the stream up to the first byte no segment
// received so far carried, every acknowledgement is that point, and the
// FIN counts once every byte before it came.
func TestOutOfOrderModel(t *testing.T) {
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 1))
		stream := make([]byte, 1000+rng.IntN(60000))
		for i := range stream {
			stream[i] = byte(rng.Uint32())
		}
		irs := 0xffffffff - rng.Uint32N(30000) // the stream crosses 2^32
		r := newReceiver(t, StackConfig{OutOfOrder: 1 << 10}, irs)
		// Segments of 1 to 1460 bytes, and some overlapping ones.
		type piece struct{ off, n int }
		var pieces []piece
		for off := 0; off < len(stream); {
			n := min(1+rng.IntN(1460), len(stream)-off)
			pieces = append(pieces, piece{off, n})
			if rng.IntN(8) == 0 {
				a := max(off-rng.IntN(2000), 0)
				pieces = append(pieces, piece{a, min(off+n-a+rng.IntN(500), len(stream)-a)})
			}
			off += n
		}
		rng.Shuffle(len(pieces), func(i, j int) {
			if abs(i-j) < 12 { // reordered within a window's worth
				pieces[i], pieces[j] = pieces[j], pieces[i]
			}
		})
		covered := make([]bool, len(stream)+1) // the FIN's byte at the end
		next := func() int { return slices.Index(covered, false) }
		deliver := func(p piece) {
			fin := p.off+p.n == len(stream)
			r.send(p.off, stream[p.off:p.off+p.n], fin)
			for i := p.off; i < p.off+p.n; i++ {
				covered[i] = true
			}
			if fin {
				covered[len(stream)] = true
			}
			want := next()
			if want < 0 {
				want = len(stream) + 1
			}
			if got := min(want, len(stream)); len(r.got) != got || !bytes.Equal(r.got, stream[:got]) {
				t.Fatalf("seed %d: the application read %d bytes (equal %v), want %d", seed, len(r.got), bytes.Equal(r.got, stream[:min(len(r.got), len(stream))]), got)
			}
			if ack := r.acks[len(r.acks)-1]; ack != irs+uint32(want) {
				t.Fatalf("seed %d: acknowledged %d, want %d", seed, ack-irs, want)
			}
		}
		var lost []piece
		for _, p := range pieces {
			if rng.IntN(10) == 0 {
				lost = append(lost, p)
				continue
			}
			deliver(p)
		}
		for _, p := range lost { // sent again
			deliver(p)
		}
		if r.c.State() != CloseWait || len(r.c.ooo) != 0 {
			t.Fatalf("seed %d: %v with %d stretches held", seed, r.c.State(), len(r.c.ooo))
		}
		if st := r.b.st.Stats(); st.OutOfOrder == 0 || st.OutOfOrderDropped != 0 {
			t.Fatalf("seed %d: stats %+v", seed, st)
		}
	}
}

func abs(x int) int { return max(x, -x) }

// The queue holds at most OutOfOrder stretches, keeping those nearest to
// rcv_nxt, and nothing beyond the window; what it drops is counted, and
// comes in when sent again.
func TestOutOfOrderBounded(t *testing.T) {
	stream := make([]byte, 10000)
	for i := range stream {
		stream[i] = byte(i * 7)
	}
	r := newReceiver(t, StackConfig{OutOfOrder: 2, RecvBuffer: 8000}, 5000)
	seg := func(i int) (int, []byte) { return i * 1000, stream[i*1000 : i*1000+1000] }
	for _, i := range []int{2, 4, 6} { // a third stretch: the farthest is dropped
		off, d := seg(i)
		r.send(off, d, false)
	}
	st := r.b.st.Stats()
	if len(r.c.ooo) != 2 || r.c.ooo[1].seq != 5000+4000 || st.OutOfOrder != 3 || st.OutOfOrderDropped != 1 {
		t.Fatalf("held %d stretches, stats %+v; want 2, 3 out of order, 1 dropped", len(r.c.ooo), st)
	}
	off, d := seg(3) // joins 2 and 4 into one stretch
	r.send(off, d, false)
	if len(r.c.ooo) != 1 || len(r.c.ooo[0].data) != 3000 {
		t.Fatalf("held %d stretches after the gap between them filled", len(r.c.ooo))
	}
	off, d = seg(8) // room in the queue, but beyond the window of 8000 bytes
	r.send(off, d, false)
	if st := r.b.st.Stats(); st.OutOfOrderDropped != 2 || len(r.c.ooo) != 1 {
		t.Fatalf("a segment beyond the window: stats %+v", st)
	}
	for _, i := range []int{0, 1} {
		off, d := seg(i)
		r.send(off, d, false)
	}
	if len(r.got) != 5000 {
		t.Fatalf("read %d bytes after the first gap filled, want 5000", len(r.got))
	}
	for _, i := range []int{9, 6, 7, 5, 8} {
		off, d := seg(i)
		r.send(off, d, false)
	}
	if !bytes.Equal(r.got, stream) {
		t.Fatalf("read %d bytes, equal %v", len(r.got), bytes.Equal(r.got, stream[:min(len(r.got), len(stream))]))
	}

	// Without a queue every segment beyond rcv_nxt is dropped.
	r = newReceiver(t, StackConfig{OutOfOrder: -1}, 5000)
	off, d = seg(1)
	r.send(off, d, false)
	if st := r.b.st.Stats(); len(r.c.ooo) != 0 || st.OutOfOrderDropped != 1 {
		t.Fatalf("OutOfOrder -1: held %d, stats %+v", len(r.c.ooo), st)
	}
}

// Held segments are neither logged nor part of the session: the
// WriteAhead log is told of payload only in order, at rcv_nxt, and a
// Session exported while segments are held carries only what was taken.
func TestOutOfOrderNotLogged(t *testing.T) {
	log := &recorder{room: 1 << 20, rcvNxt: 5000}
	r := newReceiver(t, StackConfig{WriteAhead: log}, 5000)
	data := bytes.Repeat([]byte{1, 2, 3, 4}, 500)
	r.send(1000, data[1000:2000], false)
	if log.rcvNxt != 5000 || slices.Contains(log.events, "received") {
		t.Fatalf("a held segment was logged: %v", log.events)
	}
	if s := r.c.Session(); s.RcvNxt != 5000 || len(s.RecvQueue) != 0 {
		t.Fatalf("session holds rcv_nxt %d, %d bytes", s.RcvNxt, len(s.RecvQueue))
	}
	r.send(0, data[:1000], false)
	if log.rcvNxt != 7000 || !bytes.Equal(r.got, data) {
		t.Fatalf("log rcv_nxt %d, read %d bytes", log.rcvNxt, len(r.got))
	}
}

// A Linux SYN offers MSS, SACK-permitted, timestamps and window scale; the
// SYN-ACK takes all but SACK, and a SACK option arriving anyway changes
// nothing.
func TestDeclinesSACK(t *testing.T) {
	b := newBench(t, StackConfig{})
	if err := b.st.ImportNeighbors([]Neighbor{{Addr: peerIP, MAC: peerMAC, State: NeighborReachable, TimerIn: time.Minute}}); err != nil {
		t.Fatal(err)
	}
	if err := b.st.Listen(netip.AddrPortFrom(vmIP, 80), func(*Conn) {}); err != nil {
		t.Fatal(err)
	}
	// As Linux orders them: MSS, SACK-permitted, timestamps, NOP, window scale.
	linuxSyn := []byte{2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 9, 0, 0, 0, 0, 1, 3, 3, 7}
	spec := eth.Spec{DstMAC: vmMAC, SrcMAC: peerMAC, Src: peerIP, Dst: vmIP, Proto: eth.ProtoTCP, SrcPort: 5555, DstPort: 80,
		Seq: 100, TCPFlags: eth.TCPSyn, Window: 64240, TCPOptions: linuxSyn}
	b.st.Input(eth.Build(nil, &spec))
	out := b.take()
	if len(out) != 1 {
		t.Fatalf("%d frames for a SYN", len(out))
	}
	pk := gopacket.NewPacket(out[0], layers.LayerTypeEthernet, gopacket.Default)
	tcp, _ := pk.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if tcp == nil || !tcp.SYN || !tcp.ACK {
		t.Fatalf("no SYN-ACK: %v", pk)
	}
	kinds := map[layers.TCPOptionKind]bool{}
	var tsecr uint32
	for _, o := range tcp.Options {
		kinds[o.OptionType] = true
		if o.OptionType == layers.TCPOptionKindTimestamps {
			tsecr = uint32(o.OptionData[4])<<24 | uint32(o.OptionData[5])<<16 | uint32(o.OptionData[6])<<8 | uint32(o.OptionData[7])
		}
	}
	if kinds[layers.TCPOptionKindSACKPermitted] || kinds[layers.TCPOptionKindSACK] ||
		!kinds[layers.TCPOptionKindMSS] || !kinds[layers.TCPOptionKindWindowScale] || tsecr != 9 {
		t.Fatalf("SYN-ACK options %v", tcp.Options)
	}
	// The handshake's ACK, then data with a SACK block and timestamps.
	iss := tcp.Seq
	spec = eth.Spec{DstMAC: vmMAC, SrcMAC: peerMAC, Src: peerIP, Dst: vmIP, Proto: eth.ProtoTCP, SrcPort: 5555, DstPort: 80,
		Seq: 101, Ack: iss + 1, TCPFlags: eth.TCPAck, TCPOptions: tsOption(10, 0)}
	b.st.Input(eth.Build(nil, &spec))
	sack := append([]byte{1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2}, tsOption(11, 0)...)
	spec.TCPOptions, spec.Payload, spec.TCPFlags = sack, []byte("hello"), eth.TCPAck|eth.TCPPsh
	b.st.Input(eth.Build(nil, &spec))
	c := b.st.Conns()[0]
	buf := make([]byte, 16)
	n, _ := c.Read(buf)
	if c.State() != Established || string(buf[:n]) != "hello" || c.Session().SndWScale != 7 || c.Session().TS.Recent != 11 {
		t.Fatalf("%v, read %q, session %+v", c.State(), buf[:n], c.Session())
	}
}

// FuzzOutOfOrder drives the out-of-order queue with arbitrary segments
// of a known stream (each op: offset, length, FIN), relative to a
// sequence number near the wrap, and checks its invariants after each:
// the application read exactly the stream's start, and the queue holds
// at most its bound of sorted stretches, apart, beyond rcv_nxt, within
// the window, each carrying the stream's own bytes.
func FuzzOutOfOrder(f *testing.F) {
	f.Add([]byte{0, 10, 0, 100, 0, 0, 0, 0, 0, 10, 0})
	f.Add([]byte{1, 0, 3, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 4, 0, 0, 0, 0, 10, 0, 0, 0})
	f.Add([]byte{0, 200, 0, 50, 1, 0, 100, 0, 100, 0, 0, 0, 0, 255, 1})
	f.Fuzz(func(t *testing.T, ops []byte) {
		const size, window, bound = 4000, 2048, 4
		stream := make([]byte, size)
		for i := range stream {
			stream[i] = byte(i*131 + i>>8)
		}
		r := newReceiver(&testing.T{}, StackConfig{OutOfOrder: bound, RecvBuffer: window}, 0xfffff800)
		for ; len(ops) >= 5; ops = ops[5:] {
			off := int(ops[0])<<8 | int(ops[1])
			n := int(ops[2])<<8 | int(ops[3])
			off, n = off%size, min(n%1500, size-off%size)
			r.send(off, stream[off:off+n], ops[4]&1 != 0 && off+n == size)
			if len(r.got) > size || !bytes.Equal(r.got, stream[:len(r.got)]) {
				t.Fatalf("read %d bytes not the stream's start", len(r.got))
			}
			c := r.c
			if len(c.ooo) > bound {
				t.Fatalf("%d stretches held", len(c.ooo))
			}
			prev := c.s.RcvNxt
			for i, h := range c.ooo {
				if !seqnumLT(prev, h.seq) && !(i == 0 && prev == h.seq && len(h.data) == 0) {
					t.Fatalf("stretch %d at %d not beyond %d", i, h.seq-r.irs, prev-r.irs)
				}
				o := int(h.seq - r.irs)
				if o+len(h.data) > size || !bytes.Equal(h.data, stream[o:o+len(h.data)]) {
					t.Fatalf("stretch %d at %d holds bytes not the stream's", i, o)
				}
				if d := int(h.end() - c.s.RcvNxt); d > window {
					t.Fatalf("stretch %d ends %d bytes past rcv_nxt", i, d)
				}
				prev = h.end()
			}
		}
	})
}

func seqnumLT(a, b uint32) bool { return int32(a-b) < 0 }

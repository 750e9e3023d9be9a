package sched_test

import (
	"math/rand/v2"
	"testing"

	"go.uber.org/goleak"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/sched"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sliceQueue is a Queue over a fixed list of packets.
type sliceQueue struct{ pkts []descriptor.Packet }

func (q *sliceQueue) DequeueBurst(dst []descriptor.Packet) int {
	n := copy(dst, q.pkts)
	q.pkts = q.pkts[n:]
	return n
}

func (q *sliceQueue) Len() int { return len(q.pkts) }

// lens returns a sliceQueue of packets of the given lengths, each with a
// unique Buf (base+i) and TC tc.
func lens(tc uint8, base uint32, l ...uint16) *sliceQueue {
	q := &sliceQueue{}
	for i, n := range l {
		q.pkts = append(q.pkts, descriptor.Packet{Buf: descriptor.Buf(base + uint32(i)), Len: n, TC: tc})
	}
	return q
}

// genQueue is a Queue that never runs dry: a saturating source of packets
// whose lengths are drawn from [lo, hi].
type genQueue struct {
	tc     uint8
	lo, hi uint16
	rng    *rand.Rand
	seq    uint32
}

func newGen(tc uint8, lo, hi uint16, seed uint64) *genQueue {
	return &genQueue{tc: tc, lo: lo, hi: hi, rng: rand.New(rand.NewPCG(seed, uint64(tc)))}
}

func (q *genQueue) DequeueBurst(dst []descriptor.Packet) int {
	for i := range dst {
		n := q.lo
		if q.hi > q.lo {
			n += uint16(q.rng.IntN(int(q.hi-q.lo) + 1))
		}
		q.seq++
		dst[i] = descriptor.Packet{Buf: descriptor.Buf(q.seq), Len: n, TC: q.tc}
	}
	return len(dst)
}

func (q *genQueue) Len() int { return 1 << 20 }

// idleQueue never has a packet.
type idleQueue struct{}

func (idleQueue) DequeueBurst([]descriptor.Packet) int { return 0 }
func (idleQueue) Len() int                             { return 0 }

// recorder is a Sink that keeps what it is given and counts wire bytes per
// class.
type recorder struct {
	overhead int
	keep     bool
	got      []descriptor.Packet
	pkts     []uint64
	bytes    []uint64 // wire bytes per TC
}

func newRecorder(nTC, overhead int, keep bool) *recorder {
	return &recorder{overhead: overhead, keep: keep, pkts: make([]uint64, nTC), bytes: make([]uint64, nTC)}
}

func (r *recorder) TransmitBurst(p []descriptor.Packet) int {
	for i := range p {
		r.pkts[p[i].TC]++
		r.bytes[p[i].TC] += uint64(p[i].Len) + uint64(r.overhead)
	}
	if r.keep {
		r.got = append(r.got, p...)
	}
	return len(p)
}

func (r *recorder) total() uint64 {
	var s uint64
	for _, b := range r.bytes {
		s += b
	}
	return s
}

func mustPort(t testing.TB, cfg sched.PortConfig) *sched.Port {
	t.Helper()
	p, err := sched.NewPort(cfg)
	if err != nil {
		t.Fatalf("NewPort: %v", err)
	}
	return p
}

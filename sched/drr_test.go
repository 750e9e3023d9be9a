package sched_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/sched"
)

// label names a packet by its class letter and length, as "A200".
func label(p descriptor.Packet) string { return fmt.Sprintf("%c%d", 'A'+p.TC, p.Len) }

// TestDRROrder checks the classic Shreedhar–Varghese order: with a quantum
// of 500 bytes, A=[200 750 300], B=[600 100], C=[400] go out as
// A200 C400 A750 B600 B100 A300 (round 1: A sends 200 and keeps 300, B's
// 600 does not fit 500, C sends 400; round 2: A has 800 and sends 750, B
// has 1000 and sends 600 and 100; round 3: A has 550 and sends 300).
func TestDRROrder(t *testing.T) {
	rec := newRecorder(3, 0, true)
	p := mustPort(t, sched.PortConfig{
		Rate: 1e12, Overhead: sched.NoOverhead, DRRQuantum: 500, Sink: rec,
		TCs: []sched.TCConfig{
			{Name: "A", Weight: 1, Queue: lens(0, 0, 200, 750, 300)},
			{Name: "B", Weight: 1, Queue: lens(1, 10, 600, 100)},
			{Name: "C", Weight: 1, Queue: lens(2, 20, 400)},
		},
	})
	p.Step(0)
	p.Step(time.Millisecond)
	var got []string
	for _, pkt := range rec.got {
		got = append(got, label(pkt))
	}
	want := []string{"A200", "C400", "A750", "B600", "B100", "A300"}
	if !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}

// TestDRRWeightedRounds: quanta of 1500, 3000 and 4500 bytes and 1500-byte
// packets; a budget of exactly ten rounds (10 × 9000 bytes) sends exactly
// 10, 20 and 30 packets.
func TestDRRWeightedRounds(t *testing.T) {
	for _, mode := range []sched.Mode{sched.ModeSerial, sched.ModeParallel} {
		t.Run(modeName(mode), func(t *testing.T) {
			rec := newRecorder(3, 0, false)
			var tcs []sched.TCConfig
			for i, w := range []int{1, 2, 3} {
				tcs = append(tcs, sched.TCConfig{Weight: w, Queue: newGen(uint8(i), 1500, 1500, 1)})
			}
			p := mustPort(t, sched.PortConfig{
				Rate: 1e9, Quantum: 500 * time.Microsecond, Overhead: sched.NoOverhead, DRRQuantum: 1500, Burst: 10 * 9000,
				Sink: rec, TCs: tcs, Mode: mode,
			})
			p.Step(0)
			p.Step(time.Second) // a full bucket: exactly 90000 bytes
			if want := []uint64{10, 20, 30}; !slices.Equal(rec.pkts, want) {
				t.Fatalf("packets per class %v, want %v", rec.pkts, want)
			}
		})
	}
}

func modeName(m sched.Mode) string {
	if m == sched.ModeParallel {
		return "parallel"
	}
	return "serial"
}

// refDRR is deficit round robin as Shreedhar and Varghese wrote it: a FIFO
// of active queues; a queue at the head gets its quantum, sends what its
// deficit covers, and goes to the tail if it still has packets, or leaves
// with its deficit reset.
func refDRR(queues [][]descriptor.Packet, quanta []int) []descriptor.Packet {
	q := make([][]descriptor.Packet, len(queues))
	copy(q, queues)
	deficit := make([]int, len(q))
	var active []int
	for i := range q {
		if len(q[i]) > 0 {
			active = append(active, i)
		}
	}
	var out []descriptor.Packet
	for len(active) > 0 {
		i := active[0]
		active = active[1:]
		deficit[i] += quanta[i]
		for len(q[i]) > 0 && int(q[i][0].Len) <= deficit[i] {
			deficit[i] -= int(q[i][0].Len)
			out = append(out, q[i][0])
			q[i] = q[i][1:]
		}
		if len(q[i]) == 0 {
			deficit[i] = 0
		} else {
			active = append(active, i)
		}
	}
	return out
}

// workload draws random queues and quanta.
func workload(rng *rand.Rand) ([][]descriptor.Packet, []int) {
	n := 1 + rng.IntN(8)
	queues := make([][]descriptor.Packet, n)
	quanta := make([]int, n)
	id := uint32(0)
	for i := range queues {
		quanta[i] = 1 + rng.IntN(3000)
		for range rng.IntN(60) {
			id++
			queues[i] = append(queues[i], descriptor.Packet{Buf: descriptor.Buf(id), TC: uint8(i), Len: uint16(1 + rng.IntN(1500))})
		}
	}
	return queues, quanta
}

// runDRR schedules the workload with a small, irregular budget per step,
// so that turns are cut by the budget and resumed in later steps.
func runDRR(t testing.TB, queues [][]descriptor.Packet, quanta []int, rng *rand.Rand, burst int) []descriptor.Packet {
	rec := newRecorder(len(queues), 0, true)
	var tcs []sched.TCConfig
	total := 0
	for i := range queues {
		tcs = append(tcs, sched.TCConfig{Weight: quanta[i], Queue: &sliceQueue{pkts: slices.Clone(queues[i])}})
		total += len(queues[i])
	}
	p := mustPort(t, sched.PortConfig{
		Rate: 8e6, Overhead: sched.NoOverhead, DRRQuantum: 1, Burst: 4000, TxBurst: burst,
		Sink: rec, TCs: tcs,
	})
	now := time.Duration(0)
	for steps := 0; len(rec.got) < total; steps++ {
		if steps > 1e6 {
			t.Fatalf("only %d of %d packets after %d steps", len(rec.got), total, steps)
		}
		p.Step(now)
		now += time.Duration(50+rng.IntN(3000)) * time.Microsecond // 50..3050 bytes
	}
	return rec.got
}

// The dynamic workloads below run a port through many steps with packets
// arriving between them, so that classes and whole priority levels drain
// and come back, and compare every step with refSteps, a slow model of
// the package's contract: strict priority between levels; within a level,
// deficit round robin over the classes in the order given, the next turn
// going to the class after the one whose turn ended last; a turn cut short
// by the port's budget resumes in the next step without a second quantum;
// a class held by its cap ends its turn and keeps its deficit; a class
// found empty loses its deficit. Time is counted in microseconds and rates
// in whole bytes per microsecond, so every token count is exact.

const (
	dynPortRate  = 4    // bytes per µs: 32 Mb/s
	dynPortDepth = 8000 // bytes, above the 4000 the port earns per 1 ms quantum
)

// dynClass is one class of a dynamic workload.
type dynClass struct {
	quantum int
	prio    int
	rate    int64 // cap in bytes per µs; 0 for none
	depth   int64 // the cap's bucket depth in bytes
}

// dynStep is one step: the time since the previous one (0 for the first)
// and the packets that arrive on each class just before it.
type dynStep struct {
	dt     int64 // µs
	arrive [][]descriptor.Packet
}

type dynWorkload struct {
	classes []dynClass
	steps   []dynStep
	burst   int // TxBurst
}

// dynamicWorkload draws classes with random quanta, priorities and caps,
// and steps with random arrivals, sizes and gaps, among them idle periods
// long enough to fill every bucket.
func dynamicWorkload(rng *rand.Rand) dynWorkload {
	w := dynWorkload{burst: 1 + rng.IntN(40)}
	n := 1 + rng.IntN(8)
	levels := 1 + rng.IntN(3)
	for range n {
		c := dynClass{quantum: 1 + rng.IntN(3000), prio: rng.IntN(levels)}
		if rng.IntN(4) == 0 {
			c.rate = 1 + rng.Int64N(2) // 8 or 16 Mb/s
			c.depth = 2000 + rng.Int64N(4001)
		}
		w.classes = append(w.classes, c)
	}
	id := uint32(0)
	for s := range 20 + rng.IntN(120) {
		st := dynStep{arrive: make([][]descriptor.Packet, n)}
		switch {
		case s == 0:
		case rng.IntN(10) == 0:
			st.dt = 10_000 + rng.Int64N(40_000) // idle: every bucket fills
		default:
			st.dt = 50 + rng.Int64N(3000)
		}
		if rng.IntN(3) != 0 {
			for i := range n {
				if rng.IntN(2) == 0 {
					continue
				}
				for range rng.IntN(6) {
					id++
					st.arrive[i] = append(st.arrive[i], descriptor.Packet{Buf: descriptor.Buf(id), TC: uint8(i), Len: uint16(1 + rng.IntN(1500))})
				}
			}
		}
		w.steps = append(w.steps, st)
	}
	return w
}

// staticWorkload is a workload of the static kind (every packet there
// before the first step, one level, no caps) with irregular budgets.
func staticWorkload(queues [][]descriptor.Packet, quanta []int, rng *rand.Rand, burst int) dynWorkload {
	w := dynWorkload{burst: burst}
	for _, q := range quanta {
		w.classes = append(w.classes, dynClass{quantum: q})
	}
	w.steps = []dynStep{{arrive: queues}}
	return w
}

// refLevel is one priority level of refSteps: its classes in the order
// given, the ring position where the next turn is looked for, and the
// class whose turn is in progress (-1 if none).
type refLevel struct {
	members []int
	next    int
	turn    int
}

// refSteps runs the model over w and returns, per step, the packets sent.
// Steps after the last of w (with no arrivals, 1 ms apart) run until every
// queue is empty.
func refSteps(w dynWorkload) [][]descriptor.Packet {
	n := len(w.classes)
	queues := make([][]descriptor.Packet, n)
	deficit := make([]int64, n)
	ctok := make([]int64, n)
	var ptok int64
	var levels []*refLevel
	for pr := 0; pr <= sched.MaxPriority; pr++ {
		l := &refLevel{turn: -1}
		for i, c := range w.classes {
			if c.prio == pr {
				l.members = append(l.members, i)
			}
		}
		if len(l.members) > 0 {
			levels = append(levels, l)
		}
	}
	fits := func(i int, size int64) bool { return w.classes[i].rate == 0 || size <= ctok[i] }
	var out [][]descriptor.Packet
	// runLevel serves level l until it has nothing it may send (false) or
	// the port's budget stops it (true).
	runLevel := func(l *refLevel, sent *[]descriptor.Packet) bool {
		for {
			if i := l.turn; i >= 0 {
				for len(queues[i]) > 0 {
					size := int64(queues[i][0].Len)
					if size > deficit[i] || !fits(i, size) {
						break // the turn is over
					}
					if size > ptok {
						return true // the turn resumes in the next step
					}
					deficit[i] -= size
					ptok -= size
					if w.classes[i].rate != 0 {
						ctok[i] -= size
					}
					*sent = append(*sent, queues[i][0])
					queues[i] = queues[i][1:]
				}
				if len(queues[i]) == 0 {
					deficit[i] = 0
				}
				l.turn = -1
				l.next = (slices.Index(l.members, i) + 1) % len(l.members)
			}
			for k := range l.members {
				j := l.members[(l.next+k)%len(l.members)]
				switch {
				case len(queues[j]) == 0:
					deficit[j] = 0
				case fits(j, int64(queues[j][0].Len)):
					l.turn, l.next = j, (l.next+k)%len(l.members)
					deficit[j] += int64(w.classes[j].quantum)
				}
				if l.turn >= 0 {
					break
				}
			}
			if l.turn < 0 {
				return false
			}
		}
	}
	step := func(dt int64, arrive [][]descriptor.Packet, first bool) {
		for i := range arrive {
			queues[i] = append(queues[i], arrive[i]...)
		}
		if !first {
			ptok = min(dynPortDepth, ptok+dynPortRate*dt)
			for i, c := range w.classes {
				ctok[i] = min(c.depth, ctok[i]+c.rate*dt)
			}
		}
		var sent []descriptor.Packet
		for _, l := range levels {
			if runLevel(l, &sent) {
				break
			}
		}
		out = append(out, sent)
	}
	for s, st := range w.steps {
		step(st.dt, st.arrive, s == 0)
	}
	for slices.ContainsFunc(queues, func(q []descriptor.Packet) bool { return len(q) > 0 }) {
		step(1000, nil, false)
	}
	return out
}

// runSteps runs w on a Port, checking after every step that it sent
// exactly what the model sent in that step, and returns everything sent.
func runSteps(t testing.TB, w dynWorkload, want [][]descriptor.Packet) []descriptor.Packet {
	t.Helper()
	rec := newRecorder(len(w.classes), 0, true)
	queues := make([]*sliceQueue, len(w.classes))
	var tcs []sched.TCConfig
	for i, c := range w.classes {
		queues[i] = &sliceQueue{}
		tc := sched.TCConfig{Weight: c.quantum, Priority: c.prio, Queue: queues[i]}
		if c.rate != 0 {
			tc.Rate, tc.Burst = uint64(c.rate)*8e6, c.depth
		}
		tcs = append(tcs, tc)
	}
	p := mustPort(t, sched.PortConfig{
		Rate: dynPortRate * 8e6, Burst: dynPortDepth, Overhead: sched.NoOverhead, DRRQuantum: 1,
		TxBurst: w.burst, Sink: rec, TCs: tcs,
	})
	now := time.Duration(0)
	for s := range want {
		if s < len(w.steps) {
			now += time.Duration(w.steps[s].dt) * time.Microsecond
			for i, a := range w.steps[s].arrive {
				queues[i].pkts = append(queues[i].pkts, a...)
			}
		} else {
			now += time.Millisecond
		}
		before := len(rec.got)
		p.Step(now)
		if got := rec.got[before:]; !slices.Equal(got, want[s]) {
			t.Fatalf("step %d of %d: sent %v, the model sent %v\n(before it: %v)", s, len(want), ids(got), ids(want[s]), ids(rec.got[:before]))
		}
	}
	return rec.got
}

// TestDRRMatchesReference compares the scheduler, step by step, with the
// model on random workloads in which classes and levels drain and come
// back between steps, with random quanta, sizes, priorities, caps and idle
// periods. On static workloads (one level, no caps, every packet there at
// the start) it first checks the model itself against refDRR, Shreedhar
// and Varghese's active-list formulation.
func TestDRRMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for iter := range 200 {
		queues, quanta := workload(rng)
		w := staticWorkload(queues, quanta, rng, 1+rng.IntN(40))
		want := refSteps(w)
		if model, ref := slices.Concat(want...), refDRR(queues, quanta); !slices.Equal(model, ref) {
			t.Fatalf("static workload %d (quanta %v): the model differs from refDRR\nmodel %v\n  ref %v", iter, quanta, ids(model), ids(ref))
		}
		runSteps(t, w, want)
	}
	for iter := range 300 {
		w := dynamicWorkload(rng)
		t.Run(fmt.Sprint("dynamic/", iter), func(t *testing.T) {
			runSteps(t, w, refSteps(w))
		})
	}
}

func ids(p []descriptor.Packet) []string {
	s := make([]string, len(p))
	for i := range p {
		s[i] = fmt.Sprintf("%c%d/%d", 'A'+p[i].TC, p[i].Buf, p[i].Len)
	}
	return s
}

// FuzzDRR decodes a workload from bytes and compares the scheduler with
// refDRR: byte 0 is the number of classes (1..8), then per class a
// quantum (two bytes) and a count (one byte), then two bytes per packet
// length.
func FuzzDRR(f *testing.F) {
	f.Add([]byte{3, 1, 244, 3, 0, 200, 2, 238, 1, 44, 1, 244, 2, 2, 88, 0, 100, 1, 244, 1, 1, 144}, uint8(32))
	f.Add([]byte{1, 0, 1, 2, 5, 220, 0, 1}, uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, burst uint8) {
		if len(data) == 0 {
			return
		}
		n := 1 + int(data[0])%8
		data = data[1:]
		queues := make([][]descriptor.Packet, n)
		quanta := make([]int, n)
		counts := make([]int, n)
		for i := range n {
			if len(data) < 3 {
				return
			}
			quanta[i] = 1 + (int(data[0])<<8|int(data[1]))%3000
			counts[i] = int(data[2]) % 64
			data = data[3:]
		}
		id := uint32(0)
		for i := range n {
			for range counts[i] {
				l := 1
				if len(data) >= 2 {
					l = 1 + (int(data[0])<<8|int(data[1]))%3999
					data = data[2:]
				}
				id++
				queues[i] = append(queues[i], descriptor.Packet{Buf: descriptor.Buf(id), TC: uint8(i), Len: uint16(l)})
			}
		}
		want := refDRR(queues, quanta)
		got := runDRR(t, queues, quanta, rand.New(rand.NewPCG(uint64(len(data)), 1)), 1+int(burst)%64)
		if !slices.Equal(got, want) {
			t.Fatalf("quanta %v: got %v want %v", quanta, ids(got), ids(want))
		}
	})
}

// TestDRRDeficitResetOnEmpty: a class that empties loses its deficit. A
// sends 200 of its 500 and empties (deficit 300 forgotten); then A gets an
// 800-byte packet and B a 400-byte one. A's fresh 500 < 800; B's 500 sends
// 400; A's 1000 sends 800. Had A kept its 300, A800 would have gone first.
func TestDRRDeficitResetOnEmpty(t *testing.T) {
	rec := newRecorder(2, 0, true)
	a, b := lens(0, 0, 200), lens(1, 10)
	p := mustPort(t, sched.PortConfig{
		Rate: 1e12, Overhead: sched.NoOverhead, DRRQuantum: 500, Sink: rec,
		TCs: []sched.TCConfig{{Weight: 1, Queue: a}, {Weight: 1, Queue: b}},
	})
	p.Step(0)
	p.Step(time.Millisecond)
	a.pkts = lens(0, 1, 800).pkts
	b.pkts = lens(1, 11, 400).pkts
	p.Step(2 * time.Millisecond)
	var got []string
	for _, pkt := range rec.got {
		got = append(got, label(pkt))
	}
	if want := []string{"A200", "B400", "A800"}; !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}

// TestDRRIdleBoundary: two equal classes get one packet each per step, so
// the level drains at the end of every step. Deficit round robin gives the
// next turn to the class after the one served last, so the order
// alternates across steps as within them: A B A B A B, never A B B A.
func TestDRRIdleBoundary(t *testing.T) {
	rec := newRecorder(2, 0, true)
	a, b := &sliceQueue{}, &sliceQueue{}
	p := mustPort(t, sched.PortConfig{
		Rate: 1e12, Overhead: sched.NoOverhead, DRRQuantum: 500, Sink: rec,
		TCs: []sched.TCConfig{{Weight: 1, Queue: a}, {Weight: 1, Queue: b}},
	})
	p.Step(0)
	var want []string
	for step := range 4 {
		a.pkts = lens(0, uint32(10*step), 100).pkts
		b.pkts = lens(1, uint32(10*step+5), 100).pkts
		p.Step(time.Duration(step+1) * time.Millisecond)
		want = append(want, "A100", "B100")
	}
	var got []string
	for _, pkt := range rec.got {
		got = append(got, label(pkt))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}

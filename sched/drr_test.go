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
				Rate: 1e9, Overhead: sched.NoOverhead, DRRQuantum: 1500, Burst: 10 * 9000,
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

// TestDRRMatchesReference compares the scheduler with refDRR on random
// workloads.
func TestDRRMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for iter := range 200 {
		queues, quanta := workload(rng)
		want := refDRR(queues, quanta)
		got := runDRR(t, queues, quanta, rng, 1+rng.IntN(40))
		if !slices.Equal(got, want) {
			t.Fatalf("workload %d (quanta %v): order differs\n got %v\nwant %v", iter, quanta, ids(got), ids(want))
		}
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

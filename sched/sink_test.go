package sched_test

import (
	"slices"
	"testing"
	"time"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/sched"
)

// stingySink takes at most take packets per call, and nothing on every
// third call.
type stingySink struct {
	take  int
	calls int
	got   []descriptor.Packet
}

func (s *stingySink) TransmitBurst(p []descriptor.Packet) int {
	s.calls++
	if s.calls%3 == 0 {
		return 0
	}
	k := min(s.take, len(p))
	s.got = append(s.got, p[:k]...)
	return k
}

// TestSinkRefusalRetried: a sink that takes part of each burst, or nothing,
// still gets every packet exactly once and in the scheduler's order, and
// the refusals are counted.
func TestSinkRefusalRetried(t *testing.T) {
	for _, mode := range []sched.Mode{sched.ModeSerial, sched.ModeParallel} {
		t.Run(modeName(mode), func(t *testing.T) {
			queues := [][]descriptor.Packet{
				lens(0, 0, 100, 200, 300, 400, 500, 600, 700, 800, 900).pkts,
				lens(1, 100, 1000, 900, 800, 700, 600, 500, 400, 300, 200, 100).pkts,
			}
			sink := &stingySink{take: 3}
			p := mustPort(t, sched.PortConfig{
				Rate: 1e12, Overhead: sched.NoOverhead, DRRQuantum: 700, TxBurst: 8, Sink: sink, Mode: mode,
				TCs: []sched.TCConfig{
					{Weight: 1, Queue: &sliceQueue{pkts: queues[0]}},
					{Weight: 1, Queue: &sliceQueue{pkts: queues[1]}},
				},
			})
			for i := range 100 {
				p.Step(time.Duration(i) * time.Millisecond)
			}
			if mode == sched.ModeSerial {
				if want := refDRR(queues, []int{700, 700}); !slices.Equal(sink.got, want) {
					t.Fatalf("got %v\nwant %v", ids(sink.got), ids(want))
				}
			}
			var perTC [2][]descriptor.Packet
			for _, pkt := range sink.got {
				perTC[pkt.TC] = append(perTC[pkt.TC], pkt)
			}
			for i := range queues {
				if !slices.Equal(perTC[i], queues[i]) {
					t.Fatalf("class %d: got %v, want %v", i, ids(perTC[i]), ids(queues[i]))
				}
			}
			s := p.Stats()
			if s.Refused == 0 {
				t.Fatal("Refused = 0, want the refusals counted")
			}
			if s.TCs[0].Packets != 9 || s.TCs[1].Packets != 10 || s.TCs[0].Bytes != 4500 {
				t.Fatalf("stats %+v", s.TCs)
			}
		})
	}
}

// TestOversizeDropped: a frame larger than its class's bucket can never be
// sent; it is dropped, counted and handed to OnDrop, and the frames
// behind it go on.
func TestOversizeDropped(t *testing.T) {
	var dropped []descriptor.Packet
	rec := newRecorder(1, 0, true)
	p := mustPort(t, sched.PortConfig{
		Rate: 1e9, Overhead: sched.NoOverhead, Sink: rec,
		OnDrop: func(pkt descriptor.Packet) { dropped = append(dropped, pkt) },
		TCs:    []sched.TCConfig{{Weight: 1, Rate: 8e6, Burst: 1000, Queue: lens(0, 0, 500, 1001, 600)}},
	})
	p.Step(0)
	p.Step(time.Second)
	if len(dropped) != 1 || dropped[0].Len != 1001 {
		t.Fatalf("dropped %v, want the 1001-byte frame", ids(dropped))
	}
	if len(rec.got) != 1 || rec.got[0].Len != 500 {
		t.Fatalf("first second sent %v, want the 500-byte frame (bucket depth 1000)", ids(rec.got))
	}
	p.Step(2 * time.Second)
	if len(rec.got) != 2 || rec.got[1].Len != 600 {
		t.Fatalf("sent %v, want 500 then 600", ids(rec.got))
	}
	if d := p.Stats().TCs[0].Drops; d != 1 {
		t.Fatalf("Drops = %d, want 1", d)
	}
}

// TestReleaseHandsBackHeld: packets staged from the queues or refused by
// the sink go to OnDrop on Release, so no handle is held afterwards.
func TestReleaseHandsBackHeld(t *testing.T) {
	for _, mode := range []sched.Mode{sched.ModeSerial, sched.ModeParallel} {
		t.Run(modeName(mode), func(t *testing.T) {
			var dropped, sent int
			sink := sched.SinkFunc(func(p []descriptor.Packet) int {
				if len(p) > 2 {
					sent += 2
					return 2 // keep some refused
				}
				return 0
			})
			q := lens(0, 0, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100)
			p := mustPort(t, sched.PortConfig{
				Rate: 8 * 500, Overhead: sched.NoOverhead, Burst: 500, TxBurst: 4, Sink: sink, Mode: mode,
				OnDrop: func(descriptor.Packet) { dropped++ },
				TCs:    []sched.TCConfig{{Weight: 1, Queue: q}},
			})
			p.Step(0)
			p.Step(time.Second) // 500 bytes: 5 packets scheduled, the sink takes 2
			held := 10 - len(q.pkts) - sent
			if held == 0 {
				t.Fatal("the port holds nothing; the test needs held packets")
			}
			if n := p.Release(); n != held || dropped != held {
				t.Fatalf("Release returned %d, OnDrop got %d, want %d", n, dropped, held)
			}
			if d := p.Stats().TCs[0].Drops; d != uint64(held) {
				t.Fatalf("Drops = %d, want %d", d, held)
			}
		})
	}
}

// TestStatsWindow: shares over the sliding window follow the weights while
// both classes are busy; once one goes idle the window forgets it.
func TestStatsWindow(t *testing.T) {
	const quantum = time.Millisecond
	busy := newGen(1, 200, 1200, 9)
	sw := &switchQueue{q: newGen(0, 200, 1200, 9), on: true}
	p := mustPort(t, sched.PortConfig{
		Name: "eth0", Rate: 1e9, Quantum: quantum, Window: 80 * time.Millisecond, Sink: newRecorder(2, 24, false),
		TCs: []sched.TCConfig{{Name: "a", Weight: 1, Queue: sw}, {Name: "b", Weight: 3, Queue: busy}},
	})
	now := time.Duration(0)
	for ; now < 200*time.Millisecond; now += quantum {
		p.Step(now)
	}
	s := p.Stats()
	if s.Name != "eth0" || s.TCs[1].Name != "b" || s.TCs[1].Weight != 3 {
		t.Fatalf("names and weights %q %+v", s.Name, s.TCs[1])
	}
	if s.Window != 80*time.Millisecond {
		t.Fatalf("Window = %v, want 80ms", s.Window)
	}
	if a, b := s.TCs[0].Share, s.TCs[1].Share; !within(a, 0.25, 0.02) || !within(b, 0.75, 0.02) {
		t.Fatalf("shares %.4f %.4f, want 0.25 0.75", a, b)
	}
	if !within(float64(s.TCs[0].WindowBytes+s.TCs[1].WindowBytes), 1e9/8*0.08, 0.01) {
		t.Fatalf("window bytes %d+%d, want 80 ms at 1 Gb/s", s.TCs[0].WindowBytes, s.TCs[1].WindowBytes)
	}
	if f := s.Fairness(0); f < 0.999 {
		t.Fatalf("Fairness = %.4f, want ≈ 1", f)
	}
	sw.on = false
	for end := now + 100*time.Millisecond; now < end; now += quantum {
		p.Step(now)
	}
	s = p.Stats()
	if s.TCs[0].Share != 0 || s.TCs[1].Share != 1 || s.TCs[0].Active || !s.TCs[1].Active {
		t.Fatalf("after a idles: %+v", s.TCs)
	}
}

// switchQueue passes its inner queue through while on, and is empty while
// off.
type switchQueue struct {
	q  sched.Queue
	on bool
}

func (s *switchQueue) DequeueBurst(dst []descriptor.Packet) int {
	if !s.on {
		return 0
	}
	return s.q.DequeueBurst(dst)
}
func (s *switchQueue) Len() int { return map[bool]int{true: s.q.Len()}[s.on] }

// TestStepAllocs: a steady Step allocates nothing.
func TestStepAllocs(t *testing.T) {
	for _, mode := range []sched.Mode{sched.ModeSerial, sched.ModeParallel} {
		var tcs []sched.TCConfig
		for i := range 8 {
			tcs = append(tcs, sched.TCConfig{Weight: 1 + i, Priority: i / 4, Queue: newGen(uint8(i), 64, 1500, 1)})
		}
		tcs[0].Rate = 1e9
		p := mustPort(t, sched.PortConfig{Rate: 10e9, Quantum: 10 * time.Microsecond, Sink: newRecorder(8, 24, false), TCs: tcs, Mode: mode})
		now := time.Duration(0)
		if a := testing.AllocsPerRun(1000, func() { now += 10 * time.Microsecond; p.Step(now) }); a != 0 {
			t.Errorf("%s: %.1f allocations per Step, want 0", modeName(mode), a)
		}
	}
}

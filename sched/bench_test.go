package sched_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/ring"
	"github.com/ringkit/ringkit/sched"
)

// constQueue never runs dry and costs one copy per burst.
type constQueue struct{ tmpl []descriptor.Packet }

func newConst(tc uint8, n int) *constQueue {
	q := &constQueue{tmpl: make([]descriptor.Packet, n)}
	for i := range q.tmpl {
		q.tmpl[i] = descriptor.Packet{Len: 64, TC: tc}
	}
	return q
}

func (q *constQueue) DequeueBurst(dst []descriptor.Packet) int { return copy(dst, q.tmpl) }
func (q *constQueue) Len() int                                 { return 1 << 20 }

// BenchmarkStep is the scheduler's cost per packet: 8 saturated classes
// (two strict levels, weights 1..4, one capped), 64-byte frames, bursts
// of 32, a budget of 256 frames per Step.
func BenchmarkStep(b *testing.B) {
	for _, mode := range []sched.Mode{sched.ModeSerial, sched.ModeParallel} {
		for _, nTC := range []int{1, 8} {
			b.Run(fmt.Sprintf("mode=%s/tcs=%d/burst=32", modeName(mode), nTC), func(b *testing.B) {
				var sent uint64
				sink := sched.SinkFunc(func(p []descriptor.Packet) int { sent += uint64(len(p)); return len(p) })
				var tcs []sched.TCConfig
				for i := range nTC {
					tcs = append(tcs, sched.TCConfig{Queue: newConst(uint8(i), 32), Weight: 1 + i%4, Priority: i / 6})
				}
				if nTC > 1 {
					tcs[nTC-1].Rate = 1e9
				}
				const quantum = 10 * time.Microsecond
				perStep := uint64(256 * 88)
				p := mustPort(b, sched.PortConfig{Rate: perStep * 8 * uint64(time.Second/quantum), Quantum: quantum, TCs: tcs, Sink: sink, Mode: mode})
				now := time.Duration(0)
				p.Step(now)
				b.ReportAllocs()
				for b.Loop() {
					now += quantum
					p.Step(now)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(sent), "ns/pkt")
				b.ReportMetric(float64(sent)/b.Elapsed().Seconds()/1e6, "Mpps")
			})
		}
	}
}

// BenchmarkStepSPSC adds the rings: each iteration enqueues a burst of 32
// on each of 8 SPSC rings and one Step drains all 256, in one goroutine.
func BenchmarkStepSPSC(b *testing.B) {
	const nTC = 8
	var sent uint64
	sink := sched.SinkFunc(func(p []descriptor.Packet) int { sent += uint64(len(p)); return len(p) })
	rings := make([]*ring.SPSC[descriptor.Packet], nTC)
	var tcs []sched.TCConfig
	for i := range rings {
		rings[i], _ = ring.NewSPSC[descriptor.Packet](256)
		tcs = append(tcs, sched.TCConfig{Queue: rings[i], Weight: 1 + i%4})
	}
	p := mustPort(b, sched.PortConfig{Rate: 1e12, Quantum: 10 * time.Microsecond, TCs: tcs, Sink: sink})
	burst := newConst(0, 32).tmpl
	now := time.Duration(0)
	p.Step(now)
	b.ReportAllocs()
	for b.Loop() {
		for _, r := range rings {
			r.EnqueueBurst(burst)
		}
		now += 10 * time.Microsecond
		p.Step(now)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(sent), "ns/pkt")
}

// BenchmarkModes compares ModeSerial with ModeParallel in real time: one
// producer goroutine (standing in for the classifier) feeds 8 SPSC rings
// in bursts of 32 while the port runs (Run) at an unlimiting rate; the
// figure is wall time per packet delivered to the sink.
func BenchmarkModes(b *testing.B) {
	for _, bc := range []struct {
		mode    sched.Mode
		workers int
	}{{sched.ModeSerial, 0}, {sched.ModeParallel, 2}, {sched.ModeParallel, 8}} {
		b.Run(fmt.Sprintf("mode=%s/workers=%d/tcs=8", modeName(bc.mode), max(bc.workers, 1)), func(b *testing.B) {
			const nTC = 8
			var sent atomic.Int64
			sink := sched.SinkFunc(func(p []descriptor.Packet) int { sent.Add(int64(len(p))); return len(p) })
			rings := make([]*ring.SPSC[descriptor.Packet], nTC)
			var tcs []sched.TCConfig
			for i := range rings {
				rings[i], _ = ring.NewSPSC[descriptor.Packet](1024)
				tcs = append(tcs, sched.TCConfig{Queue: rings[i], Weight: 1 + i%4})
			}
			p := mustPort(b, sched.PortConfig{Rate: 1e13, Quantum: 10 * time.Microsecond, TCs: tcs, Sink: sink,
				Mode: bc.mode, Workers: bc.workers})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); _ = p.Run(ctx) }()
			burst := newConst(0, 32).tmpl
			b.ReportAllocs()
			b.ResetTimer()
			want := int64(0)
			for i := 0; i < b.N; i += 32 {
				r := rings[(i/32)%nTC]
				for k := 0; k < 32; k += r.EnqueueBurst(burst[k:]) {
				}
				want += 32
			}
			for sent.Load() < want {
				time.Sleep(10 * time.Microsecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(want), "ns/pkt")
			cancel()
			<-done
		})
	}
}

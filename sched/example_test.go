package sched_test

import (
	"fmt"
	"time"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/ring"
	"github.com/ringkit/ringkit/sched"
)

// Three classes share a port by deficit round robin with a quantum of 500
// bytes; Step runs on simulated time.
func ExamplePort_Step() {
	sizes := [][]uint16{{200, 750, 300}, {600, 100}, {400}}
	var tcs []sched.TCConfig
	for i, s := range sizes {
		r, _ := ring.NewSPSC[descriptor.Packet](8)
		for _, n := range s {
			r.TryEnqueue(descriptor.Packet{Len: n, TC: uint8(i)})
		}
		tcs = append(tcs, sched.TCConfig{Queue: r, Weight: 1})
	}
	sink := sched.SinkFunc(func(pkts []descriptor.Packet) int {
		for _, p := range pkts {
			fmt.Printf("%c%d ", 'A'+p.TC, p.Len)
		}
		return len(pkts)
	})
	port, err := sched.NewPort(sched.PortConfig{
		Rate: 1e9, Overhead: sched.NoOverhead, DRRQuantum: 500, TCs: tcs, Sink: sink,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	port.Step(0)                // sets the time reference; the buckets start empty
	port.Step(time.Millisecond) // 125000 bytes of budget at 1 Gb/s
	fmt.Println()
	// Output: A200 C400 A750 B600 B100 A300
}

func ExampleJain() {
	fmt.Printf("%.3f %.3f %.3f\n", sched.Jain([]float64{1, 1, 1}), sched.Jain([]float64{1, 2, 3}), sched.Jain([]float64{1, 0, 0}))
	// Output: 1.000 0.857 0.333
}

func ExampleNewPort_error() {
	_, err := sched.NewPort(sched.PortConfig{
		Rate: 1e9,
		Sink: sched.SinkFunc(func(p []descriptor.Packet) int { return len(p) }),
		TCs:  []sched.TCConfig{{Queue: idleQueue{}, Weight: 0}},
	})
	fmt.Println(err)
	// Output: sched: invalid configuration: TCs[0].Weight = 0 (want 1..65536)
}

package sched_test

import (
	"fmt"
	"log"
	"net/netip"
	"time"

	"github.com/ringkit/ringkit/classify"
	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/frame"
	"github.com/ringkit/ringkit/ring"
	"github.com/ringkit/ringkit/sched"
)

// The README's quick start for classification and scheduling: an RX ring
// feeds a classifier stage, which sorts packets into traffic-class rings by
// DSCP; a port scheduler shares the port among the classes and posts to a
// TX ring. Step drives both, so the output is deterministic; Run drives
// each on a goroutine of the caller's in a real program.
func Example_quickStart() {
	pool, _ := descriptor.NewPool(descriptor.PoolConfig{Buffers: 1024})
	rxRing, _ := descriptor.NewRxRing(pool, descriptor.RxConfig{Descs: 256})
	txRing, _ := descriptor.NewTxRing(pool, descriptor.TxConfig{Descs: 256})
	for i := range 90 { // what a NIC would place: voice, video and best effort
		dscp := []uint8{46, 34, 0}[i%3]
		f := frame.Build(nil, &frame.Spec{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"),
			DSCP: dscp, Proto: frame.ProtoUDP, SrcPort: 1000, DstPort: 2000, PayloadLen: 100})
		rxRing.NICPlace(f, descriptor.Packet{})
	}

	// tcRings[tc] is traffic class tc's ring; the stage sees the same rings
	// as its outputs of port 0.
	var tcRings [classify.NumTC]*ring.SPSC[descriptor.Packet]
	outs := make([][classify.NumTC]classify.Output, 1)
	for tc := range tcRings {
		tcRings[tc], _ = ring.NewSPSC[descriptor.Packet](256)
		outs[0][tc] = tcRings[tc]
	}
	rc, err := classify.ParseRuleConfig([]byte(`{"default": {"port": 0}}`)) // TC from DSCP: 46 → 5, 34 → 4
	if err != nil {
		log.Fatal(err) // errors name the field and the line
	}
	rules, _ := classify.NewRuleSet(rc)
	stage, err := classify.NewStage(classify.StageConfig{
		In: rxRing, Frames: pool, Out: outs, Rules: rules, // an RxRing is a stage's input as it is
		Drop: func(_ classify.Verdict, pkts []descriptor.Packet) { rxRing.Free(pkts) },
	})
	if err != nil {
		log.Fatal(err)
	}
	port, err := sched.NewPort(sched.PortConfig{
		Rate: 10e9, Quantum: time.Millisecond, Tx: txRing, // bits per second
		TCs: []sched.TCConfig{
			{Name: "voice", Queue: tcRings[5], Priority: 0, Weight: 1, Rate: 1e9}, // capped
			{Name: "video", Queue: tcRings[4], Priority: 1, Weight: 4},
			{Name: "best", Queue: tcRings[0], Priority: 1, Weight: 1},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer stage.Close()
	defer port.Close()

	for stage.Step() > 0 { // in a program: go stage.Run(ctx)
	}
	port.Step(0)                // in a program: go port.Run(ctx)
	port.Step(time.Millisecond) // a quantum: 1.25 MB of budget at 10 Gb/s
	for _, tc := range port.Stats().TCs {
		fmt.Printf("%s: %d packets sent\n", tc.Name, tc.Packets)
	}
	fmt.Println("posted to the TX ring:", txRing.NICPending())
	// Output:
	// voice: 30 packets sent
	// video: 30 packets sent
	// best: 30 packets sent
	// posted to the TX ring: 90
}

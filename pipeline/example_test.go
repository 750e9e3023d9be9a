package pipeline_test

import (
	"fmt"
	"time"

	"github.com/ringkit/ringkit/pipeline"
)

// The shares a port's classes get when all are backlogged: a capped
// strict-priority class, then weights over what is left.
func ExampleConfig_ConfiguredShares() {
	cfg := pipeline.DefaultConfig(1e6)
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	for j, s := range cfg.ConfiguredShares(0) {
		fmt.Printf("%-6s %5.2f%%\n", cfg.Ports[0].TCs[j].Name, 100*s)
	}
	// Output:
	// voice  10.00%
	// video  32.73%
	// gold   24.55%
	// silver 16.36%
	// bulk    8.18%
	// best    8.18%
}

// A deterministic run on simulated time: every frame is delivered or
// dropped with a reason.
func ExampleRunSim() {
	cfg := pipeline.DefaultConfig(1e6)
	cfg.Offload = nil // the co-processor runs in real time
	p, err := pipeline.New(cfg, pipeline.Options{})
	if err != nil {
		panic(err)
	}
	rep, err := pipeline.RunSim(p, 50*time.Millisecond, 32*time.Microsecond, 10*time.Millisecond)
	if err != nil {
		panic(err)
	}
	var dropped uint64
	for _, d := range rep.Drops {
		dropped += d.Packets
	}
	fmt.Println(rep.Generated, rep.Delivered+dropped == rep.Generated, rep.InFlight)
	fmt.Printf("%s: largest share error under 2%%: %v\n", rep.Ports[0].Name, rep.Ports[0].MaxShareError < 0.02)
	// Output:
	// 49984 true 0
	// uplink: largest share error under 2%: true
}

package pipeline_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/ringkit/ringkit/pipeline"
)

// The README's quick start for the pipeline: the main job's engine, in a
// program of one's own.
func Example_quickStart() {
	cfg := pipeline.DefaultConfig(2e5)              // frames per second offered; or pipeline.LoadConfig(path)
	cfg.Migration = nil                             // no live migration midway this time
	p, err := pipeline.New(cfg, pipeline.Options{}) // on the in-memory NIC; Options.Ports for real ones
	if err != nil {
		log.Fatal(err) // errors name the config field at fault
	}
	rep, err := pipeline.Run(context.Background(), p, pipeline.RunOptions{Duration: 200 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	// rep.WriteText(os.Stdout) prints the report examples/pipeline prints;
	// rep.WriteJSON, the same as JSON.
	var dropped uint64
	for _, d := range rep.Drops {
		dropped += d.Packets
	}
	fmt.Println("every frame delivered or dropped with a reason:", rep.Generated == rep.Delivered+dropped && rep.InFlight == 0)
	// Output: every frame delivered or dropped with a reason: true
}

// Package pipeline is ringkit's whole data plane on the NIC model, the core
// of examples/pipeline and of its benchmark: generated traffic (many flows,
// IMIX sizes, a DSCP mix, IPv4 and IPv6) arrives at a nicsim port, RSS
// spreads it over RX queues and descriptor rings, a classify.Stage sorts it
// into per-(port, TC) rings, a sched.Port per output port shares each port
// among its classes (strict priority, weights, caps) and posts to a
// descriptor.TxRing, the NIC puts the frames on a wire to a sink NIC, and
// the sink verifies every frame's checksums. One class may go through a
// jobring co-processor that computes its L4 checksums (transmit checksum
// offload). Every packet generated is delivered or dropped with a reason;
// Snapshot and Report show the counts, each stage's rate, each class's
// share against its configuration and the latency.
//
// Config is JSON-loadable (LoadConfig), with errors naming the field.
//
//	cfg := pipeline.DefaultConfig(1e6) // frames per second
//	p, err := pipeline.New(cfg, pipeline.Options{})
//	if err != nil { ... }
//	rep, err := pipeline.Run(ctx, p, pipeline.RunOptions{Duration: 10 * time.Second})
//	rep.WriteText(os.Stdout)
//
// Run drives the pipeline with two goroutines (the ingress side: the
// traffic into the NIC's ingress port, classify; the egress side: offload
// retirement, scheduling, the NIC's transmit round, sink) plus the
// co-processor's. The traffic is made once by a nicsim.Generator and
// replayed in a loop, paced to the configured rate. Step drives both sides from the
// caller's goroutine on a clock it supplies, deterministically, as the
// tests and RunSim do.
package pipeline

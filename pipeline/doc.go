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
// share against its configuration and the latency. The package keeps no
// metrics registry: Snapshot (counters, drops by reason and cause, queue
// depths) and Latency (the latency histogram as cumulative buckets) may be
// read from any goroutine at any time, and examples/pipeline exports them
// to Prometheus.
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
// replayed in a loop, paced to the configured rate. Step drives both sides
// from the caller's goroutine on a clock it supplies, deterministically,
// as the tests and RunSim do.
//
// # What the report shows
//
// DefaultConfig configures each output port for a fraction of the offered
// load (15% and 10%), so that its scheduler, not the processor, decides
// what goes through: about three frames in four are dropped by design.
// The report therefore counts every drop under a cause (see CauseShaping
// and the others): shaping (a class over its port's rate, its share or its
// cap: by design), overload (a stage that could not keep up: RX rings
// without descriptors, a TC ring full while its port sent below its rate,
// a co-processor behind), bad frames, policy (the config has no place for
// the packet), link down, and what was held at stop. How a tail drop at a
// TC ring is told to be shaping or overload is written on the blame type
// (drops.go): per 10 ms period, by whether the port sent at least 90% of
// its configured rate (or the class 90% of its cap). The report warns,
// and says why, when the traffic source did not send the offered load,
// when a port sent less than 95% of its rate while packets waited, and
// when a backlogged class got a share more than 2 points away from its
// configuration. Latency percentiles come from a histogram whose buckets
// are 12.5% wide and are printed to that precision; in the default run
// the latency is almost all queueing in the TC rings, which ring_delay
// bounds.
//
// # The config file
//
// Config is read from JSON by LoadConfig and ParseConfig; unknown keys
// are errors, and every error names the key (ports[1].tcs[0].weight) and,
// for a syntax error, the line. `go run ./examples/pipeline -dump-config`
// prints DefaultConfig in this form, every default filled in. Durations
// are strings as Go writes them ("10ms", "250us"); a rate is in bits per
// second on the wire, each frame counted with 24 bytes of framing
// (preamble, FCS, inter-frame gap) as an Ethernet port's rate is.
//
//	{
//	  "queues": 4,
//	  "ring_delay": "10ms",
//	  "traffic": {"rate": 500000, "flows": 4096, "ipv6": 0.3, "tcp": 0.5, "seed": 1,
//	              "sizes": [{"size": 60, "weight": 7}, {"size": 590, "weight": 4}, {"size": 1514, "weight": 1}],
//	              "dscp": [{"dscp": 46, "weight": 1}, {"dscp": 0, "weight": 1}]},
//	  "rules": {"default": {"port": 0},
//	            "rules": [{"name": "apps", "priority": 10, "dst_ports": "84-86", "port": 1}]},
//	  "ports": [{"name": "uplink", "rate_share": 0.15, "quantum": "1ms",
//	             "tcs": [{"tc": 5, "name": "voice", "priority": 0, "weight": 1, "cap_share": 0.1},
//	                     {"tc": 0, "name": "best", "priority": 1, "weight": 1}]},
//	            {"name": "backup", "rate_bps": 1e8, "tcs": [{"tc": 0, "weight": 1}]}],
//	  "offload": {"port": 1, "tc": 0, "slots": 1024, "batch": 128, "setup": "1ms", "ns_per_byte": 0.05},
//	  "migration": {"sessions": 16, "at": 0.5, "rate": 512, "hold": "10ms"}
//	}
//
// Every key but "ports" and "rules" may be left out; a key left out or 0
// takes the default in the list below (DefaultConfig sets some to other
// values, written after it).
//
// Top level:
//   - queues: RX queues RSS spreads the traffic over, 1..64; 4.
//   - rx_descs, tx_descs: descriptors per RX and TX ring, a power of two
//     2..16384; 512.
//   - ring_size: capacity of each traffic-class ring in packets, 1..65536;
//     512 unless ring_delay is given. At most one of the two.
//   - ring_delay: a delay budget that sizes each class ring instead: the
//     frames (of the traffic's mean size) the class sends in that time at
//     its configured share of the port rate, at least 32, at most 65536
//     (Config.RingSizes), 10us..10s; none (DefaultConfig: "10ms").
//   - buffers: packet buffers in the pool, 0..1048576; 0 is enough for
//     every ring full at once.
//   - max_bytes: the most memory the buffer pool, and each NIC of the
//     pipeline, may take; 0 (omitted) leaves each its default (4 GiB for
//     the pool, 1 GiB for a NIC). A config whose parts would take more is
//     refused with an error naming the part and this key.
//   - back_pressure: true makes a full TC ring hold the classifier, so
//     the RX rings fill and the NIC drops (rx missed) instead of the TC
//     ring; false.
//   - verify_every: the sink checks the checksums of every n-th frame; 1.
//
// traffic (the pipeline's own traffic; ignored on ports given in Options):
//   - rate: frames per second, 0..1e9; 0 sends as fast as the pipeline
//     takes them (DefaultConfig: its argument, 500000 in the example).
//   - flows: distinct 5-tuples, 1..65536; 1024 (DefaultConfig: 4096).
//   - ipv6, tcp: fractions of the flows that are IPv6 and TCP (the rest
//     IPv4, UDP), 0..1; 0 (DefaultConfig: 0.3 and 0.5).
//   - sizes: the frame size mix, each {"size": bytes without FCS,
//     60..1514, "weight": 1..1048576}; 60 bytes only (DefaultConfig:
//     IMIX, 60×7, 590×4, 1514×1).
//   - dscp: the DSCP mix, each {"dscp": 0..63, "weight"}; DSCP 0 only
//     (DefaultConfig: 46, 34, 26, 18, 8, 0 in equal parts). The
//     classifier's TC is DSCP >> 3 unless a rule says otherwise.
//   - seed: the generator's seed; 0.
//
// rules: classify's rule config (classify.ParseRuleConfig): "default"
// {"port", "tc"} for packets no rule matches, "dscp_tc" overrides of the
// DSCP to TC table, and "rules", each {"name", "priority", "proto", "src",
// "dst", "src_ports", "dst_ports", "port", "tc"}. "port" is an index into
// "ports". Required.
//
// ports: the output ports, 1..16, each:
//   - name: for the report and metrics; "port0", "port1", ...
//   - rate_bps: the port rate in bits per second, 1e3..1e13; or
//     rate_share: the port rate as a fraction of the offered load (rate ×
//     the mean frame on the wire), above 0, which needs traffic.rate.
//     Exactly one of the two.
//   - quantum: the scheduling quantum, whose byte budget the classes
//     share, 1us..1s; "1ms".
//   - tcs: its traffic classes, 1..8, each: "tc" 0..7 (the TC
//     classification assigns), "name" ("tc0", ...), "priority" 0..15 (0
//     is served first; classes of one priority share by weight), "weight"
//     1..65536 (required), and at most one of "cap_bps" (bits per second)
//     and "cap_share" (a fraction of the port rate, above 0 up to 1) to
//     cap the class; uncapped if neither.
//
// offload (optional; none by default, DefaultConfig offloads class 3 of
// port 1): the class whose L4 checksums a co-processor model computes,
// through a job ring.
//   - port, tc: the class, one configured in ports.
//   - slots: job ring slots, 2..65536; 1024.
//   - batch: the most jobs the co-processor takes at once, 1..slots; 128.
//   - setup: the co-processor's latency per batch, 0..1s; "1ms".
//   - ns_per_byte: its cost per byte in nanoseconds, 0..1e6; 0
//     (DefaultConfig: 0.05).
//
// migration (optional; none by default, DefaultConfig has it): midway
// through a real-time run, a VM with TCP sessions is live-migrated.
//   - sessions: TCP sessions, 1..1000; 16.
//   - at: when it starts, as a fraction of the run, between 0 and 1; 0.5.
//   - rate: bytes each peer sends per millisecond, 1..1048576; 512.
//   - hold: how long the VM stays suspended before its journal is sealed,
//     0..10s; "10ms".
package pipeline

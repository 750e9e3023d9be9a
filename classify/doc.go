// Package classify parses frames, computes the Toeplitz RSS hash, and
// classifies packets to an output port and traffic class.
//
// # Parsing
//
// Parse reads Ethernet II, up to two VLAN tags (802.1Q, 802.1ad), IPv4
// (options walked, fragments flagged) or IPv6 (extension headers walked, at
// most MaxIPv6Ext), then TCP, UDP, ICMP or ICMPv6, and fills the
// descriptor.Packet metadata: Type, Flags, L3Off, L4Off, DataOff, VLAN,
// Proto, DSCP. It never panics and never reads outside the frame; a
// malformed frame gets FlagMalformed and a Reason, which a ParseStats
// counts. The NIC model's RSS and the classifier share it.
//
// # RSS
//
// Toeplitz is the Microsoft RSS hash with a configurable 40-byte key,
// table-driven (one lookup per input byte). DefaultKey is the key of the
// RSS verification suite; SymmetricKey (0x6d5a repeated) gives both
// directions of a flow the same hash.
//
//	var p descriptor.Packet
//	if r := classify.Parse(frame, &p); r != classify.OK {
//		// malformed: r says which header and why; a ParseStats counts it
//	}
//	rss, _ := classify.NewToeplitz(classify.DefaultKey[:])
//	h, ok := rss.HashFrame(frame, &p, true) // addresses and ports
//
// # Rules
//
// A RuleConfig maps packets to an Action (output port, traffic class):
// rules matching source and destination prefixes, protocol and port
// ranges, tried by priority; a default; and a DSCP to traffic class table
// (default TC = DSCP >> 3, NumTC classes) for actions that take the class
// from the packet. NewRuleSet compiles it; LoadRuleSet and
// ParseRuleConfig read it from JSON, with errors naming the field and line.
//
// # Classifier and stage
//
// A Classifier parses a packet, builds its Flow (the compact 5-tuple),
// looks it up in a fixed-size open-addressed flow cache and walks the
// rules only on a miss; it allocates nothing. A Stage runs one in a loop
// between an input ring and the per-(port, TC) rings: bursts in, each
// burst grouped by ring and enqueued as bursts. A full TC ring is handled
// by policy, DropWhenFull or BackPressure; every packet it does not
// deliver goes to the Drop callback with its reason and is counted.
//
//	rs, err := classify.LoadRuleSet("rules.json")
//	st, err := classify.NewStage(classify.StageConfig{
//		In: rxRing, Frames: pool, Out: tcRings, Rules: rs,
//		Drop: func(_ classify.Verdict, pkts []descriptor.Packet) { freeAll(pkts) },
//	})
//	go st.Run(ctx) // until ctx ends or Close
//	defer st.Close()
package classify

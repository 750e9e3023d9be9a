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
package classify

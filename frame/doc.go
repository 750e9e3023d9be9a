// Package frame builds valid Ethernet frames for traffic generators,
// protocol endpoints and tests, and verifies their checksums.
//
// A Spec describes a frame layer by layer: Ethernet II, zero to two VLAN
// tags, IPv4 (options, fragment fields) or IPv6 (hop-by-hop, routing,
// fragment and destination-options extension headers), then TCP (options,
// flags, sequence numbers), UDP, ICMP or ICMPv6, and a payload. Build
// appends the frame to a caller's slice, filling in every length and
// checksum (the IPv4 header checksum, and the TCP, UDP and ICMPv6 checksums
// over the pseudo-header), and allocates nothing when the slice has room:
//
//	spec := frame.Spec{
//		Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"),
//		Proto: frame.ProtoTCP, SrcPort: 40000, DstPort: 80,
//		TCPFlags: frame.TCPSyn, PayloadLen: 6,
//	}
//	buf := make([]byte, 0, 2048)
//	buf = frame.Build(buf[:0], &spec) // reuse buf for the next frame
//
// A frame without IP carries Spec.Payload after its EtherType: AppendARP
// writes an ARP or RARP packet there, and ParseARP reads one.
//
// Append is the same with an error for a Spec that cannot be built (options
// too long, a frame over 65535 bytes); Build panics on such a Spec, as
// regexp.MustCompile does, because a Spec is usually a constant of the
// program. Verify walks a frame and checks every checksum it carries.
//
// nicsim's generators, the TCP endpoint, the pipeline's sink and the tests
// of every packet-handling package use it; a user's own traffic source or
// test can too.
package frame

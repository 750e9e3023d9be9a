package classify

import (
	"net/netip"
	"testing"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/frame"
	"github.com/ringkit/ringkit/ring"
)

// benchRules are 16 rules of the shapes a policy has: exact 5-tuples,
// prefixes with port ranges, protocol-only, and IPv6 prefixes.
func benchRules() RuleConfig {
	rules := make([]Rule, 0, 16)
	for i := range 6 {
		rules = append(rules, Rule{Name: "exact", Priority: 100,
			Src: netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, 1, byte(i)}), 32), Dst: netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, 2, 1}), 32),
			Proto: ProtoTCP, SrcPorts: PortRange{uint16(1000 + i), uint16(1000 + i)}, DstPorts: PortRange{443, 443}, Action: Action{1, 6}})
	}
	for i := range 6 {
		rules = append(rules, Rule{Name: "prefix", Priority: 50,
			Dst: netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16 + byte(i), 0, 0}), 16), Proto: ProtoUDP, DstPorts: PortRange{5000, 6000}, Action: Action{2, 4}})
	}
	for i := range 2 {
		rules = append(rules, Rule{Name: "v6", Priority: 40, Src: netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i)}), 40), Action: Action{3, TCFromDSCP}})
	}
	rules = append(rules,
		Rule{Name: "icmp", Priority: 30, Proto: ProtoICMP, Action: Action{0, 7}},
		Rule{Name: "net10", Priority: 10, Src: netip.MustParsePrefix("10.0.0.0/8"), Action: Action{1, TCFromDSCP}},
	)
	return RuleConfig{Rules: rules, Default: &Action{0, TCFromDSCP}}
}

// BenchmarkClassify measures parse + flow key + flow cache (warm) + TC for
// 64-byte TCP/IPv4 frames of 64 flows, with 16 rules; the counters are
// flushed once per 32 packets, as a Stage does. The frames fall through
// to the default (the longest rule walk on a miss). rulewalk is the same
// with the rule walk on every packet (a cache too small to hold the
// flows).
func BenchmarkClassify(b *testing.B) {
	const flows = 64
	frames := make([][]byte, flows)
	for i := range frames {
		frames[i] = frame.Build(nil, &frame.Spec{Src: netip.AddrFrom4([4]byte{100, 64, 0, byte(i)}), Dst: netip.AddrFrom4([4]byte{100, 65, 0, 1}),
			Proto: ProtoTCP, SrcPort: uint16(40000 + i), DstPort: 80, DSCP: 10, PadTo: 64})
	}
	rs := mustRuleSet(b, benchRules())
	for _, c := range []struct {
		name  string
		cache int
	}{{"tcp4-64B/rules=16/cache=warm", 4096}, {"tcp4-64B/rules=16/rulewalk", 4}} {
		b.Run(c.name, func(b *testing.B) {
			cl, err := NewClassifier(rs, c.cache)
			if err != nil {
				b.Fatal(err)
			}
			var pkts [flows]descriptor.Packet
			for i := range pkts {
				cl.Classify(frames[i], &pkts[i]) // warm the cache
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if cl.Classify(frames[i%flows], &pkts[i%flows]) != Forward {
					b.Fatal("not forwarded")
				}
				i++
				if i%32 == 0 {
					cl.Flush()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/pkt")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpps")
		})
	}
}

// BenchmarkStage measures a whole Step: a burst of 32 from an SPSC input,
// classification, and delivery to the TC rings, with the packets put back
// on the input each round (that cost is included).
func BenchmarkStage(b *testing.B) {
	const n = 32
	table := make(frameTable, 64)
	for i := range table {
		table[i] = frame.Build(nil, &frame.Spec{Src: netip.AddrFrom4([4]byte{100, 64, 0, byte(i)}), Dst: netip.AddrFrom4([4]byte{100, 65, 0, 1}),
			Proto: ProtoTCP, SrcPort: uint16(40000 + i), DstPort: 80, DSCP: uint8(i % 64), PadTo: 64})
	}
	in, _ := ring.NewSPSC[descriptor.Packet](256)
	for i := range table {
		in.TryEnqueue(descriptor.Packet{Buf: descriptor.Buf(i), Len: uint16(len(table[i]))})
	}
	out, rings := outputs(b, 1, 256)
	st, err := NewStage(StageConfig{In: in, Frames: table, Out: out, Rules: mustRuleSet(b, benchRules()), Drop: func(Verdict, []descriptor.Packet) { b.Fatal("drop") }})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	buf := make([]descriptor.Packet, n)
	b.ReportAllocs()
	for b.Loop() {
		st.Step()
		for tc := range NumTC {
			k := rings[0][tc].DequeueBurst(buf)
			in.EnqueueBurst(buf[:k])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/pkt")
}

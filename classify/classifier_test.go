package classify

import (
	"net/netip"
	"testing"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/frame"
)

// TestClassifyUsesNICParse checks that a packet marked FlagParsed is
// classified from its metadata (the frame is not parsed again), and that
// any other packet is parsed: the metadata below says DSCP 46 while the
// frame carries DSCP 0, so the TC tells which one Classify used.
func TestClassifyUsesNICParse(t *testing.T) {
	rs := mustRuleSet(t, RuleConfig{Default: &Action{0, TCFromDSCP}})
	if rs.Resolve(Action{0, TCFromDSCP}, 46) == rs.Resolve(Action{0, TCFromDSCP}, 0) {
		t.Fatal("the DSCP table maps 0 and 46 to one class: the test cannot tell them apart")
	}
	c, _ := NewClassifier(rs, 0)
	b := frame.Build(nil, &frame.Spec{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"),
		Proto: ProtoUDP, SrcPort: 1234, DstPort: 53})
	var nic descriptor.Packet
	if r := Parse(b, &nic); r != OK {
		t.Fatal(r)
	}
	nic.DSCP = 46
	nic.Flags |= descriptor.FlagParsed

	p := nic
	if v := c.Classify(b, &p); v != Forward || p.TC != rs.Resolve(Action{0, TCFromDSCP}, 46) || p.DSCP != 46 {
		t.Fatalf("FlagParsed: verdict %v TC %d DSCP %d, want the metadata's DSCP 46 used", v, p.TC, p.DSCP)
	}
	p = nic
	p.Flags &^= descriptor.FlagParsed
	if v := c.Classify(b, &p); v != Forward || p.DSCP != 0 || p.TC != rs.Resolve(Action{0, TCFromDSCP}, 0) {
		t.Fatalf("not FlagParsed: verdict %v TC %d DSCP %d, want the frame parsed (DSCP 0)", v, p.TC, p.DSCP)
	}
	if p.Flags.Has(descriptor.FlagParsed) {
		t.Fatal("Parse left FlagParsed set")
	}

	// Metadata that does not describe the frame reads nothing outside it.
	p = descriptor.Packet{Type: descriptor.L2Ether | descriptor.L3IPv6 | descriptor.L4TCP, L3Off: 60000, L4Off: 65000,
		Flags: descriptor.FlagParsed}
	if v := c.Classify(b[:20], &p); v != Forward {
		t.Fatalf("bogus metadata: verdict %v", v)
	}
	// A frame the NIC found malformed is parsed again, for the reason.
	p = descriptor.Packet{}
	if v := c.Classify(b[:20], &p); v != DropMalformed || c.ParseStats().Malformed() != 1 {
		t.Fatalf("malformed: verdict %v, %d counted", v, c.ParseStats().Malformed())
	}
}

// TestClassifyRSSHash checks that packets carrying the NIC's RSS hash are
// classified by their own flow even when the hashes collide: the flow cache
// indexes by the RSS hash then, and compares whole keys.
func TestClassifyRSSHash(t *testing.T) {
	rs := mustRuleSet(t, RuleConfig{Rules: tableRules, Default: &Action{0, 0}})
	c, _ := NewClassifier(rs, 64)
	specs := []frame.Spec{
		{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Proto: ProtoTCP, SrcPort: 1234, DstPort: 80}, // exact: port 1
		{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Proto: ProtoTCP, SrcPort: 1235, DstPort: 80}, // web: port 2
		{Src: netip.MustParseAddr("10.9.0.1"), Dst: netip.MustParseAddr("10.0.0.200"), Proto: ProtoTCP, SrcPort: 9, DstPort: 9},   // upper-half: port 6
		{Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("192.0.2.2"), Proto: ProtoTCP, SrcPort: 9, DstPort: 9},   // default: port 0
	}
	want := []uint16{1, 2, 6, 0}
	frames := make([][]byte, len(specs))
	for i := range specs {
		frames[i] = frame.Build(nil, &specs[i])
	}
	for round := range 3 {
		for i, b := range frames {
			var p descriptor.Packet
			if r := Parse(b, &p); r != OK {
				t.Fatal(r)
			}
			p.Flags |= descriptor.FlagParsed | descriptor.FlagHash
			p.Hash = 0x5a5a0000 // every flow the same hash
			if v := c.Classify(b, &p); v != Forward || p.OutPort != want[i] {
				t.Fatalf("round %d flow %d: verdict %v port %d, want port %d", round, i, v, p.OutPort, want[i])
			}
		}
	}
	if st := c.Stats(); st.Packets != 0 {
		t.Fatalf("stats published before Flush: %+v", st)
	}
	c.Flush()
	if st := c.Stats(); st.CacheHits != 8 || st.CacheMisses != 4 {
		t.Fatalf("%+v: want the 4 flows cached after the first round", st)
	}
}

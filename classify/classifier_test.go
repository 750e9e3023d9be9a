package classify

import (
	"net/netip"
	"testing"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/internal/frame"
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

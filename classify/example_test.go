package classify_test

import (
	"fmt"
	"net/netip"

	"github.com/ringkit/ringkit/classify"
	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/frame"
)

func ExampleParse() {
	b := frame.Build(nil, &frame.Spec{
		VLANs: 1, VLAN: [2]uint16{100},
		Src: netip.MustParseAddr("66.9.149.187"), Dst: netip.MustParseAddr("161.142.100.80"),
		DSCP: 46, Proto: frame.ProtoTCP, SrcPort: 2794, DstPort: 1766,
	})
	var p descriptor.Packet
	r := classify.Parse(b, &p)
	fmt.Println(r, p.Type.Has(descriptor.L2VLAN|descriptor.L3IPv4|descriptor.L4TCP), p.VLAN, p.L3Off, p.L4Off, p.DataOff, p.DSCP)

	rss, _ := classify.NewToeplitz(classify.DefaultKey[:])
	h, _ := rss.HashFrame(b, &p, true)
	fmt.Printf("%#08x\n", h)

	r = classify.Parse(b[:30], &p)
	fmt.Println(r, p.Flags.Has(descriptor.FlagMalformed))
	// Output:
	// ok true 100 18 38 58 46
	// 0x51ccc178
	// ipv4 header truncated true
}

func ExampleParseRuleConfig() {
	c, err := classify.ParseRuleConfig([]byte(`{
  "default": {"port": 0},
  "rules": [
    {"name": "ssh", "priority": 10, "proto": "tcp", "dst_ports": 22, "port": 1, "tc": 7}
  ]
}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	rs, _ := classify.NewRuleSet(c)
	cl, _ := classify.NewClassifier(rs, 0)
	b := frame.Build(nil, &frame.Spec{
		Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"),
		Proto: frame.ProtoTCP, SrcPort: 50000, DstPort: 22, DSCP: 26,
	})
	var p descriptor.Packet
	fmt.Println(cl.Classify(b, &p), p.OutPort, p.TC)
	b = frame.Build(b[:0], &frame.Spec{
		Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"),
		Proto: frame.ProtoTCP, SrcPort: 50000, DstPort: 80, DSCP: 26,
	})
	fmt.Println(cl.Classify(b, &p), p.OutPort, p.TC) // default, TC from DSCP 26 >> 3

	_, err = classify.ParseRuleConfig([]byte(`{"rules": [{"port": 1,
  "dst_ports": "80-20"}]}`))
	fmt.Println(err)
	// Output:
	// forward 1 7
	// forward 0 3
	// classify: bad config: rules[0].dst_ports (line 2): "80-20" is an empty range
}

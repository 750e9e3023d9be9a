package classify_test

import (
	"fmt"
	"net/netip"

	"github.com/ringkit/ringkit/classify"
	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/internal/frame"
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

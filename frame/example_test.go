package frame_test

import (
	"fmt"
	"net/netip"

	"github.com/ringkit/ringkit/frame"
)

func ExampleBuild() {
	spec := frame.Spec{
		Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"),
		Proto: frame.ProtoTCP, SrcPort: 40000, DstPort: 80,
		TCPFlags: frame.TCPSyn, PayloadLen: 6,
	}
	buf := make([]byte, 0, 2048)
	buf = frame.Build(buf[:0], &spec)
	fmt.Println(len(buf), frame.Verify(buf))
	buf[len(buf)-1] ^= 1 // corrupt the payload
	fmt.Println(frame.Verify(buf))
	// Output:
	// 60 <nil>
	// frame: bad checksum: TCP (sum 0x0001)
}

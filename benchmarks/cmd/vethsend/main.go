// Command vethsend sends 60-byte UDP frames of one flow out of an
// interface as fast as a TPACKET port (TPACKET_V2 transmit ring, qdisc
// bypass) takes them, for a while, and prints how many the interface
// counted. It is the sender of the AF_XDP benchmarks' veth test bed
// (afxdp-testpmd.sh runs it inside the bed's sending namespace): the same
// sender as BenchmarkXDPReceive's, so that testpmd and ringkit are measured
// against one traffic source. Run it only on a link of a namespace made for
// the purpose, never on the machine's own interfaces.
//
//	ip netns exec NS vethsend -iface vsend -dst 02:..:.. -duration 10s
package main

import (
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/frame"
	"github.com/ringkit/ringkit/linuxport"
)

func main() {
	iface := flag.String("iface", "vsend", "interface to send on (in the current network namespace)")
	dst := flag.String("dst", "", "destination MAC address (the receiving end's)")
	size := flag.Int("size", 60, "frame size in bytes, FCS excluded")
	duration := flag.Duration("duration", 10*time.Second, "how long to send")
	flag.Parse()
	if err := run(*iface, *dst, *size, *duration); err != nil {
		fmt.Fprintln(os.Stderr, "vethsend:", err)
		os.Exit(1)
	}
}

func txPackets(iface string) (uint64, error) {
	b, err := os.ReadFile("/sys/class/net/" + iface + "/statistics/tx_packets")
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
}

func run(iface, dst string, size int, duration time.Duration) error {
	dstMAC, err := net.ParseMAC(dst)
	if err != nil {
		return fmt.Errorf("-dst: %w", err)
	}
	ifc, err := net.InterfaceByName(iface)
	if err != nil {
		return err
	}
	if size < 60 || size > 1514 {
		return fmt.Errorf("-size %d (want 60..1514)", size)
	}
	pool, err := descriptor.NewPool(descriptor.PoolConfig{Buffers: 4096})
	if err != nil {
		return err
	}
	p, err := linuxport.OpenPacket(iface, linuxport.PacketConfig{Pool: pool, Frames: 4096, Burst: 64, Tx: descriptor.TxConfig{Descs: 1024}})
	if err != nil {
		return err
	}
	defer p.Close()
	s := frame.Spec{Src: netip.MustParseAddr("198.18.0.1"), Dst: netip.MustParseAddr("198.18.0.2"),
		Proto: frame.ProtoUDP, SrcPort: 40000, DstPort: 9000, PayloadLen: size - 42}
	copy(s.SrcMAC[:], ifc.HardwareAddr)
	copy(s.DstMAC[:], dstMAC)
	tmpl := frame.Build(nil, &s)
	base, err := txPackets(iface)
	if err != nil {
		return err
	}
	tx := p.TxRing(0)
	pkts := make([]descriptor.Packet, 64)
	start := time.Now()
	for time.Since(start) < duration {
		for range 64 {
			k := 0
			for ; k < len(pkts); k++ {
				b, ok := tx.Cache().Get()
				if !ok {
					break
				}
				copy(pool.Data(b), tmpl)
				pkts[k] = descriptor.Packet{Buf: b, Len: uint16(len(tmpl))}
			}
			n, _ := tx.Transmit(pkts[:k])
			for _, pk := range pkts[n:k] {
				_ = tx.Cache().Put(pk.Buf)
			}
			if _, err := p.Step(); err != nil {
				return err
			}
		}
	}
	elapsed := time.Since(start)
	end, err := txPackets(iface)
	if err != nil {
		return err
	}
	n := end - base
	fmt.Printf("vethsend: %s counted %d frames of %d bytes in %.1f s: %.3f Mpps\n", iface, n, len(tmpl), elapsed.Seconds(), float64(n)/elapsed.Seconds()/1e6)
	return nil
}

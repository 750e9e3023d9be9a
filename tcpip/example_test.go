package tcpip_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/nicsim"
	"github.com/ringkit/ringkit/tcpip"
)

// Two stacks on the two ends of a simulated wire: the client resolves the
// server's MAC, connects and sends; the server reads.
func Example() {
	pool, _ := descriptor.NewPool(descriptor.PoolConfig{Buffers: 4096})
	nic, err := nicsim.New(nicsim.Config{Pool: pool, Ports: 2,
		Rx: descriptor.RxConfig{Descs: 256}, Tx: descriptor.TxConfig{Descs: 256}})
	if err != nil {
		panic(err)
	}
	if err := nicsim.Connect(nic.Port(0), nic.Port(1)); err != nil {
		panic(err)
	}
	clock := tcpip.NewSimClock(time.Unix(0, 0))

	stack := func(port int, mac byte, addr string) (*tcpip.Stack, *tcpip.Host) {
		link, _ := tcpip.NewLink(nic.Port(port), 0) // queue 0 of any port
		host := tcpip.NewHost(link)
		st, _ := tcpip.NewStack(tcpip.StackConfig{
			Clock: clock, MAC: [6]byte{2, 0, 0, 0, 0, mac},
			Addrs: []netip.Prefix{netip.MustParsePrefix(addr)}, // answers ARP for it
		}, host.Send)
		host.SetHandler(st)
		return st, host
	}
	client, clientHost := stack(0, 1, "10.0.0.10/24")
	server, serverHost := stack(1, 2, "10.0.0.1/24")
	var accepted *tcpip.Conn
	_ = server.Listen(netip.MustParseAddrPort("10.0.0.1:80"), func(c *tcpip.Conn) { accepted = c })

	c, _ := client.Dial(netip.MustParseAddrPort("10.0.0.10:40000"), netip.MustParseAddrPort("10.0.0.1:80"))
	run := func() { // the ports and hosts, for a few simulated milliseconds
		for range 10 {
			clock.Advance(time.Millisecond)
			_, _ = nic.Step()
			clientHost.Poll()
			serverHost.Poll()
		}
	}
	run()
	_, _ = c.Write([]byte("hello over a resolved MAC"))
	run()
	buf := make([]byte, 64)
	n, _ := accepted.Read(buf)
	fmt.Printf("%s, %q\n", c.State(), buf[:n])
	for _, nb := range client.Neighbors() {
		fmt.Printf("%v is at %x (%v)\n", nb.Addr, nb.MAC, nb.State)
	}
	// Output:
	// ESTABLISHED, "hello over a resolved MAC"
	// 10.0.0.1 is at 020000000002 (REACHABLE)
}

package migrate_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/ringkit/ringkit/migrate"
	"github.com/ringkit/ringkit/tcpip"
)

// A circuit keeps a session going while its VM is suspended: it
// acknowledges the peer's bytes only once they are in the journal, and a
// local resume (a cancelled migration) replays the journal into the VM,
// whose application then reads them.
func ExampleCircuit() {
	clock := tcpip.NewSimClock(time.Unix(0, 0))
	var toPeer, toVM [][]byte
	queue := func(q *[][]byte) func([]byte) {
		return func(f []byte) { *q = append(*q, append([]byte(nil), f...)) }
	}
	vmAddr := netip.MustParseAddr("10.0.0.10")
	server := netip.MustParseAddrPort("10.0.0.1:80")
	peers, _ := tcpip.NewStack(tcpip.StackConfig{Clock: clock,
		Addrs: []netip.Prefix{netip.PrefixFrom(server.Addr(), 24)}}, queue(&toVM))
	circuit, _ := migrate.NewCircuit(migrate.CircuitConfig{Stack: tcpip.StackConfig{Clock: clock,
		Addrs: []netip.Prefix{netip.PrefixFrom(vmAddr, 24)}}}, queue(&toPeer))
	deliver := func() { // a wire: frames both ways until quiet
		for len(toPeer)+len(toVM) > 0 {
			in, out := toVM, toPeer
			toVM, toPeer = nil, nil
			for _, f := range in {
				circuit.Input(f)
			}
			for _, f := range out {
				peers.Input(f)
			}
		}
	}

	var peer *tcpip.Conn
	_ = peers.Listen(server, func(c *tcpip.Conn) { peer = c })
	circuit.Do(func(vm *tcpip.Stack) { _, _ = vm.Dial(netip.AddrPortFrom(vmAddr, 40000), server) })
	deliver()

	_, _ = circuit.PreCopy()
	_ = circuit.Suspend(2) // the VM stops; the circuit answers for it
	clock.Advance(time.Millisecond)
	_, _ = peer.Write([]byte("sent while the VM is suspended"))
	deliver()
	fmt.Println("peer's bytes acknowledged:", peer.Unacked() == 0)
	recs, _, _ := migrate.ReadAll(circuit.Journal().Bytes())
	for _, r := range recs {
		fmt.Println("journaled:", r.Type)
	}

	_ = circuit.ResumeLocal() // the migration is cancelled
	circuit.Do(func(vm *tcpip.Stack) {
		buf := make([]byte, 64)
		n, _ := vm.Conns()[0].Read(buf)
		fmt.Printf("the VM reads: %q\n", buf[:n])
	})
	// Output:
	// peer's bytes acknowledged: true
	// journaled: interface
	// journaled: recv
	// journaled: timestamp
	// the VM reads: "sent while the VM is suspended"
}

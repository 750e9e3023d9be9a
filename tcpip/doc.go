// Package tcpip is a small TCP/IPv4 endpoint over Ethernet frames: the
// network stack of a VM (or of its peers) on a port, as gVisor's netstack
// is a package of its own.
//
// A Stack holds many connections: the three-way handshake both ways,
// in-order delivery, go-back-N recovery after a timeout paced by
// acknowledgements, zero-window probes, keepalive, the MSS, window scale
// and timestamp options, sequence numbers compared modulo 2^32. Frames are
// built with real headers and checksums (package frame) and parsed with
// classify. Each connection's state is a Session, so Export and Import
// move connections to another stack as they are. A peer declares a
// connection lost after MaxRetries timeouts with nothing heard from the
// other side, or KeepaliveProbes unanswered probes. Time comes from a
// Clock: tests run on a SimClock, with the ports stepped.
//
// A stack is driven from outside: Input with each frame received, Tick as
// time passes; it sends through the function given to NewStack. A Link
// drives one queue pair of a port (any port: nicsim's in-memory NIC, a TAP
// device, an AF_XDP socket); a Host polls its links, hands frames to a
// Handler (a Stack, or what wraps one) and sends the handler's frames out
// of the right link.
//
//	link, _ := tcpip.NewLink(nic.Port(0), 0)
//	host := tcpip.NewHost(link)
//	st, _ := tcpip.NewStack(tcpip.StackConfig{MAC: mac}, host.Send)
//	host.SetHandler(st)
//	c, _ := st.Dial(local, remote)
//	for { port.Step(); host.Poll(); n, _ := c.Read(buf) ... }
//
// # Write-ahead
//
// A StackConfig's WriteAhead is told of every change to a connection's
// state before the change is made and before any segment that reveals it
// is sent: the acknowledgement point, the bytes received, the TCP state,
// windows closing and opening, the timestamps. A change the log refuses is
// not made, and the window the stack advertises is no larger than the
// log's room. A StandIn stack answers for the connections of a suspended
// application with such a log: package migrate's circuit runs one, with
// its journal as the log, to keep a VM's sessions alive while the VM is
// moved.
//
// # Concurrency
//
// A Stack, its Conns, Links and Hosts belong to one goroutine at a time.
package tcpip

// Package tcpip is a small TCP/IPv4 endpoint over Ethernet: the network
// stack of a VM (or of its peers) on a port, as gVisor's netstack is a
// package of its own.
//
// A Stack holds many connections: the three-way handshake both ways,
// in-order delivery with an out-of-order queue, go-back-N recovery after a
// timeout paced by acknowledgements, zero-window probes, keepalive, the
// MSS, window scale and timestamp options, sequence numbers compared
// modulo 2^32. Frames are
// built with real headers and checksums (package frame) and parsed with
// classify. Each connection's state is a Session, so Export and Import
// move connections to another stack as they are. A peer declares a
// connection lost after MaxRetries timeouts with nothing heard from the
// other side, or KeepaliveProbes unanswered probes. A connection that
// closed first waits in TIME_WAIT for StackConfig.TimeWait (60 s) and
// then closes; a connection that has ended leaves its address pair free
// for a new one (a dial, or a peer's SYN), while its application may
// still read what it received. Time comes from a Clock: tests run on a
// SimClock, with the ports stepped.
//
// # What a Linux peer offers
//
// A Linux SYN carries MSS, SACK-permitted, timestamps and window scale.
// The stack takes the smaller MSS, uses window scale and timestamps when
// both sides offer them (RFC 7323), and declines SACK (RFC 2018): it never
// sends SACK-permitted, so the peer sends no SACK blocks, and it ignores
// any SACK option it gets. Segments that arrive beyond a gap are held in a
// bounded out-of-order queue (StackConfig.OutOfOrder stretches, within the
// window advertised) and taken when the gap fills, so one lost segment
// costs the peer one retransmission after its duplicate acknowledgements,
// not every segment behind it. Each connection's TSval is the stack's
// 1 ms clock plus an offset of its own; a connection that moves carries
// its last TSval, and Timestamps.Rebase picks the offset that continues
// from it on the new host's clock, so the peer's PAWS check never sees
// time go back.
//
// # Ethernet and ARP
//
// A stack has a MAC and IPv4 addresses with their subnets
// (StackConfig.MAC, Addrs, Gateway). It takes the frames sent to its MAC
// (and broadcasts), answers ARP requests for its addresses, and sends
// every frame to one unicast MAC: the destination's on the subnet, the
// gateway's beyond it. MACs come from a neighbour cache run as Linux runs
// its ARP table (RFC 4861's states: INCOMPLETE, REACHABLE, STALE, DELAY,
// PROBE, FAILED; Linux's timers and probe counts by default, see
// NeighborConfig): an address is resolved by broadcast requests, frames
// waiting meanwhile in a bounded queue; an entry is confirmed by replies
// and by its connections' forward progress, goes STALE when not, is
// probed by unicast requests when used stale, and fails after its probes
// go unanswered, dropping what waited (StackStats.Unresolved) and failing
// a dial with ErrHostUnreachable. Replies and requests update the entries
// the cache holds; a request for the stack's address creates one for the
// asker (Linux with arp_accept off). Neighbors and ImportNeighbors move
// the cache with a stack's connections.
//
// AnnounceSelf announces a stack that has moved, as a hypervisor
// announces a migrated VM: gratuitous ARP for each address and a RARP
// from its MAC, on QEMU's self-announce schedule (AnnounceConfig).
//
// # Links and hosts
//
// A stack is driven from outside: Input with each frame received, Tick as
// time passes; it sends through the function given to NewStack. A Link
// drives one queue pair of a port (any port.Port: nicsim's in-memory NIC,
// a TAP device, an AF_XDP socket). A Host polls
// its links, hands frames to a Handler (a Stack, or what wraps one) and
// sends the handler's frames out of the link that reaches their
// destination MAC, learning it from the source MAC of the frames received,
// as a switch does: when a VM moves and announces itself, its frames
// follow.
//
//	link, _ := tcpip.NewLink(nic.Port(0), 0)
//	host := tcpip.NewHost(link)
//	st, _ := tcpip.NewStack(tcpip.StackConfig{
//		MAC:   [6]byte{2, 0, 0, 0, 0, 1},
//		Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.10/24")},
//	}, host.Send)
//	host.SetHandler(st)
//	c, _ := st.Dial(netip.MustParseAddrPort("10.0.0.10:40000"), netip.MustParseAddrPort("10.0.0.1:80"))
//	for ... { nic.Step(); host.Poll(); n, err := c.Read(buf) ... }
//
// # Write-ahead
//
// A StackConfig's WriteAhead is told of every change to a connection's
// state before the change is made and before any segment that reveals it
// is sent: the acknowledgement point, the bytes received, the TCP state,
// windows closing and opening, the timestamps. A change the log refuses is
// not made, and the window the stack advertises is no larger than the
// log's room. A StandIn stack answers for the connections of a suspended
// application with such a log (its connection timers frozen, its ARP and
// neighbour cache running): package migrate's circuit runs one, with its
// journal as the log, to keep a VM's sessions alive while the VM is moved.
//
// # Concurrency
//
// A Stack, its Conns, Links and Hosts belong to one goroutine at a time.
package tcpip

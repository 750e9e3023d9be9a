package tcpip

import (
	"encoding/binary"
	"net/netip"

	eth "github.com/ringkit/ringkit/frame"
)

// Addresses and the next hop. A stack has the addresses of
// StackConfig.Addrs; a destination inside one of their subnets is on the
// link, one outside is reached through the gateway.

// hasAddr reports whether a is one of the stack's addresses.
func (st *Stack) hasAddr(a netip.Addr) bool {
	for _, p := range st.cfg.Addrs {
		if p.Addr() == a {
			return true
		}
	}
	return false
}

// nextHop returns the address whose MAC frames to dst are sent to: dst
// itself on the link, else the gateway. A stack without addresses takes
// every destination to be on the link. False: no route.
func (st *Stack) nextHop(dst netip.Addr) (netip.Addr, bool) {
	if len(st.cfg.Addrs) == 0 {
		return dst, true
	}
	for _, p := range st.cfg.Addrs {
		if p.Contains(dst) {
			return dst, true
		}
	}
	return st.cfg.Gateway, st.cfg.Gateway.IsValid()
}

// sourceFor is the address the stack's requests to hop come from when no
// frame named one: its address on hop's subnet, else its first.
func (st *Stack) sourceFor(hop netip.Addr) netip.Addr {
	for _, p := range st.cfg.Addrs {
		if p.Contains(hop) {
			return p.Addr()
		}
	}
	if len(st.cfg.Addrs) > 0 {
		return st.cfg.Addrs[0].Addr()
	}
	return netip.IPv4Unspecified()
}

// sendARP sends an ARP packet from the stack's MAC to the Ethernet
// address dst.
func (st *Stack) sendARP(op uint16, dst [6]byte, senderIP netip.Addr, targetMAC [6]byte, targetIP netip.Addr) {
	if !senderIP.Is4() {
		senderIP = st.sourceFor(targetIP)
	}
	a := eth.ARP{Op: op, SenderMAC: st.cfg.MAC, SenderIP: senderIP, TargetMAC: targetMAC, TargetIP: targetIP}
	st.sendLink(dst, eth.EtherTypeARP, &a)
}

// sendLink sends an ARP or RARP packet in a frame of EtherType et, padded
// to the Ethernet minimum, built in a buffer of its own (a frame waiting
// in st.buf may be what it resolves).
func (st *Stack) sendLink(dst [6]byte, et uint16, a *eth.ARP) {
	st.arpPkt = eth.AppendARP(st.arpPkt[:0], a)
	st.arpSpec = eth.Spec{DstMAC: dst, SrcMAC: st.cfg.MAC, EtherType: et, Payload: st.arpPkt, PadTo: 60}
	st.arpBuf = eth.Build(st.arpBuf[:0], &st.arpSpec)
	st.stats.ARPOut++
	st.out(st.arpBuf)
}

// inputARP takes an ARP frame: it answers requests for the stack's
// addresses, learning the asker, and updates the entries the cache holds
// from replies and from other requests (gratuitous ones included), as
// Linux's arp_process does with arp_accept off.
func (st *Stack) inputARP(f []byte) {
	a, err := eth.ParseARP(f[14:])
	if err != nil {
		st.stats.ARPErrors++
		return
	}
	if a.Op != eth.ARPRequest && a.Op != eth.ARPReply {
		return // RARP: for the switches
	}
	st.stats.ARPIn++
	if a.SenderMAC == st.cfg.MAC || !unicastMAC(a.SenderMAC) {
		return // our own, come back; or nonsense
	}
	now := st.cfg.Clock.Now()
	if a.Op == eth.ARPRequest && st.hasAddr(a.TargetIP) {
		if !a.SenderIP.IsUnspecified() { // a probe (RFC 5227) is answered, not learned from
			st.learn(a.SenderIP, a.SenderMAC, NeighborStale, true, false, now)
		}
		st.sendARP(eth.ARPReply, a.SenderMAC, a.TargetIP, a.SenderMAC, a.SenderIP)
		return
	}
	if a.SenderIP.IsUnspecified() || st.hasAddr(a.SenderIP) {
		return
	}
	// A reply sent to us confirms the neighbour; a broadcast one, or a
	// request, only says where it is.
	s := NeighborStale
	if a.Op == eth.ARPReply && [6]byte(f[0:6]) == st.cfg.MAC {
		s = NeighborReachable
	}
	st.learn(a.SenderIP, a.SenderMAC, s, false, a.IsGratuitous(), now)
}

// etherType is the EtherType of a frame without VLAN tags.
func etherType(f []byte) uint16 { return binary.BigEndian.Uint16(f[12:]) }

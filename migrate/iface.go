package migrate

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/ringkit/ringkit/tcpip"
)

// Interface is the VM's network interface as a migration carries it: the
// MAC it keeps on every host, its addresses and gateway, and its
// neighbour cache (the entries holding a MAC, with their states and
// timers). On the destination the VM answers and sends from the same MAC,
// reaches its peers without resolving them again, and announces itself
// from that MAC. The zero Interface says nothing of the VM's interface.
type Interface struct {
	MAC       [6]byte
	Addrs     []netip.Prefix
	Gateway   netip.Addr
	Neighbors []tcpip.Neighbor
}

// Limits of an encoded Interface, so that a corrupt count cannot make the
// decoder allocate without bound.
const (
	MaxAddrs     = 1 << 10
	MaxNeighbors = 1 << 16
)

// InterfaceOf returns the interface of st: its MAC, addresses and gateway
// from its configuration and its neighbour cache as Neighbors exports it.
func InterfaceOf(st *tcpip.Stack) Interface {
	cfg := st.Config()
	return Interface{MAC: cfg.MAC, Addrs: cfg.Addrs, Gateway: cfg.Gateway, Neighbors: st.Neighbors()}
}

// apply gives the stack configuration cfg the interface's MAC, addresses
// and gateway, when the interface is known.
func (ifc *Interface) apply(cfg *tcpip.StackConfig) {
	if ifc.MAC == [6]byte{} {
		return
	}
	cfg.MAC, cfg.Addrs, cfg.Gateway = ifc.MAC, slices.Clone(ifc.Addrs), ifc.Gateway
}

// AppendInterface appends the encoding of ifc to dst (little-endian):
//
//	mac [6] | addr_count u16 | addr_count × (ipv4 [4] | prefix_bits u8 | zero u8) |
//	gateway_flag u8 (0 or 1) | gateway [4] (zero without the flag) | zero u8 |
//	neighbor_count u32 | neighbor_count × (ipv4 [4] | mac [6] | state u8 | probes u8 | timer_in i64 ns)
//
// States are tcpip.NeighborState values (REACHABLE 2, STALE 3, DELAY 4,
// PROBE 5). Only IPv4 is carried: another address is written as
// 0.0.0.0.
func AppendInterface(dst []byte, ifc *Interface) []byte {
	le := binary.LittleEndian
	dst = append(dst, ifc.MAC[:]...)
	dst = le.AppendUint16(dst, uint16(len(ifc.Addrs)))
	for _, p := range ifc.Addrs {
		a := as4(p.Addr())
		dst = append(dst, a[:]...)
		dst = append(dst, uint8(max(p.Bits(), 0)), 0)
	}
	var flag uint8
	var gw [4]byte
	if ifc.Gateway.Is4() {
		flag, gw = 1, ifc.Gateway.As4()
	}
	dst = append(dst, flag)
	dst = append(dst, gw[:]...)
	dst = append(dst, 0)
	dst = le.AppendUint32(dst, uint32(len(ifc.Neighbors)))
	for _, n := range ifc.Neighbors {
		a := as4(n.Addr)
		dst = append(dst, a[:]...)
		dst = append(dst, n.MAC[:]...)
		dst = append(dst, uint8(n.State), n.Probes)
		dst = le.AppendUint64(dst, uint64(n.TimerIn))
	}
	return dst
}

// as4 is a's four bytes, zero for an address that is not IPv4.
func as4(a netip.Addr) [4]byte {
	if a.Is4() {
		return a.As4()
	}
	return [4]byte{}
}

// DecodeInterface decodes an interface encoded by AppendInterface,
// checking every field (IPv4 addresses and prefix lengths, flags and
// reserved bytes, neighbour states that hold a MAC, unicast MACs,
// non-negative timers, counts within MaxAddrs and MaxNeighbors, no
// trailing byte). Errors wrap ErrMalformed. It never panics.
func DecodeInterface(b []byte) (*Interface, error) {
	d := decoder{b: b}
	ifc, err := decodeInterface(&d)
	if err != nil {
		return nil, err
	}
	if d.off != len(b) {
		return nil, fmt.Errorf("interface: %d trailing bytes: %w", len(b)-d.off, ErrMalformed)
	}
	return ifc, nil
}

func decodeInterface(d *decoder) (*Interface, error) {
	ifc := &Interface{}
	if m := d.take(6, "mac"); m != nil {
		ifc.MAC = [6]byte(m)
	}
	n := int(d.u16("address count"))
	if err := d.err("interface"); err != nil {
		return nil, err
	}
	if n > MaxAddrs {
		return nil, fmt.Errorf("interface: %d addresses above %d: %w", n, MaxAddrs, ErrMalformed)
	}
	for i := range n {
		raw := d.take(4, "address")
		bits, zero := d.u8("prefix length"), d.u8("address reserved byte")
		if err := d.err("interface"); err != nil {
			return nil, err
		}
		a := netip.AddrFrom4([4]byte(raw))
		if bits > 32 || zero != 0 {
			return nil, fmt.Errorf("interface: address %d: %v/%d, reserved %d: %w", i, a, bits, zero, ErrMalformed)
		}
		ifc.Addrs = append(ifc.Addrs, netip.PrefixFrom(a, int(bits)))
	}
	flag := d.u8("gateway flag")
	gw := d.take(4, "gateway")
	zero := d.u8("gateway reserved byte")
	count := d.u32("neighbour count")
	if err := d.err("interface"); err != nil {
		return nil, err
	}
	switch {
	case flag > 1 || zero != 0 || flag == 0 && !allZero(gw):
		return nil, fmt.Errorf("interface: gateway flag %d, bytes % x, reserved %d: %w", flag, gw, zero, ErrMalformed)
	case flag == 1:
		ifc.Gateway = netip.AddrFrom4([4]byte(gw))
	}
	if count > MaxNeighbors {
		return nil, fmt.Errorf("interface: %d neighbours above %d: %w", count, MaxNeighbors, ErrMalformed)
	}
	for i := range count {
		raw, mac := d.take(4, "neighbour address"), d.take(6, "neighbour mac")
		st, probes, timer := tcpip.NeighborState(d.u8("neighbour state")), d.u8("neighbour probes"), time.Duration(d.u64("neighbour timer"))
		if err := d.err("interface"); err != nil {
			return nil, err
		}
		nb := tcpip.Neighbor{Addr: netip.AddrFrom4([4]byte(raw)), MAC: [6]byte(mac), State: st, Probes: probes, TimerIn: timer}
		switch st {
		case tcpip.NeighborReachable, tcpip.NeighborStale, tcpip.NeighborDelay, tcpip.NeighborProbe:
		default:
			return nil, fmt.Errorf("interface: neighbour %d (%v): state %d: %w", i, nb.Addr, uint8(st), ErrMalformed)
		}
		if nb.MAC[0]&1 != 0 || nb.MAC == [6]byte{} || timer < 0 {
			return nil, fmt.Errorf("interface: neighbour %d (%v): MAC %x, timer %v: %w", i, nb.Addr, nb.MAC, timer, ErrMalformed)
		}
		ifc.Neighbors = append(ifc.Neighbors, nb)
	}
	return ifc, nil
}

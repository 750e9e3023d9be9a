package tcpip

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/ringkit/ringkit/descriptor"
)

// Rings is what a Link drives of a port: the descriptor rings of its
// queues. Every port.Port has these methods, so a Link runs on any
// backend: nicsim's in-memory NIC, a TAP device, an AF_XDP socket.
type Rings interface {
	Queues() int
	RxRing(q int) *descriptor.RxRing
	TxRing(q int) *descriptor.TxRing
}

// Link is the driver of one RX/TX queue pair of a port: it takes bursts of
// received frames from the RX ring and posts frames to the TX ring,
// copying each into a buffer of the ring's pool. The port's engine (its
// Step or Run) moves the frames between the rings and the wire. A Link
// belongs to one goroutine.
type Link struct {
	rx    *descriptor.RxRing
	tx    *descriptor.TxRing
	pool  *descriptor.Pool
	burst [32]descriptor.Packet
	one   [1]descriptor.Packet
	// TxDropped counts frames that found no buffer or no free descriptor.
	TxDropped uint64
}

// NewLink returns the driver of queue q of port p.
func NewLink(p Rings, q int) (*Link, error) {
	if q < 0 || q >= p.Queues() {
		return nil, fmt.Errorf("tcpip: link on queue %d of a port with %d: %w", q, p.Queues(), ErrConfig)
	}
	rx := p.RxRing(q)
	return &Link{rx: rx, tx: p.TxRing(q), pool: rx.Pool()}, nil
}

// Receive hands each frame received to fn (which must not keep it) and
// returns how many there were.
func (l *Link) Receive(fn func(frame []byte)) int {
	n := l.rx.Receive(l.burst[:])
	for i := range n {
		fn(l.pool.Bytes(l.burst[i]))
	}
	if n > 0 {
		_ = l.rx.Free(l.burst[:n])
	}
	return n
}

// Send copies frame into a buffer and posts it for transmission; false
// when no buffer or descriptor was free (the frame is dropped, as a NIC
// whose ring is full drops it).
func (l *Link) Send(frame []byte) bool {
	b, ok := l.pool.Get()
	if !ok {
		l.TxDropped++
		return false
	}
	n := copy(l.pool.Data(b), frame)
	l.one[0] = descriptor.Packet{Buf: b, Len: uint16(n)}
	if k, err := l.tx.Transmit(l.one[:]); k != 1 || err != nil {
		_ = l.pool.Put(b)
		l.TxDropped++
		return false
	}
	return true
}

// Handler is what a Host runs over its links: a TCP stack, a circuit, a
// destination.
type Handler interface {
	Input(frame []byte)
	Tick()
}

// Host is a machine's network driver: it polls its links, hands frames to
// its handler, and sends the handler's frames out of the link its routes
// name for the destination address. It learns routes from announcements
// (see Announcement): an address announced on link i is reached through
// link i from then on, as a switch learns where a MAC address moved. It
// belongs to one goroutine.
type Host struct {
	links   []*Link
	routes  map[netip.Addr]int
	handler Handler
	// Announcements counts the announcements received, Moves those that
	// changed a route.
	Announcements, Moves uint64
}

// NewHost returns a host driving links (route 0 is the default).
func NewHost(links ...*Link) *Host {
	return &Host{links: links, routes: make(map[netip.Addr]int)}
}

// SetHandler sets the handler frames are given to.
func (h *Host) SetHandler(hd Handler) { h.handler = hd }

// Route returns the link index frames to a are sent through.
func (h *Host) Route(a netip.Addr) int { return h.routes[a] }

// Poll receives what each link has, gives it to the handler (learning
// routes from announcements), then ticks the handler. It returns the
// number of frames received.
func (h *Host) Poll() int {
	n := 0
	for i, l := range h.links {
		n += l.Receive(func(f []byte) {
			if addrs, ok := parseAnnouncement(f); ok {
				h.Announcements++
				for _, a := range addrs {
					if old, ok := h.routes[a]; !ok && i != 0 || ok && old != i {
						h.Moves++
					}
					h.routes[a] = i
				}
				return
			}
			if h.handler != nil {
				h.handler.Input(f)
			}
		})
	}
	if h.handler != nil {
		h.handler.Tick()
	}
	return n
}

// Send sends an IPv4 frame out of the link routed to its destination
// address, an announcement out of every link.
func (h *Host) Send(f []byte) {
	if len(f) >= 14 && binary.BigEndian.Uint16(f[12:]) == EtherTypeAnnounce {
		for _, l := range h.links {
			l.Send(f)
		}
		return
	}
	i := 0
	if len(f) >= 34 {
		if a, ok := netip.AddrFromSlice(f[30:34]); ok {
			i = h.routes[a]
		}
	}
	h.links[i].Send(f)
}

package tcpip

import (
	"fmt"

	"github.com/ringkit/ringkit/descriptor"
	eth "github.com/ringkit/ringkit/frame"
	"github.com/ringkit/ringkit/port"
)

// Link is the driver of one RX/TX queue pair of a port (any port.Port:
// nicsim's in-memory NIC, a TAP device, an AF_XDP socket): it takes bursts
// of received frames from the RX ring and posts frames to the TX ring,
// copying each into a buffer of the ring's pool. The port's engine (its
// Step or Run) moves the frames between the rings and the wire. A Link
// belongs to one goroutine, and is the only driver of its queue.
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
func NewLink(p port.Port, q int) (*Link, error) {
	if q < 0 || q >= p.Queues() {
		return nil, fmt.Errorf("tcpip: link on queue %d of %s, which has %d: %w", q, p.Name(), p.Queues(), ErrConfig)
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

// Host is a machine's network driver: it polls its links, hands every
// frame to its handler, and sends the handler's frames out of the link
// that reaches their destination MAC. With more than one link it learns,
// as a switch or a Linux bridge does, from the source MAC of every frame
// received, which link reaches that MAC: a frame to a MAC learned goes out
// of its link, a broadcast or a frame to a MAC not learned yet out of
// every link. So when a VM moves and its new host announces it (a
// gratuitous ARP or RARP from the VM's MAC), the frames follow at once.
// It belongs to one goroutine.
type Host struct {
	links   []*Link
	fdb     map[[6]byte]int // the link a MAC was last seen on
	handler Handler
	// Announcements counts the gratuitous ARP and RARP frames received,
	// Moves the MACs seen on another link than before.
	Announcements, Moves uint64
}

// NewHost returns a host driving links.
func NewHost(links ...*Link) *Host {
	return &Host{links: links, fdb: make(map[[6]byte]int)}
}

// SetHandler sets the handler frames are given to.
func (h *Host) SetHandler(hd Handler) { h.handler = hd }

// LinkOf returns the link a frame to mac goes out of, and false when mac
// has not been seen (the frame goes out of every link).
func (h *Host) LinkOf(mac [6]byte) (int, bool) {
	i, ok := h.fdb[mac]
	return i, ok
}

// Poll receives what each link has, learning where each source MAC is,
// gives it to the handler, then ticks the handler. It returns the number
// of frames received.
func (h *Host) Poll() int {
	n := 0
	for i, l := range h.links {
		n += l.Receive(func(f []byte) {
			h.learn(f, i)
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

func (h *Host) learn(f []byte, link int) {
	if len(f) < 14 {
		return
	}
	if isAnnouncement(f) {
		h.Announcements++
	}
	if len(h.links) < 2 {
		return
	}
	src := [6]byte(f[6:12])
	if !unicastMAC(src) {
		return
	}
	if old, ok := h.fdb[src]; !ok || old != link {
		if ok {
			h.Moves++
		}
		h.fdb[src] = link
	}
}

// isAnnouncement reports whether f announces a MAC: a gratuitous ARP or a
// RARP frame.
func isAnnouncement(f []byte) bool {
	switch etherType(f) {
	case eth.EtherTypeRARP:
		return true
	case eth.EtherTypeARP:
		a, err := eth.ParseARP(f[14:])
		return err == nil && a.IsGratuitous()
	}
	return false
}

// Send sends a frame out of the link its destination MAC was learned on,
// or out of every link for a broadcast, a multicast or a MAC not learned.
func (h *Host) Send(f []byte) {
	if len(f) >= 14 {
		if i, ok := h.fdb[[6]byte(f[0:6])]; ok {
			h.links[i].Send(f)
			return
		}
	}
	for _, l := range h.links {
		l.Send(f)
	}
}

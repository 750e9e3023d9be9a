package classify

import "github.com/ringkit/ringkit/descriptor"

// Offload is the receive offload a port does for its driver, as a NIC's
// packet-type and RSS offloads: it parses each frame (descriptor.FlagParsed
// when the parse is clean, so a classifier need not parse again), hashes it
// with the Toeplitz RSS key (descriptor.FlagHash), and picks a queue through
// a redirection table of 128 entries, entry i being queue i mod queues.
// The Linux ports and the pcap port use it; nicsim's NIC has its own, with a
// key and table the user sets.
//
// An Offload is read-only after NewOffload: any goroutine may use it.
type Offload struct {
	parse  bool
	rss    *Toeplitz
	queues int
	reta   [128]uint16
}

// NewOffload returns the offload of a port with queues queues (1 if less)
// using DefaultKey. With parse false, frames are neither parsed nor
// hashed unless there are several queues to pick from, and then only
// hashed.
func NewOffload(queues int, parse bool) *Offload {
	queues = max(queues, 1)
	t, _ := NewToeplitz(DefaultKey[:]) // DefaultKey is KeySize bytes
	o := &Offload{parse: parse, rss: t, queues: queues}
	for i := range o.reta {
		o.reta[i] = uint16(i % queues)
	}
	return o
}

// Meta returns the metadata of frame f received on port id, and the queue
// RSS picks for it (0 for a frame without an IP header). Queue in the
// metadata is that queue. It never allocates and never reads outside f.
func (o *Offload) Meta(f []byte, id uint16) (descriptor.Packet, int) {
	m := descriptor.Packet{Port: id}
	if !o.parse && o.queues == 1 {
		return m, 0
	}
	if Parse(f, &m) == OK && o.parse {
		m.Flags |= descriptor.FlagParsed
	}
	q := 0
	if h, ok := o.rss.HashFrame(f, &m, true); ok {
		q = int(o.reta[h%uint32(len(o.reta))])
		if o.parse {
			m.Hash, m.Flags = h, m.Flags|descriptor.FlagHash
		}
	}
	if !o.parse { // parsed and hashed only to pick the queue
		m = descriptor.Packet{Port: id}
	}
	m.Queue = uint16(q)
	return m, q
}

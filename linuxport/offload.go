package linuxport

import (
	"github.com/ringkit/ringkit/classify"
	"github.com/ringkit/ringkit/descriptor"
)

// offload is the receive offload every Linux port does as nicsim's NIC:
// parse (descriptor.FlagParsed when the parse is clean) and Toeplitz-hash
// each frame, and, for a port that spreads one kernel source over several
// queues, pick the queue through a redirection table.
type offload struct {
	off    bool // NoOffload: no parse, no hash
	rss    *classify.Toeplitz
	queues int
	reta   [128]uint16
}

func newOffload(noOffload bool, queues int) *offload {
	t, _ := classify.NewToeplitz(classify.DefaultKey[:]) // the default key is KeySize bytes
	o := &offload{off: noOffload, rss: t, queues: queues}
	for i := range o.reta {
		o.reta[i] = uint16(i % queues)
	}
	return o
}

// meta fills the metadata of frame f for port id and returns it with the
// queue software RSS picks (queue 0 for a frame without a hash).
func (o *offload) meta(f []byte, id uint16) (descriptor.Packet, int) {
	m := descriptor.Packet{Port: id}
	if o.off && o.queues == 1 {
		return m, 0
	}
	if classify.Parse(f, &m) == classify.OK {
		m.Flags |= descriptor.FlagParsed
	}
	q := 0
	if h, ok := o.rss.HashFrame(f, &m, true); ok {
		m.Hash, m.Flags = h, m.Flags|descriptor.FlagHash
		q = int(o.reta[h%uint32(len(o.reta))])
	}
	if o.off { // hashed only to pick the queue
		m = descriptor.Packet{Port: id}
	}
	m.Queue = uint16(q)
	return m, q
}

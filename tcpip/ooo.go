package tcpip

import (
	"slices"

	"github.com/ringkit/ringkit/internal/seqnum"
)

// heldSegment is a stretch of the peer's stream held out of order: the
// bytes from seq on, and the FIN after them when fin is set.
type heldSegment struct {
	seq  uint32
	data []byte
	fin  bool
}

// end is the sequence number after the stretch's bytes.
func (h *heldSegment) end() uint32 { return h.seq + uint32(len(h.data)) }

// hold puts a segment that starts beyond rcv_nxt into the out-of-order
// queue: the part of it within the window advertised that no stretch
// holds yet, merged with the stretches it touches. Beyond
// StackConfig.OutOfOrder stretches, those farthest from rcv_nxt are
// dropped; what is dropped or beyond the window is counted
// (OutOfOrderDropped), and the peer sends it again.
func (c *Conn) hold(seq uint32, data []byte, fin bool) {
	st := c.st
	if st.cfg.OutOfOrder == 0 {
		st.stats.OutOfOrderDropped++
		return
	}
	// Offsets from rcv_nxt: every stretch held starts beyond it, and ends
	// within the window.
	rel := func(x uint32) int { return int(seqnum.Diff(c.s.RcvNxt, x)) }
	a := rel(seq)
	if limit := int(c.rcvWindow()); a+len(data) > limit {
		data, fin = data[:max(limit-a, 0)], false
		st.stats.OutOfOrderDropped++
	}
	b := a + len(data)
	if len(data) == 0 && !fin {
		return
	}
	// The parts of [a, b) that no stretch holds.
	var pieces []heldSegment
	cur := a
	for i := range c.ooo {
		hs, he := rel(c.ooo[i].seq), rel(c.ooo[i].end())
		if he <= cur {
			continue
		}
		if hs >= b {
			break
		}
		if hs > cur {
			pieces = append(pieces, heldSegment{seq: seq + uint32(cur-a), data: slices.Clone(data[cur-a : hs-a])})
		}
		cur = he
	}
	if cur < b {
		pieces = append(pieces, heldSegment{seq: seq + uint32(cur-a), data: slices.Clone(data[cur-a:])})
	}
	if fin {
		// The FIN goes after the byte at b, unless something is held beyond
		// it (a FIN contradicting what the peer sent before: ignored).
		last := -1 // where the last stretch held ends
		if n := len(c.ooo); n > 0 {
			last = rel(c.ooo[n-1].end())
		}
		switch k := len(pieces); {
		case last > b:
		case k > 0 && rel(pieces[k-1].end()) == b:
			pieces[k-1].fin = true
		case last == b:
			c.ooo[len(c.ooo)-1].fin = true
		default:
			pieces = append(pieces, heldSegment{seq: seq + uint32(len(data)), fin: true})
		}
	}
	for _, p := range pieces {
		i, _ := slices.BinarySearchFunc(c.ooo, p.seq, func(h heldSegment, s uint32) int { return rel(h.seq) - rel(s) })
		c.ooo = slices.Insert(c.ooo, i, p)
	}
	// Merge stretches that touch, then keep the nearest OutOfOrder.
	out := c.ooo[:0]
	for _, h := range c.ooo {
		if k := len(out); k > 0 && out[k-1].end() == h.seq && !out[k-1].fin {
			out[k-1].data = append(out[k-1].data, h.data...)
			out[k-1].fin = h.fin
			continue
		}
		out = append(out, h)
	}
	if len(out) > st.cfg.OutOfOrder {
		clear(out[st.cfg.OutOfOrder:])
		out = out[:st.cfg.OutOfOrder]
		st.stats.OutOfOrderDropped++
	}
	clear(c.ooo[len(out):])
	c.ooo = out
}

// takeHeld takes, after rcv_nxt moved, the held stretches that now follow
// in order: the part of each beyond rcv_nxt, until a gap, a refusal of the
// window or the log, or a FIN.
func (c *Conn) takeHeld() {
	for len(c.ooo) > 0 {
		h := c.ooo[0]
		if seqnum.LT(c.s.RcvNxt, h.seq) {
			return // a gap remains
		}
		skip := min(int(seqnum.Diff(h.seq, c.s.RcvNxt)), len(h.data))
		c.ooo[0] = heldSegment{}
		c.ooo = c.ooo[1:]
		if !c.take(h.data[skip:], h.fin) || h.fin {
			// Refused in part, the rest dropped: the peer sends it again
			// once the window opens. After a FIN nothing follows.
			return
		}
	}
	c.ooo = nil
}

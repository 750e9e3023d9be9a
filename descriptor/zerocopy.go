package descriptor

import "fmt"

// The buffer area as a NIC that reads and writes it in place sees it: a
// Linux AF_XDP socket registers the slab as its UMEM and names buffers by
// their byte offset in it, as a DMA engine names them by bus address.
//
// With Headroom 256, DataRoom 1792 and Align 4096, the stride is 2048 and
// each buffer is one aligned AF_XDP chunk whose data room starts where the
// kernel writes a received frame (XDP_PACKET_HEADROOM into the chunk).

// Slab returns the Pool's whole buffer area, Buffers() × Stride() bytes:
// buffer i occupies [i×Stride(), (i+1)×Stride()), headroom first. It is
// for registering the area with a device or the kernel; reading or writing
// a buffer through it is subject to the same ownership as through Data.
func (p *Pool) Slab() []byte { return p.slab }

// Stride returns the bytes from one buffer's start to the next one's:
// Headroom() + DataRoom().
func (p *Pool) Stride() int { return p.stride }

// Offset returns the byte offset in Slab of b's data room (its first frame
// byte), or false if b is not a Buf of p.
func (p *Pool) Offset(b Buf) (uint64, bool) {
	i, ok := p.index(b)
	if !ok {
		return 0, false
	}
	return uint64(i)*uint64(p.stride) + uint64(p.headroom), true
}

// BufAt returns the buffer whose stride holds byte off of Slab, and off's
// position from the start of that buffer's data room (negative in the
// headroom). ok is false if off is outside the slab. It is how a device's
// completion, which names a byte of the area, is mapped back to a Buf.
func (p *Pool) BufAt(off uint64) (b Buf, dataOff int, ok bool) {
	if off >= uint64(len(p.slab)) {
		return 0, 0, false
	}
	i := off / uint64(p.stride)
	return Buf(p.id | uint32(i)), int(off-i*uint64(p.stride)) - p.headroom, true
}

// NICTake is the NIC's side of a zero-copy receiver (an AF_XDP fill ring):
// it takes the buffers of up to len(dst) posted descriptors, oldest first,
// that it has not taken yet, and returns how many. From then on the NIC
// holds those buffers (a kernel writes frames into them) until it hands
// each back with NICPlaceBuf; the descriptors stay NIC-owned. It never
// allocates. NIC side.
//
// A ring's NIC side either copies (NICPlace) or places in place (NICTake
// and NICPlaceBuf); it must not mix the two while it holds buffers.
func (r *RxRing) NICTake(dst []Buf) int {
	if int64(r.head-r.taken) > 0 { // a ring that copied until now: nothing is out
		r.taken = r.head
	}
	want := uint64(len(dst))
	if r.tailCache-r.taken < want {
		r.tailCache = r.tail.Load() // load-acquire, pairs with the doorbell store in refill
	}
	k := min(r.tailCache-r.taken, want)
	for i := range k {
		dst[i] = r.descs[(r.taken+i)&r.mask].pkt.Buf
	}
	r.taken += k
	return int(k)
}

// NICHeld returns how many buffers the NIC holds through NICTake and has
// not placed yet. NIC side.
func (r *RxRing) NICHeld() int {
	if int64(r.taken-r.head) < 0 {
		return 0
	}
	return int(r.taken - r.head)
}

// NICPlaceBuf is the NIC's completion of a zero-copy receive: b, a buffer
// the NIC took with NICTake, holds a frame of n bytes at the start of its
// data room. The next descriptor to complete takes b, whichever buffer was
// posted in its slot, because a kernel may fill buffers in another order
// than it took them: the buffer that slot held goes to the slot b was
// taken from, so the buffers of the descriptors still held remain exactly
// the buffers out with the NIC. The descriptor is filled from meta (its
// Buf and Len replaced by b and n) and its done stamp set.
//
// It returns an error, placing nothing, if b is not a buffer the NIC holds
// through this ring (wrapping ErrForeign) or n is 0 or longer than the data
// room (wrapping ErrLength, counted in Stats().Errors; the NIC still holds
// b and may post it again). It never allocates. NIC side.
func (r *RxRing) NICPlaceBuf(b Buf, n int, meta Packet) error {
	if n <= 0 || n > r.dataRoom {
		r.errors.Add(1)
		return fmt.Errorf("descriptor: place %#x: %w: %d bytes (want 1..%d)", uint32(b), ErrLength, n, r.dataRoom)
	}
	h := r.head
	if int64(r.taken-h) <= 0 {
		return fmt.Errorf("descriptor: place %#x: %w (the NIC holds no buffer of this ring)", uint32(b), ErrForeign)
	}
	d := &r.descs[h&r.mask]
	if d.pkt.Buf != b {
		j := h + 1
		for ; j != r.taken; j++ {
			if o := &r.descs[j&r.mask]; o.pkt.Buf == b {
				o.pkt.Buf = d.pkt.Buf // NIC-owned slot: the driver reads it only after its done stamp
				break
			}
		}
		if j == r.taken {
			return fmt.Errorf("descriptor: place %#x: %w (not a buffer the NIC holds through this ring)", uint32(b), ErrForeign)
		}
	}
	meta.Buf, meta.Len = b, uint16(n)
	d.pkt = meta
	d.done.Store(uint32(h + 1)) // store-release: publishes pkt and the frame to the driver
	r.head = h + 1
	return nil
}

// NICCompleteBufs completes fetched descriptors by buffer, for a NIC that
// reports which buffers it has finished sending (an AF_XDP completion
// ring) rather than how many: for each Buf of bs in turn, the oldest
// fetched and not completed descriptor takes that buffer's packet (the
// packet it held moves to where b's was, if they differ) and is marked
// done, handing b back to the driver, which frees it. It returns how many
// it completed; it stops, with an error wrapping ErrForeign, at a Buf that
// is not one of a fetched, uncompleted descriptor. It never allocates. NIC
// side.
func (r *TxRing) NICCompleteBufs(bs []Buf) (int, error) {
	for i, b := range bs {
		if r.done == r.head {
			r.completed.Add(uint64(i))
			return i, fmt.Errorf("descriptor: complete %#x: %w (no fetched descriptor outstanding)", uint32(b), ErrForeign)
		}
		d := &r.descs[r.done&r.mask]
		if d.pkt.Buf != b {
			j := r.done + 1
			for ; j != r.head; j++ {
				if o := &r.descs[j&r.mask]; o.pkt.Buf == b {
					o.pkt, d.pkt = d.pkt, o.pkt // NIC-owned slots until their done stamps
					break
				}
			}
			if j == r.head {
				r.completed.Add(uint64(i))
				return i, fmt.Errorf("descriptor: complete %#x: %w (not the buffer of a fetched descriptor)", uint32(b), ErrForeign)
			}
		}
		d.done.Store(uint32(r.done + 1)) // store-release: the NIC no longer reads the buffer
		r.done++
	}
	r.completed.Add(uint64(len(bs)))
	return len(bs), nil
}

// NICFetched returns the number of descriptors fetched and not yet
// completed: with a zero-copy NIC, the packets out with it. NIC side.
func (r *TxRing) NICFetched() int { return int(r.head - r.done) }

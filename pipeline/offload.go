package pipeline

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/ringkit/ringkit/classify"
	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/frame"
	"github.com/ringkit/ringkit/jobring"
	"github.com/ringkit/ringkit/ring"
)

// kindChecksum is the job kind of the L4 checksum offload.
const kindChecksum jobring.Kind = 0

// offload is the transmit checksum offload of one (port, TC): the Stage
// hands it that class's packets as its Output (ingress side); each gets
// its L4 checksum field set to the pseudo-header sum, as a stack leaves a
// packet for a NIC's checksum offload (Linux's CHECKSUM_PARTIAL), and is
// submitted to a job ring whose one worker is a co-processor model. The
// co-processor computes the checksum over the segment and writes it in
// place. The egress side retires the jobs in submission order (so the
// class keeps its order) into the class's TC ring, where the scheduler
// finds them. A packet whose checksum was not computed fails the sink's
// verification.
type offload struct {
	pool *descriptor.Pool
	ring *jobring.Ring[descriptor.Packet, uint16]
	out  *ring.SPSC[descriptor.Packet] // the class's TC ring; this is its only producer

	tasks [burst]jobring.Task[descriptor.Packet] // ingress side

	// Egress side: retired jobs, and those the TC ring has not taken yet
	// (hold[head:]), offered again before anything more is retired.
	done [burst]jobring.Completion[descriptor.Packet, uint16]
	hold []descriptor.Packet
	head int
}

func newOffload(pool *descriptor.Pool, oc *OffloadConfig, out *ring.SPSC[descriptor.Packet]) (*offload, error) {
	o := &offload{pool: pool, out: out, hold: make([]descriptor.Packet, 0, burst)}
	r, err := jobring.New(jobring.Config[descriptor.Packet, uint16]{
		Slots: oc.Slots,
		Rules: jobring.Rules{Kinds: []jobring.KindRule{{Kind: kindChecksum, Name: "l4-checksum", Order: jobring.Ordered}}},
		Workers: []jobring.Worker[descriptor.Packet, uint16]{{
			Name: "csum-engine", Class: jobring.Coprocessor, Kinds: jobring.Kinds(kindChecksum),
			Batch: oc.Batch, Do: o.checksum,
			Setup: time.Duration(oc.Setup), NsPerByte: oc.NsPerByte,
			Size: func(_ jobring.Kind, pk *descriptor.Packet) int { return int(pk.Len) },
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("pipeline: offload: %w", err)
	}
	o.ring = r
	return o, nil
}

// EnqueueBurst prepares and submits src (the Stage's Output, ingress side);
// it returns how many the job ring took. The frames of the packets it did
// not take are changed too, but the Stage drops those.
func (o *offload) EnqueueBurst(src []descriptor.Packet) int {
	n := min(len(src), len(o.tasks))
	for i := range src[:n] {
		pk := &src[i]
		partial(o.pool.Bytes(*pk), pk)
		o.tasks[i] = jobring.Task[descriptor.Packet]{Kind: kindChecksum, Flow: pk.Hash, Job: *pk}
	}
	_, k := o.ring.SubmitBurst(o.tasks[:n])
	return k
}

// csumOffset returns the offset of the L4 checksum field of a parsed
// packet, the L4 length, and the pseudo-header sum; ok is false for a
// packet that is not TCP or UDP over IP.
func csumOffset(b []byte, pk *descriptor.Packet) (field, l4len int, pseudo uint32, ok bool) {
	l3, l4 := int(pk.L3Off), int(pk.L4Off)
	var end int
	var src, dst []byte
	switch {
	case pk.Type.Has(descriptor.L3IPv4) && len(b) >= l3+20:
		end = l3 + int(binary.BigEndian.Uint16(b[l3+2:]))
		src, dst = b[l3+12:l3+16], b[l3+16:l3+20]
	case pk.Type.Has(descriptor.L3IPv6) && len(b) >= l3+40:
		end = l3 + 40 + int(binary.BigEndian.Uint16(b[l3+4:]))
		src, dst = b[l3+8:l3+24], b[l3+24:l3+40]
	default:
		return 0, 0, 0, false
	}
	switch {
	case pk.Type.Has(descriptor.L4TCP):
		field = l4 + 16
	case pk.Type.Has(descriptor.L4UDP):
		field = l4 + 6
	default:
		return 0, 0, 0, false
	}
	if end > len(b) || field+2 > end || pk.Flags.Has(descriptor.FlagFragment) {
		return 0, 0, 0, false
	}
	return field, end - l4, frame.PseudoSum(src, dst, pk.Proto, end-l4), true
}

// partial leaves the packet's checksum to the device: the field holds the
// folded pseudo-header sum.
func partial(b []byte, pk *descriptor.Packet) {
	if field, _, pseudo, ok := csumOffset(b, pk); ok {
		binary.BigEndian.PutUint16(b[field:], frame.Fold(pseudo))
	}
}

// checksum is the co-processor's work on one packet: the checksum of the
// segment, whose checksum field holds the pseudo-header sum, is the value
// to store there (RFC 1071's incremental property). A UDP checksum that
// comes out 0 is sent as 0xffff (RFC 768).
func (o *offload) checksum(_ context.Context, _ jobring.Kind, pk *descriptor.Packet, res *uint16) error {
	b := o.pool.Bytes(*pk)
	field, l4len, _, ok := csumOffset(b, pk)
	if !ok {
		return errNotOffloadable
	}
	l4 := int(pk.L4Off)
	c := frame.Checksum(b[l4:l4+l4len], 0)
	if c == 0 && pk.Proto == classify.ProtoUDP {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(b[field:], c)
	*res = c
	return nil
}

var errNotOffloadable = errors.New("pipeline: offload: not a TCP or UDP packet")

// retire moves done jobs, in submission order, into the TC ring (egress
// side); failed jobs' buffers go to cache. It returns the packets moved.
func (o *offload) retire(cnt *counters, cache *descriptor.Cache) int {
	moved := 0
	if o.head < len(o.hold) {
		k := o.out.EnqueueBurst(o.hold[o.head:])
		o.head += k
		moved += k
		if o.head < len(o.hold) {
			return moved
		}
	}
	o.hold, o.head = o.hold[:0], 0
	n := o.ring.Retire(o.done[:])
	for i := range o.done[:n] {
		c := &o.done[i]
		if c.Err != nil {
			cnt.offloadFailed.Add(1)
			_ = cache.Put(c.Job.Buf)
		} else {
			o.hold = append(o.hold, c.Job)
		}
		*c = jobring.Completion[descriptor.Packet, uint16]{}
	}
	k := o.out.EnqueueBurst(o.hold)
	o.head = k
	return moved + k
}

// close lets the co-processor finish, and gives up what is left: jobs not
// yet retired and packets the TC ring did not take (counted).
func (o *offload) close(cnt *counters, cache *descriptor.Cache) error {
	err := o.ring.Close()
	for {
		for _, pk := range o.hold[o.head:] {
			cnt.offloadStop.Add(1)
			_ = cache.Put(pk.Buf)
		}
		o.hold, o.head = o.hold[:0], 0
		n := o.ring.Retire(o.done[:])
		if n == 0 {
			break
		}
		for i := range o.done[:n] {
			if o.done[i].Err != nil {
				cnt.offloadFailed.Add(1)
				_ = cache.Put(o.done[i].Job.Buf)
			} else {
				o.hold = append(o.hold, o.done[i].Job)
			}
		}
	}
	return err
}

// pending returns the jobs submitted and not retired plus those held.
func (o *offload) pending() int { return o.ring.Len() + len(o.hold) - o.head }

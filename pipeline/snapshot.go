package pipeline

import (
	"fmt"
	"strings"

	"github.com/ringkit/ringkit/sched"
)

// Snapshot is the pipeline's counters at one moment; any goroutine may
// take one while it runs (each counter is read atomically; the set is
// not one instant).
type Snapshot struct {
	// Generated counts the frames offered to the ingress port: those the
	// pipeline's traffic sent into it or, on ports given in Options, those
	// that arrived at it (taken, missed or refused).
	Generated   uint64 `json:"generated"`
	Received    uint64 `json:"received"`    // placed into the RX rings by the NIC
	Classified  uint64 `json:"classified"`  // taken by the classifier
	Offloaded   uint64 `json:"offloaded"`   // through the co-processor
	Scheduled   uint64 `json:"scheduled"`   // sent by the schedulers
	Transmitted uint64 `json:"transmitted"` // put on the wire by the NIC
	Delivered   uint64 `json:"delivered"`   // received at the sink with good checksums
	Verified    uint64 `json:"verified"`    // of the sink's frames, checksums checked
	SinkBytes   uint64 `json:"sink_bytes"`
	// Drops are every reason and cause, always the same list in the same
	// order (so two snapshots compare entry by entry), zeros included.
	Drops []Drop `json:"drops"`
	// InFlight is Generated less Delivered and every drop: packets still in
	// a ring, a scheduler or the co-processor. 0 after Close.
	InFlight int64       `json:"in_flight"`
	Ports    []PortShare `json:"ports"`
	// OffloadQueued is the jobs in the co-processor's job ring (submitted,
	// not yet retired), of OffloadSlots; both 0 without an offload.
	OffloadQueued int `json:"offload_queued"`
	OffloadSlots  int `json:"offload_slots"`
	// Migration is the live migration's phase ("off" without one).
	Migration string `json:"migration"`
}

// PortShare is one output port's classes with their share over the
// scheduler's stats window.
type PortShare struct {
	Name string    `json:"name"`
	TCs  []TCShare `json:"tcs"`
}

// TCShare is one class's share and counters.
type TCShare struct {
	Name  string  `json:"name"`
	TC    int     `json:"tc"`
	Share float64 `json:"share"` // of the port's wire bytes over the scheduler's window
	// Packets and WireBytes count what the scheduler sent (WireBytes
	// with the 24 bytes of framing per frame the port rate counts).
	Packets   uint64 `json:"packets"`
	WireBytes uint64 `json:"wire_bytes"`
	// Queued is the packets in the class's TC ring, of RingSize.
	Queued   int `json:"queued"`
	RingSize int `json:"ring_size"`
}

// Snapshot returns the current counters.
func (p *Pipeline) Snapshot() Snapshot {
	var s Snapshot
	// Attributed counts before the raw ones they are part of (see
	// tailDrops), so that the pending rest is never negative.
	var tailShaped, tailOverload, tailPending uint64
	for _, o := range p.outs {
		sh, ov, pe := o.tailDrops()
		tailShaped, tailOverload, tailPending = tailShaped+sh, tailOverload+ov, tailPending+pe
	}
	offShaped, offOverload := p.blame.offShaped.Load(), p.blame.offOverload.Load()
	offPending := p.cnt.offloadFull.Load() - offShaped - offOverload
	rxShaped, rxOverload := p.blame.rxShaped.Load(), p.blame.rxOverload.Load()

	in := p.in.Stats()
	if p.tr != nil {
		s.Generated = p.tr.sent.Load()
	} else {
		// Traffic from outside: what reached the port, taken or not.
		s.Generated = in.Total.RxPackets + in.Total.RxMissed + in.Total.RxErrors + in.LinkDrops
	}
	s.Received = in.Total.RxPackets
	st := p.stage.Stats()
	s.Classified = st.Packets
	if p.off != nil {
		for _, k := range p.off.ring.Stats().Kinds {
			s.Offloaded += k.Done + k.Failed
		}
		s.OffloadQueued, s.OffloadSlots = p.off.ring.Len(), p.off.ring.Cap()
	}
	var txErr, txDown uint64
	for _, o := range p.outs {
		ps := o.sched.Stats()
		sh := PortShare{Name: p.cfg.Ports[o.idx].Name}
		for j, t := range ps.TCs {
			s.Scheduled += t.Packets
			tc := p.cfg.Ports[o.idx].TCs[j].TC
			r := o.rings[tc]
			sh.TCs = append(sh.TCs, TCShare{Name: t.Name, TC: tc, Share: t.Share, Packets: t.Packets,
				WireBytes: t.Bytes + t.Packets*sched.DefaultOverhead, Queued: r.Len(), RingSize: r.Cap()})
		}
		s.Ports = append(s.Ports, sh)
		ns := o.port.Stats()
		s.Transmitted += ns.Total.TxPackets
		txErr += ns.Total.TxErrors
		txDown += ns.Total.TxDropped
	}
	var sinkMissed, sinkErr, sinkDown uint64
	for _, sk := range p.sinks {
		ns := sk.Stats()
		sinkMissed += ns.Total.RxMissed
		sinkErr += ns.Total.RxErrors
		sinkDown += ns.LinkDrops
	}
	c := &p.cnt
	s.Delivered = c.delivered.Load()
	if len(p.sinks) == 0 {
		s.Delivered = s.Transmitted // no far end to receive them: sent is delivered
	}
	s.Verified = c.verified.Load()
	s.SinkBytes = c.sinkBytes.Load()

	rxMissed := Drop{"rx_missed", "rx missed: no descriptor (driver behind or pool empty)", CauseOverload, in.Total.RxMissed}
	var rxMissedShaped, rxMissedPending Drop
	if p.cfg.BackPressure {
		// Under back pressure the NIC's misses are how shaping shows.
		rxMissed.Packets = rxOverload
		rxMissedShaped = Drop{"rx_missed", "rx missed: classifier held by a full tc ring", CauseShaping, rxShaped}
		rxMissedPending = Drop{"rx_missed", "rx missed, not yet attributed", CausePending, in.Total.RxMissed - rxShaped - rxOverload}
	} else {
		rxMissedShaped = Drop{"rx_missed", "rx missed: classifier held by a full tc ring", CauseShaping, 0}
		rxMissedPending = Drop{"rx_missed", "rx missed, not yet attributed", CausePending, 0}
	}
	s.Drops = []Drop{
		{"tc_ring_full", "tc ring full (class over its share or cap)", CauseShaping, tailShaped},
		{"offload_ring_full", "co-processor queue full behind a shaped class", CauseShaping, offShaped},
		rxMissedShaped,
		rxMissed,
		{"tc_ring_full", "tc ring full, port below its rate (egress behind)", CauseOverload, tailOverload},
		{"offload_ring_full", "co-processor queue full (co-processor behind)", CauseOverload, offOverload},
		{"sink_missed", "sink missed (sink driver behind)", CauseOverload, sinkMissed},
		{"tc_ring_full", "tc ring full, not yet attributed", CausePending, tailPending},
		{"offload_ring_full", "co-processor queue full, not yet attributed", CausePending, offPending},
		rxMissedPending,
		{"rx_errors", "rx errors (empty or longer than a buffer)", CauseBadFrame, in.Total.RxErrors},
		{"malformed", "malformed (the classifier could not parse it)", CauseBadFrame, c.malformed.Load()},
		{"offload_failed", "offload failed (not TCP or UDP)", CauseBadFrame, c.offloadFailed.Load()},
		{"tx_errors", "tx errors (the port refused the frame)", CauseBadFrame, txErr},
		{"sink_errors", "sink rx errors (empty or longer than a buffer)", CauseBadFrame, sinkErr},
		{"bad_checksum", "bad checksum at the sink", CauseBadFrame, c.corrupt.Load()},
		{"no_route", "no route (no rule matched, no default)", CausePolicy, c.noRoute.Load()},
		{"no_class", "no class configured for the packet's TC", CausePolicy, c.noClass.Load()},
		{"scheduler_drop", "frame larger than its class's token bucket", CausePolicy, c.schedDrops.Load()},
		{"rx_link_down", "rx link down", CauseLinkDown, in.LinkDrops},
		{"tx_link_down", "tx link down", CauseLinkDown, txDown},
		{"sink_link_down", "sink link down", CauseLinkDown, sinkDown},
		{"held_at_stop", "held in a ring or the co-processor at Close", CauseStop,
			c.closed.Load() + c.offloadStop.Load() + c.txClosed.Load() + c.rxClosed.Load() + c.tcHeld.Load()},
	}
	s.Migration = p.vm.Load().Phase()
	s.InFlight = int64(s.Generated - s.Delivered)
	for _, d := range s.Drops {
		s.InFlight -= int64(d.Packets)
	}
	return s
}

// InFlight returns the packets generated and neither delivered nor
// dropped yet.
func (p *Pipeline) InFlight() int64 { return p.Snapshot().InFlight }

// DropTotal returns the sum of the drops.
func (s *Snapshot) DropTotal() uint64 {
	var n uint64
	for _, d := range s.Drops {
		n += d.Packets
	}
	return n
}

// CauseTotal is the packets dropped for one cause.
type CauseTotal struct {
	Cause   string `json:"cause"`
	Packets uint64 `json:"packets"`
}

// causeOrder is the order causes are listed in.
var causeOrder = []string{CauseShaping, CauseOverload, CauseBadFrame, CausePolicy, CauseLinkDown, CauseStop, CausePending}

// causeText says what each cause means, for a person.
var causeText = map[string]string{
	CauseShaping:  "shaping (by design: over a port's rate or a class's share)",
	CauseOverload: "overload (a stage could not keep up)",
	CauseBadFrame: "bad frames",
	CausePolicy:   "policy (the config has no place for them)",
	CauseLinkDown: "link down",
	CauseStop:     "held at stop",
	CausePending:  "not yet attributed (shaping or overload)",
}

// ByCause adds up drops by cause, every cause listed, in a fixed order.
func ByCause(drops []Drop) []CauseTotal {
	out := make([]CauseTotal, len(causeOrder))
	for i, c := range causeOrder {
		out[i].Cause = c
		for _, d := range drops {
			if d.Cause == c {
				out[i].Packets += d.Packets
			}
		}
	}
	return out
}

// String says what the counters show in a few lines: each stage's count,
// the drops by cause and what is in flight.
func (s Snapshot) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "generated %d, received %d, classified %d, offloaded %d, scheduled %d, transmitted %d, delivered %d (%d verified)\n",
		s.Generated, s.Received, s.Classified, s.Offloaded, s.Scheduled, s.Transmitted, s.Delivered, s.Verified)
	var parts []string
	for _, c := range ByCause(s.Drops) {
		if c.Packets > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", c.Cause, c.Packets))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "none")
	}
	fmt.Fprintf(&b, "dropped: %s; in flight %d; migration %s\n", strings.Join(parts, ", "), s.InFlight, s.Migration)
	return b.String()
}

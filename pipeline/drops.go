package pipeline

import (
	"sync/atomic"
	"time"

	"github.com/ringkit/ringkit/classify"
)

// Causes of drops. Every Drop has one; the report counts them apart.
const (
	// CauseShaping: by design. A class's TC ring was full while the
	// scheduler was sending the port at its configured rate (or the class
	// at its cap): the class was offered more than its share, and its
	// ring tail-dropped the rest. In the default run most frames go this
	// way, as the ports are configured for a fraction of the offered load.
	CauseShaping = "shaping"
	// CauseOverload: a stage could not keep up. A TC ring was full while
	// its port sent less than its rate (the egress side did not run often
	// enough), the RX rings had no descriptor (the driver fell behind, or
	// the pool ran empty), the co-processor was behind, the sink was
	// behind.
	CauseOverload = "overload"
	// CauseBadFrame: a frame that could not be parsed, received, sent or
	// checksummed.
	CauseBadFrame = "bad_frame"
	// CausePolicy: the configuration has no place for the packet (no rule
	// matched and no default, no class configured for its TC, a frame
	// larger than its class's token bucket).
	CausePolicy = "policy"
	// CauseLinkDown: a link was down.
	CauseLinkDown = "link_down"
	// CauseStop: held in a ring or the co-processor when the pipeline
	// closed (zero after a Drain that emptied it).
	CauseStop = "stop"
	// CausePending: a tail drop at a TC ring (or at the co-processor's
	// job ring) not yet attributed to shaping or overload: it is, at the
	// end of the attribution period it fell in (at most blamePeriod
	// later, and at Close). Never in a Report.
	CausePending = "pending"
)

// Drop is one reason packets were dropped, its cause and how many were.
type Drop struct {
	// Name identifies the reason in metrics (rx_missed, tc_ring_full, ...);
	// Name and Cause together identify the Drop.
	Name string `json:"name"`
	// Reason says what happened, for a person.
	Reason  string `json:"reason"`
	Cause   string `json:"cause"`
	Packets uint64 `json:"packets"`
}

// blamePeriod is the attribution period: the egress side decides every
// blamePeriod (of its clock) whether each port ran at its rate.
const blamePeriod = 10 * time.Millisecond

// atRate is the fraction of its configured rate (or cap) a port (or
// class) must have sent over an attribution period to count as running
// at its rate: the scheduler's budget leaves up to a quantum's bytes
// unused at a period's edges, and frames do not fill it exactly.
const atRate = 0.9

// blame attributes tail drops to shaping or overload. The rule, for each
// attribution period of the egress clock (blamePeriod, or longer when the
// egress side ran late):
//
//   - A drop at class c's TC ring of port k is shaping if port k sent at
//     least atRate of its configured rate over the period, or c is capped
//     and sent at least atRate of its cap: the scheduler was spending its
//     whole budget, so the ring filled because the class was offered more
//     than the scheduler gives it. Otherwise it is overload: the port had
//     budget it did not spend while packets waited, so the egress side
//     (scheduler, transmit) did not run often enough or could not post.
//     A starved egress goroutine makes its periods long and its ports'
//     rates low, so its drops count as overload.
//   - A drop at the co-processor's job ring is shaping if its class's TC
//     ring drops would be and that ring was at least half full at the
//     period's end (the job ring backs up behind a shaped class);
//     otherwise the co-processor was behind: overload.
//   - Under BackPressure a full TC ring stops the classifier, and the
//     shaping shows as rx missed at the NIC: rx missed counts as shaping
//     in a period at whose end the ring of a class whose drops would be
//     shaping had no room for a burst (it holds the classifier), as
//     overload otherwise. Without BackPressure rx missed is always
//     overload.
//
// The period's drops are those counted since the last period: the
// ingress side counts each drop at once (raw counters), the egress side
// moves the new ones to shaping or overload at each period's end; Close
// attributes the rest. Snapshot shows those not yet attributed as
// CausePending.
type blame struct {
	started bool
	start   time.Duration // of the current period; egress side

	// Egress side: raw counts already attributed.
	offSeen, rxSeen uint64

	// Attributed counts: the egress side adds, any goroutine reads.
	offShaped, offOverload atomic.Uint64
	rxShaped, rxOverload   atomic.Uint64
}

// classBlame is one output port's part of the attribution.
type classBlame struct {
	// full[tc] counts the tail drops at the class ring of tc: the ingress
	// side (the Stage's drop callback) adds, the egress side reads.
	full [classify.NumTC]atomic.Uint64
	// shaped and overload are full attributed: the egress side adds, any
	// goroutine reads.
	shaped, overload [classify.NumTC]atomic.Uint64

	// Egress side: the wire bytes the scheduler posted in the current
	// period, per TC and in all; what of full is attributed; and whether
	// each class's drops counted as shaping in the last period.
	sent    [classify.NumTC]int64
	sentAll int64
	seen    [classify.NumTC]uint64
	shaping [classify.NumTC]bool
	atRate  bool
}

// attribute ends the attribution period at now if it has lasted
// blamePeriod, or, with final, whatever it lasted (Close: the drops not
// yet attributed). Egress side.
func (p *Pipeline) attribute(now time.Duration, final bool) {
	b := &p.blame
	if !b.started {
		b.start, b.started = now, true
		if !final {
			return
		}
	}
	span := now - b.start
	if span < blamePeriod && !final {
		return
	}
	// A final period too short to measure a rate keeps the last verdicts.
	measure := span >= blamePeriod/10
	heldByShaping := false
	for _, o := range p.outs {
		c := &o.blame
		if measure {
			c.atRate = float64(c.sentAll) >= atRate*o.rate/8*span.Seconds()
		}
		for tc, j := range o.tcIdx {
			if j < 0 {
				continue
			}
			if measure {
				capped := o.caps[tc] > 0 && float64(c.sent[tc]) >= atRate*o.caps[tc]/8*span.Seconds()
				c.shaping[tc] = c.atRate || capped
			}
			if r := o.rings[tc]; c.shaping[tc] && r.Len()+burst > r.Cap() {
				heldByShaping = true // a shaped class's ring has no room for a burst
			}
			raw := c.full[tc].Load()
			if d := raw - c.seen[tc]; d > 0 {
				c.seen[tc] = raw
				if c.shaping[tc] {
					c.shaped[tc].Add(d)
				} else {
					c.overload[tc].Add(d)
				}
			}
			c.sent[tc] = 0
		}
		c.sentAll = 0
	}
	if oc := p.cfg.Offload; oc != nil {
		raw := p.cnt.offloadFull.Load()
		if d := raw - b.offSeen; d > 0 {
			b.offSeen = raw
			o := p.outs[oc.Port]
			r := o.rings[oc.TC]
			if o.blame.shaping[oc.TC] && 2*r.Len() >= r.Cap() {
				b.offShaped.Add(d)
			} else {
				b.offOverload.Add(d)
			}
		}
	}
	if p.cfg.BackPressure {
		raw := p.in.Stats().Total.RxMissed // allocates; only under BackPressure
		if d := raw - b.rxSeen; d > 0 {
			b.rxSeen = raw
			if heldByShaping {
				b.rxShaped.Add(d)
			} else {
				b.rxOverload.Add(d)
			}
		}
	}
	b.start = now
}

// countSent records wire bytes the scheduler of o posted (egress side).
func (o *output) countSent(tc uint8, wire int64) {
	o.blame.sent[tc&(classify.NumTC-1)] += wire
	o.blame.sentAll += wire
}

// tailDrops returns port o's TC ring tail drops: attributed to shaping, to
// overload, and not yet attributed. Any goroutine.
func (o *output) tailDrops() (shaped, overload, pending uint64) {
	c := &o.blame
	for tc := range c.full {
		// The attributed counts first: each is at most the raw count
		// when it was added, and the raw count only grows.
		s, v := c.shaped[tc].Load(), c.overload[tc].Load()
		raw := c.full[tc].Load()
		shaped += s
		overload += v
		pending += raw - s - v
	}
	return shaped, overload, pending
}

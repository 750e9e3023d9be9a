package pipeline

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteText writes the report for a person: first what the run shows (the
// offered load against the ports' configured rates, and so how much is
// shaped away by design) and its result, then tables of the stages and of
// each port's classes, the latency and what it is made of, the drops by
// cause and reason, and the warnings and notes.
func (r *Report) WriteText(w io.Writer) error {
	_, err := io.WriteString(w, r.String())
	return err
}

// String is the text WriteText writes.
func (r Report) String() string {
	var b strings.Builder
	r.writeSummary(&b)
	fmt.Fprintf(&b, "\n%-28s %12s %8s\n", "stage", "packets", "Mpps")
	for _, s := range r.Stages {
		fmt.Fprintf(&b, "%-28s %12d %8.3f\n", s.Stage, s.Packets, s.Mpps)
	}
	r.writePorts(&b)
	r.writeLatency(&b)
	if o := r.Offload; o != nil {
		fmt.Fprintf(&b, "offload: class %d of %s through the co-processor: %d jobs (%d failed), %.1f per batch, "+
			"submission to retirement p50 %v p99 %v\n", o.TC, o.Port, o.Jobs, o.Failed, o.MeanBatch,
			time.Duration(o.P50), time.Duration(o.P99))
	}
	r.writeDrops(&b)
	fmt.Fprintf(&b, "\naccounting: generated %d = delivered %d + dropped %d + in flight %d\n",
		r.Generated, r.Delivered, dropTotal(r.Drops), r.InFlight)
	fmt.Fprintf(&b, "integrity: %d frames' checksums verified at the sink\n", r.Verified)
	if m := r.Migration; m != nil {
		switch {
		case !m.Ran:
			fmt.Fprintf(&b, "migration: not run (the run ended first)\n")
		default:
			down, hold := time.Duration(m.Downtime), time.Duration(m.Hold)
			wrapHang(&b, "migration: ", "           ", fmt.Sprintf("%s; %d sessions; downtime %v from the suspension "+
				"to the destination's first frame: the %v hold (suspended by design, the circuit answering for the "+
				"sessions) and %v to seal, move and replay the journal; %d journal records replayed, %d bytes "+
				"transferred, %d keepalives answered while suspended; %d stream bytes from the peers read back "+
				"byte-exact; %d sessions lost.", m.Phase, m.Sessions, round3(down), round3(hold), round3(down-hold),
				m.Records, m.Bytes, m.Keepalives, m.StreamBytes, m.SessionsLost))
		}
		if m.Note != "" {
			fmt.Fprintf(&b, "           error: %s\n", m.Note)
		}
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintf(&b, "\nwarnings:\n")
		for _, s := range r.Warnings {
			wrapHang(&b, "  ! ", "    ", s)
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintf(&b, "\nnotes:\n")
		for _, s := range r.Notes {
			wrapHang(&b, "  - ", "    ", s)
		}
	}
	return b.String()
}

// writeSummary says what the run shows and how it came out.
func (r *Report) writeSummary(b *strings.Builder) {
	d := time.Duration(r.Duration).Round(time.Millisecond)
	var text string
	switch {
	case r.External:
		text = fmt.Sprintf("%v of traffic from the ingress port into %d output ports configured for %.3f Gb/s together.",
			d, len(r.Ports), r.PortsBPS/1e9)
	case r.OfferedRate == 0:
		text = fmt.Sprintf("%v of traffic sent as fast as the pipeline takes it, into %d output ports configured "+
			"for %.3f Gb/s together.", d, len(r.Ports), r.PortsBPS/1e9)
	default:
		text = fmt.Sprintf("%v of traffic offered at %.3g frames/s (%.3f Gb/s: %.0f bytes a frame on average, "+
			"framing included) into %d output ports configured for %.3f Gb/s together, %.0f%% of the offered load.",
			d, r.OfferedRate, r.OfferedBPS/1e9, r.MeanWireBytes, len(r.Ports), r.PortsBPS/1e9, 100*r.PortsBPS/r.OfferedBPS)
		if r.PortsBPS < r.OfferedBPS {
			text += " The ports are the bottleneck by design: their schedulers send each port at its rate and " +
				"each class at its share, and the class rings drop what does not fit (shaping), so most frames " +
				"are dropped on purpose."
		}
	}
	wrap(b, "", text)
	byCause := map[string]uint64{}
	for _, c := range r.Causes {
		byCause[c.Cause] = c.Packets
	}
	text = fmt.Sprintf("Result: %.1f%% of the %d frames delivered; %.1f%% dropped by shaping, %.2f%% for overload, "+
		"%d bad frames", pct(r.Delivered, r.Generated), r.Generated, pct(byCause[CauseShaping], r.Generated),
		pct(byCause[CauseOverload], r.Generated), byCause[CauseBadFrame])
	if n := len(r.Warnings); n > 0 {
		text += fmt.Sprintf("; %d warning(s) at the end", n)
	}
	wrap(b, "", text+".")
}

// writePorts writes each port's rate and its classes' shares.
func (r *Report) writePorts(b *strings.Builder) {
	for _, p := range r.Ports {
		fmt.Fprintf(b, "\nport %s: %.3f Gb/s configured, %.3f Gb/s sent (%.0f%%); tail drops: %d shaping, %d overload\n",
			p.Name, p.RateBPS/1e9, p.SentBPS/1e9, 100*p.SentBPS/p.RateBPS, p.Shaped, p.Overload)
		fmt.Fprintf(b, "  %-8s %3s %4s %6s %8s %10s %9s %6s %10s %10s\n", "class", "tc", "prio", "weight",
			"cap Mb/s", "configured", "measured", "ring", "full wait", "packets")
		for _, t := range p.TCs {
			capS, wait := "-", "-"
			if t.CapBPS > 0 {
				capS = fmt.Sprintf("%.1f", t.CapBPS/1e6)
			}
			if t.FullRingWait > 0 {
				wait = round3(time.Duration(t.FullRingWait)).String()
			}
			fmt.Fprintf(b, "  %-8s %3d %4d %6d %8s %9.2f%% %8.2f%% %6d %10s %10d\n", t.Name, t.TC, t.Priority, t.Weight,
				capS, 100*t.Configured, 100*t.Measured, t.RingSize, wait, t.Packets)
		}
	}
	if len(r.Ports) > 0 {
		wrap(b, "  ", "Shares are of the port's wire bytes after the warm-up, configured as if every class were "+
			"backlogged; full wait is how long a full class ring takes to drain at the class's share.")
	}
}

// writeLatency writes the percentiles and what they are made of.
func (r *Report) writeLatency(b *strings.Builder) {
	l := r.Latency
	fmt.Fprintf(b, "\nlatency from the driver's receive to the TX ring, %d packets: p50 %v  p90 %v  p99 %v  p99.9 %v  max %v\n",
		l.Samples, time.Duration(l.P50), time.Duration(l.P90), time.Duration(l.P99), time.Duration(l.P999),
		round3(time.Duration(l.Max)))
	var lo, hi time.Duration
	starved := false
	for _, p := range r.Ports {
		starved = starved || p.Overload > 0
		for _, t := range p.TCs {
			if w := time.Duration(t.FullRingWait); w > 0 {
				if lo == 0 || w < lo {
					lo = w
				}
				hi = max(hi, w)
			}
		}
	}
	text := "Percentiles to the precision of a histogram bucket (12.5%)."
	if hi > 0 {
		text += " Nearly all of it is queueing in the TC rings: a packet that finds its class's ring full waits " +
			"for the ring to drain at the class's share, "
		switch budget := time.Duration(r.RingDelay); {
		case budget > 0 && hi <= budget+budget/4:
			text += fmt.Sprintf("about %v here, as ring_delay sized the rings.", round3(budget))
		case budget > 0:
			text += fmt.Sprintf("%v to %v here (the full wait column): ring_delay asks for %v, but a ring holds "+
				"at least %d packets, longer than that at the slower classes' rates.", round3(lo), round3(hi),
				round3(budget), minRingSize)
		default:
			text += fmt.Sprintf("from %v to %v here (the full wait column); the config's ring_delay sizes the rings "+
				"to a delay budget instead.", round3(lo), round3(hi))
		}
	}
	if o := r.Offload; o != nil {
		text += fmt.Sprintf(" The offloaded class waits in the co-processor's job ring too (p99 %v from submission "+
			"to retirement), whose slots ring_delay does not size.", time.Duration(o.P99))
	}
	if starved {
		text += " Packets also waited for the egress goroutine, which did not get the CPU it needed (see the warnings)."
	}
	wrap(b, "  ", text)
}

// writeDrops writes the drops by cause, each with its reasons.
func (r *Report) writeDrops(b *strings.Builder) {
	fmt.Fprintf(b, "\ndrops by cause:\n")
	some := false
	for _, c := range r.Causes {
		if c.Packets == 0 {
			continue
		}
		some = true
		fmt.Fprintf(b, "  %-58s %12d  %5.1f%%\n", causeText[c.Cause], c.Packets, pct(c.Packets, r.Generated))
		for _, d := range r.Drops {
			if d.Cause == c.Cause && d.Packets > 0 {
				fmt.Fprintf(b, "    %-56s %12d\n", d.Reason, d.Packets)
			}
		}
	}
	if !some {
		fmt.Fprintf(b, "  none\n")
	}
}

func dropTotal(ds []Drop) uint64 {
	var n uint64
	for _, d := range ds {
		n += d.Packets
	}
	return n
}

// wrap writes text as lines of at most 100 columns, each after indent.
func wrap(b *strings.Builder, indent, text string) {
	wrapHang(b, indent, indent, text)
}

// wrapHang is wrap with a different indent for the first line.
func wrapHang(b *strings.Builder, first, indent, text string) {
	const width = 100
	line := first
	empty := true
	for _, w := range strings.Fields(text) {
		if !empty && len([]rune(line))+1+len([]rune(w)) > width {
			b.WriteString(line + "\n")
			line, empty = indent, true
		}
		if !empty {
			line += " "
		}
		line += w
		empty = false
	}
	b.WriteString(line + "\n")
}

// round3 rounds d to three significant digits (a microsecond at least
// for anything above one): for durations measured exactly but printed
// for a person.
func round3(d time.Duration) time.Duration {
	unit := time.Duration(1)
	for v := d; v >= 1000; v /= 10 {
		unit *= 10
	}
	return d.Round(unit)
}

package pipeline

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/ringkit/ringkit/sched"
)

// Drop is one reason packets were dropped and how many were.
type Drop struct {
	Reason  string `json:"reason"`
	Packets uint64 `json:"packets"`
}

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
	Drops       []Drop `json:"drops"`
	// InFlight is Generated less Delivered and every drop: packets still in
	// a ring, a scheduler or the co-processor. 0 after Close.
	InFlight int64       `json:"in_flight"`
	Ports    []PortShare `json:"ports"`
	// Migration is the live migration's phase ("off" without one).
	Migration string `json:"migration"`
}

// PortShare is one output port's classes with their share over the
// scheduler's stats window.
type PortShare struct {
	Name string    `json:"name"`
	TCs  []TCShare `json:"tcs"`
}

// TCShare is one class's share.
type TCShare struct {
	Name  string  `json:"name"`
	Share float64 `json:"share"`
}

// Snapshot returns the current counters.
func (p *Pipeline) Snapshot() Snapshot {
	in := p.in.Stats()
	var s Snapshot
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
	}
	var txErr, txDown uint64
	for _, o := range p.outs {
		ps := o.sched.Stats()
		sh := PortShare{Name: p.cfg.Ports[o.idx].Name}
		for _, t := range ps.TCs {
			s.Scheduled += t.Packets
			sh.TCs = append(sh.TCs, TCShare{Name: t.Name, Share: t.Share})
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
	s.Drops = []Drop{
		{"rx missed (no descriptor)", in.Total.RxMissed},
		{"rx errors (bad length)", in.Total.RxErrors},
		{"rx link down", in.LinkDrops},
		{"malformed", c.malformed.Load()},
		{"no route", c.noRoute.Load()},
		{"no class configured", c.noClass.Load()},
		{"tc ring full", c.ringFull.Load()},
		{"offload ring full", c.offloadFull.Load()},
		{"offload failed", c.offloadFailed.Load()},
		{"scheduler drop", c.schedDrops.Load()},
		{"tx errors", txErr},
		{"tx link down", txDown},
		{"sink missed", sinkMissed + sinkDown},
		{"sink errors", sinkErr},
		{"bad checksum at sink", c.corrupt.Load()},
		{"held at stop", c.closed.Load() + c.offloadStop.Load() + c.txClosed.Load() + c.rxClosed.Load()},
	}
	s.Migration = p.vm.Phase()
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

// portMark is a port's per-class wire bytes at one moment.
type portMark []uint64

func (p *Pipeline) portMarks() []portMark {
	ms := make([]portMark, len(p.outs))
	for i, o := range p.outs {
		for _, t := range o.sched.Stats().TCs {
			ms[i] = append(ms[i], t.Bytes+t.Packets*sched.DefaultOverhead)
		}
	}
	return ms
}

// MarkShares starts, at time at of the run, the window over which Report
// measures each class's share (the end is StopTraffic): a run leaves out
// its warm-up this way. Any goroutine may call it.
func (p *Pipeline) MarkShares(at time.Duration) {
	p.shareMark, p.markAt = p.portMarks(), at
}

// Report is what a run shows at its end, and writes as JSON.
type Report struct {
	Duration    Duration     `json:"duration"` // traffic time
	OfferedRate float64      `json:"offered_rate_pps"`
	Stages      []StageRate  `json:"stages"`
	Ports       []PortReport `json:"ports"`
	// Latency is from the driver's receive of a packet to its post on
	// the TX ring: classification, the TC ring (or the co-processor) and
	// scheduling.
	Latency   LatencyReport    `json:"latency"`
	Drops     []Drop           `json:"drops"`
	Generated uint64           `json:"generated"`
	Delivered uint64           `json:"delivered"`
	Verified  uint64           `json:"verified"`
	InFlight  int64            `json:"in_flight"`
	Offload   *OffloadReport   `json:"offload,omitempty"`
	Migration *MigrationReport `json:"migration,omitempty"`
}

// StageRate is one stage's packets and rate over the run.
type StageRate struct {
	Stage   string  `json:"stage"`
	Packets uint64  `json:"packets"`
	Mpps    float64 `json:"mpps"`
}

// PortReport is one output port's shares against configuration.
type PortReport struct {
	Name    string     `json:"name"`
	RateBPS float64    `json:"rate_bps"`
	SentBPS float64    `json:"sent_bps"`
	TCs     []TCReport `json:"tcs"`
	// MaxShareError is the largest |measured - configured| of its
	// classes, in share points (0.02 is 2%).
	MaxShareError float64 `json:"max_share_error"`
}

// TCReport is one class's configured and measured share.
type TCReport struct {
	Name       string  `json:"name"`
	TC         int     `json:"tc"`
	Priority   int     `json:"priority"`
	Weight     int     `json:"weight"`
	CapBPS     float64 `json:"cap_bps,omitempty"`
	Configured float64 `json:"configured"`
	Measured   float64 `json:"measured"`
	Packets    uint64  `json:"packets"`
}

// LatencyReport holds percentiles of the pipeline latency.
type LatencyReport struct {
	Samples uint64   `json:"samples"`
	P50     Duration `json:"p50"`
	P90     Duration `json:"p90"`
	P99     Duration `json:"p99"`
	P999    Duration `json:"p999"`
	Max     Duration `json:"max"`
}

// OffloadReport is what the co-processor did.
type OffloadReport struct {
	Port      string   `json:"port"`
	TC        int      `json:"tc"`
	Jobs      uint64   `json:"jobs"`
	Failed    uint64   `json:"failed"`
	MeanBatch float64  `json:"mean_batch"`
	P50       Duration `json:"p50"`
	P99       Duration `json:"p99"`
}

// MigrationReport is the live migration of the sessions' owner.
type MigrationReport struct {
	Ran   bool   `json:"ran"`
	Phase string `json:"phase"`
	// Note is the migration's error, if it failed.
	Note string `json:"note,omitempty"`
	// Sessions were open; SessionsLost broke, were reset or lost a byte.
	Sessions     int `json:"sessions"`
	SessionsLost int `json:"sessions_lost"`
	// Downtime runs from the VM's suspension to the destination's first
	// served frame.
	Downtime    Duration `json:"downtime"`
	Records     uint64   `json:"records_replayed"`
	Bytes       uint64   `json:"transfer_bytes"`      // pre-copy and journal
	Keepalives  uint64   `json:"keepalives_answered"` // by the circuit while suspended
	StreamBytes uint64   `json:"stream_bytes"`        // the peers sent, all read back exactly
}

// Report builds the report of a run whose traffic lasted elapsed.
func (p *Pipeline) Report(elapsed time.Duration) Report {
	s := p.Snapshot()
	r := Report{Duration: Duration(elapsed), OfferedRate: p.cfg.Traffic.Rate, Drops: s.Drops,
		Generated: s.Generated, Delivered: s.Delivered, Verified: s.Verified, InFlight: s.InFlight}
	mpps := func(n uint64) float64 {
		if elapsed <= 0 {
			return 0
		}
		return float64(n) / elapsed.Seconds() / 1e6
	}
	for _, st := range []struct {
		name string
		n    uint64
	}{
		{"generate", s.Generated}, {"receive (NIC → RX rings)", s.Received},
		{"classify", s.Classified}, {"offload (co-processor)", s.Offloaded},
		{"schedule", s.Scheduled}, {"transmit (NIC → wire)", s.Transmitted},
		{"sink (verified)", s.Delivered},
	} {
		r.Stages = append(r.Stages, StageRate{st.name, st.n, mpps(st.n)})
	}
	end := p.shareEnd
	if end == nil {
		end = p.portMarks()
	}
	for i, o := range p.outs {
		ps := o.sched.Stats()
		want := p.cfg.ConfiguredShares(i)
		pr := PortReport{Name: p.cfg.Ports[i].Name, RateBPS: p.cfg.PortRate(i)}
		var total float64
		delta := make([]float64, len(want))
		for j := range want {
			d := end[i][j]
			if p.shareMark != nil {
				d -= p.shareMark[i][j]
			}
			delta[j] = float64(d)
			total += delta[j]
		}
		window := elapsed
		if p.shareMark != nil && p.markAt > 0 {
			window = elapsed - p.markAt
		}
		if window > 0 {
			pr.SentBPS = total * 8 / window.Seconds()
		}
		for j, tc := range p.cfg.Ports[i].TCs {
			tr := TCReport{Name: tc.Name, TC: tc.TC, Priority: tc.Priority, Weight: tc.Weight,
				CapBPS: p.cfg.TCCap(i, j), Configured: want[j], Packets: ps.TCs[j].Packets}
			if total > 0 {
				tr.Measured = delta[j] / total
			}
			pr.MaxShareError = math.Max(pr.MaxShareError, math.Abs(tr.Measured-tr.Configured))
			pr.TCs = append(pr.TCs, tr)
		}
		r.Ports = append(r.Ports, pr)
	}
	// Percentiles to the precision the histogram resolves (its bucket
	// around each is up to 12.5% wide): no false digits.
	q, maxv := p.lat.Quantiles(0.5, 0.9, 0.99, 0.999)
	r.Latency = LatencyReport{Samples: p.lat.Count(), P50: Duration(q[0].Round()), P90: Duration(q[1].Round()),
		P99: Duration(q[2].Round()), P999: Duration(q[3].Round()), Max: Duration(maxv)}
	if p.off != nil {
		js := p.off.ring.Stats()
		or := &OffloadReport{Port: p.cfg.Ports[p.cfg.Offload.Port].Name, TC: p.cfg.Offload.TC}
		for _, k := range js.Kinds {
			or.Jobs += k.Done + k.Failed
			or.Failed += k.Failed
			or.P50, or.P99 = Duration(k.P50), Duration(k.P99)
		}
		for _, w := range js.Workers {
			or.MeanBatch = w.MeanBatch()
		}
		r.Offload = or
	}
	r.Migration = p.migration
	return r
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report as tables for a terminal.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "traffic for %v at %.3g frames/s offered\n\n", time.Duration(r.Duration).Round(time.Millisecond), r.OfferedRate)
	fmt.Fprintf(&b, "%-28s %12s %8s\n", "stage", "packets", "Mpps")
	for _, s := range r.Stages {
		fmt.Fprintf(&b, "%-28s %12d %8.3f\n", s.Stage, s.Packets, s.Mpps)
	}
	for _, p := range r.Ports {
		fmt.Fprintf(&b, "\nport %s: %.3f Gb/s configured, %.3f Gb/s sent; shares (largest error %.2f%%):\n",
			p.Name, p.RateBPS/1e9, p.SentBPS/1e9, 100*p.MaxShareError)
		fmt.Fprintf(&b, "  %-8s %3s %5s %7s %10s %10s %10s %12s\n", "class", "tc", "prio", "weight", "cap Mb/s", "configured", "measured", "packets")
		for _, t := range p.TCs {
			capS := "-"
			if t.CapBPS > 0 {
				capS = fmt.Sprintf("%.1f", t.CapBPS/1e6)
			}
			fmt.Fprintf(&b, "  %-8s %3d %5d %7d %10s %9.2f%% %9.2f%% %12d\n", t.Name, t.TC, t.Priority, t.Weight, capS,
				100*t.Configured, 100*t.Measured, t.Packets)
		}
	}
	l := r.Latency
	fmt.Fprintf(&b, "\nlatency, receive to transmit post (%d packets): p50 %v  p90 %v  p99 %v  p99.9 %v  max %v\n",
		l.Samples, time.Duration(l.P50), time.Duration(l.P90), time.Duration(l.P99), time.Duration(l.P999), time.Duration(l.Max))
	if o := r.Offload; o != nil {
		fmt.Fprintf(&b, "offload: class %d of %s, %d jobs (%d failed), %.1f per batch, p50 %v p99 %v\n",
			o.TC, o.Port, o.Jobs, o.Failed, o.MeanBatch, time.Duration(o.P50), time.Duration(o.P99))
	}
	fmt.Fprintf(&b, "\ndrops by reason:\n")
	var dropped uint64
	for _, d := range r.Drops {
		dropped += d.Packets
		if d.Packets > 0 {
			fmt.Fprintf(&b, "  %-28s %12d\n", d.Reason, d.Packets)
		}
	}
	fmt.Fprintf(&b, "\naccounting: generated %d = delivered %d + dropped %d + in flight %d\n",
		r.Generated, r.Delivered, dropped, r.InFlight)
	fmt.Fprintf(&b, "integrity: %d frames' checksums verified at the sink\n", r.Verified)
	if m := r.Migration; m != nil {
		switch {
		case !m.Ran:
			fmt.Fprintf(&b, "migration: not run (the run ended first)\n")
		default:
			fmt.Fprintf(&b, "migration: %s; %d sessions, downtime %v, %d journal records replayed, %d bytes transferred, %d keepalives answered while suspended\n",
				m.Phase, m.Sessions, time.Duration(m.Downtime), m.Records, m.Bytes, m.Keepalives)
			fmt.Fprintf(&b, "           %d stream bytes from the peers read back byte-exact; sessions lost %d\n", m.StreamBytes, m.SessionsLost)
		}
		if m.Note != "" {
			fmt.Fprintf(&b, "           error: %s\n", m.Note)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ReadReport decodes a report written by WriteJSON.
func ReadReport(rd io.Reader) (Report, error) {
	var r Report
	dec := json.NewDecoder(rd)
	dec.DisallowUnknownFields()
	err := dec.Decode(&r)
	return r, err
}

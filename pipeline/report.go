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

// Report is what a run shows at its end, and writes as JSON. WriteText
// writes it for a person: what the run shows, the stages, each port's
// classes against their configuration, the latency, the drops by cause,
// and the warnings.
type Report struct {
	Duration Duration `json:"duration"` // traffic time
	// OfferedRate is the configured traffic rate in frames per second (0:
	// as fast as the pipeline takes them), OfferedBPS the same in bits
	// per second on the wire (MeanWireBytes a frame, framing included),
	// GeneratedRate what the traffic source did send.
	OfferedRate   float64 `json:"offered_rate_pps"`
	OfferedBPS    float64 `json:"offered_bps"`
	MeanWireBytes float64 `json:"mean_wire_bytes"`
	GeneratedRate float64 `json:"generated_rate_pps"`
	// External is set when the traffic came from ports given in Options
	// rather than from the pipeline's own traffic.
	External bool `json:"external,omitempty"`
	// PortsBPS is the sum of the output ports' configured rates.
	PortsBPS float64 `json:"ports_bps"`
	// RingDelay is the config's ring_delay (0: the rings are ring_size).
	RingDelay Duration     `json:"ring_delay,omitempty"`
	Stages    []StageRate  `json:"stages"`
	Ports     []PortReport `json:"ports"`
	// Latency is from the driver's receive of a packet to its post on
	// the TX ring: classification, the TC ring (or the co-processor) and
	// scheduling.
	Latency   LatencyReport `json:"latency"`
	Drops     []Drop        `json:"drops"`
	Causes    []CauseTotal  `json:"causes"` // Drops added up by cause
	Generated uint64        `json:"generated"`
	Delivered uint64        `json:"delivered"`
	Verified  uint64        `json:"verified"`
	InFlight  int64         `json:"in_flight"`
	// Warnings say what did not go as configured and why; Notes explain
	// figures that may look wrong and are not.
	Warnings  []string         `json:"warnings"`
	Notes     []string         `json:"notes"`
	Offload   *OffloadReport   `json:"offload,omitempty"`
	Migration *MigrationReport `json:"migration,omitempty"`
}

// StageRate is one stage's packets and rate over the run.
type StageRate struct {
	Stage   string  `json:"stage"`
	Packets uint64  `json:"packets"`
	Mpps    float64 `json:"mpps"`
}

// PortReport is one output port's rate and shares against configuration,
// over the share window (the run less its warm-up).
type PortReport struct {
	Name    string     `json:"name"`
	RateBPS float64    `json:"rate_bps"` // configured
	SentBPS float64    `json:"sent_bps"` // wire bits per second over the window
	TCs     []TCReport `json:"tcs"`
	// MaxShareError is the largest |measured - configured| of its
	// classes, in share points (0.02 is 2%).
	MaxShareError float64 `json:"max_share_error"`
	// Shaped and Overload count the tail drops at its TC rings over the
	// whole run, by cause (see CauseShaping).
	Shaped   uint64 `json:"shaped"`
	Overload uint64 `json:"overload"`
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
	// RingSize is the class ring's capacity in packets; FullRingWait how
	// long a full ring takes to drain at the class's configured share in
	// frames of the mean size: about the longest a packet waits in it
	// (0 for a class whose configured share is 0).
	RingSize     int      `json:"ring_size"`
	FullRingWait Duration `json:"full_ring_wait"`
	// Shaped and Overload count its ring's tail drops by cause.
	Shaped   uint64 `json:"shaped"`
	Overload uint64 `json:"overload"`
}

// LatencyReport holds percentiles of the pipeline latency, each the middle
// of its histogram bucket rounded to the digits the bucket's width leaves
// (a bucket is up to 12.5% wide): no digit claims more than the histogram
// knows. Max is the exact largest value.
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
	// served frame; Hold is the part of it the VM stayed suspended by
	// design (migration.hold: the time the rest of a VM's memory would
	// take to move, the circuit answering for its sessions).
	Downtime    Duration `json:"downtime"`
	Hold        Duration `json:"hold"`
	Records     uint64   `json:"records_replayed"`
	Bytes       uint64   `json:"transfer_bytes"`      // pre-copy and journal
	Keepalives  uint64   `json:"keepalives_answered"` // by the circuit while suspended
	StreamBytes uint64   `json:"stream_bytes"`        // the peers sent, all read back exactly
}

// Thresholds of the report's warnings.
const (
	// metRate is the fraction of a configured rate that counts as met
	// over a whole run (a warm-up, a drain and quantum edges cost a
	// little).
	metRate = 0.95
	// shareTolerance is the share error, in points, beyond which a
	// class's share counts as not met.
	shareTolerance = 0.02
)

// Report builds the report of a run whose traffic lasted elapsed.
func (p *Pipeline) Report(elapsed time.Duration) Report {
	s := p.Snapshot()
	cfg := &p.cfg
	r := Report{Duration: Duration(elapsed), OfferedRate: cfg.Traffic.Rate, MeanWireBytes: cfg.Traffic.MeanWireBytes(),
		External: p.tr == nil, RingDelay: cfg.RingDelay, Drops: s.Drops, Causes: ByCause(s.Drops),
		Generated: s.Generated, Delivered: s.Delivered, Verified: s.Verified, InFlight: s.InFlight}
	r.OfferedBPS = r.OfferedRate * r.MeanWireBytes * 8
	if elapsed > 0 {
		r.GeneratedRate = float64(s.Generated) / elapsed.Seconds()
	}
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
		want := cfg.ConfiguredShares(i)
		sizes := cfg.RingSizes(i)
		pr := PortReport{Name: cfg.Ports[i].Name, RateBPS: cfg.PortRate(i)}
		r.PortsBPS += pr.RateBPS
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
		for j, tc := range cfg.Ports[i].TCs {
			tr := TCReport{Name: tc.Name, TC: tc.TC, Priority: tc.Priority, Weight: tc.Weight,
				CapBPS: cfg.TCCap(i, j), Configured: want[j], Packets: ps.TCs[j].Packets, RingSize: sizes[j],
				Shaped: o.blame.shaped[tc.TC].Load(), Overload: o.blame.overload[tc.TC].Load()}
			if want[j] > 0 {
				tr.FullRingWait = Duration(float64(sizes[j]) * r.MeanWireBytes * 8 / (want[j] * pr.RateBPS) * 1e9)
			}
			if total > 0 {
				tr.Measured = delta[j] / total
			}
			pr.MaxShareError = math.Max(pr.MaxShareError, math.Abs(tr.Measured-tr.Configured))
			pr.Shaped += tr.Shaped
			pr.Overload += tr.Overload
			pr.TCs = append(pr.TCs, tr)
		}
		r.Ports = append(r.Ports, pr)
	}
	q, maxv := p.lat.Quantiles(0.5, 0.9, 0.99, 0.999)
	r.Latency = LatencyReport{Samples: p.lat.Count(), P50: Duration(q[0].Round()), P90: Duration(q[1].Round()),
		P99: Duration(q[2].Round()), P999: Duration(q[3].Round()), Max: Duration(maxv)}
	if p.off != nil {
		js := p.off.ring.Stats()
		or := &OffloadReport{Port: cfg.Ports[cfg.Offload.Port].Name, TC: cfg.Offload.TC}
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
	r.explain()
	return r
}

// explain fills Warnings and Notes from the figures: a traffic source that
// did not send the offered load, a port below its configured rate (and
// why), a class away from its configured share (and why), drops for
// overload and bad frames, packets still in flight.
func (r *Report) explain() {
	warn := func(format string, args ...any) { r.Warnings = append(r.Warnings, fmt.Sprintf(format, args...)) }
	note := func(format string, args ...any) { r.Notes = append(r.Notes, fmt.Sprintf(format, args...)) }
	if r.OfferedRate > 0 && !r.External && r.GeneratedRate < metRate*r.OfferedRate {
		warn("the traffic source sent %.3g of the %.3g frames/s offered (%.0f%%): the ingress goroutine (traffic, "+
			"driver, classifier) did not get the CPU it needed; every figure below is for the load it did send",
			r.GeneratedRate, r.OfferedRate, 100*r.GeneratedRate/r.OfferedRate)
	}
	for _, pr := range r.Ports {
		met := pr.SentBPS >= metRate*pr.RateBPS
		switch {
		case !met && pr.Overload > 0:
			warn("port %s sent %.3f of its %.3f Gb/s configured (%.0f%%) while packets waited: the egress goroutine "+
				"(schedulers, transmit, sink) was starved of CPU; its %d tail drops while below its rate count as "+
				"overload, and its shares are not those of a saturated port (largest error %.1f points)",
				pr.Name, pr.SentBPS/1e9, pr.RateBPS/1e9, 100*pr.SentBPS/pr.RateBPS, pr.Overload, 100*pr.MaxShareError)
			continue
		case !met:
			note("port %s sent %.3f of its %.3f Gb/s configured (%.0f%%): less was offered to it, so its scheduler "+
				"had nothing to hold back and its shares are what each class was offered", pr.Name, pr.SentBPS/1e9,
				pr.RateBPS/1e9, 100*pr.SentBPS/pr.RateBPS)
			continue
		}
		// A class offered less than its share leaves the rest of it to the
		// classes still backlogged (the scheduler is work-conserving), so
		// those get more than configured by design.
		var unused []string
		for _, t := range pr.TCs {
			if t.Measured-t.Configured < -shareTolerance && t.Shaped+t.Overload == 0 {
				unused = append(unused, t.Name)
			}
		}
		for _, t := range pr.TCs {
			d := t.Measured - t.Configured
			if math.Abs(d) <= shareTolerance {
				continue
			}
			if d < 0 && t.Shaped+t.Overload == 0 {
				note("class %s of port %s got %.1f%% of the port against %.1f%% configured: it was offered less "+
					"than its share (its ring never overflowed), and the others used the rest", t.Name, pr.Name,
					100*t.Measured, 100*t.Configured)
				continue
			}
			if d > 0 && len(unused) > 0 {
				note("class %s of port %s got %.1f%% of the port against %.1f%% configured: it was backlogged and "+
					"took part of what %s left unused", t.Name, pr.Name, 100*t.Measured, 100*t.Configured,
					strings.Join(unused, ", "))
				continue
			}
			warn("class %s of port %s got %.1f%% of the port against %.1f%% configured while it was backlogged: "+
				"the scheduler did not keep it to its share", t.Name, pr.Name, 100*t.Measured, 100*t.Configured)
		}
	}
	byCause := map[string]uint64{}
	for _, c := range r.Causes {
		byCause[c.Cause] = c.Packets
	}
	list := func(cause string) string {
		var s string
		for _, d := range r.Drops {
			if d.Cause == cause && d.Packets > 0 {
				if s != "" {
					s += "; "
				}
				s += fmt.Sprintf("%d %s", d.Packets, d.Reason)
			}
		}
		return s
	}
	if n := byCause[CauseOverload]; n > 0 {
		warn("%d frames (%.2f%% of those generated) dropped for overload: %s", n, pct(n, r.Generated), list(CauseOverload))
	}
	if n := byCause[CauseBadFrame]; n > 0 {
		warn("%d bad frames: %s", n, list(CauseBadFrame))
	}
	if n := byCause[CauseLinkDown]; n > 0 {
		warn("%d frames dropped while a link was down: %s", n, list(CauseLinkDown))
	}
	if n := byCause[CauseStop]; n > 0 {
		note("%d packets were still held in rings or the co-processor when the pipeline closed", n)
	}
	if r.InFlight != 0 {
		warn("%d packets in flight when the report was taken (the pipeline was not drained and closed)", r.InFlight)
	}
	if r.Offload != nil && r.Offload.Failed > 0 {
		warn("the co-processor failed %d of %d jobs", r.Offload.Failed, r.Offload.Jobs)
	}
}

// pct returns n as a percentage of of (0 if of is 0).
func pct(n, of uint64) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ReadReport decodes a report written by WriteJSON.
func ReadReport(rd io.Reader) (Report, error) {
	var r Report
	dec := json.NewDecoder(rd)
	dec.DisallowUnknownFields()
	err := dec.Decode(&r)
	return r, err
}

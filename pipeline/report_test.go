package pipeline

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// A report written as JSON reads back equal, and its text form names the
// sections a user looks for.
func TestReportJSONRoundTrip(t *testing.T) {
	p, err := New(simConfig(true), Options{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := RunSim(p, 10*time.Millisecond, 32*time.Microsecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	rep.Migration = &MigrationReport{Ran: true, Sessions: 3, Downtime: Duration(1500 * time.Microsecond)}
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	got, err := ReadReport(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rep, got) {
		t.Errorf("round trip:\nwrote %+v\nread  %+v", rep, got)
	}
	var txt strings.Builder
	if err := rep.WriteText(&txt); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Mpps", "configured", "latency", "drops by cause", "shaping", "accounting: generated", "offload", "migration"} {
		if !strings.Contains(txt.String(), s) {
			t.Errorf("text report lacks %q", s)
		}
	}
}

// The latency paragraph says what the TC rings' full wait is against the
// ring_delay budget, and the migration line splits the downtime into the
// hold and what came after it.
func TestReportTextExplains(t *testing.T) {
	ms := func(f float64) Duration { return Duration(time.Duration(f * float64(time.Millisecond))) }
	for _, tc := range []struct {
		name  string
		delay Duration
		waits []Duration
		want  string
	}{
		{"within budget", ms(10), []Duration{ms(10), ms(10.1)}, "about 10ms here, as ring_delay sized the rings"},
		{"rings at their floor", ms(10), []Duration{ms(10), ms(107)},
			"10ms to 107ms here (the full wait column): ring_delay asks for 10ms, but a ring holds at least 32 packets"},
		{"ring_size", 0, []Duration{ms(5), ms(40)}, "from 5ms to 40ms here (the full wait column); the config's ring_delay"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Report{RingDelay: tc.delay, Ports: []PortReport{{Name: "p", RateBPS: 1e8}},
				Migration: &MigrationReport{Ran: true, Phase: "moved", Downtime: ms(23.7), Hold: ms(10)}}
			for _, w := range tc.waits {
				r.Ports[0].TCs = append(r.Ports[0].TCs, TCReport{Name: "c", FullRingWait: w})
			}
			text := strings.Join(strings.Fields(r.String()), " ")
			for _, s := range []string{tc.want, "downtime 23.7ms from the suspension to the destination's first frame: " +
				"the 10ms hold (suspended by design, the circuit answering for the sessions) and 13.7ms to seal"} {
				if !strings.Contains(text, s) {
					t.Errorf("report lacks %q:\n%s", s, r.String())
				}
			}
		})
	}
}

// TestExplainShares: a class that got more than its share is warned about
// only when no class of its port left part of its share unused; when one
// did, the scheduler (work-conserving) gave that part to the backlogged
// classes, and the report says so in a note.
func TestExplainShares(t *testing.T) {
	port := func(tcs ...TCReport) *Report {
		return &Report{Ports: []PortReport{{Name: "backup", RateBPS: 1e8, SentBPS: 1e8, TCs: tcs}}}
	}
	under := TCReport{Name: "secure", Configured: 0.25, Measured: 0.13}
	over := TCReport{Name: "video", Configured: 0.25, Measured: 0.31, Shaped: 100}
	rest := TCReport{Name: "bulk", Configured: 0.5, Measured: 0.56, Shaped: 100}

	r := port(under, over, rest)
	r.explain()
	if len(r.Warnings) != 0 {
		t.Errorf("warnings with a class leaving its share unused: %q", r.Warnings)
	}
	if !slices.ContainsFunc(r.Notes, func(s string) bool {
		return strings.Contains(s, "class video") && strings.Contains(s, "secure left unused")
	}) {
		t.Errorf("no note that video took what secure left unused: %q", r.Notes)
	}

	backlogged := under
	backlogged.Shaped = 50 // secure was backlogged: its shortfall is the scheduler's
	r = port(backlogged, over, rest)
	r.explain()
	if len(r.Warnings) != 3 {
		t.Errorf("want a warning for each class away from its share while all were backlogged, got %q", r.Warnings)
	}
}

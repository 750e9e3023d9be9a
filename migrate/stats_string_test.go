package migrate_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ringkit/ringkit/migrate"
	"github.com/ringkit/ringkit/tcpip"
)

// Every stats type prints as sentences or a table through a String on
// its value (fmt.Sprint of the value, not of a pointer): the figures
// with what they count, never a Go struct.
func TestStatsStrings(t *testing.T) {
	for _, tc := range []struct {
		name  string
		v     any
		wants []string
	}{
		{"Metrics", migrate.Metrics{Downtime: 30 * time.Millisecond, Hold: 20 * time.Millisecond, TotalTime: time.Second, SessionsLost: 1},
			[]string{"downtime 30ms (hold 20ms, then 10ms to seal", "1s in all", "1 sessions lost"}},
		{"ReplayStats", migrate.ReplayStats{Applied: 3295, Skipped: 2, Sealed: true}, []string{"3295 records applied, 2 skipped", "seal read"}},
		{"TransferStats", migrate.TransferStats{Bytes: 999, Chunks: 9, Connections: 2, Retransmits: 1, Timeouts: 1, Naks: 3},
			[]string{"999 bytes in 9 chunks over 2 connections", "1 chunks resent (1 after a timeout), 3 NAKs"}},
		{"CircuitStats", migrate.CircuitStats{Stack: tcpip.StackStats{SegmentsIn: 5, KeepalivesAnswered: 2}, Dropped: 4, Lost: 1},
			[]string{"2 keepalives answered", "4 frames for the VM dropped", "1 sessions reset", "5 segments in"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := fmt.Sprint(tc.v)
			if strings.ContainsAny(s, "{}&") {
				t.Errorf("%s prints as a struct: %s", tc.name, s)
			}
			for _, w := range tc.wants {
				if !strings.Contains(s, w) {
					t.Errorf("%s lacks %q: %s", tc.name, w, s)
				}
			}
		})
	}
}

func TestPhaseString(t *testing.T) {
	for p, want := range map[migrate.Phase]string{migrate.PhasePreCopy: "pre-copy", migrate.PhaseSuspended: "suspended",
		migrate.PhaseSealed: "sealed", migrate.PhaseCommitted: "committed", migrate.PhaseMoved: "moved", migrate.PhaseResumed: "resumed", 0: "phase 0", 99: "phase 99"} {
		if got := p.String(); got != want {
			t.Errorf("phase %d: %q, want %q", uint8(p), got, want)
		}
	}
}

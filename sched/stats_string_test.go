package sched_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ringkit/ringkit/sched"
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
		{"TCStats", sched.TCStats{Name: "voice", Priority: 0, Weight: 3, Packets: 11, Bytes: 1200, Drops: 2, Share: 0.125, Active: true},
			[]string{"class voice (priority 0, weight 3)", "11 packets, 1200 bytes, 2 dropped", "12.5% of the port", "backlogged"}},
		{"PortStats", sched.PortStats{Name: "up", Refused: 4, Window: 100 * time.Millisecond, TCs: []sched.TCStats{
			{Name: "voice", Weight: 1, Packets: 11, Bytes: 1200, Share: 0.25, Active: true}, {Name: "best", Priority: 1, Weight: 2, Packets: 22, Share: 0.75}}},
			[]string{"port up: shares over the last 100ms; 4 refusals", "class", "voice", "1200", "25.0%  backlogged", "best", "75.0%  idle"}},
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

package tcpip_test

import (
	"fmt"
	"strings"
	"testing"

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
		{"StackStats", tcpip.StackStats{SegmentsIn: 10, SegmentsOut: 12, Retransmits: 3, PAWSDropped: 1},
			[]string{"10 segments in, 12 out", "3 retransmissions", "1 PAWS drops"}},
		{"ConnStats", tcpip.ConnStats{BytesIn: 100, BytesOut: 200, Retransmits: 1, ResetReceived: true},
			[]string{"100 bytes in, 200 out", "1 retransmissions", "reset by the peer"}},
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

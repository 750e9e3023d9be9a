package port_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ringkit/ringkit/port"
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
		{"QueueStats", port.QueueStats{RxPackets: 10, RxBytes: 600, RxMissed: 2, TxPackets: 8, TxDropped: 1, Stopped: true},
			[]string{"rx 10 packets, 600 bytes, 2 missed", "tx 8 packets", "1 dropped (stopped)"}},
		{"Stats", port.Stats{Name: "p0", LinkUp: true, Queues: []port.QueueStats{{RxPackets: 10}}, Total: port.QueueStats{RxPackets: 10}},
			[]string{"port p0", "rx pkts", "total"}},
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

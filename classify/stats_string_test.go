package classify_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ringkit/ringkit/classify"
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
		{"ClassifierStats", classify.ClassifierStats{Packets: 100, Malformed: 2, NoRoute: 3, CacheHits: 90, CacheMisses: 10},
			[]string{"100 packets classified (2 malformed, 3 with no route)", "90 hits, 10 misses"}},
		{"StageStats", classify.StageStats{ClassifierStats: classify.ClassifierStats{Packets: 100}, Forwarded: 95, RingFull: 4, Closed: 1},
			[]string{"100 packets classified", "95 forwarded", "4 dropped at a full ring", "1 dropped at Close"}},
		{"ParseStats", parseStats(), []string{"3 malformed frames", "2 ethernet header truncated", "1 tcp header truncated"}},
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

func parseStats() *classify.ParseStats {
	var s classify.ParseStats
	s.Count(classify.ReasonEtherShort)
	s.Count(classify.ReasonEtherShort)
	s.Count(classify.ReasonTCPShort)
	return &s
}

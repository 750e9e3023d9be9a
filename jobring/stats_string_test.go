package jobring_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ringkit/ringkit/jobring"
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
		{"WorkerStats", jobring.WorkerStats{ID: 1, Name: "csum", Class: jobring.Coprocessor, Jobs: 100, Failed: 1, Batches: 10, MaxBatch: 20, Busy: time.Millisecond},
			[]string{"worker 1 csum", "running", "100 jobs (1 failed, 0 handed back) in 10 batches, 10.0 a batch, at most 20", "busy 1ms"}},
		{"KindStats", jobring.KindStats{Name: "l4-checksum", Done: 50, Failed: 2, Samples: 52, P50: time.Millisecond},
			[]string{"kind l4-checksum: 50 done, 2 failed", "p50 1ms", "52 samples"}},
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

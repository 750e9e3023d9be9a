package descriptor_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ringkit/ringkit/descriptor"
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
		{"RxStats", descriptor.RxStats{Missed: 3, Errors: 4, RefillFailed: 5}, []string{"3 frames missed", "4 refused", "5 refills"}},
		{"TxStats", descriptor.TxStats{Posted: 7, Completed: 6, BadFrees: 1}, []string{"7 packets posted", "6 completed", "1 completed buffers the pool refused"}},
		{"PoolStats", descriptor.PoolStats{Buffers: 100, Free: 60, Cached: 30, InUse: 10, CacheHits: 9, Empty: 2}, []string{"100 buffers: 60 free, 30 in caches, 10 in use", "9 gets served by a cache", "2 failed"}},
		{"CacheStats", descriptor.CacheStats{Len: 5, Hits: 6, Refills: 7, Flushes: 8}, []string{"5 buffers held", "6 gets", "7 refills", "8 flushes"}},
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

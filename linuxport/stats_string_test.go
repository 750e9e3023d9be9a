package linuxport_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ringkit/ringkit/linuxport"
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
		{"XDPStats", linuxport.XDPStats{RxDropped: 1, RxRingFull: 2, FillRingEmpty: 3, RxInvalid: 4, TxInvalid: 5, TxRingEmpty: 6},
			[]string{"rx dropped 1", "rx ring full 2", "fill ring empty 3 times", "invalid rx 4 and tx 5", "tx ring empty 6 times"}},
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

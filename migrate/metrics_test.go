package migrate

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Metrics print as a sentence whether they are passed by value or by
// pointer: a value in a %v or a Println is what a caller holds.
func TestMetricsString(t *testing.T) {
	m := Metrics{Downtime: 3 * time.Millisecond, BytesPreCopy: 4096, RecordsJournaled: 17, SessionsLost: 1}
	for _, s := range []string{fmt.Sprint(m), fmt.Sprintf("%v", &m), m.String()} {
		for _, want := range []string{"downtime 3ms", "pre-copy 4096", "journal 17 records", "sessions lost 1"} {
			if !strings.Contains(s, want) {
				t.Errorf("%q lacks %q", s, want)
			}
		}
	}
}

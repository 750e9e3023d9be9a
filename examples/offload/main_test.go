package main

import (
	"strings"
	"testing"
	"time"

	"github.com/ringkit/ringkit/examples/internal/smoke"
)

func TestMain(m *testing.M) { smoke.Main(m, main) }

// A short run says how the rules share the kinds, shows the first results
// checked, and retires every job in order, verified.
func TestSmoke(t *testing.T) {
	out, _ := smoke.Run(t, time.Minute, "-jobs", "2000", "-show", "4")
	smoke.Contains(t, out, "3 kinds of job on one ring, shared by 2 cores (core0, core1) and 1 co-processor model (accel)",
		"crc32c    parallel", "seal      atomic: one at a time per flow", "the cores too once 48 are waiting",
		"deflate   ordered", "first 4 results, in submission order:", "#3", "2000 jobs retired in order in",
		"2000 verified, 0 failed", "worker", "coprocessor", "kind", "p99")
	if strings.Contains(out, "rules{") {
		t.Errorf("the rules print raw:\n%s", out)
	}
}

package main

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ringkit/ringkit/examples/internal/smoke"
)

func TestMain(m *testing.M) { smoke.Main(m, main) }

// A short run prints the offered load, a table of the queues whose total
// accounts for every frame generated (received or missed), and the pool
// with every buffer back.
func TestSmoke(t *testing.T) {
	out, _ := smoke.Run(t, time.Minute, "-duration", "200ms", "-rate", "2e5", "-queues", "2")
	smoke.Contains(t, out, "frames generated in", "2 queues of 2048 descriptors", "queue", "rx pkts", "missed",
		"avg burst", "pool after closing the rings: ", " free, 0 in caches, 0 in use")
	var generated, rx, missed uint64
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) > 2 && f[1] == "frames" && f[2] == "generated":
			generated, _ = strconv.ParseUint(f[0], 10, 64)
		case len(f) > 5 && f[0] == "total":
			rx, _ = strconv.ParseUint(f[1], 10, 64)
			missed, _ = strconv.ParseUint(f[4], 10, 64)
		}
	}
	if generated == 0 || rx+missed != generated {
		t.Errorf("generated %d, received %d + missed %d:\n%s", generated, rx, missed, out)
	}
}

package main

import (
	"testing"
	"time"

	"github.com/ringkit/ringkit/examples/internal/smoke"
)

func TestMain(m *testing.M) { smoke.Main(m, main) }

// A short run shows the shares over time and, at the end, each class's
// measured share beside its configuration, and the fairness index.
func TestSmoke(t *testing.T) {
	for _, mode := range []string{"-pipeline=true", "-pipeline=false"} {
		t.Run(mode, func(t *testing.T) {
			out, _ := smoke.Run(t, time.Minute, "-duration", "500ms", "-every", "200ms", mode)
			smoke.Contains(t, out, "port 1 Gb/s, quantum 1ms, 6 classes; share over the last 200ms:", "voice", "best",
				"Jain", "over the whole run (", "class    prio weight configured   measured    packets",
				"Jain's fairness index over weight-normalised throughput of priority 1:")
			if mode == "-pipeline=true" {
				smoke.Contains(t, out, "classifier:", "forwarded to class rings")
			}
		})
	}
}

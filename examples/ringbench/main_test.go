package main

import (
	"testing"
	"time"

	"github.com/ringkit/ringkit/examples/internal/smoke"
)

func TestMain(m *testing.M) { smoke.Main(m, main) }

// A short run times every ring type beside a channel and checks that each
// case delivered every element exactly once.
func TestSmoke(t *testing.T) {
	out, _ := smoke.Run(t, 2*time.Minute, "-n", "5000", "-timeout", "1m")
	smoke.Contains(t, out, "5000 elements per case", "type  shape burst   ns/elem   Melem/s", "SPSC  p1c1",
		"MPSC  p4c1", "SPMC  p1c4", "MPMC  p4c4", "chan  p4c4", "every case delivered each of its 5000 elements exactly once")
}

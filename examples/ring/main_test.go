package main

import (
	"strings"
	"testing"
	"time"

	"github.com/ringkit/ringkit/examples/internal/smoke"
)

func TestMain(m *testing.M) { smoke.Main(m, main) }

// A short run moves every message once and in order through both rings
// and says so, with its timing in sensible units.
func TestSmoke(t *testing.T) {
	out, _ := smoke.Run(t, time.Minute, "-n", "20000")
	smoke.Contains(t, out, "MPSC, 4 producers → 1 consumer: 80000 messages in ", "each once and in order",
		"SPSC zero-copy (Reserve/Commit, Peek/Release): 20000 values in order in ")
	if strings.Contains(out, " in 0s ") {
		t.Errorf("a duration rounded to nothing:\n%s", out)
	}
}

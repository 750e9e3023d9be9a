package classify

import (
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/internal/pad"
)

// ParseStats counts malformed frames by Reason. Its methods may be called
// from any number of goroutines at once. The zero value is ready to use;
// a ParseStats must not be copied after first use.
type ParseStats struct {
	_ pad.NoCopy
	// n[r] counts frames that stopped at reason r; n[OK] stays 0. Each
	// is an independent statistic: Add and Load are relaxed in effect,
	// ordering nothing else.
	n [numReasons]atomic.Uint64
}

// Parse is Parse that also counts a malformed frame under its Reason.
func (s *ParseStats) Parse(b []byte, p *descriptor.Packet) Reason {
	r := Parse(b, p)
	if r != OK {
		s.n[r].Add(1)
	}
	return r
}

// Count adds one malformed frame with reason r. OK and out-of-range
// reasons are ignored.
func (s *ParseStats) Count(r Reason) {
	if r != OK && r < numReasons {
		s.n[r].Add(1)
	}
}

// Get returns the number of frames counted with reason r.
func (s *ParseStats) Get(r Reason) uint64 {
	if r >= numReasons {
		return 0
	}
	return s.n[r].Load()
}

// Malformed returns the number of malformed frames counted, all reasons.
func (s *ParseStats) Malformed() uint64 {
	var t uint64
	for i := range s.n {
		t += s.n[i].Load()
	}
	return t
}

// String lists the malformed frames by reason, the reasons never seen left
// out. Its receiver is a pointer, unlike the other stats types' String:
// a ParseStats holds its counters and must not be copied.
func (s *ParseStats) String() string {
	var parts []string
	for r := Reason(1); r < numReasons; r++ {
		if n := s.n[r].Load(); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, r))
		}
	}
	if len(parts) == 0 {
		return "no malformed frames"
	}
	return fmt.Sprintf("%d malformed frames: %s", s.Malformed(), strings.Join(parts, ", "))
}

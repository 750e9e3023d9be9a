// Package tail is the tail word of ringkit's rings: the next position a
// producer claims, with its top bit set once the ring is closed. Keeping the
// closed flag in the word producers claim with means a claim and a Close
// are ordered by the word itself: a producer's compare-and-swap of the tail
// fails once Close has set the bit, so no element enters a closed ring and
// every element that entered before is counted in the tail the consumers
// see.
package tail

import "sync/atomic"

const (
	// Closed is the bit of a tail word that marks the ring closed.
	Closed uint64 = 1 << 63
	// Pos masks a tail word to its position.
	Pos = Closed - 1
)

// Close sets Closed in the tail word t and reports whether this call set it
// (false when the ring was closed already).
func Close(t *atomic.Uint64) bool { return t.Or(Closed)&Closed == 0 }

// IsClosed reports whether the tail word t has Closed set.
func IsClosed(t *atomic.Uint64) bool { return t.Load()&Closed != 0 }

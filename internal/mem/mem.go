// Package mem bounds what a constructor allocates from sizes its caller
// gave. Go cannot recover from a failed allocation (the process dies with
// "fatal error: out of memory"), so every constructor that sizes an
// allocation from user input checks the bytes it would take against a
// documented limit first, and returns an error instead.
package mem

import (
	"fmt"
	"math"
	"math/bits"
)

// Size returns count × each, or math.MaxUint64 if the product overflows.
func Size(count, each uint64) uint64 {
	hi, lo := bits.Mul64(count, each)
	if hi != 0 {
		return math.MaxUint64
	}
	return lo
}

// Add returns a + b, or math.MaxUint64 if the sum overflows.
func Add(a, b uint64) uint64 {
	s, c := bits.Add64(a, b, 0)
	if c != 0 {
		return math.MaxUint64
	}
	return s
}

// Check returns nil if need bytes fit in limit, and otherwise an error
// wrapping sentinel that names what would take them, the bytes and the
// limit, and how to raise it (raise, as "PoolConfig.MaxBytes"; "" for a
// limit the caller cannot raise).
func Check(sentinel error, what string, need, limit uint64, raise string) error {
	if need <= limit {
		return nil
	}
	asked := fmt.Sprintf("%d bytes", need)
	if need == math.MaxUint64 {
		asked = "more bytes than a uint64 counts"
	}
	if raise == "" {
		return fmt.Errorf("%w: %s would take %s, above the limit of %d bytes", sentinel, what, asked, limit)
	}
	return fmt.Errorf("%w: %s would take %s, above the limit of %d bytes (raise it with %s)", sentinel, what, asked, limit, raise)
}

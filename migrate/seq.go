package migrate

// TCP sequence numbers are 32-bit and wrap: they are compared through the
// signed difference of two values (RFC 793 section 3.3, RFC 1982 serial
// number arithmetic), never with < on the raw numbers, so that 0x00000010
// comes after 0xfffffff0.

// seqLT reports whether a comes before b modulo 2^32.
func seqLT(a, b uint32) bool { return int32(a-b) < 0 }

// seqLEQ reports whether a comes before b or is b, modulo 2^32.
func seqLEQ(a, b uint32) bool { return int32(a-b) <= 0 }

// seqDiff is the distance from a forward to b, as a signed number: positive
// when b is after a.
func seqDiff(a, b uint32) int32 { return int32(b - a) }

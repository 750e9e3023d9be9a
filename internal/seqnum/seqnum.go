// Package seqnum compares TCP sequence numbers. They are 32-bit and wrap,
// so they are compared through the signed difference of two values
// (RFC 9293 section 3.4, RFC 1982 serial number arithmetic), never with <
// on the raw numbers: 0x00000010 comes after 0xfffffff0. The TCP endpoint
// and the replay of its journal both use it, as gVisor's tcpip/seqnum.
package seqnum

// LT reports whether a comes before b modulo 2^32.
func LT(a, b uint32) bool { return int32(a-b) < 0 }

// LEQ reports whether a comes before b or is b, modulo 2^32.
func LEQ(a, b uint32) bool { return int32(a-b) <= 0 }

// Diff is the distance from a forward to b, as a signed number: positive
// when b is after a.
func Diff(a, b uint32) int32 { return int32(b - a) }

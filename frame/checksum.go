package frame

import "encoding/binary"

// Sum adds b to the one's-complement running sum acc, as 16-bit big-endian
// words (RFC 1071); an odd last byte is padded with a zero. The result is
// not folded: pass it on to another Sum, or to Fold.
func Sum(b []byte, acc uint32) uint32 {
	s := uint64(acc)
	for len(b) >= 8 {
		v := binary.BigEndian.Uint64(b)
		s += v >> 48
		s += v >> 32 & 0xffff
		s += v >> 16 & 0xffff
		s += v & 0xffff
		b = b[8:]
	}
	for len(b) >= 2 {
		s += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint64(b[0]) << 8
	}
	for s>>32 != 0 {
		s = s&0xffffffff + s>>32
	}
	return uint32(s)
}

// Fold folds a running sum to 16 bits (with end-around carry).
func Fold(acc uint32) uint16 {
	for acc>>16 != 0 {
		acc = acc&0xffff + acc>>16
	}
	return uint16(acc)
}

// Checksum returns the Internet checksum of b with the running sum acc
// (a pseudo-header sum, or 0): the one's complement of the folded sum.
// Computed over a header whose checksum field is zero, it is the value to
// store there; over a header that carries its checksum, it is 0 when the
// checksum is right.
func Checksum(b []byte, acc uint32) uint16 {
	return ^Fold(Sum(b, acc))
}

// PseudoSum returns the running sum of the TCP/UDP/ICMPv6 pseudo-header:
// source and destination addresses (4 or 16 bytes each), the protocol and
// the L4 length (RFC 793, RFC 768, RFC 8200 §8.1).
func PseudoSum(src, dst []byte, proto uint8, l4len int) uint32 {
	acc := Sum(src, 0)
	acc = Sum(dst, acc)
	acc += uint32(proto)
	acc += uint32(l4len) >> 16
	acc += uint32(l4len) & 0xffff
	return acc
}

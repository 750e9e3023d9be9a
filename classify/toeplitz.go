package classify

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ringkit/ringkit/descriptor"
)

// KeySize is the length of a Toeplitz RSS key in bytes (320 bits, as
// Microsoft RSS and most NICs define it).
const KeySize = 40

// MaxHashInput is the longest input a 40-byte key can hash: the IPv6
// addresses and ports, 36 bytes. Each input bit needs the 32 key bits that
// start at its position.
const MaxHashInput = KeySize - 4

// DefaultKey is the key of the Microsoft RSS verification suite, the
// default of many NIC drivers.
var DefaultKey = [KeySize]byte{
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2,
	0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
	0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4,
	0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
	0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
}

// SymmetricKey is 0x6d5a repeated (Woo and Park, "Scalable TCP Session
// Monitoring with Symmetric Receive-side Scaling", 2012). Its bit pattern
// repeats every 16 bits, so each address (32 or 128 bits) and each port
// (16 bits) meets the same key windows wherever it sits in the input:
// swapping source and destination leaves the hash unchanged, and both
// directions of a flow land on the same queue.
var SymmetricKey = func() (k [KeySize]byte) {
	for i := 0; i < KeySize; i += 2 {
		k[i], k[i+1] = 0x6d, 0x5a
	}
	return k
}()

// ErrKeySize is returned for a key that is not KeySize bytes long.
var ErrKeySize = errors.New("classify: Toeplitz key must be 40 bytes")

// Toeplitz computes the Toeplitz hash of Microsoft RSS with one key.
//
// The hash is linear over GF(2): it is the XOR, for every set input bit
// at position k, of the 32 key bits starting at bit k. NewToeplitz
// precomputes, for each input byte position and each byte value, the XOR
// of the windows its set bits select (36 tables of 256 words, 36 KiB), so a
// hash costs one table load and XOR per input byte instead of eight
// conditional XORs and shifts per byte (the DPDK rte_softrss approach).
//
// A Toeplitz is read-only after NewToeplitz: any number of goroutines may
// hash with it at once.
type Toeplitz struct {
	tab [MaxHashInput][256]uint32
}

// NewToeplitz returns a hasher for key, which must be KeySize bytes.
func NewToeplitz(key []byte) (*Toeplitz, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w: got %d", ErrKeySize, len(key))
	}
	t := new(Toeplitz)
	for i := range MaxHashInput {
		// The 40 key bits from bit 8i: windows for bit positions 8i..8i+7.
		var k uint64
		for j := range 5 {
			k = k<<8 | uint64(key[i+j])
		}
		var win [8]uint32
		for j := range 8 {
			win[j] = uint32(k >> (8 - j))
		}
		for v := 1; v < 256; v++ {
			var h uint32
			for j := range 8 {
				if v&(0x80>>j) != 0 {
					h ^= win[j]
				}
			}
			t.tab[i][v] = h
		}
	}
	return t, nil
}

// Hash returns the hash of in, at most MaxHashInput bytes. It panics on a
// longer input: no RSS input is longer, so it is a programming error.
func (t *Toeplitz) Hash(in []byte) uint32 {
	if len(in) > MaxHashInput {
		panic(fmt.Sprintf("classify: Toeplitz input of %d bytes, at most %d", len(in), MaxHashInput))
	}
	var h uint32
	for i, v := range in {
		h ^= t.tab[i][v]
	}
	return h
}

// hashAt XORs in into h as if in started at byte position pos of the input.
func (t *Toeplitz) hashAt(h uint32, pos int, in []byte) uint32 {
	tab := t.tab[pos : pos+len(in)]
	for i, v := range in {
		h ^= tab[i][v]
	}
	return h
}

// HashIPv4 hashes source and destination address (RSS type IPv4).
func (t *Toeplitz) HashIPv4(src, dst [4]byte) uint32 {
	return t.hashAt(t.hashAt(0, 0, src[:]), 4, dst[:])
}

// HashIPv4Ports hashes addresses and ports (RSS types TCP/IPv4, UDP/IPv4).
func (t *Toeplitz) HashIPv4Ports(src, dst [4]byte, srcPort, dstPort uint16) uint32 {
	var ports [4]byte
	binary.BigEndian.PutUint16(ports[0:], srcPort)
	binary.BigEndian.PutUint16(ports[2:], dstPort)
	return t.hashAt(t.HashIPv4(src, dst), 8, ports[:])
}

// HashIPv6 hashes source and destination address (RSS type IPv6).
func (t *Toeplitz) HashIPv6(src, dst [16]byte) uint32 {
	return t.hashAt(t.hashAt(0, 0, src[:]), 16, dst[:])
}

// HashIPv6Ports hashes addresses and ports (RSS types TCP/IPv6, UDP/IPv6).
func (t *Toeplitz) HashIPv6Ports(src, dst [16]byte, srcPort, dstPort uint16) uint32 {
	var ports [4]byte
	binary.BigEndian.PutUint16(ports[0:], srcPort)
	binary.BigEndian.PutUint16(ports[2:], dstPort)
	return t.hashAt(t.HashIPv6(src, dst), 32, ports[:])
}

// HashFrame hashes a parsed frame as a NIC does: addresses and ports for
// TCP and UDP when ports is true and the packet is not a fragment,
// addresses only otherwise. b is the frame p was parsed from. ok is false
// for a frame without a whole IPv4 or IPv6 header (not IP, or malformed
// before L4); such a frame has no RSS hash. HashFrame never reads outside
// b, even when p does not describe b.
func (t *Toeplitz) HashFrame(b []byte, p *descriptor.Packet, ports bool) (h uint32, ok bool) {
	l3 := int(p.L3Off)
	var alen int
	switch {
	case p.Type&descriptor.L3IPv4 != 0:
		alen, l3 = 4, l3+12
	case p.Type&descriptor.L3IPv6 != 0:
		alen, l3 = 16, l3+8
	default:
		return 0, false
	}
	if l3+2*alen > len(b) {
		return 0, false
	}
	h = t.hashAt(0, 0, b[l3:l3+2*alen])
	l4 := int(p.L4Off)
	if ports && p.Type&(descriptor.L4TCP|descriptor.L4UDP) != 0 && p.Flags&descriptor.FlagFragment == 0 && l4+4 <= len(b) {
		h = t.hashAt(h, 2*alen, b[l4:l4+4])
	}
	return h, true
}

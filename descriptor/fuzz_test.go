package descriptor_test

import (
	"bytes"
	"testing"

	"github.com/ringkit/ringkit/descriptor"
)

// FuzzNICPlace hands any frame to the NIC side of an RxRing with any data
// room: an empty or over-long frame must be refused and counted as an
// error, any other must come out of Receive byte for byte, and no byte of
// any buffer outside the frame may change.
func FuzzNICPlace(f *testing.F) {
	f.Add([]byte{}, uint16(64))
	f.Add([]byte{0x01}, uint16(1))
	f.Add(bytes.Repeat([]byte{0xab}, 65), uint16(64))
	f.Add(bytes.Repeat([]byte{0xcd}, 64), uint16(64))
	f.Add(bytes.Repeat([]byte{0xef}, 1514), uint16(2048))
	f.Fuzz(func(t *testing.T, frame []byte, room uint16) {
		dataRoom := 1 + int(room)%4096
		p, err := descriptor.NewPool(descriptor.PoolConfig{Buffers: 8, DataRoom: dataRoom, Headroom: 8, Check: true})
		if err != nil {
			t.Fatal(err)
		}
		r, err := descriptor.NewRxRing(p, descriptor.RxConfig{Descs: 4, FreeThresh: 1})
		if err != nil {
			t.Fatal(err)
		}
		ok := r.NICPlace(frame, descriptor.Packet{Port: 1})
		if want := len(frame) > 0 && len(frame) <= dataRoom; ok != want {
			t.Fatalf("NICPlace(%d bytes, room %d) = %v", len(frame), dataRoom, ok)
		}
		var dst [4]descriptor.Packet
		n := r.Receive(dst[:])
		if !ok {
			if n != 0 || r.Stats().Errors != 1 {
				t.Fatalf("refused frame: received %d, stats %+v", n, r.Stats())
			}
		} else {
			if n != 1 || int(dst[0].Len) != len(frame) || !bytes.Equal(p.Bytes(dst[0]), frame) {
				t.Fatalf("received %d packets, Len %d, want the %d-byte frame", n, dst[0].Len, len(frame))
			}
			if err := r.Free(dst[:1]); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := r.Close(); err != nil {
			t.Fatal(err)
		}
		all := make([]descriptor.Buf, p.Buffers())
		if !p.GetBulk(all) {
			t.Fatalf("pool not full: %+v", p.Stats())
		}
		matched := false
		for _, b := range all {
			rest, h := p.Data(b), p.HeadroomOf(b)
			if ok && !matched && bytes.HasPrefix(rest, frame) {
				matched, rest = true, rest[len(frame):]
			}
			if bytes.Count(rest, []byte{0}) != len(rest) || bytes.Count(h, []byte{0}) != len(h) {
				t.Fatalf("buffer %#x changed outside the frame", b)
			}
		}
		if ok && !matched {
			t.Fatal("no buffer holds the frame")
		}
	})
}

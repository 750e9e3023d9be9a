package nicsim_test

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/ringkit/ringkit/classify"
	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/frame"
	"github.com/ringkit/ringkit/nicsim"
)

// FuzzPortReceive hands any frame to a port (parser, RSS, placing): it
// must not panic or read outside the frame, and each frame must be
// accounted for exactly once: placed intact into the queue its hash
// selects, with the parser's metadata (and FlagParsed exactly when it
// parsed without fault), or counted as an error (empty, runt, over-long)
// or missed.
func FuzzPortReceive(f *testing.F) {
	udp := frame.Build(nil, &frame.Spec{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"),
		Proto: frame.ProtoUDP, SrcPort: 1, DstPort: 2, PayloadLen: 18})
	tcp6 := frame.Build(nil, &frame.Spec{Src: netip.MustParseAddr("fd00::1"), Dst: netip.MustParseAddr("fd00::2"),
		Proto: frame.ProtoTCP, SrcPort: 1, DstPort: 2, VLANs: 2})
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3})
	f.Add(udp)
	f.Add(tcp6)
	f.Add(udp[:30])
	f.Add(bytes.Repeat([]byte{0x45}, 600))
	pool, err := descriptor.NewPool(descriptor.PoolConfig{Buffers: 64, DataRoom: 512, Check: true})
	if err != nil {
		f.Fatal(err)
	}
	n, err := nicsim.New(nicsim.Config{Pool: pool, Queues: 4, Rx: descriptor.RxConfig{Descs: 8, FreeThresh: 1}})
	if err != nil {
		f.Fatal(err)
	}
	port := n.Port(0)
	f.Fuzz(func(t *testing.T, b []byte) {
		before := port.Stats().Total
		in := append([]byte(nil), b...)
		port.Receive([][]byte{in})
		if !bytes.Equal(in, b) {
			t.Fatal("Receive modified the frame")
		}
		after := port.Stats().Total
		placed := after.RxPackets - before.RxPackets
		errs := after.RxErrors - before.RxErrors
		missed := after.RxMissed - before.RxMissed
		if placed+errs+missed != 1 {
			t.Fatalf("frame of %d bytes: placed %d, errors %d, missed %d", len(b), placed, errs, missed)
		}
		if (len(b) < nicsim.MinFrame || len(b) > 512) != (errs == 1) {
			t.Fatalf("frame of %d bytes: errors %d", len(b), errs)
		}
		var dst [8]descriptor.Packet
		got := 0
		for q := range 4 {
			k := port.RxRing(q).Receive(dst[:])
			for _, pk := range dst[:k] {
				if int(pk.Queue) != q || !bytes.Equal(pool.Bytes(pk), b) {
					t.Fatalf("queue %d: packet for queue %d, %d bytes of %d", q, pk.Queue, pk.Len, len(b))
				}
				// FlagParsed exactly when the frame parses without fault,
				// and then the metadata is the parse.
				want := descriptor.Packet{Port: pk.Port, Queue: pk.Queue, Buf: pk.Buf, Len: pk.Len, Hash: pk.Hash}
				if classify.Parse(b, &want) == classify.OK {
					want.Flags |= descriptor.FlagParsed
				}
				want.Flags |= pk.Flags & descriptor.FlagHash
				if pk != want {
					t.Fatalf("metadata %+v, want %+v", pk, want)
				}
			}
			got += k
			_ = port.RxRing(q).Free(dst[:k])
		}
		if got != int(placed) {
			t.Fatalf("placed %d, received %d", placed, got)
		}
	})
}

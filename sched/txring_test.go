package sched_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/ring"
	"github.com/ringkit/ringkit/sched"
)

var _ sched.Transmitter = (*descriptor.TxRing)(nil)

// TestTxRing schedules into a descriptor.TxRing whose NIC side completes
// a few descriptors per step: the ring fills and refuses, the port retries;
// a packet the ring rejects with an error (length 0) is dropped to OnDrop;
// every other buffer reaches the NIC once, in its class's order, and every
// buffer is back in the Pool at the end.
func TestTxRing(t *testing.T) {
	pool, err := descriptor.NewPool(descriptor.PoolConfig{Buffers: 512, Check: true})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := descriptor.NewTxRing(pool, descriptor.TxConfig{Descs: 32})
	if err != nil {
		t.Fatal(err)
	}
	const perTC = 100
	var rings [2]*ring.SPSC[descriptor.Packet]
	var tcs []sched.TCConfig
	bad := descriptor.Buf(0)
	for c := range rings {
		rings[c], _ = ring.NewSPSC[descriptor.Packet](perTC)
		for i := range perTC {
			b, ok := pool.Get()
			if !ok {
				t.Fatal("pool empty")
			}
			p := descriptor.Packet{Buf: b, Len: uint16(60 + 10*i), TC: uint8(c), Queue: uint16(i)}
			if c == 1 && i == 40 {
				p.Len, bad = 0, b
			}
			rings[c].TryEnqueue(p)
		}
		tcs = append(tcs, sched.TCConfig{Queue: rings[c], Weight: 1 + c})
	}
	var dropped []descriptor.Packet
	port := mustPort(t, sched.PortConfig{
		Rate: 10e9, Quantum: 10 * time.Microsecond, Tx: tx, TCs: tcs,
		OnDrop: func(p descriptor.Packet) {
			dropped = append(dropped, p)
			if err := pool.Put(p.Buf); err != nil {
				t.Error(err)
			}
		},
	})
	next := [2]uint16{}
	fetched := 0
	buf := make([]descriptor.Packet, 8)
	now := time.Duration(0)
	for step := 0; fetched+len(dropped) < 2*perTC; step++ {
		if step > 100000 {
			t.Fatalf("stalled: %d fetched, %d dropped", fetched, len(dropped))
		}
		port.Step(now)
		now += 10 * time.Microsecond
		k := tx.NICFetch(buf)
		for _, p := range buf[:k] {
			if p.Queue != next[p.TC] {
				t.Fatalf("class %d: packet %d after %d", p.TC, p.Queue, next[p.TC])
			}
			next[p.TC]++
			if p.TC == 1 && next[1] == 40 {
				next[1]++ // the rejected one
			}
		}
		tx.NICComplete(k)
		fetched += k
	}
	if len(dropped) != 1 || dropped[0].Buf != bad {
		t.Fatalf("dropped %v, want only the zero-length packet", dropped)
	}
	s := port.Stats()
	if s.TCs[1].Drops != 1 || s.TCs[0].Packets != perTC || s.TCs[1].Packets != perTC-1 {
		t.Fatalf("stats %+v", s.TCs)
	}
	if s.Refused == 0 {
		t.Fatal("the 32-descriptor ring never refused; the test needs it to")
	}
	if n, err := tx.Close(); n != 0 || err != nil {
		t.Fatalf("TxRing.Close: %d dropped, %v", n, err)
	}
	if ps := pool.Stats(); ps.InUse != 0 {
		t.Fatalf("%d buffers still out of the pool", ps.InUse)
	}
}

// rejecter is a Transmitter that takes packets up to the first with Len 0
// and rejects that one with an error.
type rejecter struct{ got []descriptor.Packet }

var errBad = errors.New("bad length")

func (r *rejecter) Transmit(p []descriptor.Packet) (int, error) {
	for i := range p {
		if p[i].Len == 0 {
			return i, errBad
		}
		r.got = append(r.got, p[i])
	}
	return len(p), nil
}

// TestTransmitterRejects: several rejected packets in one burst are each
// dropped and the packets between them still go out, in order, in the
// same step.
func TestTransmitterRejects(t *testing.T) {
	for _, mode := range []sched.Mode{sched.ModeSerial, sched.ModeParallel} {
		t.Run(modeName(mode), func(t *testing.T) {
			tx := &rejecter{}
			drops := 0
			p := mustPort(t, sched.PortConfig{
				Rate: 1e9, Overhead: sched.NoOverhead, Tx: tx, Mode: mode,
				OnDrop: func(descriptor.Packet) { drops++ },
				TCs:    []sched.TCConfig{{Weight: 1, Queue: lens(0, 0, 100, 0, 200, 0, 0, 300)}},
			})
			p.Step(0)
			p.Step(time.Millisecond)
			var got []string
			for _, pkt := range tx.got {
				got = append(got, label(pkt))
			}
			if len(got) != 3 || got[0] != "A100" || got[1] != "A200" || got[2] != "A300" || drops != 3 {
				t.Fatalf("sent %v, dropped %d; want A100 A200 A300 and 3", got, drops)
			}
			if s := p.Stats(); s.TCs[0].Drops != 3 || s.Refused != 0 {
				t.Fatalf("stats %+v refused %d", s.TCs[0], s.Refused)
			}
		})
	}
}

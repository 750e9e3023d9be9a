package tcpip

import (
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/ringkit/ringkit/internal/seqnum"
)

func TestSessionValidate(t *testing.T) {
	s := &Session{ID: 1, State: Established, SndUna: 10, SndNxt: 13, SendQueue: []byte("abc")}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	s.SndNxt = 16 // three more sequence numbers than bytes: no TCP sends that
	if err := s.Validate(); !errors.Is(err, ErrInvalidSession) {
		t.Fatalf("Validate = %v", err)
	}
	s.SndNxt = 13
	s.Tuple.Src = netip.AddrPortFrom(netip.MustParseAddr("fe80::1%eth0"), 1)
	if err := s.Validate(); !errors.Is(err, ErrInvalidSession) {
		t.Fatalf("zoned address: %v", err)
	}
}

func TestTimestampsRebase(t *testing.T) {
	// The source clock read 0xfffffff0 (about to wrap); the destination's
	// reads 1000: TSval must still move forward for the peer's PAWS check.
	ts := Timestamps{Enabled: true, Offset: 0}
	ts.LastSent = ts.TSval(0xfffffff0)
	got := ts.Rebase(1000)
	if !seqnum.LT(ts.LastSent, got) || got != ts.LastSent+1 {
		t.Fatalf("TSval after rebase %#x, last sent %#x", got, ts.LastSent)
	}
	if later := ts.TSval(1500); !seqnum.LT(got, later) || later-got != 500 {
		t.Fatalf("TSval 500 ticks later %#x, want %#x", later, got+500)
	}
}

// SessionView is the Session a connection would export, its queues those
// of the connection itself (no copy), and they follow what the
// application reads.
func TestSessionView(t *testing.T) {
	w := newPair(t, pairConfig{sessions: 1, rate: 3000, vm: StackConfig{RecvBuffer: 1 << 20}})
	w.readers = map[uint16]*reader{} // the VM's application reads nothing: its queue fills
	w.run(20 * time.Millisecond)
	c := w.vm.Conns()[0]
	v, s := c.SessionView(), c.Session()
	if len(v.RecvQueue) == 0 || !reflect.DeepEqual(&v, s) {
		t.Fatalf("view %+v\nsession %+v", v, s)
	}
	if &v.RecvQueue[0] != &c.s.RecvQueue[0] || &s.RecvQueue[0] == &c.s.RecvQueue[0] {
		t.Error("the view copies the queue, or the session shares it")
	}
	var one [1]byte
	if n, _ := c.Read(one[:]); n != 1 || len(c.SessionView().RecvQueue) != len(v.RecvQueue)-1 {
		t.Error("the view does not follow a read")
	}
}

package migrate

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/ringkit/ringkit/tcpip"
)

func TestInterfaceRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	for i := range 20 {
		ifc := randInterface(rng)
		got, err := DecodeInterface(AppendInterface(nil, &ifc))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(*got, ifc) {
			t.Fatalf("%d: round trip\n got %+v\nwant %+v", i, *got, ifc)
		}
	}
	if got, err := DecodeInterface(AppendInterface(nil, &Interface{})); err != nil || !reflect.DeepEqual(*got, Interface{}) {
		t.Fatalf("the zero interface: %+v, %v", got, err)
	}
}

func TestInterfaceDecodeRejects(t *testing.T) {
	ifc := Interface{MAC: vmMAC, Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.10/24")},
		Gateway:   netip.MustParseAddr("10.0.0.254"),
		Neighbors: []tcpip.Neighbor{{Addr: netip.MustParseAddr("10.0.0.1"), MAC: peerMAC, State: tcpip.NeighborStale}}}
	enc := AppendInterface(nil, &ifc)
	const (
		offAddr  = 6 + 2
		offGw    = offAddr + 6
		offCount = offGw + 6
		offNb    = offCount + 4
	)
	mutate := func(off int, v byte) []byte {
		b := append([]byte(nil), enc...)
		b[off] = v
		return b
	}
	for name, b := range map[string][]byte{
		"empty":               nil,
		"prefix length":       mutate(offAddr+4, 33),
		"address reserved":    mutate(offAddr+5, 1),
		"address count":       mutate(6+1, 0xff),
		"gateway flag":        mutate(offGw, 2),
		"gateway reserved":    mutate(offGw+5, 1),
		"gateway bytes":       append(mutate(offGw, 0)[:0:0], mutate(offGw, 0)...),
		"neighbour count":     mutate(offCount+3, 0xff),
		"neighbour state":     mutate(offNb+10, uint8(tcpip.NeighborIncomplete)),
		"neighbour mac":       mutate(offNb+4, 1),
		"neighbour timer":     mutate(offNb+12+7, 0x80),
		"trailing byte":       append(append([]byte(nil), enc...), 0),
		"truncated neighbour": enc[:len(enc)-1],
	} {
		if got, err := DecodeInterface(b); !errors.Is(err, ErrMalformed) || got != nil {
			t.Errorf("%s: DecodeInterface = %+v, %v; want ErrMalformed", name, got, err)
		}
	}
}

// An interface record replaces the table's interface; one that does not
// decode, or names a session, does not apply.
func TestReplayInterfaceRecord(t *testing.T) {
	ifc := randInterface(rand.New(rand.NewPCG(4, 4)))
	j, _ := NewJournal(1<<16, 3, 1)
	if _, err := j.AppendInterface(&ifc); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append(RecInterface, 0, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	recs, _, err := ReadAll(j.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	tbl := NewTable(3)
	if ok, err := tbl.Apply(recs[0]); !ok || err != nil || !reflect.DeepEqual(tbl.Interface, ifc) {
		t.Fatalf("apply: %v %v; interface %+v", ok, err, tbl.Interface)
	}
	if _, err := tbl.Apply(recs[1]); !errors.Is(err, ErrBadRecord) {
		t.Errorf("a malformed interface record: %v, want ErrBadRecord", err)
	}
	bad := recs[0]
	bad.Seq, bad.Session = 2, 9
	if _, err := tbl.Apply(bad); !errors.Is(err, ErrBadRecord) {
		t.Errorf("an interface record for a session: %v, want ErrBadRecord", err)
	}
}

// The VM keeps its MAC, addresses and neighbour cache through a
// migration: the destination's stack answers and sends from the VM's MAC
// (never the destination host's), knows the peer's MAC without asking,
// and its announcements move the peers' switch to the new link.
func TestMigrateCarriesInterface(t *testing.T) {
	w := newWorld(t, worldConfig{sessions: 8, rate: 1000})
	w.run(30 * time.Millisecond)
	var before []tcpip.Neighbor
	w.circuit.Do(func(vm *tcpip.Stack) { before = vm.Neighbors() })
	if len(before) != 1 || before[0].Addr != w.peerAddr || before[0].MAC != peerMAC {
		t.Fatalf("the VM's neighbours before the move: %+v", before)
	}
	dial, wait := serve(w.dest, nil)
	if _, err := w.migrate(context.Background(), 100*time.Millisecond, []Dialer{dial}, MigrateConfig{}); err != nil {
		t.Fatal(err)
	}
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	w.run(time.Second) // every announcement round
	w.dest.Do(func(vm *tcpip.Stack) {
		cfg := vm.Config()
		if cfg.MAC != vmMAC || len(cfg.Addrs) != 1 || cfg.Addrs[0] != netip.PrefixFrom(w.vmAddr, 16) {
			t.Errorf("the destination runs the VM as %x %v, want %x %v/16", cfg.MAC, cfg.Addrs, vmMAC, w.vmAddr)
		}
		nb := vm.Neighbors()
		if len(nb) != 1 || nb[0].Addr != w.peerAddr || nb[0].MAC != peerMAC {
			t.Errorf("the destination's neighbours: %+v", nb)
		}
		// Its ARP frames are the announcements alone: two per round.
		if st := vm.Stats(); st.ARPOut != 2*tcpip.AnnounceRounds || st.Unresolved != 0 {
			t.Errorf("the destination's VM sent %d ARP frames (%d frames unresolved), want %d announcements",
				st.ARPOut, st.Unresolved, 2*tcpip.AnnounceRounds)
		}
	})
	if _, ok := w.peerHost.LinkOf(dstMAC); ok {
		t.Error("the peers' switch saw the destination host's own MAC: a frame left it from the wrong MAC")
	}
	if l, _ := w.peerHost.LinkOf(vmMAC); l != 1 || w.peerHost.Announcements != 2*tcpip.AnnounceRounds || w.peerHost.Moves != 1 {
		t.Errorf("the peers' switch: VM on link %d, %d announcements, %d moves", l, w.peerHost.Announcements, w.peerHost.Moves)
	}
	w.drain(2 * time.Second)
	w.checkStreams()
}

// While the VM is suspended its idle peers' neighbour entries expire
// (nothing confirms them: no data moves), and their keepalives make them
// probe the VM's address: the circuit answers for the VM, from its MAC, so
// no keepalive is lost for want of a MAC and no session dies.
func TestCircuitAnswersARPWhileSuspended(t *testing.T) {
	peer := tcpip.StackConfig{
		KeepaliveIdle: 50 * time.Millisecond, KeepaliveInterval: 20 * time.Millisecond, KeepaliveProbes: 3,
		Neighbor: tcpip.NeighborConfig{ReachableTime: 20 * time.Millisecond, DelayFirstProbe: 10 * time.Millisecond,
			RetransTime: 10 * time.Millisecond},
	}
	w := newWorld(t, worldConfig{sessions: 4, peer: peer})
	w.run(30 * time.Millisecond)
	dial, wait := serve(w.dest, nil)
	m, err := w.migrate(context.Background(), 300*time.Millisecond, []Dialer{dial}, MigrateConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	st := w.circuit.Stats().Stack
	if st.ARPIn == 0 || st.ARPOut == 0 || m.KeepalivesAnswered == 0 {
		t.Errorf("the circuit answered %d ARP requests of %d and %d keepalives while suspended", st.ARPOut, st.ARPIn, m.KeepalivesAnswered)
	}
	w.run(100 * time.Millisecond)
	w.checkStreams()
	if u := w.peers.Stats().Unresolved; u != 0 {
		t.Errorf("the peers dropped %d frames for want of the VM's MAC", u)
	}
	for p, s := range w.senders {
		if s.conn.State() != tcpip.Established {
			t.Errorf("port %d: peer in %v", p, s.conn.State())
		}
	}
}

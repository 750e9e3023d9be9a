package tcpip

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	eth "github.com/ringkit/ringkit/frame"
)

var (
	vmIP   = netip.MustParseAddr("10.0.0.10")
	peerIP = netip.MustParseAddr("10.0.0.1")
	gwIP   = netip.MustParseAddr("10.0.0.254")
	gwMAC  = [6]byte{2, 0, 0, 0, 0, 0xfe}
)

// bench is one stack on a simulated clock whose frames are captured.
type bench struct {
	t     *testing.T
	clock *SimClock
	st    *Stack
	out   [][]byte
}

func newBench(t *testing.T, cfg StackConfig) *bench {
	b := &bench{t: t, clock: NewSimClock(time.Unix(1_700_000_000, 0))}
	cfg.Clock, cfg.MAC = b.clock, vmMAC
	if cfg.Addrs == nil {
		cfg.Addrs = []netip.Prefix{netip.PrefixFrom(vmIP, 24)}
	}
	var err error
	if b.st, err = NewStack(cfg, func(f []byte) { b.out = append(b.out, bytes.Clone(f)) }); err != nil {
		t.Fatal(err)
	}
	return b
}

// take returns the frames sent since the last take.
func (b *bench) take() [][]byte {
	f := b.out
	b.out = nil
	return f
}

// advance moves the clock by d in 1 ms ticks, ticking the stack.
func (b *bench) advance(d time.Duration) {
	for end := b.clock.Now().Add(d); b.clock.Now().Before(end); {
		b.clock.Advance(time.Millisecond)
		b.st.Tick()
	}
}

func (b *bench) neighbor(a netip.Addr) (Neighbor, bool) {
	for _, n := range b.st.Neighbors() {
		if n.Addr == a {
			return n, true
		}
	}
	return Neighbor{}, false
}

func (b *bench) state(a netip.Addr) NeighborState {
	if n := b.st.nbr.byAddr[a]; n != nil {
		return n.state
	}
	return 0
}

// arpFrame builds an ARP frame from src (Ethernet and sender MAC).
func arpFrame(dst, src [6]byte, a eth.ARP) []byte {
	a.SenderMAC = src
	return eth.Build(nil, &eth.Spec{DstMAC: dst, SrcMAC: src, EtherType: eth.EtherTypeARP, Payload: eth.AppendARP(nil, &a), PadTo: 60})
}

// parseARPFrame reads an ARP or RARP frame the stack sent.
func parseARPFrame(t *testing.T, f []byte) (dst, src [6]byte, et uint16, a eth.ARP) {
	t.Helper()
	if len(f) != 60 {
		t.Fatalf("ARP frame of %d bytes, want 60", len(f))
	}
	a, err := eth.ParseARP(f[14:])
	if err != nil {
		t.Fatalf("not ARP: %v (% x)", err, f)
	}
	return [6]byte(f[0:6]), [6]byte(f[6:12]), etherType(f), a
}

// The stack answers an ARP request for its address with a reply to the
// asker's MAC, as gopacket reads it too, and learns the asker (STALE);
// it answers a probe (sender 0.0.0.0) without learning; it ignores
// requests for other addresses, malformed packets and frames to other MACs.
func TestARPAnswersRequests(t *testing.T) {
	b := newBench(t, StackConfig{})
	b.st.Input(arpFrame(broadcastMAC, peerMAC, eth.ARP{Op: eth.ARPRequest, SenderIP: peerIP, TargetIP: vmIP}))
	out := b.take()
	if len(out) != 1 {
		t.Fatalf("%d frames answered a request", len(out))
	}
	pkt := gopacket.NewPacket(out[0], layers.LayerTypeEthernet, gopacket.Default)
	e, _ := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	a, _ := pkt.Layer(layers.LayerTypeARP).(*layers.ARP)
	if e == nil || a == nil {
		t.Fatalf("gopacket reads no Ethernet/ARP: %v", pkt)
	}
	if !bytes.Equal(e.DstMAC, peerMAC[:]) || !bytes.Equal(e.SrcMAC, vmMAC[:]) || a.Operation != layers.ARPReply ||
		!bytes.Equal(a.SourceHwAddress, vmMAC[:]) || !net.IP(a.SourceProtAddress).Equal(vmIP.AsSlice()) ||
		!bytes.Equal(a.DstHwAddress, peerMAC[:]) || !net.IP(a.DstProtAddress).Equal(peerIP.AsSlice()) {
		t.Fatalf("reply: %v", pkt)
	}
	if n, ok := b.neighbor(peerIP); !ok || n.MAC != peerMAC || n.State != NeighborStale {
		t.Errorf("the asker is not learned as STALE: %+v %v", n, ok)
	}

	probe := arpFrame(broadcastMAC, gwMAC, eth.ARP{Op: eth.ARPRequest, SenderIP: netip.IPv4Unspecified(), TargetIP: vmIP})
	b.st.Input(probe)
	out = b.take()
	if len(out) != 1 {
		t.Fatalf("%d frames answered a probe", len(out))
	}
	if dst, _, _, r := parseARPFrame(t, out[0]); dst != gwMAC || r.Op != eth.ARPReply || r.TargetIP != netip.IPv4Unspecified() {
		t.Errorf("probe answered with %+v to %x", r, dst)
	}
	if len(b.st.Neighbors()) != 1 {
		t.Errorf("a probe was learned from: %+v", b.st.Neighbors())
	}

	b.st.Input(arpFrame(broadcastMAC, gwMAC, eth.ARP{Op: eth.ARPRequest, SenderIP: gwIP, TargetIP: netip.MustParseAddr("10.0.0.99")}))
	bad := arpFrame(broadcastMAC, gwMAC, eth.ARP{Op: eth.ARPRequest, SenderIP: gwIP, TargetIP: vmIP})
	bad[14+5] = 16 // protocol address length
	b.st.Input(bad)
	other := arpFrame(gwMAC, peerMAC, eth.ARP{Op: eth.ARPRequest, SenderIP: peerIP, TargetIP: vmIP})
	b.st.Input(other)
	if out := b.take(); len(out) != 0 {
		t.Errorf("%d frames answered a request for another address, a malformed one or one to another MAC", len(out))
	}
	if st := b.st.Stats(); st.ARPErrors != 1 || st.NotForUs != 1 || st.ARPIn != 3 || st.ARPOut != 2 {
		t.Errorf("stats %+v", st)
	}
	if _, ok := b.neighbor(gwIP); ok {
		t.Error("a request for another address created an entry (arp_accept is off)")
	}
}

// A dial resolves the peer first: the SYN waits for the reply, then goes
// to the peer's MAC; the entry is REACHABLE.
func TestResolveThenSend(t *testing.T) {
	b := newBench(t, StackConfig{})
	if _, err := b.st.Dial(netip.AddrPortFrom(vmIP, 40000), netip.AddrPortFrom(peerIP, 80)); err != nil {
		t.Fatal(err)
	}
	out := b.take()
	if len(out) != 1 {
		t.Fatalf("%d frames: want the ARP request alone", len(out))
	}
	dst, src, et, req := parseARPFrame(t, out[0])
	if dst != broadcastMAC || src != vmMAC || et != eth.EtherTypeARP || req.Op != eth.ARPRequest ||
		req.SenderIP != vmIP || req.TargetIP != peerIP || req.SenderMAC != vmMAC {
		t.Fatalf("request %+v from %x to %x", req, src, dst)
	}
	b.st.Input(arpFrame(vmMAC, peerMAC, eth.ARP{Op: eth.ARPReply, SenderIP: peerIP, TargetMAC: vmMAC, TargetIP: vmIP}))
	out = b.take()
	var seg segment
	if len(out) != 1 {
		t.Fatalf("%d frames after the reply, want the SYN", len(out))
	}
	if ok, err := parseSegment(out[0], &seg); !ok || err != nil || !seg.has(eth.TCPSyn) || [6]byte(out[0][0:6]) != peerMAC {
		t.Fatalf("after the reply: %x (%v %v)", out[0][:14], ok, err)
	}
	if s := b.state(peerIP); s != NeighborReachable {
		t.Errorf("entry %v after a reply to us, want REACHABLE", s)
	}
}

// An address nobody answers: MulticastProbes broadcast requests a
// RetransTime apart, then the entry fails, what waited is dropped and
// counted, and the dial fails with ErrHostUnreachable. Frames waiting
// beyond QueueLen push the oldest out.
func TestResolveRetriesAndFails(t *testing.T) {
	b := newBench(t, StackConfig{Neighbor: NeighborConfig{QueueLen: 2}, RTO: time.Hour, MaxRTO: time.Hour})
	var conns []*Conn
	for i := range 3 {
		c, err := b.st.Dial(netip.AddrPortFrom(vmIP, uint16(40000+i)), netip.AddrPortFrom(peerIP, 80))
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	var at []time.Duration
	start := b.clock.Now()
	for range 4000 {
		for _, f := range b.take() {
			dst, _, _, a := parseARPFrame(t, f)
			if dst != broadcastMAC || a.Op != eth.ARPRequest || a.TargetIP != peerIP {
				t.Fatalf("frame %+v to %x while resolving", a, dst)
			}
			at = append(at, b.clock.Now().Sub(start))
		}
		b.advance(time.Millisecond)
	}
	want := []time.Duration{0, time.Second, 2 * time.Second}
	if len(at) != len(want) || at[0] != want[0] || at[1] != want[1] || at[2] != want[2] {
		t.Fatalf("requests at %v, want %v", at, want)
	}
	if s := b.state(peerIP); s != NeighborFailed {
		t.Fatalf("entry %v after %d unanswered requests, want FAILED", s, len(want))
	}
	// Three SYNs for a queue of two: one pushed out at once, two dropped
	// when the entry failed.
	if u := b.st.Stats().Unresolved; u != 3 {
		t.Errorf("unresolved %d, want 3", u)
	}
	for _, c := range conns {
		if !errors.Is(c.Err(), ErrHostUnreachable) || c.State() != Closed {
			t.Errorf("conn %v: %v, err %v; want ErrHostUnreachable", c.Tuple().Src, c.State(), c.Err())
		}
	}
	// The next frame starts over.
	if _, err := b.st.Dial(netip.AddrPortFrom(vmIP, 41000), netip.AddrPortFrom(peerIP, 80)); err != nil {
		t.Fatal(err)
	}
	if out := b.take(); len(out) != 1 || b.state(peerIP) != NeighborIncomplete {
		t.Errorf("a dial after the failure: %d frames, entry %v", len(out), b.state(peerIP))
	}
}

// Frames to a destination off the subnet go to the gateway's MAC; without
// a gateway such a dial is ErrNoRoute.
func TestGatewayNextHop(t *testing.T) {
	b := newBench(t, StackConfig{Gateway: gwIP})
	remote := netip.MustParseAddrPort("192.0.2.7:443")
	if _, err := b.st.Dial(netip.AddrPortFrom(vmIP, 40000), remote); err != nil {
		t.Fatal(err)
	}
	out := b.take()
	if _, _, _, a := parseARPFrame(t, out[0]); len(out) != 1 || a.TargetIP != gwIP {
		t.Fatalf("resolving %v, want the gateway %v", a.TargetIP, gwIP)
	}
	b.st.Input(arpFrame(vmMAC, gwMAC, eth.ARP{Op: eth.ARPReply, SenderIP: gwIP, TargetMAC: vmMAC, TargetIP: vmIP}))
	out = b.take()
	var seg segment
	if len(out) != 1 {
		t.Fatalf("%d frames after the gateway's reply", len(out))
	}
	if ok, err := parseSegment(out[0], &seg); !ok || err != nil || seg.dst != remote || [6]byte(out[0][0:6]) != gwMAC {
		t.Fatalf("SYN to %v via %x, want %v via the gateway %x", seg.dst, out[0][0:6], remote, gwMAC)
	}

	nogw := newBench(t, StackConfig{})
	if _, err := nogw.st.Dial(netip.AddrPortFrom(vmIP, 40000), remote); !errors.Is(err, ErrNoRoute) {
		t.Errorf("dial off the subnet without a gateway: %v, want ErrNoRoute", err)
	}
	if _, err := nogw.st.Dial(netip.MustParseAddrPort("10.0.0.11:40000"), netip.AddrPortFrom(peerIP, 80)); !errors.Is(err, ErrConfig) {
		t.Errorf("dial from an address the stack does not have: %v, want ErrConfig", err)
	}
}

// The states of an entry, as Linux runs them: REACHABLE for a random time
// in [ReachableTime/2, 3*ReachableTime/2], then STALE; used while STALE it
// goes DELAY; unconfirmed for DelayFirstProbe, PROBE: UnicastProbes
// requests to the cached MAC (frames still use it), then FAILED. A
// confirmation (a connection's forward progress) in DELAY makes it
// REACHABLE without a probe; an unused STALE entry is forgotten after
// StaleTime.
func TestNeighborStates(t *testing.T) {
	b := newBench(t, StackConfig{})
	b.st.Input(arpFrame(broadcastMAC, peerMAC, eth.ARP{Op: eth.ARPRequest, SenderIP: peerIP, TargetIP: vmIP}))
	b.st.Input(arpFrame(vmMAC, peerMAC, eth.ARP{Op: eth.ARPReply, SenderIP: peerIP, TargetMAC: vmMAC, TargetIP: vmIP}))
	b.take()
	if s := b.state(peerIP); s != NeighborReachable {
		t.Fatalf("after a reply to us: %v", s)
	}
	n, _ := b.neighbor(peerIP)
	if n.TimerIn < 15*time.Second || n.TimerIn > 45*time.Second {
		t.Fatalf("reachable for %v, want within [15s, 45s]", n.TimerIn)
	}
	b.advance(n.TimerIn)
	if s := b.state(peerIP); s != NeighborStale {
		t.Fatalf("after the reachable time: %v", s)
	}

	frame := func() []byte { // a frame to the peer, built as the stack builds them: no destination MAC
		return eth.Build(nil, &eth.Spec{SrcMAC: vmMAC, Src: vmIP, Dst: peerIP, Proto: eth.ProtoTCP, SrcPort: 1, DstPort: 2})
	}
	b.st.transmit(frame(), vmIP, peerIP)
	if out := b.take(); len(out) != 1 || [6]byte(out[0][0:6]) != peerMAC || b.state(peerIP) != NeighborDelay {
		t.Fatalf("a frame to a STALE entry: %d frames, entry %v", len(out), b.state(peerIP))
	}
	b.advance(5 * time.Second)
	var probes []time.Duration
	start := b.clock.Now()
	for range 3500 {
		for _, f := range b.take() {
			dst, _, _, a := parseARPFrame(t, f)
			if dst != peerMAC || a.Op != eth.ARPRequest || a.TargetIP != peerIP {
				t.Fatalf("probe %+v to %x, want a unicast request to the cached MAC", a, dst)
			}
			probes = append(probes, b.clock.Now().Sub(start))
		}
		if len(probes) == 1 {
			b.st.transmit(frame(), vmIP, peerIP) // still sent, to the cached MAC
			if out := b.take(); len(out) != 1 || [6]byte(out[0][0:6]) != peerMAC {
				t.Fatal("a frame during PROBE did not go to the cached MAC")
			}
		}
		b.advance(time.Millisecond)
	}
	if len(probes) != 3 || probes[0] != 0 || probes[1] != time.Second || probes[2] != 2*time.Second {
		t.Fatalf("unicast probes at %v, want 0, 1s, 2s after the delay", probes)
	}
	if s := b.state(peerIP); s != NeighborFailed {
		t.Fatalf("after unanswered probes: %v", s)
	}

	// Again, confirmed in DELAY: no probe.
	b.st.Input(arpFrame(vmMAC, peerMAC, eth.ARP{Op: eth.ARPReply, SenderIP: peerIP, TargetMAC: vmMAC, TargetIP: vmIP}))
	b.take()
	n, _ = b.neighbor(peerIP)
	b.advance(n.TimerIn)
	b.st.transmit(frame(), vmIP, peerIP)
	b.take()
	b.st.confirm(peerIP)
	b.advance(6 * time.Second)
	if out := b.take(); len(out) != 0 || b.state(peerIP) != NeighborReachable {
		t.Fatalf("confirmed in DELAY: %d frames, entry %v", len(out), b.state(peerIP))
	}

	// Unused, it goes STALE and is forgotten StaleTime after its last use.
	b.advance(46*time.Second + 60*time.Second)
	if _, ok := b.st.nbr.byAddr[peerIP]; ok {
		t.Errorf("an unused entry is still cached: %v", b.state(peerIP))
	}
}

// Several replies naming different MACs: the first wins for LockTime; a
// gratuitous ARP always moves the entry.
func TestNeighborLockTime(t *testing.T) {
	b := newBench(t, StackConfig{})
	other := [6]byte{2, 0, 0, 0, 0, 9}
	b.st.Input(arpFrame(broadcastMAC, peerMAC, eth.ARP{Op: eth.ARPRequest, SenderIP: peerIP, TargetIP: vmIP}))
	b.st.Input(arpFrame(vmMAC, other, eth.ARP{Op: eth.ARPReply, SenderIP: peerIP, TargetMAC: vmMAC, TargetIP: vmIP}))
	if n, _ := b.neighbor(peerIP); n.MAC != peerMAC {
		t.Fatalf("a second MAC within the lock time replaced the first: %x", n.MAC)
	}
	b.st.Input(arpFrame(broadcastMAC, other, eth.ARP{Op: eth.ARPRequest, SenderIP: peerIP, TargetIP: peerIP}))
	if n, _ := b.neighbor(peerIP); n.MAC != other || n.State != NeighborStale {
		t.Fatalf("a gratuitous ARP did not move the entry: %+v", n)
	}
	b.advance(2 * time.Second)
	b.st.Input(arpFrame(vmMAC, peerMAC, eth.ARP{Op: eth.ARPReply, SenderIP: peerIP, TargetMAC: vmMAC, TargetIP: vmIP}))
	if n, _ := b.neighbor(peerIP); n.MAC != peerMAC || n.State != NeighborReachable {
		t.Fatalf("a reply after the lock time: %+v", n)
	}
}

// Neighbors exports the entries that hold a MAC with their timers, and
// ImportNeighbors on another stack, on another clock, takes them as they
// were; it refuses entries no cache could hold.
func TestNeighborsExportImport(t *testing.T) {
	b := newBench(t, StackConfig{})
	b.st.Input(arpFrame(vmMAC, peerMAC, eth.ARP{Op: eth.ARPRequest, SenderIP: peerIP, TargetIP: vmIP})) // STALE
	b.st.Input(arpFrame(vmMAC, peerMAC, eth.ARP{Op: eth.ARPReply, SenderIP: peerIP, TargetMAC: vmMAC, TargetIP: vmIP}))
	b.st.Input(arpFrame(vmMAC, gwMAC, eth.ARP{Op: eth.ARPRequest, SenderIP: gwIP, TargetIP: vmIP}))
	if _, err := b.st.Dial(netip.AddrPortFrom(vmIP, 1), netip.MustParseAddrPort("10.0.0.3:1")); err != nil {
		t.Fatal(err) // INCOMPLETE: not exported
	}
	b.advance(10 * time.Millisecond)
	exp := b.st.Neighbors()
	if len(exp) != 2 || exp[0].Addr != peerIP || exp[0].State != NeighborReachable || exp[0].TimerIn <= 0 ||
		exp[1].Addr != gwIP || exp[1].State != NeighborStale || exp[1].TimerIn != 0 {
		t.Fatalf("exported %+v", exp)
	}
	c := newBench(t, StackConfig{})
	c.clock.Advance(time.Hour)
	if err := c.st.ImportNeighbors(exp); err != nil {
		t.Fatal(err)
	}
	got := c.st.Neighbors()
	if len(got) != 2 || got[0] != exp[0] || got[1] != exp[1] {
		t.Fatalf("imported\n got %+v\nwant %+v", got, exp)
	}
	for name, bad := range map[string]Neighbor{
		"ipv6":      {Addr: netip.MustParseAddr("::1"), MAC: peerMAC, State: NeighborStale},
		"state":     {Addr: peerIP, MAC: peerMAC, State: NeighborIncomplete},
		"multicast": {Addr: peerIP, MAC: broadcastMAC, State: NeighborStale},
		"timer":     {Addr: peerIP, MAC: peerMAC, State: NeighborReachable, TimerIn: -1},
	} {
		if err := c.st.ImportNeighbors([]Neighbor{bad}); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: ImportNeighbors = %v, want ErrConfig", name, err)
		}
	}
}

// AnnounceSelf sends QEMU's schedule: rounds at 0, 50, 200, 450 and 800 ms,
// each a gratuitous ARP request per address and a RARP request, broadcast
// from the stack's MAC; a schedule's gaps stop growing at Max.
func TestAnnounceSelfSchedule(t *testing.T) {
	second := netip.MustParseAddr("10.0.1.10")
	b := newBench(t, StackConfig{Addrs: []netip.Prefix{netip.PrefixFrom(vmIP, 24), netip.PrefixFrom(second, 24)}})
	start := b.clock.Now()
	if err := b.st.AnnounceSelf(AnnounceConfig{}); err != nil {
		t.Fatal(err)
	}
	var rounds []time.Duration
	for range 2000 {
		out := b.take()
		if len(out) > 0 {
			rounds = append(rounds, b.clock.Now().Sub(start))
			if len(out) != 3 {
				t.Fatalf("round of %d frames, want 3", len(out))
			}
			var seen []netip.Addr
			for _, f := range out {
				dst, src, et, a := parseARPFrame(t, f)
				if dst != broadcastMAC || src != vmMAC || a.SenderMAC != vmMAC {
					t.Fatalf("announcement from %x to %x", src, dst)
				}
				switch {
				case et == eth.EtherTypeARP && a.IsGratuitous():
					seen = append(seen, a.SenderIP)
				case et == eth.EtherTypeRARP && a.Op == eth.RARPRequest && a.TargetMAC == vmMAC:
				default:
					t.Fatalf("announcement %+v (EtherType %#x)", a, et)
				}
			}
			if len(seen) != 2 || seen[0] != vmIP || seen[1] != second {
				t.Fatalf("gratuitous ARP for %v", seen)
			}
		}
		b.advance(time.Millisecond)
	}
	ms := time.Millisecond
	want := []time.Duration{0, 50 * ms, 200 * ms, 450 * ms, 800 * ms}
	if len(rounds) != len(want) || b.st.Announced() != AnnounceRounds {
		t.Fatalf("rounds at %v (Announced %d), want %v", rounds, b.st.Announced(), want)
	}
	for i := range want {
		if rounds[i] != want[i] {
			t.Fatalf("rounds at %v, want %v", rounds, want)
		}
	}
	cfg := AnnounceConfig{Initial: 10 * ms, Step: 100 * ms, Max: 150 * ms, Rounds: 4}
	for k, want := range []time.Duration{10 * ms, 110 * ms, 150 * ms} {
		if got := cfg.gap(k + 1); got != want {
			t.Errorf("gap after round %d: %v, want %v", k+1, got, want)
		}
	}
	if err := b.st.AnnounceSelf(AnnounceConfig{Rounds: -1}); !errors.Is(err, ErrConfig) {
		t.Errorf("negative rounds: %v", err)
	}
}

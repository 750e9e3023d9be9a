//go:build linux

package linuxport_test

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"go.uber.org/goleak"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/frame"
	"github.com/ringkit/ringkit/linuxport"
	"github.com/ringkit/ringkit/linuxport/netns"
	"github.com/ringkit/ringkit/port"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Addresses of the test bed: 198.18.0.0/15 is set aside for benchmarking
// (RFC 2544), and lives only on links inside the tests' namespaces.
var (
	addrA = netip.MustParsePrefix("198.18.0.1/24")
	addrB = netip.MustParsePrefix("198.18.0.2/24")
)

// skipUnlessKernel skips the test when err says the kernel or the
// privileges refuse, and fails it on any other error.
func skipUnlessKernel(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if errors.Is(err, linuxport.ErrPermission) || errors.Is(err, linuxport.ErrUnsupported) ||
		errors.Is(err, netns.ErrPermission) || errors.Is(err, netns.ErrUnsupported) {
		t.Skipf("%s: the kernel refuses: %v", what, err)
	}
	t.Fatalf("%s: %v", what, err)
}

// newNS makes a namespace for the test; cleanup closes it and checks that
// nothing holds it afterwards.
func newNS(t testing.TB, name string) *netns.NS {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: makes network namespaces and opens raw sockets")
	}
	n, err := netns.New(name)
	skipUnlessKernel(t, "netns", err)
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Error(err)
		}
		if netns.Held(n.ID(), 2*time.Second) {
			t.Errorf("%v left behind", n)
		}
	})
	return n
}

// hostLinks returns the names of the links of the machine's own
// namespace, which no test may change.
func hostLinks(t testing.TB) []string {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range ifs {
		names = append(names, i.Name)
	}
	slices.Sort(names)
	return names
}

// bed is two namespaces joined by a veth pair: "vsend" in send, "vrecv"
// in recv.
type bed struct {
	send, recv *netns.NS
	sendMAC    net.HardwareAddr
	recvMAC    net.HardwareAddr
}

func newBed(t testing.TB, queues int) *bed {
	t.Helper()
	before := hostLinks(t)
	b := &bed{send: newNS(t, "send"), recv: newNS(t, "recv")}
	err := netns.AddVeth(b.send, "vsend", b.recv, "vrecv", netns.VethConfig{Queues: queues, AddrA: addrA, AddrB: addrB})
	skipUnlessKernel(t, "veth", err)
	ls, _ := b.send.Link("vsend")
	lr, _ := b.recv.Link("vrecv")
	b.sendMAC, b.recvMAC = ls.MAC, lr.MAC
	t.Cleanup(func() {
		if got := hostLinks(t); !slices.Equal(got, before) {
			t.Errorf("the machine's links changed: %v, were %v", got, before)
		}
	})
	return b
}

// umemPool makes a UMEM pool and checks at cleanup that every buffer came
// back.
func umemPool(t testing.TB, buffers int) *descriptor.Pool {
	t.Helper()
	p, err := linuxport.NewUMEMPool(buffers)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// wantPoolFull fails unless every buffer of p is back.
func wantPoolFull(t testing.TB, p *descriptor.Pool) {
	t.Helper()
	st := p.Stats()
	if st.InUse != 0 || st.Free+st.Cached != st.Buffers {
		t.Fatalf("pool not full after Close: %+v", st)
	}
}

// testFrame builds UDP frame seq of the test stream, from src to dst, with
// its sequence number in the first 8 payload bytes.
func testFrame(dst []byte, seq uint64, size int, srcMAC, dstMAC net.HardwareAddr, src, dstIP netip.Addr) []byte {
	var payload [1500]byte
	n := max(size-42, 8)
	binary.BigEndian.PutUint64(payload[:], seq)
	for i := 8; i < n; i++ {
		payload[i] = byte(seq + uint64(i))
	}
	s := frame.Spec{Src: src, Dst: dstIP, Proto: frame.ProtoUDP, SrcPort: 40000 + uint16(seq%1024), DstPort: 9000, Payload: payload[:n]}
	copy(s.SrcMAC[:], srcMAC)
	copy(s.DstMAC[:], dstMAC)
	return frame.Build(dst[:0], &s)
}

// seqOf checks a received frame of the test stream (checksums verified)
// and returns its sequence number.
func seqOf(f []byte) (uint64, error) {
	if err := frame.Verify(f); err != nil {
		return 0, err
	}
	if len(f) < 42+8 || binary.BigEndian.Uint16(f[36:]) != 9000 {
		return 0, errors.New("not a frame of the test stream")
	}
	seq := binary.BigEndian.Uint64(f[42:])
	for i, c := range f[42+8:] {
		if c != byte(seq+uint64(i+8)) {
			return seq, errors.New("payload corrupted")
		}
	}
	return seq, nil
}

// receiver drives port p by Step on the test's goroutine and collects the
// sequence numbers of the test stream arriving on every queue, failing on
// a duplicate or a bad frame. Frames not of the stream are counted.
type receiver struct {
	t       testing.TB
	p       port.Port
	seen    map[uint64]bool
	foreign int
	burst   []descriptor.Packet
}

func newReceiver(t testing.TB, p port.Port) *receiver {
	return &receiver{t: t, p: p, seen: map[uint64]bool{}, burst: make([]descriptor.Packet, 64)}
}

func (r *receiver) poll() int {
	r.t.Helper()
	if _, err := r.p.Step(); err != nil {
		r.t.Fatal(err)
	}
	got := 0
	for q := range r.p.Queues() {
		rx := r.p.RxRing(q)
		for {
			k := rx.Receive(r.burst)
			if k == 0 {
				break
			}
			for _, pk := range r.burst[:k] {
				seq, err := seqOf(rx.Pool().Bytes(pk))
				switch {
				case err != nil && err.Error() == "not a frame of the test stream":
					r.foreign++
				case err != nil:
					r.t.Fatalf("queue %d: frame %d: %v", q, seq, err)
				case r.seen[seq]:
					r.t.Fatalf("queue %d: frame %d received twice", q, seq)
				default:
					r.seen[seq] = true
					got++
				}
			}
			if err := rx.Free(r.burst[:k]); err != nil {
				r.t.Fatal(err)
			}
		}
	}
	return got
}

// until polls until cond holds or d passes.
func (r *receiver) until(d time.Duration, cond func() bool) {
	deadline := time.Now().Add(d)
	for !cond() && time.Now().Before(deadline) {
		if r.poll() == 0 {
			time.Sleep(100 * time.Microsecond)
		}
	}
}

// netlinkLink is a link as package netlink gives it.
type netlinkLink = netlink.Link

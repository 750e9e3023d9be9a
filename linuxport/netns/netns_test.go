//go:build linux

package netns_test

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ringkit/ringkit/linuxport/netns"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newNS makes a namespace for the test, or skips it when the process may
// not (not root) or the kernel cannot. Cleanup closes it and checks that
// the process no longer holds it.
func newNS(t *testing.T, name string) *netns.NS {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to make network namespaces")
	}
	n, err := netns.New(name)
	if errors.Is(err, netns.ErrPermission) || errors.Is(err, netns.ErrUnsupported) {
		t.Skipf("the kernel refuses a network namespace: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Error(err)
		}
		if netns.Held(n.ID(), 2*time.Second) {
			t.Errorf("%v still held after Close", n)
		}
	})
	return n
}

func hostLinks(t *testing.T) []string {
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

// TestKernelNetnsVeth makes two namespaces joined by a veth pair with
// addresses, sends UDP datagrams across through the kernel's own stack,
// and checks the link counters, that the machine's own namespace gained no
// link, and that Close leaves no namespace behind.
func TestKernelNetnsVeth(t *testing.T) {
	before := hostLinks(t)
	a, b := newNS(t, "a"), newNS(t, "b")
	pa, pb := netip.MustParsePrefix("198.18.0.1/24"), netip.MustParsePrefix("198.18.0.2/24")
	if err := netns.AddVeth(a, "va", b, "vb", netns.VethConfig{AddrA: pa, AddrB: pb}); err != nil {
		t.Fatal(err)
	}
	if got := hostLinks(t); !slices.Equal(got, before) {
		t.Fatalf("host links changed: %v, were %v", got, before)
	}
	if names, _ := a.Links(); !slices.Contains(names, "va") || slices.Contains(names, "vb") {
		t.Fatalf("links of a: %v", names)
	}
	var rx *net.UDPConn
	if err := b.Do(func() (err error) {
		rx, err = net.ListenUDP("udp4", &net.UDPAddr{IP: pb.Addr().AsSlice(), Port: 9000})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	var tx *net.UDPConn
	if err := a.Do(func() (err error) {
		tx, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: pb.Addr().AsSlice(), Port: 9000})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	const n = 20
	for i := range n {
		if _, err := tx.Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	_ = rx.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 16)
	for i := range n {
		k, err := rx.Read(buf)
		if err != nil || k != 1 || buf[0] != byte(i) {
			t.Fatalf("datagram %d: %v %v", i, buf[:k], err)
		}
	}
	la, err := a.Link("va")
	if err != nil {
		t.Fatal(err)
	}
	lb, err := b.Link("vb")
	if err != nil {
		t.Fatal(err)
	}
	// IPv6 is off, so the kernel sent nothing but the datagrams.
	if la.TxPackets != n || lb.RxPackets != n || !la.Up || !lb.Up {
		t.Fatalf("va sent %d, vb received %d (up %v %v), want %d", la.TxPackets, lb.RxPackets, la.Up, lb.Up, n)
	}
	if err := a.DelLink("va"); err != nil {
		t.Fatal(err)
	}
	if names, _ := b.Links(); slices.Contains(names, "vb") {
		t.Fatal("deleting one end left the other")
	}
}

func TestKernelNetnsClosed(t *testing.T) {
	a := newNS(t, "closed")
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Do(func() error { return nil }); !errors.Is(err, netns.ErrClosed) {
		t.Fatalf("Do after Close: %v, want ErrClosed", err)
	}
	if err := a.LinkUp("lo"); !errors.Is(err, netns.ErrClosed) {
		t.Fatalf("LinkUp after Close: %v, want ErrClosed", err)
	}
}

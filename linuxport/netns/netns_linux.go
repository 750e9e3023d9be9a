//go:build linux

package netns

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// NS is a network namespace made by New. Its methods may be called from
// any goroutine.
type NS struct {
	name string
	ino  uint64

	mu sync.Mutex
	h  vnetns.NsHandle // -1 after Close
	nl *netlink.Handle // a netlink socket inside the namespace
}

// New makes an anonymous network namespace, with its loopback up and IPv6
// off (so the kernel sends nothing of its own, no router solicitation or
// duplicate address probe, on the links made in it). name is only for
// messages.
func New(name string) (*NS, error) {
	type result struct {
		h   vnetns.NsHandle
		err error
	}
	ch := make(chan result, 1)
	go func() {
		var r result
		r.err = inThread(func() error {
			var err error
			r.h, err = vnetns.New()
			return err
		})
		ch <- r
	}()
	r := <-ch
	if r.err != nil {
		return nil, fmt.Errorf("netns: new namespace %q: %w", name, classify(r.err))
	}
	n := &NS{name: name, h: r.h}
	var st unix.Stat_t
	if err := unix.Fstat(int(r.h), &st); err != nil {
		n.Close()
		return nil, fmt.Errorf("netns: namespace %q: %w", name, err)
	}
	n.ino = st.Ino
	nl, err := netlink.NewHandleAt(r.h)
	if err != nil {
		n.Close()
		return nil, fmt.Errorf("netns: netlink in %q: %w", name, classify(err))
	}
	n.nl = nl
	err = n.Do(func() error {
		for _, f := range []string{"/proc/sys/net/ipv6/conf/default/disable_ipv6", "/proc/sys/net/ipv6/conf/all/disable_ipv6"} {
			if err := os.WriteFile(f, []byte("1"), 0); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = n.LinkUp("lo")
	}
	if err != nil {
		n.Close()
		return nil, fmt.Errorf("netns: set up %q: %w", name, err)
	}
	return n, nil
}

// classify wraps the errors a kernel gives for a missing privilege or a
// missing feature with the package's sentinels.
func classify(err error) error {
	switch {
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return fmt.Errorf("%w: %w", ErrPermission, err)
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.EAFNOSUPPORT):
		return fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	return err
}

// Name returns the name New was given.
func (n *NS) Name() string { return n.name }

// ID returns the namespace's inode number, as /proc/PID/ns/net shows it
// ("net:[ID]").
func (n *NS) ID() uint64 { return n.ino }

// Fd returns the file descriptor that holds the namespace, for
// netlink.NsFd and setns; valid until Close.
func (n *NS) Fd() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return int(n.h)
}

// Netlink returns a netlink handle that works inside the namespace, valid
// until Close.
func (n *NS) Netlink() *netlink.Handle { return n.nl }

// Do runs f on an OS thread switched into the namespace, and returns its
// error. The thread runs nothing else meanwhile, and is switched back
// afterwards (or, if that fails, never used again). Sockets
// and devices f opens belong to the namespace; f must not start goroutines
// that expect to be inside it.
func (n *NS) Do(f func() error) error {
	n.mu.Lock()
	h := n.h
	n.mu.Unlock()
	if h < 0 {
		return fmt.Errorf("netns: %q: %w", n.name, ErrClosed)
	}
	ch := make(chan error, 1)
	go func() {
		ch <- inThread(func() error {
			if err := vnetns.Set(h); err != nil {
				return fmt.Errorf("netns: enter %q: %w", n.name, classify(err))
			}
			return f()
		})
	}()
	return <-ch
}

// inThread runs f with the goroutine locked to its OS thread and then puts
// the thread back into the namespace it was in. If that fails, the
// goroutine stays locked, so the thread is never used again: it ends with
// the goroutine (or, the process's main thread, is parked for good).
func inThread(f func() error) error {
	runtime.LockOSThread()
	orig, err := vnetns.Get()
	if err != nil {
		return fmt.Errorf("netns: current namespace: %w", err)
	}
	defer orig.Close()
	err = f()
	if vnetns.Set(orig) == nil {
		runtime.UnlockOSThread()
	}
	return err
}

// Close releases the namespace: with no process inside and no descriptor
// left open on it, the kernel removes it and every link in it. Close is
// idempotent.
func (n *NS) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.h < 0 {
		return nil
	}
	if n.nl != nil {
		n.nl.Close()
		n.nl = nil
	}
	err := n.h.Close()
	n.h = -1
	if err != nil {
		return fmt.Errorf("netns: close %q: %w", n.name, err)
	}
	return nil
}

// Held reports whether this process still holds the namespace whose inode
// is id: through an open descriptor or a thread inside it. A namespace that
// no process holds is gone; tests use it to check that a Close left
// nothing behind. A thread Do used leaves shortly after Do returns, so
// Held waits up to wait for the namespace to be released.
func Held(id uint64, wait time.Duration) bool {
	deadline := time.Now().Add(wait)
	for held(id) {
		if time.Now().After(deadline) {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

func held(id uint64) bool {
	want := fmt.Sprintf("net:[%d]", id)
	for _, pattern := range []string{"/proc/self/fd/*", "/proc/self/task/*/ns/net"} {
		paths, _ := filepath.Glob(pattern)
		for _, p := range paths {
			if l, err := os.Readlink(p); err == nil && l == want {
				return true
			}
		}
	}
	return false
}

// link returns the link called name in the namespace.
func (n *NS) link(name string) (netlink.Link, error) {
	if n.nl == nil {
		return nil, fmt.Errorf("netns: %q: %w", n.name, ErrClosed)
	}
	l, err := n.nl.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("netns: link %q in %q: %w", name, n.name, err)
	}
	return l, nil
}

// LinkUp brings the link called name up.
func (n *NS) LinkUp(name string) error {
	l, err := n.link(name)
	if err != nil {
		return err
	}
	if err := n.nl.LinkSetUp(l); err != nil {
		return fmt.Errorf("netns: %q up in %q: %w", name, n.name, classify(err))
	}
	return nil
}

// AddAddr puts address p (an address and its prefix, as 198.18.0.1/24) on
// the link called name.
func (n *NS) AddAddr(name string, p netip.Prefix) error {
	l, err := n.link(name)
	if err != nil {
		return err
	}
	a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
	if err := n.nl.AddrAdd(l, a); err != nil {
		return fmt.Errorf("netns: address %v on %q in %q: %w", p, name, n.name, classify(err))
	}
	return nil
}

// SetNeigh makes ip reachable through the link called name at hardware
// address mac, permanently, so no ARP is sent for it.
func (n *NS) SetNeigh(name string, ip netip.Addr, mac net.HardwareAddr) error {
	l, err := n.link(name)
	if err != nil {
		return err
	}
	family := netlink.FAMILY_V4
	if ip.Is6() {
		family = netlink.FAMILY_V6
	}
	nb := &netlink.Neigh{LinkIndex: l.Attrs().Index, Family: family, State: netlink.NUD_PERMANENT, IP: ip.AsSlice(), HardwareAddr: mac}
	if err := n.nl.NeighSet(nb); err != nil {
		return fmt.Errorf("netns: neighbour %v on %q in %q: %w", ip, name, n.name, classify(err))
	}
	return nil
}

// Link describes a link as the namespace sees it.
type Link struct {
	Name    string
	Index   int
	MAC     net.HardwareAddr
	MTU     int
	RxQueue int // number of RX queues
	TxQueue int // number of TX queues
	Up      bool
	// Counters, as the kernel keeps them for the link.
	RxPackets, TxPackets, RxDropped, TxDropped, RxErrors, TxErrors uint64
}

// Link returns the link called name, with its counters.
func (n *NS) Link(name string) (Link, error) {
	l, err := n.link(name)
	if err != nil {
		return Link{}, err
	}
	a := l.Attrs()
	k := Link{Name: a.Name, Index: a.Index, MAC: a.HardwareAddr, MTU: a.MTU, RxQueue: a.NumRxQueues, TxQueue: a.NumTxQueues,
		Up: a.Flags&net.FlagUp != 0}
	if s := a.Statistics; s != nil {
		k.RxPackets, k.TxPackets, k.RxDropped, k.TxDropped, k.RxErrors, k.TxErrors = s.RxPackets, s.TxPackets, s.RxDropped, s.TxDropped, s.RxErrors, s.TxErrors
	}
	return k, nil
}

// Links returns the names of the links in the namespace.
func (n *NS) Links() ([]string, error) {
	if n.nl == nil {
		return nil, fmt.Errorf("netns: %q: %w", n.name, ErrClosed)
	}
	ls, err := n.nl.LinkList()
	if err != nil {
		return nil, fmt.Errorf("netns: links of %q: %w", n.name, err)
	}
	names := make([]string, len(ls))
	for i, l := range ls {
		names[i] = l.Attrs().Name
	}
	return names, nil
}

// VethConfig shapes a veth pair. The zero value is one queue each way,
// the kernel's MTU, no addresses.
type VethConfig struct {
	Queues int // RX and TX queues of each end (1 when 0)
	MTU    int // MTU of both ends (the kernel's default when 0)
	// AddrA and AddrB, when valid, are put on the ends in a and b, and each
	// end learns the other's hardware address as a permanent neighbour.
	AddrA, AddrB netip.Prefix
}

// AddVeth makes a veth pair, end nameA in a and end nameB in b, and brings
// both up. On error nothing is left: the pair is deleted.
func AddVeth(a *NS, nameA string, b *NS, nameB string, cfg VethConfig) (err error) {
	if a.nl == nil || b.nl == nil {
		return fmt.Errorf("netns: veth %s/%s: %w", nameA, nameB, ErrClosed)
	}
	q := max(cfg.Queues, 1)
	v := &netlink.Veth{
		LinkAttrs:       netlink.LinkAttrs{Name: nameA, NumTxQueues: q, NumRxQueues: q, MTU: cfg.MTU},
		PeerName:        nameB,
		PeerNamespace:   netlink.NsFd(b.Fd()),
		PeerNumTxQueues: uint32(q),
		PeerNumRxQueues: uint32(q),
		PeerMTU:         uint32(cfg.MTU),
	}
	if err := a.nl.LinkAdd(v); err != nil {
		return fmt.Errorf("netns: veth %s in %q to %s in %q: %w", nameA, a.name, nameB, b.name, classify(err))
	}
	defer func() {
		if err != nil {
			if l, e := a.nl.LinkByName(nameA); e == nil {
				_ = a.nl.LinkDel(l) // deletes both ends
			}
		}
	}()
	if err := a.LinkUp(nameA); err != nil {
		return err
	}
	if err := b.LinkUp(nameB); err != nil {
		return err
	}
	if cfg.AddrA.IsValid() {
		if err := a.AddAddr(nameA, cfg.AddrA); err != nil {
			return err
		}
	}
	if cfg.AddrB.IsValid() {
		if err := b.AddAddr(nameB, cfg.AddrB); err != nil {
			return err
		}
	}
	if cfg.AddrA.IsValid() && cfg.AddrB.IsValid() {
		la, err := a.Link(nameA)
		if err != nil {
			return err
		}
		lb, err := b.Link(nameB)
		if err != nil {
			return err
		}
		if err := a.SetNeigh(nameA, cfg.AddrB.Addr(), lb.MAC); err != nil {
			return err
		}
		if err := b.SetNeigh(nameB, cfg.AddrA.Addr(), la.MAC); err != nil {
			return err
		}
	}
	return nil
}

// DelLink deletes the link called name (both ends, for a veth).
func (n *NS) DelLink(name string) error {
	l, err := n.link(name)
	if err != nil {
		return err
	}
	if err := n.nl.LinkDel(l); err != nil {
		return fmt.Errorf("netns: delete %q in %q: %w", name, n.name, err)
	}
	return nil
}

// String names the namespace in messages.
func (n *NS) String() string {
	return fmt.Sprintf("netns %s (net:[%d])", strings.TrimSpace(n.name), n.ino)
}

//go:build linux

package linuxport

import (
	"fmt"
	"net"
	"sync/atomic"
	"unsafe"

	"github.com/vishvananda/netlink"
)

// u32at returns the 32-bit word at byte off of mem, a mapping shared with
// the kernel, for atomic access.
//
// This file and xsk_linux.go are the package's only uses of unsafe. It is
// safe because mem is an mmap of a kernel ring: it is never moved, is
// aligned to a page, every offset used is one the kernel gives or defines
// as 4- or 8-byte aligned, and the slice is unmapped only after the
// engine's last access (release).
func u32at(mem []byte, off int) *atomic.Uint32 {
	_ = mem[off+3]
	return (*atomic.Uint32)(unsafe.Pointer(&mem[off]))
}

// ifaceInfo is what opening a port needs to know about an interface.
type ifaceInfo struct {
	index, mtu, rxQueues int
}

// lookup finds interface name in the calling thread's namespace.
func lookup(name string) (ifaceInfo, error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if ok := asLinkNotFound(err, &nf); ok {
			return ifaceInfo{}, fmt.Errorf("%w: %q", ErrNoInterface, name)
		}
		if _, e := net.InterfaceByName(name); e != nil {
			return ifaceInfo{}, fmt.Errorf("%w: %q: %w", ErrNoInterface, name, e)
		}
		return ifaceInfo{}, fmt.Errorf("linuxport: interface %q: %w", name, sysErr(err))
	}
	a := l.Attrs()
	return ifaceInfo{index: a.Index, mtu: a.MTU, rxQueues: max(a.NumRxQueues, 1)}, nil
}

func asLinkNotFound(err error, nf *netlink.LinkNotFoundError) bool {
	e, ok := err.(netlink.LinkNotFoundError)
	if ok {
		*nf = e
	}
	return ok
}

// checkMTU fails with ErrMTU when a frame of the interface's MTU (plus an
// Ethernet header and one VLAN tag) does not fit a data room of room bytes.
func checkMTU(name string, mtu, room int) error {
	if mtu+18 > room {
		return fmt.Errorf("%w: %s has MTU %d: frames up to %d bytes, a buffer holds %d", ErrMTU, name, mtu, mtu+18, room)
	}
	return nil
}

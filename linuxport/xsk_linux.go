//go:build linux

package linuxport

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ringkit/ringkit/descriptor"
)

// xring is one of an AF_XDP socket's four rings, mapped from the kernel:
// a producer index, a consumer index, a flags word and a power-of-two
// array of entries (UMEM addresses for the fill and completion rings,
// struct xdp_desc for the RX and TX rings). Each side keeps its own index
// privately and caches the other's, as libxdp's xsk_ring_prod/cons do.
type xring struct {
	mem   []byte
	prod  *atomic.Uint32 // the producer's index; the consumer loads it (acquire)
	cons  *atomic.Uint32 // the consumer's index; the producer loads it (acquire)
	flags *atomic.Uint32 // XDP_RING_NEED_WAKEUP, set by the kernel
	mask  uint32
	size  uint32
	addrs []uint64       // fill and completion rings
	descs []unix.XDPDesc // RX and TX rings
	local uint32         // our index: prod of a ring we produce, cons of one we consume
	other uint32         // our cached copy of the kernel's index
}

// mapRing maps ring pgoff of socket fd with size entries of entry bytes.
//
// The unsafe views are safe as u32at's: the mapping is page-aligned, the
// offsets are the kernel's (XDP_MMAP_OFFSETS), and it is unmapped only
// after the engine's last access.
func mapRing(fd int, pgoff int64, off unix.XDPRingOffset, size uint32, entry uintptr, addrs bool) (*xring, error) {
	n := int(off.Desc) + int(size)*int(entry)
	mem, err := unix.Mmap(fd, pgoff, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return nil, sysErr(err)
	}
	r := &xring{
		mem:   mem,
		prod:  u32at(mem, int(off.Producer)),
		cons:  u32at(mem, int(off.Consumer)),
		flags: u32at(mem, int(off.Flags)),
		mask:  size - 1,
		size:  size,
	}
	if addrs {
		r.addrs = unsafe.Slice((*uint64)(unsafe.Pointer(&mem[off.Desc])), size)
	} else {
		r.descs = unsafe.Slice((*unix.XDPDesc)(unsafe.Pointer(&mem[off.Desc])), size)
	}
	r.local = r.prod.Load()
	r.other = r.cons.Load()
	return r, nil
}

func (r *xring) unmap() error {
	if r == nil || r.mem == nil {
		return nil
	}
	err := unix.Munmap(r.mem)
	r.mem, r.addrs, r.descs = nil, nil, nil
	return err
}

// free returns how many entries up to n a producer may write.
func (r *xring) free(n uint32) uint32 {
	if f := r.size - (r.local - r.other); f >= n {
		return n
	}
	r.other = r.cons.Load() // load-acquire: the kernel has read the entries before it
	return min(n, r.size-(r.local-r.other))
}

// submit publishes k entries written at local.
func (r *xring) submit(k uint32) {
	r.local += k
	r.prod.Store(r.local) // store-release: publishes the entries to the kernel
}

// avail returns how many entries up to n a consumer may read.
func (r *xring) avail(n uint32) uint32 {
	if a := r.other - r.local; a >= n {
		return n
	}
	r.other = r.prod.Load() // load-acquire: the kernel's entries before it are written
	return min(n, r.other-r.local)
}

// release gives k read entries back to the kernel.
func (r *xring) release(k uint32) {
	r.local += k
	r.cons.Store(r.local) // store-release: we are done reading them
}

// needWakeup reports whether the kernel asks to be woken for the ring.
func (r *xring) needWakeup() bool { return r.flags.Load()&unix.XDP_RING_NEED_WAKEUP != 0 }

// xsk is one AF_XDP socket: one queue of an AF_XDP port.
type xsk struct {
	fd                 int
	rx, tx, fill, comp *xring
	zeroCopy           bool
}

// sockopt sets option opt of level SOL_XDP to the bytes of *v.
func sockopt[T any](fd, opt int, v *T) error {
	_, _, errno := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.SOL_XDP, uintptr(opt), uintptr(unsafe.Pointer(v)), unsafe.Sizeof(*v), 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// getsockopt reads option opt of level SOL_XDP into *v.
func getsockopt[T any](fd, opt int, v *T) error {
	n := uint32(unsafe.Sizeof(*v))
	_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_XDP, uintptr(opt), uintptr(unsafe.Pointer(v)), uintptr(unsafe.Pointer(&n)), 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// umemReg registers pool's slab as the UMEM of socket fd, in aligned-chunk
// mode: chunks of Stride bytes, the UMEM headroom being what the pool's
// headroom holds beyond XDP_PACKET_HEADROOM.
func umemReg(fd int, pool *descriptor.Pool) error {
	slab := pool.Slab()
	reg := unix.XDPUmemReg{
		Addr:     uint64(uintptr(unsafe.Pointer(unsafe.SliceData(slab)))),
		Len:      uint64(len(slab)),
		Size:     uint32(pool.Stride()),
		Headroom: uint32(pool.Headroom() - UMEMHeadroom),
	}
	return sockopt(fd, unix.XDP_UMEM_REG, &reg)
}

// slabAligned reports whether pool's slab starts on a page.
func slabAligned(pool *descriptor.Pool, page int) bool {
	return uintptr(unsafe.Pointer(unsafe.SliceData(pool.Slab())))%uintptr(page) == 0
}

// openXSK makes the socket of one queue: its rings sized as given, the
// UMEM registered (or, with shareFd ≥ 0, shared with that socket's), the
// four rings mapped, and the socket bound to queue q of interface ifindex
// with bind flags.
func openXSK(pool *descriptor.Pool, ifindex, q, shareFd int, rxSize, txSize uint32, flags uint16) (_ *xsk, err error) {
	fd, err := unix.Socket(unix.AF_XDP, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", sysErr(err))
	}
	x := &xsk{fd: fd}
	defer func() {
		if err != nil {
			x.close()
		}
	}()
	if shareFd < 0 {
		if err := umemReg(fd, pool); err != nil {
			return nil, fmt.Errorf("XDP_UMEM_REG: %w", sysErr(err))
		}
	}
	for _, o := range []struct {
		opt  int
		size uint32
		name string
	}{
		{unix.XDP_UMEM_FILL_RING, rxSize, "fill"},
		{unix.XDP_UMEM_COMPLETION_RING, txSize, "completion"},
		{unix.XDP_RX_RING, rxSize, "RX"},
		{unix.XDP_TX_RING, txSize, "TX"},
	} {
		v := int32(o.size)
		if err := sockopt(fd, o.opt, &v); err != nil {
			return nil, fmt.Errorf("%s ring of %d: %w", o.name, o.size, sysErr(err))
		}
	}
	var off unix.XDPMmapOffsets
	if err := getsockopt(fd, unix.XDP_MMAP_OFFSETS, &off); err != nil {
		return nil, fmt.Errorf("XDP_MMAP_OFFSETS: %w", sysErr(err))
	}
	descSz, addrSz := unsafe.Sizeof(unix.XDPDesc{}), unsafe.Sizeof(uint64(0))
	if x.rx, err = mapRing(fd, unix.XDP_PGOFF_RX_RING, off.Rx, rxSize, descSz, false); err != nil {
		return nil, fmt.Errorf("map RX ring: %w", err)
	}
	if x.tx, err = mapRing(fd, unix.XDP_PGOFF_TX_RING, off.Tx, txSize, descSz, false); err != nil {
		return nil, fmt.Errorf("map TX ring: %w", err)
	}
	if x.fill, err = mapRing(fd, unix.XDP_UMEM_PGOFF_FILL_RING, off.Fr, rxSize, addrSz, true); err != nil {
		return nil, fmt.Errorf("map fill ring: %w", err)
	}
	if x.comp, err = mapRing(fd, unix.XDP_UMEM_PGOFF_COMPLETION_RING, off.Cr, txSize, addrSz, true); err != nil {
		return nil, fmt.Errorf("map completion ring: %w", err)
	}
	// The RX and completion rings are consumed: our index is cons.
	x.rx.local, x.rx.other = x.rx.cons.Load(), x.rx.prod.Load()
	x.comp.local, x.comp.other = x.comp.cons.Load(), x.comp.prod.Load()
	sa := &unix.SockaddrXDP{Flags: flags, Ifindex: uint32(ifindex), QueueID: uint32(q)}
	if shareFd >= 0 {
		// A socket sharing a UMEM takes no flags of its own: it copies or
		// not, and uses need-wakeup or not, as the UMEM's first socket.
		sa.Flags = unix.XDP_SHARED_UMEM
		sa.SharedUmemFD = uint32(shareFd)
	}
	if err := unix.Bind(fd, sa); err != nil {
		return nil, fmt.Errorf("bind to queue %d: %w", q, sysErr(err))
	}
	var opts struct{ flags uint32 }
	if getsockopt(fd, unix.XDP_OPTIONS, &opts) == nil {
		x.zeroCopy = opts.flags&unix.XDP_OPTIONS_ZEROCOPY != 0
	}
	return x, nil
}

// stats reads the socket's XDP_STATISTICS.
func (x *xsk) stats() (unix.XDPStatistics, error) {
	var s unix.XDPStatistics
	err := getsockopt(x.fd, unix.XDP_STATISTICS, &s)
	return s, err
}

// close unmaps the rings and closes the socket; the kernel then lets go of
// the UMEM's buffers it held for this socket.
func (x *xsk) close() error {
	var first error
	for _, r := range []*xring{x.rx, x.tx, x.fill, x.comp} {
		if err := r.unmap(); err != nil && first == nil {
			first = err
		}
	}
	if x.fd >= 0 {
		if err := unix.Close(x.fd); err != nil && first == nil {
			first = err
		}
		x.fd = -1
	}
	return first
}

//go:build linux

package linuxport

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"math/bits"
	"os"
	"slices"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ringkit/ringkit/classify"
	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/internal/mem"
	"github.com/ringkit/ringkit/port"
)

// XDP is an AF_XDP port: one socket per queue over a UMEM that is the
// pool's buffer area. Its methods are port.Port's, and XDPStats, Mode and
// ZeroCopy.
type XDP struct {
	*engine
	ifname   string
	mode     XDPMode
	burst    uint32
	wakeups  bool // bound with XDP_USE_NEED_WAKEUP
	maxFrame int  // the interface's MTU plus an Ethernet header and a tag
	off      *classify.Offload
	prog     *xdpProgram
	umem     *umemShare
	q        []xdpQueue

	// statsMu-guarded copies of what the sockets' XDP_STATISTICS were
	// when the sockets closed.
	finalXDP []XDPStats
}

// xdpQueue is one queue's socket and the engine's scratch space.
type xdpQueue struct {
	x       *xsk
	bufs    []descriptor.Buf
	pkts    []descriptor.Packet
	bad     []descriptor.Buf // TX packets too long to send, one burst's worth
	recycle []descriptor.Buf // buffers the kernel returned unusable, to post again
}

var _ port.Port = (*XDP)(nil)

// XDPStats are an AF_XDP socket's own counters (XDP_STATISTICS).
type XDPStats struct {
	RxDropped     uint64 // frames dropped for other reasons than a full ring (no fill buffer in copy mode, too long)
	RxInvalid     uint64 // invalid descriptors on the fill ring
	TxInvalid     uint64 // invalid descriptors on the TX ring
	RxRingFull    uint64 // frames dropped because the RX ring was full
	FillRingEmpty uint64 // times the kernel found the fill ring empty
	TxRingEmpty   uint64 // times the kernel found the TX ring empty
}

// umemShare is one UMEM: a pool registered with the kernel, and the live
// sockets through which further sockets bind to it (XDP_SHARED_UMEM).
type umemShare struct {
	pool  *descriptor.Pool
	fds   []int
	bound map[queueKey]int // the queues with a socket of this UMEM, and the socket
	// wakeups is whether the UMEM's first socket bound with need-wakeup;
	// the sockets sharing it do as it does.
	wakeups bool
}

// queueKey names one queue of one interface of one namespace.
type queueKey struct {
	netns          uint64 // the namespace's inode
	ifindex, queue int
}

// umems maps each pool with open AF_XDP sockets to its UMEM.
var umems struct {
	sync.Mutex
	m map[*descriptor.Pool]*umemShare
}

// OpenXDP opens an AF_XDP port on interface name (in cfg.NS when set):
// an XDP program redirecting queues 0 to cfg.Queues-1 to one socket each,
// attached in cfg.Mode. The pool must be laid out as NewUMEMPool makes it
// and hold enough buffers for every queue's RX ring (Descs-1 each) plus
// what is in flight; ports on the same pool share its UMEM. On error
// nothing is left attached or open.
func OpenXDP(name string, cfg XDPConfig) (*XDP, error) {
	pool := cfg.Pool
	if pool == nil {
		return nil, fmt.Errorf("%w: AF_XDP %s without a pool", ErrConfig, name)
	}
	page := os.Getpagesize()
	stride := pool.Stride()
	if stride < 2048 || stride > page || bits.OnesCount(uint(stride)) != 1 || pool.Headroom() < UMEMHeadroom || !slabAligned(pool, page) {
		return nil, fmt.Errorf("%w: AF_XDP %s: pool of stride %d, headroom %d is no UMEM (want a power-of-two stride 2048..%d, headroom ≥ %d, a page-aligned slab: NewUMEMPool)",
			ErrConfig, name, stride, pool.Headroom(), page, UMEMHeadroom)
	}
	queues := max(cfg.Queues, 1)
	if cfg.Rx.Descs == 0 {
		cfg.Rx.Descs = DefaultXDPDescs
	}
	if cfg.Tx.Descs == 0 {
		cfg.Tx.Descs = DefaultXDPDescs
	}
	if cfg.Mode < ModeAuto || cfg.Mode > ModeDriver {
		return nil, fmt.Errorf("%w: AF_XDP %s: mode %d", ErrConfig, name, cfg.Mode)
	}
	if cfg.ZeroCopy && cfg.Mode == ModeSKB {
		return nil, fmt.Errorf("%w: AF_XDP %s: zero-copy needs driver mode", ErrConfig, name)
	}
	burst := cfg.Burst
	if burst <= 0 {
		burst = DefaultBurst
	}
	if uint64(burst) > math.MaxUint32 {
		return nil, fmt.Errorf("%w: AF_XDP %s: burst %d (want at most %d)", ErrConfig, name, burst, uint64(math.MaxUint32))
	}
	var (
		xq  xdpQueue
		buf descriptor.Buf
		pkt descriptor.Packet
	)
	perQueue := mem.Add(mem.Add(uint64(unsafe.Sizeof(xq)), mem.Size(uint64(max(burst, cfg.Rx.Descs))+uint64(burst), uint64(unsafe.Sizeof(buf)))),
		mem.Size(uint64(burst), uint64(unsafe.Sizeof(pkt))))
	e, err := newEngine(name, pool, queues, cfg.Rx, cfg.Tx, perQueue, 0, cfg.MaxBytes)
	if err != nil {
		return nil, err
	}
	x := &XDP{engine: e, ifname: name, burst: uint32(burst), wakeups: !cfg.NoNeedWakeup,
		off: classify.NewOffload(1, !cfg.NoOffload), q: make([]xdpQueue, queues)}
	for i := range x.q {
		x.q[i].bufs = make([]descriptor.Buf, max(burst, cfg.Rx.Descs))
		x.q[i].pkts = make([]descriptor.Packet, burst)
		x.q[i].bad = make([]descriptor.Buf, 0, burst)
	}
	err = inNS(cfg.NS, func() error { return x.open(cfg, queues) })
	if err == nil {
		err = e.start(x)
	}
	if err != nil {
		x.release()
		e.closeRings()
		return nil, fmt.Errorf("linuxport: AF_XDP %s: %w", name, err)
	}
	return x, nil
}

// open does OpenXDP's work inside the interface's namespace.
func (x *XDP) open(cfg XDPConfig, queues int) error {
	info, err := lookup(x.ifname)
	if err != nil {
		return err
	}
	if err := checkMTU(x.ifname, info.mtu, cfg.Pool.DataRoom()); err != nil {
		return err
	}
	x.maxFrame = info.mtu + 14 // an Ethernet header
	if queues > info.rxQueues {
		return fmt.Errorf("%w: %d queues asked, %s has %d", ErrQueue, queues, x.ifname, info.rxQueues)
	}
	if x.prog, err = newXDPProgram(queues); err != nil {
		return err
	}
	// The mode decides the bind flags; with ModeAuto, driver mode is tried
	// on the socket binds and then the program attach.
	native := cfg.Mode != ModeSKB
	var flags uint16
	if x.wakeups {
		flags |= unix.XDP_USE_NEED_WAKEUP
	}
	switch {
	case !native:
		flags |= unix.XDP_COPY
	case cfg.ZeroCopy:
		flags |= unix.XDP_ZEROCOPY
	}
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
		return fmt.Errorf("current namespace: %w", err)
	}
	x.umem = joinUMEM(cfg.Pool)
	for q := range queues {
		key := queueKey{st.Ino, info.index, q}
		if x.umem.isBound(key) {
			return fmt.Errorf("%w: queue %d of %s has a socket on this pool already", ErrBusy, q, x.ifname)
		}
		share := x.umem.shareFd()
		if share >= 0 {
			x.wakeups = x.umem.wakeups
		}
		s, err := openXSK(cfg.Pool, info.index, q, share, uint32(cfg.Rx.Descs), uint32(cfg.Tx.Descs), flags)
		if err != nil && errors.Is(err, ErrUnsupported) && cfg.ZeroCopy {
			return fmt.Errorf("queue %d: the driver of %s has no AF_XDP zero-copy: %w", q, x.ifname, err)
		}
		if err != nil {
			return fmt.Errorf("queue %d: %w", q, err)
		}
		x.q[q].x = s
		if share < 0 {
			x.umem.wakeups = x.wakeups
		}
		x.umem.add(s.fd, key)
		if err := x.prog.set(q, s.fd); err != nil {
			return err
		}
		// The fill ring is stocked before the program goes on, so the
		// first frames find buffers.
		x.fill(q)
	}
	// A second user of the interface is refused here (EBUSY); everything
	// made above is then undone by the caller.
	err = x.prog.attach(info.index, native)
	if err != nil && cfg.Mode == ModeAuto && !errors.Is(err, ErrBusy) {
		// No native XDP: generic it is, and the sockets must copy, which
		// they do already unless zero-copy bound them (then the attach
		// fails again).
		native = false
		err = x.prog.attach(info.index, false)
	}
	if err != nil {
		return fmt.Errorf("attach XDP program (%s mode): %w", map[bool]string{true: "driver", false: "skb"}[native], err)
	}
	x.mode = ModeSKB
	if native {
		x.mode = ModeDriver
	}
	return nil
}

// joinUMEM returns the UMEM of pool, made if the pool has none.
func joinUMEM(pool *descriptor.Pool) *umemShare {
	umems.Lock()
	defer umems.Unlock()
	if umems.m == nil {
		umems.m = map[*descriptor.Pool]*umemShare{}
	}
	u := umems.m[pool]
	if u == nil {
		u = &umemShare{pool: pool, bound: map[queueKey]int{}}
		umems.m[pool] = u
	}
	return u
}

// shareFd returns a live socket of the UMEM to bind to, or -1 when the
// next socket must register it.
func (u *umemShare) shareFd() int {
	umems.Lock()
	defer umems.Unlock()
	if len(u.fds) == 0 {
		return -1
	}
	return u.fds[0]
}

func (u *umemShare) add(fd int, k queueKey) {
	umems.Lock()
	defer umems.Unlock()
	u.fds = append(u.fds, fd)
	u.bound[k] = fd
}

func (u *umemShare) isBound(k queueKey) bool {
	umems.Lock()
	defer umems.Unlock()
	_, ok := u.bound[k]
	return ok
}

// remove forgets socket fd, and the UMEM with its last socket.
func (u *umemShare) remove(fd int) {
	umems.Lock()
	defer umems.Unlock()
	u.fds = slices.DeleteFunc(u.fds, func(f int) bool { return f == fd })
	maps.DeleteFunc(u.bound, func(_ queueKey, f int) bool { return f == fd })
	if len(u.fds) == 0 && umems.m[u.pool] == u {
		delete(umems.m, u.pool)
	}
}

// Mode returns the mode the program is attached in: ModeSKB or ModeDriver.
func (x *XDP) Mode() XDPMode { return x.mode }

// ZeroCopy reports whether the sockets are bound zero-copy (XDP_ZEROCOPY:
// the driver DMAs into the UMEM).
func (x *XDP) ZeroCopy() bool { return len(x.q) > 0 && x.q[0].x != nil && x.q[0].x.zeroCopy }

func (x *XDP) round() int {
	n := 0
	for q := range x.q {
		n += x.complete(q) + x.transmit(q)
		x.fill(q)
		n += x.receive(q)
	}
	return n
}

// fill posts the buffers of newly posted RX descriptors to the fill ring.
func (x *XDP) fill(q int) {
	xq := &x.q[q]
	fr := xq.x.fill
	k := fr.free(uint32(len(xq.bufs)))
	if k == 0 {
		return
	}
	i := uint32(0)
	for ; i < k && len(xq.recycle) > 0; i++ {
		b := xq.recycle[len(xq.recycle)-1]
		xq.recycle = xq.recycle[:len(xq.recycle)-1]
		off, _ := x.pool.Offset(b)
		fr.addrs[(fr.local+i)&fr.mask] = off - uint64(x.pool.Headroom())
	}
	n := uint32(x.rx[q].NICTake(xq.bufs[:k-i]))
	for j, b := range xq.bufs[:n] {
		off, _ := x.pool.Offset(b) // the ring's buffers are the pool's
		fr.addrs[(fr.local+i+uint32(j))&fr.mask] = off - uint64(x.pool.Headroom())
	}
	if i+n == 0 {
		return
	}
	fr.submit(i + n)
	if x.wakeups && fr.needWakeup() {
		// Zero-copy drivers stop when the fill ring runs dry: wake them.
		_, _, _ = unix.Syscall6(unix.SYS_RECVFROM, uintptr(xq.x.fd), 0, 0, unix.MSG_DONTWAIT, 0, 0)
	}
}

// receive takes a burst from the RX ring: each descriptor's buffer, with
// its length, completes the next RX descriptor.
func (x *XDP) receive(q int) int {
	xq := &x.q[q]
	r := xq.x.rx
	k := r.avail(x.burst)
	if k == 0 {
		return 0
	}
	rx, slab := x.rx[q], x.pool.Slab()
	var pkts, bytes, errs uint64
	for i := range k {
		d := r.descs[(r.local+i)&r.mask]
		b, dataOff, ok := x.pool.BufAt(d.Addr)
		n := int(d.Len)
		if !ok || dataOff < -x.pool.Headroom() || dataOff+n > x.pool.DataRoom() {
			errs++ // an address outside the UMEM: nothing to give back
			continue
		}
		if dataOff != 0 {
			// An XDP program moved the frame's start: move it back to the
			// data room's (the one copy, and only then).
			copy(x.pool.Data(b)[:n], slab[d.Addr:d.Addr+uint64(n)])
		}
		f := x.pool.Data(b)[:n]
		meta, _ := x.off.Meta(f, 0)
		meta.Queue = uint16(q)
		if err := rx.NICPlaceBuf(b, n, meta); err != nil {
			errs++
			if errors.Is(err, descriptor.ErrLength) {
				xq.recycle = append(xq.recycle, b) // ours still: post it again
			}
			continue
		}
		pkts++
		bytes += uint64(n)
	}
	r.release(k)
	c := &x.cnt[q]
	if pkts != 0 {
		c.rxPackets.Add(pkts)
		c.rxBytes.Add(bytes)
	}
	if errs != 0 {
		c.rxErrors.Add(errs)
	}
	return int(k)
}

// transmit moves a burst of posted packets to the TX ring, their buffers
// sent where they lie, and wakes the kernel if it asks.
func (x *XDP) transmit(q int) int {
	xq := &x.q[q]
	t := xq.x.tx
	k := t.free(x.burst)
	if k != 0 {
		k = uint32(x.tx[q].NICFetch(xq.pkts[:k]))
	}
	var bytes uint64
	bad := xq.bad[:0]
	j := uint32(0)
	for _, pk := range xq.pkts[:k] {
		if int(pk.Len) > x.maxFrame {
			// Longer than the link carries: the kernel would drop the
			// descriptor without completing it, so it is completed here,
			// unsent.
			bad = append(bad, pk.Buf)
			continue
		}
		off, _ := x.pool.Offset(pk.Buf) // TxRing.Transmit checked the Buf
		t.descs[(t.local+j)&t.mask] = unix.XDPDesc{Addr: off, Len: uint32(pk.Len)}
		bytes += uint64(pk.Len)
		j++
	}
	c := &x.cnt[q]
	if j != 0 {
		t.submit(j)
		c.txPackets.Add(uint64(j))
		c.txBytes.Add(bytes)
	}
	if len(bad) != 0 {
		c.txErrors.Add(uint64(len(bad)))
		_, _ = x.tx[q].NICCompleteBufs(bad)
	}
	if x.tx[q].NICFetched() > 0 && (!x.wakeups || t.needWakeup()) {
		_, _, _ = unix.Syscall6(unix.SYS_SENDTO, uintptr(xq.x.fd), 0, 0, unix.MSG_DONTWAIT, 0, 0)
	}
	return int(k)
}

// complete hands the buffers of the completion ring back to the TX ring's
// driver, in the order the kernel completed them.
func (x *XDP) complete(q int) int {
	xq := &x.q[q]
	cr := xq.x.comp
	k := cr.avail(uint32(len(xq.bufs)))
	if k == 0 {
		return 0
	}
	n := 0
	for i := range k {
		b, _, ok := x.pool.BufAt(cr.addrs[(cr.local+i)&cr.mask])
		if ok {
			xq.bufs[n] = b
			n++
		}
	}
	cr.release(k)
	// A completion the TX ring does not know (outside the UMEM, or not
	// fetched) is the kernel's error, counted; NICCompleteBufs stops at it.
	done, _ := x.tx[q].NICCompleteBufs(xq.bufs[:n])
	if bad := uint64(k) - uint64(done); bad != 0 {
		x.cnt[q].txErrors.Add(bad)
	}
	return done
}

func (x *XDP) pending() bool {
	for q := range x.q {
		if x.tx[q].NICFetched() > 0 || x.tx[q].NICPending() > 0 {
			return true
		}
	}
	return false
}

func (x *XDP) pollFds() []int {
	fds := make([]int, 0, len(x.q))
	for _, q := range x.q {
		if q.x != nil {
			fds = append(fds, q.x.fd)
		}
	}
	return fds
}

// release detaches the program, then closes the sockets: once they are
// closed the kernel lets go of every buffer it held, and the rings'
// Close returns them to the pool.
func (x *XDP) release() error {
	var errs []error
	if x.prog != nil {
		errs = append(errs, x.prog.close())
		x.prog = nil
	}
	x.finalXDP = make([]XDPStats, len(x.q))
	for q := range x.q {
		xq := &x.q[q]
		if xq.x == nil {
			continue
		}
		x.finalXDP[q] = xq.x.xdpStats()
		if x.umem != nil {
			x.umem.remove(xq.x.fd)
		}
		errs = append(errs, xq.x.close())
		xq.x = nil
		// Recycled buffers are the RX ring's still (their slots are held
		// by the NIC side): its Close returns them.
		xq.recycle = nil
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("linuxport: AF_XDP %s: release: %w", x.ifname, err)
	}
	return nil
}

// xdpStats reads the socket's XDP_STATISTICS; zero if it cannot.
func (s *xsk) xdpStats() XDPStats {
	st, err := s.stats()
	if err != nil {
		return XDPStats{}
	}
	return XDPStats{RxDropped: st.Rx_dropped, RxInvalid: st.Rx_invalid_descs, TxInvalid: st.Tx_invalid_descs,
		RxRingFull: st.Rx_ring_full, FillRingEmpty: st.Rx_fill_ring_empty_descs, TxRingEmpty: st.Tx_ring_empty_descs}
}

// XDPStats returns queue q's XDP_STATISTICS. It panics if q is out of
// range.
func (x *XDP) XDPStats(q int) XDPStats {
	x.statsMu.Lock()
	defer x.statsMu.Unlock()
	if x.finalXDP != nil {
		return x.finalXDP[q]
	}
	return x.q[q].x.xdpStats()
}

// kernelStats adds the socket's drops: frames the kernel dropped for lack
// of a fill buffer or of room in the RX ring, and invalid descriptors.
func (x *XDP) kernelStats(q int, s *port.QueueStats) {
	if x.q[q].x == nil {
		return
	}
	st := x.q[q].x.xdpStats()
	s.RxMissed += st.RxDropped + st.RxRingFull
	s.RxErrors += st.RxInvalid
	s.TxErrors += st.TxInvalid
}

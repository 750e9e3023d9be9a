//go:build linux

package linuxport

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ringkit/ringkit/classify"
	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/internal/mem"
	"github.com/ringkit/ringkit/port"
)

// TAP is a port on a multi-queue TAP device. Its methods are port.Port's.
type TAP struct {
	*engine
	ifname string
	fds    []int
	burst  int
	off    *classify.Offload
	q      []tapQueue
}

// tapQueue is one queue's engine state.
type tapQueue struct {
	held    descriptor.Buf // a buffer taken from the RX ring, not yet read into
	hasHeld bool
	txPend  []descriptor.Packet // fetched, not yet written: [txNext:]
	txNext  int
	txBuf   []descriptor.Packet
}

var _ port.Port = (*TAP)(nil)

// OpenTAP makes TAP device name (in cfg.NS when set) with cfg.Queues
// queues, puts cfg.Addr on its kernel side and brings it up, and returns
// the port on its other side. The device goes away when the port closes.
// Frames are read directly into the buffers posted on each queue's RX ring
// and written from the buffers posted on its TX ring.
func OpenTAP(name string, cfg TAPConfig) (*TAP, error) {
	if cfg.Pool == nil {
		return nil, fmt.Errorf("%w: TAP %s without a pool", ErrConfig, name)
	}
	if len(name) == 0 || len(name) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("%w: TAP name %q (want 1..%d bytes)", ErrConfig, name, unix.IFNAMSIZ-1)
	}
	queues := max(cfg.Queues, 1)
	burst := cfg.Burst
	if burst <= 0 {
		burst = DefaultBurst
	}
	var (
		tq  tapQueue
		pkt descriptor.Packet
	)
	perQueue := mem.Add(uint64(unsafe.Sizeof(tq)), mem.Size(uint64(burst), uint64(unsafe.Sizeof(pkt))))
	e, err := newEngine(name, cfg.Pool, queues, cfg.Rx, cfg.Tx, perQueue, 0, cfg.MaxBytes)
	if err != nil {
		return nil, err
	}
	t := &TAP{engine: e, ifname: name, burst: burst, off: classify.NewOffload(1, !cfg.NoOffload), q: make([]tapQueue, queues)}
	for i := range t.q {
		t.q[i].txBuf = make([]descriptor.Packet, burst)
	}
	fail := func(err error) (*TAP, error) {
		t.closeFds()
		e.closeRings()
		return nil, err
	}
	err = inNS(cfg.NS, func() error {
		for q := range queues {
			fd, err := openTAPQueue(name)
			if err != nil {
				return fmt.Errorf("linuxport: TAP %s queue %d: %w", name, q, err)
			}
			t.fds = append(t.fds, fd)
		}
		if cfg.MTU > 0 {
			if err := setMTU(name, cfg.MTU); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fail(err)
	}
	if cfg.Addr.IsValid() || cfg.NS != nil {
		if cfg.NS == nil {
			return fail(fmt.Errorf("%w: TAP %s: an address needs a namespace (NS) to put it in", ErrConfig, name))
		}
		if cfg.Addr.IsValid() {
			if err := cfg.NS.AddAddr(name, cfg.Addr); err != nil {
				return fail(fmt.Errorf("linuxport: TAP %s: %w", name, err))
			}
		}
		if err := cfg.NS.LinkUp(name); err != nil {
			return fail(fmt.Errorf("linuxport: TAP %s: %w", name, err))
		}
	}
	if err := e.start(t); err != nil {
		return fail(err)
	}
	return t, nil
}

// openTAPQueue opens one queue of TAP device name, making the device if
// it does not exist.
func openTAPQueue(name string) (int, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return -1, fmt.Errorf("%w: /dev/net/tun: %w", ErrUnsupported, err)
		}
		return -1, fmt.Errorf("/dev/net/tun: %w", sysErr(err))
	}
	r, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	r.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_MULTI_QUEUE)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, r); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("TUNSETIFF: %w", sysErr(err))
	}
	return fd, nil
}

// setMTU sets the MTU of interface name in the thread's namespace.
func setMTU(name string, mtu int) error {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return sysErr(err)
	}
	defer unix.Close(s)
	r, err := unix.NewIfreq(name)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	r.SetUint32(uint32(mtu))
	if err := unix.IoctlIfreq(s, unix.SIOCSIFMTU, r); err != nil {
		return fmt.Errorf("linuxport: MTU %d on %s: %w", mtu, name, sysErr(err))
	}
	return nil
}

func (t *TAP) closeFds() {
	for _, fd := range t.fds {
		unix.Close(fd)
	}
	t.fds = nil
}

func (t *TAP) round() int {
	n := 0
	for q := range t.q {
		n += t.receive(q) + t.transmit(q)
	}
	return n
}

// receive reads up to a burst of frames from queue q's descriptor, each
// straight into a buffer taken from the RX ring.
func (t *TAP) receive(q int) int {
	tq, rx, c := &t.q[q], t.rx[q], &t.cnt[q]
	var pkts, bytes, errs uint64
	for range t.burst {
		if !tq.hasHeld {
			var b [1]descriptor.Buf
			if rx.NICTake(b[:]) == 0 {
				break // no buffer posted: the frame waits in the kernel
			}
			tq.held, tq.hasHeld = b[0], true
		}
		data := t.pool.Data(tq.held)
		k, err := unix.Read(t.fds[q], data)
		if err != nil || k <= 0 {
			break // EAGAIN: nothing more; the buffer stays held for the next round
		}
		if k > len(data) {
			errs++
			continue
		}
		meta, _ := t.off.Meta(data[:k], 0)
		meta.Queue = uint16(q)
		if rx.NICPlaceBuf(tq.held, k, meta) != nil {
			errs++ // an empty read; the buffer stays held
			continue
		}
		tq.hasHeld = false
		pkts++
		bytes += uint64(k)
	}
	if pkts != 0 {
		c.rxPackets.Add(pkts)
		c.rxBytes.Add(bytes)
	}
	if errs != 0 {
		c.rxErrors.Add(errs)
	}
	return int(pkts)
}

// transmit writes up to a burst of posted packets of queue q, one write
// each, and completes them; a packet the device cannot take now (EAGAIN)
// waits for the next round.
func (t *TAP) transmit(q int) int {
	tq, tx, c := &t.q[q], t.tx[q], &t.cnt[q]
	if tq.txNext == len(tq.txPend) {
		k := tx.NICFetch(tq.txBuf)
		if k == 0 {
			return 0
		}
		tq.txPend, tq.txNext = tq.txBuf[:k], 0
	}
	start := tq.txNext
	var bytes, errs uint64
	for ; tq.txNext < len(tq.txPend); tq.txNext++ {
		f := t.pool.Bytes(tq.txPend[tq.txNext])
		if _, err := unix.Write(t.fds[q], f); err != nil {
			if errors.Is(err, unix.EAGAIN) {
				break
			}
			errs++ // refused (too long for the device): completed unsent
			continue
		}
		bytes += uint64(len(f))
	}
	done := tq.txNext - start
	tx.NICComplete(done)
	if sent := uint64(done) - errs; sent != 0 {
		c.txPackets.Add(sent)
		c.txBytes.Add(bytes)
	}
	if errs != 0 {
		c.txErrors.Add(errs)
	}
	return done
}

func (t *TAP) pending() bool {
	for q := range t.q {
		if t.q[q].txNext < len(t.q[q].txPend) || t.tx[q].NICPending() > 0 {
			return true
		}
	}
	return false
}

func (t *TAP) pollFds() []int { return t.fds }

func (t *TAP) release() error {
	t.closeFds() // the device goes with its last descriptor
	// A held RX buffer is still its ring's (NICTake leaves the slot
	// NIC-owned), as are fetched packets unwritten: the rings' Close
	// returns them.
	return nil
}

func (t *TAP) kernelStats(q int, s *port.QueueStats) {}

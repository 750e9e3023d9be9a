package linuxport

import (
	"net/netip"

	"github.com/ringkit/ringkit/descriptor"
)

// Namespace is a network namespace a port is opened in: *netns.NS of
// package linuxport/netns is one. Do runs f on a thread inside the
// namespace; AddAddr and LinkUp configure a link there. A nil Namespace (an
// untyped nil, not a nil *netns.NS) means the caller's namespace.
type Namespace interface {
	Do(f func() error) error
	AddAddr(link string, p netip.Prefix) error
	LinkUp(link string) error
}

// XDPMode is how an AF_XDP port attaches its XDP program and binds its
// sockets.
type XDPMode int

const (
	// ModeAuto tries ModeDriver and falls back to ModeSKB.
	ModeAuto XDPMode = iota
	// ModeSKB is generic XDP (XDP_FLAGS_SKB_MODE), sockets bound with
	// XDP_COPY: it works on every interface; the kernel copies each frame
	// into the UMEM after building its socket buffer.
	ModeSKB
	// ModeDriver is native XDP (XDP_FLAGS_DRV_MODE) for drivers that run
	// XDP themselves (veth does). Sockets bind zero-copy where the driver
	// supports it (XDP_ZEROCOPY) and copy from the driver's buffer into
	// the UMEM otherwise, unless XDPConfig.ZeroCopy requires it.
	ModeDriver
)

func (m XDPMode) String() string {
	switch m {
	case ModeAuto:
		return "auto"
	case ModeSKB:
		return "skb"
	case ModeDriver:
		return "driver"
	}
	return "unknown"
}

// Defaults of the port configurations.
const (
	// DefaultXDPDescs is the size of an AF_XDP port's descriptor rings and
	// of the kernel's fill, RX, TX and completion rings, as DPDK's
	// net_af_xdp.
	DefaultXDPDescs = 2048
	// DefaultBurst is the most frames one queue moves each way in one
	// round of a port's engine.
	DefaultBurst = 64
	// UMEMHeadroom is XDP_PACKET_HEADROOM: the kernel writes a received
	// frame this far into an AF_XDP chunk (after the UMEM's own headroom).
	UMEMHeadroom = 256
	// UMEMChunk is the chunk size of the pools NewUMEMPool makes.
	UMEMChunk = 2048
	// DefaultMaxBytes is the most memory a port's rings and buffers may
	// take unless its config's MaxBytes says otherwise: 1 GiB.
	DefaultMaxBytes = 1 << 30
)

// XDPConfig configures an AF_XDP port.
type XDPConfig struct {
	// Pool is the UMEM: every buffer of the pool is one chunk the kernel
	// may write into. It must have a power-of-two stride from 2048 to the
	// page size, a headroom of at least UMEMHeadroom and a page-aligned
	// slab, as NewUMEMPool makes. Ports opened on the same Pool share one
	// UMEM (XDP_SHARED_UMEM), so a frame received on one can be
	// transmitted on another without a copy.
	Pool *descriptor.Pool
	// Queues is the number of queues, 0 to Queues-1, one socket each (1
	// when 0). The kernel's RSS picks the queue of each frame.
	Queues int
	// Mode is the attach mode (ModeAuto).
	Mode XDPMode
	// ZeroCopy requires XDP_ZEROCOPY binds: the open fails with
	// ErrUnsupported on a driver without AF_XDP zero-copy.
	ZeroCopy bool
	// Rx and Tx size the descriptor rings of each queue (Descs
	// DefaultXDPDescs when 0); the kernel's rings get the same sizes.
	Rx descriptor.RxConfig
	Tx descriptor.TxConfig
	// Burst is the most frames a queue moves each way in one round
	// (DefaultBurst).
	Burst int
	// NoNeedWakeup binds without XDP_USE_NEED_WAKEUP: the port then calls
	// into the kernel after every transmit instead of only when the
	// kernel asks.
	NoNeedWakeup bool
	// NoOffload leaves received packets unparsed and unhashed (no
	// FlagParsed, no FlagHash), for a receiver that does neither.
	NoOffload bool
	// NS, if not nil, is the namespace the interface is in; the port's
	// sockets and program are made there.
	NS Namespace
	// MaxBytes is the most memory the port's own rings and buffers may
	// take: for each queue its RX and TX descriptor rings (as
	// descriptor.Pool.RxRingBytes and TxRingBytes count them) and its
	// burst buffers. Zero selects DefaultMaxBytes. A port that would take
	// more is refused with ErrConfig before anything is allocated or
	// opened: Go cannot recover from an allocation the machine cannot
	// serve. The pool and the kernel's rings are not counted.
	MaxBytes int64
}

// PacketConfig configures a TPACKET port: TPACKET_V3 receive ring and
// TPACKET_V2 transmit ring (with PACKET_QDISC_BYPASS) on AF_PACKET
// sockets. It copies each frame once in each direction (the kernel into
// its ring, the port from the ring into a pool buffer; and back); it is the
// fallback where AF_XDP is refused.
type PacketConfig struct {
	// Pool is where received frames are copied to.
	Pool *descriptor.Pool
	// Queues is the number of queues the port spreads received frames over
	// with software RSS (1 when 0); every queue's transmit ring sends
	// through the one socket.
	Queues int
	// Rx and Tx size each queue's descriptor rings.
	Rx descriptor.RxConfig
	Tx descriptor.TxConfig
	// Blocks and BlockSize size the kernel's receive ring (64 blocks of
	// 128 KiB when 0); Frames sizes its transmit ring (1024 when 0) in
	// frames of 2048 bytes.
	Blocks, BlockSize, Frames int
	// Burst is the most frames a queue moves each way in one round.
	Burst int
	// NoOffload as in XDPConfig; with one queue, received packets are then
	// not hashed.
	NoOffload bool
	// NS as in XDPConfig.
	NS Namespace
	// MaxBytes as in XDPConfig.
	MaxBytes int64
}

// TAPConfig configures a TAP port: a multi-queue TAP device
// (IFF_TAP|IFF_NO_PI|IFF_MULTI_QUEUE), one file descriptor per queue. The
// device exists while the port is open; the kernel side of it is an
// ordinary interface of its namespace.
type TAPConfig struct {
	// Pool is where received frames are read into.
	Pool *descriptor.Pool
	// Queues is the number of queues, one descriptor each (1 when 0). The
	// kernel picks the queue of each frame it sends into the device.
	Queues int
	// Rx and Tx size each queue's descriptor rings.
	Rx descriptor.RxConfig
	Tx descriptor.TxConfig
	// Burst is the most frames a queue moves each way in one round.
	Burst int
	// NoOffload as in XDPConfig.
	NoOffload bool
	// NS, if not nil, is the namespace the device is made in.
	NS Namespace
	// Addr, if valid, is put on the kernel's side of the device, which is
	// brought up: the kernel's stack in NS then talks to the port's user
	// through it.
	Addr netip.Prefix
	// MTU, if not 0, is set on the device.
	MTU int
	// MaxBytes as in XDPConfig.
	MaxBytes int64
}

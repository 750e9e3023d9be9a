//go:build linux

package linuxport

import (
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ringkit/ringkit/classify"
	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/internal/mem"
	"github.com/ringkit/ringkit/port"
)

// Packet is a port on AF_PACKET sockets: a TPACKET_V3 receive ring and a
// TPACKET_V2 transmit ring with PACKET_QDISC_BYPASS. Its methods are
// port.Port's. It copies each frame once in ringkit, from the kernel's
// ring into a pool buffer and from a pool buffer into the kernel's ring.
type Packet struct {
	*engine
	ifname string
	burst  int
	off    *classify.Offload

	rxFd, txFd int
	rxMem      []byte // Blocks blocks of BlockSize bytes
	blockSize  int
	blocks     int
	// The receive position: block blk, its packet pkt at byte off.
	blk, pkt, pktOff int

	txMem     []byte // Frames frames of txFrameSize bytes
	txFrames  int
	txNext    int  // the next frame slot to fill
	txKick    bool // frames posted the kernel has not been told about
	txScratch []descriptor.Packet

	kernelDrops atomic.Uint64 // PACKET_STATISTICS drops, accumulated (reading resets them)
}

var _ port.Port = (*Packet)(nil)

const (
	txFrameSize = 2048
	// txDataOff is where a TPACKET_V2 transmit frame's data starts:
	// TPACKET2_HDRLEN less the sockaddr_ll it includes.
	txDataOff = 32
	// TPACKET_V3 block header: block_status and num_pkts and
	// offset_to_first_pkt (struct tpacket_block_desc, hdr.bh1).
	blkStatusOff = 8
	blkNumOff    = 12
	blkFirstOff  = 16
	// struct tpacket3_hdr fields.
	p3NextOff    = 0
	p3SnapOff    = 12
	p3LenOff     = 16
	p3MacOff     = 24
	retireBlkTov = 1 // ms: a partly filled block is handed over after this
)

// OpenPacket opens a TPACKET port on interface name (in cfg.NS when set).
func OpenPacket(name string, cfg PacketConfig) (*Packet, error) {
	if cfg.Pool == nil {
		return nil, fmt.Errorf("%w: TPACKET %s without a pool", ErrConfig, name)
	}
	queues := max(cfg.Queues, 1)
	p := &Packet{ifname: name, burst: cfg.Burst, rxFd: -1, txFd: -1,
		blocks: cfg.Blocks, blockSize: cfg.BlockSize, txFrames: cfg.Frames}
	if p.burst <= 0 {
		p.burst = DefaultBurst
	}
	if p.blocks == 0 {
		p.blocks = 64
	}
	if p.blockSize == 0 {
		p.blockSize = 128 << 10
	}
	if p.txFrames == 0 {
		p.txFrames = 1024
	}
	if p.blocks < 1 || p.blockSize < 4096 || p.blockSize%4096 != 0 || p.txFrames < 2 {
		return nil, fmt.Errorf("%w: TPACKET %s: %d blocks of %d bytes, %d frames (want ≥1 block of a multiple of 4096 bytes, ≥2 frames)",
			ErrConfig, name, p.blocks, p.blockSize, p.txFrames)
	}
	var pkt descriptor.Packet
	e, err := newEngine(name, cfg.Pool, queues, cfg.Rx, cfg.Tx, 0, mem.Size(uint64(p.burst), uint64(unsafe.Sizeof(pkt))), cfg.MaxBytes)
	if err != nil {
		return nil, err
	}
	p.engine = e
	p.off = classify.NewOffload(queues, !cfg.NoOffload)
	p.txScratch = make([]descriptor.Packet, p.burst)
	err = inNS(cfg.NS, func() error {
		info, err := lookup(name)
		if err != nil {
			return err
		}
		if err := checkMTU(name, info.mtu, cfg.Pool.DataRoom()); err != nil {
			return err
		}
		if err := p.openRx(info.index); err != nil {
			return err
		}
		return p.openTx(info.index)
	})
	if err == nil {
		err = e.start(p)
	}
	if err != nil {
		p.release()
		e.closeRings()
		return nil, err
	}
	return p, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (p *Packet) openRx(ifindex int) error {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("linuxport: TPACKET %s: socket: %w", p.ifname, sysErr(err))
	}
	p.rxFd = fd
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return fmt.Errorf("linuxport: TPACKET %s: TPACKET_V3: %w", p.ifname, sysErr(err))
	}
	// Frames this host sends on the interface are not received.
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
		return fmt.Errorf("linuxport: TPACKET %s: PACKET_IGNORE_OUTGOING: %w", p.ifname, sysErr(err))
	}
	req := unix.TpacketReq3{
		Block_size: uint32(p.blockSize), Block_nr: uint32(p.blocks),
		Frame_size: txFrameSize, Frame_nr: uint32(p.blockSize / txFrameSize * p.blocks),
		Retire_blk_tov: retireBlkTov,
	}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return fmt.Errorf("linuxport: TPACKET %s: RX ring: %w", p.ifname, sysErr(err))
	}
	mem, err := unix.Mmap(fd, 0, p.blockSize*p.blocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("linuxport: TPACKET %s: mmap RX ring: %w", p.ifname, sysErr(err))
	}
	p.rxMem = mem
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}); err != nil {
		return fmt.Errorf("linuxport: TPACKET %s: bind: %w", p.ifname, sysErr(err))
	}
	return nil
}

func (p *Packet) openTx(ifindex int) error {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("linuxport: TPACKET %s: socket: %w", p.ifname, sysErr(err))
	}
	p.txFd = fd
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V2); err != nil {
		return fmt.Errorf("linuxport: TPACKET %s: TPACKET_V2: %w", p.ifname, sysErr(err))
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1); err != nil {
		return fmt.Errorf("linuxport: TPACKET %s: PACKET_QDISC_BYPASS: %w", p.ifname, sysErr(err))
	}
	perBlock := 4096 / txFrameSize * 2 // two pages a block
	req := unix.TpacketReq{Block_size: 8192, Block_nr: uint32((p.txFrames + perBlock - 1) / perBlock), Frame_size: txFrameSize}
	req.Frame_nr = req.Block_nr * uint32(perBlock)
	p.txFrames = int(req.Frame_nr)
	if err := unix.SetsockoptTpacketReq(fd, unix.SOL_PACKET, unix.PACKET_TX_RING, &req); err != nil {
		return fmt.Errorf("linuxport: TPACKET %s: TX ring: %w", p.ifname, sysErr(err))
	}
	mem, err := unix.Mmap(fd, 0, p.txFrames*txFrameSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("linuxport: TPACKET %s: mmap TX ring: %w", p.ifname, sysErr(err))
	}
	p.txMem = mem
	// Protocol 0: the socket sends and receives nothing.
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifindex}); err != nil {
		return fmt.Errorf("linuxport: TPACKET %s: bind: %w", p.ifname, sysErr(err))
	}
	return nil
}

func (p *Packet) round() int { return p.receive() + p.transmit() }

// receive copies up to a burst of frames from the kernel's blocks into
// the RX rings, software RSS picking the queue, and hands each block back
// to the kernel when it is done with it.
func (p *Packet) receive() int {
	moved := 0
	var errs uint64
	for moved < p.burst {
		base := p.blk * p.blockSize
		status := u32at(p.rxMem, base+blkStatusOff)
		if status.Load()&unix.TP_STATUS_USER == 0 { // load-acquire: the block's packets are written
			break
		}
		num := int(u32at(p.rxMem, base+blkNumOff).Load())
		if p.pkt == 0 {
			p.pktOff = base + int(u32at(p.rxMem, base+blkFirstOff).Load())
		}
		for ; p.pkt < num && moved < p.burst; p.pkt++ {
			h := p.pktOff
			snap := int(u32at(p.rxMem, h+p3SnapOff).Load())
			wire := int(u32at(p.rxMem, h+p3LenOff).Load())
			mac := int(uint16(p.rxMem[h+p3MacOff]) | uint16(p.rxMem[h+p3MacOff+1])<<8)
			next := int(u32at(p.rxMem, h+p3NextOff).Load())
			p.pktOff += next
			if snap != wire || h+mac+snap > base+p.blockSize {
				errs++ // cut by the ring: longer than a frame slot
				continue
			}
			f := p.rxMem[h+mac : h+mac+snap]
			meta, q := p.off.Meta(f, 0)
			if p.rx[q].NICPlace(f, meta) { // a frame it cannot place is counted missed by the ring
				c := &p.cnt[q]
				c.rxPackets.Add(1)
				c.rxBytes.Add(uint64(snap))
			}
			moved++
		}
		if p.pkt < num {
			break // the burst is full; the block resumes next round
		}
		status.Store(unix.TP_STATUS_KERNEL) // store-release: the block goes back to the kernel
		p.blk = (p.blk + 1) % p.blocks
		p.pkt = 0
	}
	if errs != 0 {
		p.cnt[0].rxErrors.Add(errs)
	}
	return moved
}

// transmit copies a burst of posted packets of each queue into free frames
// of the kernel's TX ring, completes them (their buffers are no longer
// needed), and tells the kernel to send.
func (p *Packet) transmit() int {
	moved := 0
	for q, tx := range p.tx {
		free := 0
		for free < p.burst && p.txStatus((p.txNext+free)%p.txFrames) == unix.TP_STATUS_AVAILABLE {
			free++
		}
		if free == 0 {
			break
		}
		k := tx.NICFetch(p.txScratch[:free])
		var bytes, errs uint64
		for _, pk := range p.txScratch[:k] {
			f := p.pool.Bytes(pk)
			if len(f) > txFrameSize-txDataOff {
				errs++
				continue
			}
			slot := p.txNext * txFrameSize
			copy(p.txMem[slot+txDataOff:], f)
			u32at(p.txMem, slot+4).Store(uint32(len(f)))            // tp_len
			u32at(p.txMem, slot).Store(unix.TP_STATUS_SEND_REQUEST) // store-release: the frame is the kernel's
			p.txNext = (p.txNext + 1) % p.txFrames
			bytes += uint64(len(f))
		}
		tx.NICComplete(k)
		c := &p.cnt[q]
		if sent := uint64(k) - errs; sent != 0 {
			c.txPackets.Add(sent)
			c.txBytes.Add(bytes)
			p.txKick = true
		}
		if errs != 0 {
			c.txErrors.Add(errs)
		}
		moved += k
	}
	if p.txKick {
		_, _, errno := unix.Syscall6(unix.SYS_SENDTO, uintptr(p.txFd), 0, 0, unix.MSG_DONTWAIT, 0, 0)
		if errno == 0 || (errno != unix.EAGAIN && errno != unix.ENOBUFS) {
			p.txKick = false // sent, or refused for good (counted by the link)
		}
	}
	return moved
}

// txStatus returns the status of TX frame slot i, with the frames the
// kernel refused counted and made available again.
func (p *Packet) txStatus(i int) uint32 {
	st := u32at(p.txMem, i*txFrameSize)
	s := st.Load() // load-acquire: the kernel is done with the frame
	if s&unix.TP_STATUS_WRONG_FORMAT != 0 {
		p.cnt[0].txErrors.Add(1)
		st.Store(unix.TP_STATUS_AVAILABLE)
		return unix.TP_STATUS_AVAILABLE
	}
	return s
}

func (p *Packet) pending() bool {
	if p.txKick {
		return true
	}
	for _, tx := range p.tx {
		if tx.NICPending() > 0 {
			return true
		}
	}
	return false
}

func (p *Packet) pollFds() []int { return []int{p.rxFd} }

func (p *Packet) release() error {
	var errs []error
	if p.rxMem != nil {
		errs = append(errs, unix.Munmap(p.rxMem))
		p.rxMem = nil
	}
	if p.txMem != nil {
		errs = append(errs, unix.Munmap(p.txMem))
		p.txMem = nil
	}
	for _, fd := range []*int{&p.rxFd, &p.txFd} {
		if *fd >= 0 {
			errs = append(errs, unix.Close(*fd))
			*fd = -1
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("linuxport: TPACKET %s: release: %w", p.ifname, err)
	}
	return nil
}

// kernelStats adds the socket's drops: frames the kernel found no room
// for in the receive ring. The socket is the interface's, so they count on
// queue 0.
func (p *Packet) kernelStats(q int, s *port.QueueStats) {
	if q != 0 || p.rxFd < 0 {
		return
	}
	if st, err := unix.GetsockoptTpacketStatsV3(p.rxFd, unix.SOL_PACKET, unix.PACKET_STATISTICS); err == nil {
		p.kernelDrops.Add(uint64(st.Drops))
	}
	s.RxMissed += p.kernelDrops.Load()
}

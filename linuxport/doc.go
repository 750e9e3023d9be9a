// Package linuxport runs ringkit's port interface (port.Port) on real Linux
// interfaces, three ways:
//
//   - AF_XDP (OpenXDP): one socket per queue, the UMEM being the
//     descriptor.Pool's own buffer area, so a frame is written by the kernel
//     (or the NIC) into the buffer the pipeline reads, and a transmitted
//     buffer is read by the kernel where it lies: no copy in ringkit.
//   - TPACKET (OpenPacket): a TPACKET_V3 receive ring and a TPACKET_V2
//     transmit ring (PACKET_QDISC_BYPASS), the fallback where AF_XDP is
//     refused. It copies each frame between the kernel's ring and a pool
//     buffer, in each direction.
//   - TAP (OpenTAP): a multi-queue TAP device, one descriptor per queue; the
//     kernel's stack on the other side of it talks to the port's user.
//     Frames are read straight into posted pool buffers and written from
//     them (the kernel's copy only).
//
// # AF_XDP: the descriptor rings over the kernel's rings
//
// The UMEM is the pool's slab, registered in aligned-chunk mode: each
// buffer is one chunk of Stride bytes (2048 in the pools NewUMEMPool
// makes), and the kernel writes a frame XDP_PACKET_HEADROOM (256) bytes
// into its chunk plus the UMEM headroom, which the port sets to the pool's
// Headroom minus 256: exactly where the pool's data room begins.
// descriptor.Pool.Offset and BufAt map a buffer to its UMEM address and
// back. Each queue's rings map onto the socket's rings:
//
//	fill ring        ⇐ RxRing.NICTake: buffers the driver posted
//	RX ring          ⇒ RxRing.NICPlaceBuf: "this buffer, this length", in
//	                   the kernel's order (not necessarily the fill order)
//	TX ring          ⇐ TxRing.NICFetch: packets the driver posted
//	completion ring  ⇒ TxRing.NICCompleteBufs: the driver frees them
//
// so a buffer is always owned by exactly one of the pool, the driver, the
// descriptor ring and the kernel, and Close returns every buffer, the
// kernel's included (after its sockets are closed), to the pool. Ports
// opened on the same Pool share one UMEM (XDP_SHARED_UMEM, each socket with
// its own fill and completion ring): a packet received on one port and put
// on another's TxRing is sent from the buffer it arrived in.
//
// The sockets bind with XDP_USE_NEED_WAKEUP: the engine calls sendto (for
// the TX ring) or recvfrom (for the fill ring) only when the kernel has set
// the ring's need-wakeup flag. The XDP program is six instructions,
// bpf_redirect_map(xskmap, ctx->rx_queue_index, XDP_PASS), built with
// cilium/ebpf's asm package (no compiler needed) and attached through a
// BPF link (no bpffs), which the kernel detaches when the port closes its
// link or the process exits. ModeSKB attaches it as generic XDP and binds
// with XDP_COPY; ModeDriver attaches it natively and binds zero-copy where
// the driver can. The kernel's XDP_STATISTICS and ring counters show in
// Stats and XDPStats.
//
// # RSS
//
// A port with several kernel queues (AF_XDP sockets, TAP descriptors)
// keeps the queue the kernel chose. A TPACKET port, whose socket sees the
// whole interface, spreads frames over its queues with the same software
// RSS as nicsim (classify's Toeplitz over a redirection table). Unless
// NoOffload is set, every received packet is parsed and hashed as nicsim
// does (descriptor.FlagParsed, FlagHash), so a classifier need not parse it
// again.
//
// # Lifecycle and containment
//
// Ports follow port.Port: Step does one round of every queue on the
// caller's goroutine, Run does rounds until its context ends (an idle
// engine sleeps in ppoll on its sockets, a few hundred microseconds at a
// time while packets may be posted for transmit), Close stops it and
// releases the kernel's objects, then the rings' buffers. Every config has
// an NS field: with it, the port's sockets and device are made inside that
// network namespace (package linuxport/netns), which is how every test and
// demo of the project keeps its traffic off the machine's own interfaces.
//
// The package builds on every platform; outside Linux the Open functions
// return an error wrapping ErrUnsupported.
package linuxport

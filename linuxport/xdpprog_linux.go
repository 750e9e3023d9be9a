//go:build linux

package linuxport

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// xdpProgram is the XDP program of an AF_XDP port and its XSKMAP: every
// frame arriving on a queue that has a socket in the map is redirected to
// it; any other frame passes to the kernel's stack.
type xdpProgram struct {
	xsks *ebpf.Map
	prog *ebpf.Program
	lnk  link.Link
}

// offset of rx_queue_index in struct xdp_md: data, data_end, data_meta,
// ingress_ifindex, rx_queue_index (u32 each).
const xdpMdRxQueueIndex = 16

// newXDPProgram makes the XSKMAP of queues entries and loads the program:
//
//	r2 = ctx->rx_queue_index
//	r1 = &xsks
//	r3 = XDP_PASS                  // the action when the map has no socket there
//	r0 = bpf_redirect_map(r1, r2, r3)
//	return r0
func newXDPProgram(queues int) (*xdpProgram, error) {
	m, err := ebpf.NewMap(&ebpf.MapSpec{Name: "ringkit_xsks", Type: ebpf.XSKMap, KeySize: 4, ValueSize: 4, MaxEntries: uint32(queues)})
	if err != nil {
		return nil, fmt.Errorf("XSKMAP: %w", bpfErr(err))
	}
	insns := asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, xdpMdRxQueueIndex, asm.Word),
		asm.LoadMapPtr(asm.R1, m.FD()),
		asm.Mov.Imm(asm.R3, 2), // XDP_PASS
		asm.FnRedirectMap.Call(),
		asm.Return(),
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Name: "ringkit_xsk", Type: ebpf.XDP, Instructions: insns, License: "GPL"})
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("XDP program: %w", bpfErr(err))
	}
	return &xdpProgram{xsks: m, prog: prog}, nil
}

// bpfErr wraps the errors of the bpf syscall with the package's sentinels.
func bpfErr(err error) error {
	if errors.Is(err, ebpf.ErrNotSupported) {
		return fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	return sysErr(err)
}

// attach attaches the program to interface ifindex of the calling thread's
// namespace through a BPF link, generic or native.
func (x *xdpProgram) attach(ifindex int, native bool) error {
	flags := link.XDPGenericMode
	if native {
		flags = link.XDPDriverMode
	}
	l, err := link.AttachXDP(link.XDPOptions{Program: x.prog, Interface: ifindex, Flags: flags})
	if err != nil {
		if errors.Is(err, unix.EBUSY) || errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("%w: another XDP program is attached: %w", ErrBusy, err)
		}
		return bpfErr(err)
	}
	x.lnk = l
	return nil
}

// set puts socket fd into the map at queue q.
func (x *xdpProgram) set(q, fd int) error {
	if err := x.xsks.Put(uint32(q), uint32(fd)); err != nil {
		return fmt.Errorf("XSKMAP[%d]: %w", q, bpfErr(err))
	}
	return nil
}

// close detaches the program and frees it and its map.
func (x *xdpProgram) close() error {
	var errs []error
	if x.lnk != nil {
		errs = append(errs, x.lnk.Close())
		x.lnk = nil
	}
	errs = append(errs, x.prog.Close(), x.xsks.Close())
	return errors.Join(errs...)
}

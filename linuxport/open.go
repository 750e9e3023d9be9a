package linuxport

import (
	"errors"
	"fmt"

	"github.com/ringkit/ringkit/port"
)

// Open opens the best port the kernel allows on interface name: an AF_XDP
// port (*XDP) as cfg says, or, where the kernel or the driver refuses
// AF_XDP (an error wrapping ErrUnsupported: no AF_XDP in the kernel, no
// zero-copy where cfg.ZeroCopy asks for it, no XDP in the namespace), a
// TPACKET port (*Packet) with the same pool, queues, ring sizes, burst,
// offload, namespace and memory limit, which copies each frame. Any other error of
// OpenXDP (no such interface, a queue taken, not root) is returned as is.
func Open(name string, cfg XDPConfig) (port.Port, error) {
	x, err := OpenXDP(name, cfg)
	if err == nil {
		return x, nil
	}
	if !errors.Is(err, ErrUnsupported) {
		return nil, err
	}
	p, perr := OpenPacket(name, PacketConfig{Pool: cfg.Pool, Queues: cfg.Queues, Rx: cfg.Rx, Tx: cfg.Tx,
		Burst: cfg.Burst, NoOffload: cfg.NoOffload, NS: cfg.NS, MaxBytes: cfg.MaxBytes})
	if perr != nil {
		return nil, fmt.Errorf("%w; TPACKET fallback: %w", err, perr)
	}
	return p, nil
}

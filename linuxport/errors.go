package linuxport

import "errors"

// Errors of the Linux ports, wrapped with the interface, queue and step
// that failed; test with errors.Is. A port that fails to open leaves
// nothing behind: no program attached, no socket, no device.
var (
	// ErrUnsupported: not Linux, or a kernel without the feature (AF_XDP,
	// zero-copy on this driver, multi-queue TAP, ...).
	ErrUnsupported = errors.New("linuxport: unsupported")
	// ErrPermission: the process lacks the privilege (CAP_NET_ADMIN,
	// CAP_NET_RAW, CAP_BPF: run as root).
	ErrPermission = errors.New("linuxport: not permitted (run as root)")
	// ErrNoInterface: no interface of that name in the namespace.
	ErrNoInterface = errors.New("linuxport: no such interface")
	// ErrQueue: a queue the interface does not have.
	ErrQueue = errors.New("linuxport: queue out of range")
	// ErrMTU: the interface's frames do not fit a buffer of the pool.
	ErrMTU = errors.New("linuxport: MTU larger than a buffer")
	// ErrBusy: the interface or queue is taken (another XDP program, another
	// AF_XDP socket on the queue).
	ErrBusy = errors.New("linuxport: interface or queue busy")
	// ErrConfig: a configuration value out of range, or a pool whose
	// layout cannot serve as an AF_XDP UMEM.
	ErrConfig = errors.New("linuxport: bad configuration")
)

package netns

import "errors"

// Errors of the package, wrapped with what was being done; test with
// errors.Is.
var (
	// ErrUnsupported: not on Linux, or a kernel without network
	// namespaces or veth.
	ErrUnsupported = errors.New("netns: unsupported on this system")
	// ErrPermission: the process may not make namespaces or links (it
	// needs CAP_SYS_ADMIN and CAP_NET_ADMIN: run as root).
	ErrPermission = errors.New("netns: not permitted (run as root)")
	// ErrClosed: the NS was closed.
	ErrClosed = errors.New("netns: closed")
)

package tcpip

import "errors"

// Sentinel errors. Functions wrap them with the connection, session or
// frame they concern; test them with errors.Is.
var (
	// ErrBadSegment: a TCP/IPv4 frame whose checksum or header does not hold.
	ErrBadSegment = errors.New("tcpip: bad TCP segment")
	// ErrReset: the peer reset the connection.
	ErrReset = errors.New("tcpip: connection reset")
	// ErrTimeout: the peer stopped answering retransmissions or keepalive
	// probes; the connection is lost.
	ErrTimeout = errors.New("tcpip: connection timed out")
	// ErrHostUnreachable: the MAC of the peer (or of the gateway to it)
	// did not resolve: no answer to NeighborConfig.MulticastProbes ARP
	// requests, as Linux's EHOSTUNREACH.
	ErrHostUnreachable = errors.New("tcpip: host unreachable")
	// ErrNoRoute: an address outside every subnet of the stack, which has
	// no gateway.
	ErrNoRoute = errors.New("tcpip: no route to the address")
	// ErrConnState: an operation the connection's TCP state does not allow.
	ErrConnState = errors.New("tcpip: operation not allowed in this TCP state")
	// ErrConfig: a constructor or method argument out of range.
	ErrConfig = errors.New("tcpip: bad configuration")
	// ErrInvalidSession: a session's fields hold what no TCP stack could
	// (a state out of range, snd_nxt before snd_una, a window scale above 14).
	ErrInvalidSession = errors.New("tcpip: invalid session")
)

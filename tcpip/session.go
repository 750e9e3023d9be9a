package tcpip

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/ringkit/ringkit/internal/seqnum"
)

// TCPState is the state of a connection in the TCP state machine of
// RFC 793 (figure 6), numbered in the order of that diagram so that the
// zero value is Closed. (Linux numbers them differently; these values are
// this package's encoding, not the kernel's.)
type TCPState uint8

const (
	Closed      TCPState = iota // no connection
	Listen                      // waiting for a SYN
	SynSent                     // our SYN is out, waiting for SYN-ACK
	SynReceived                 // SYN received, our SYN-ACK is out
	Established                 // data flows both ways
	FinWait1                    // we closed, our FIN is not yet acknowledged
	FinWait2                    // our FIN is acknowledged, waiting for the peer's
	CloseWait                   // the peer closed, we may still send
	Closing                     // both closed at once, waiting for the ACK of our FIN
	LastAck                     // the peer closed, then we did; waiting for the last ACK
	TimeWait                    // both closed; waiting 2*MSL before forgetting
	numTCPStates
)

var tcpStateNames = [numTCPStates]string{
	"CLOSED", "LISTEN", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED",
	"FIN_WAIT1", "FIN_WAIT2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT",
}

func (s TCPState) String() string {
	if s < numTCPStates {
		return tcpStateNames[s]
	}
	return fmt.Sprintf("TCPState(%d)", uint8(s))
}

// Valid reports whether s is one of the states above.
func (s TCPState) Valid() bool { return s < numTCPStates }

// FiveTuple names a session as the peer and the NIC see it. Addresses carry
// no IPv6 zone: a zone is local to one host and means nothing on another.
type FiveTuple struct {
	Proto uint8 // IP protocol number (6 for TCP)
	Src   netip.AddrPort
	Dst   netip.AddrPort
}

// MaxWindowScale is the largest window scale shift RFC 7323 allows.
const MaxWindowScale = 14

// MaxQueue bounds a session's RecvQueue and SendQueue: the largest
// receive buffer a stack takes, and the most a decoder of an encoded
// session accepts, so that a corrupt length cannot make it allocate
// gigabytes.
const MaxQueue = 64 << 20

// Timestamps is the RFC 7323 timestamp option state of a session.
//
// TSval is taken from a local clock that differs from host to host, so a
// session carries an Offset added to the clock: after a move, Rebase picks
// the Offset that makes the next TSval follow the last one sent, so the peer's
// PAWS check (RFC 7323 section 5) never sees time go backwards.
type Timestamps struct {
	Enabled  bool
	Offset   uint32 // added to the local clock tick to make TSval
	LastSent uint32 // last TSval we sent
	Recent   uint32 // TS.Recent: the peer's last TSval, echoed as TSecr
}

// TSval is the timestamp to send at local clock tick now.
func (t *Timestamps) TSval(now uint32) uint32 { return now + t.Offset }

// Rebase sets Offset so that the TSval sent at local clock tick now is one
// more than LastSent, whatever the local clock reads, and returns it.
func (t *Timestamps) Rebase(now uint32) uint32 {
	t.Offset = t.LastSent + 1 - now
	return t.TSval(now)
}

// Timers holds the keepalive and retransmission timers of a session as
// durations relative to one instant (the clock reading at which the state
// was captured), never as wall-clock times: the destination host's clock is
// not the source's. Deadlines turns them back into times on a local clock.
type Timers struct {
	KeepaliveIdle     time.Duration // idle time before the first probe
	KeepaliveInterval time.Duration // between probes
	KeepaliveProbes   uint8         // unanswered probes before the session is dropped
	KeepaliveIn       time.Duration // until the next probe is due; 0 when not armed
	RTO               time.Duration // current retransmission timeout
	RetransmitIn      time.Duration // until the retransmit timer fires; 0 when not armed
}

// Deadlines returns the instants at which the keepalive and the retransmit
// timers fire, counted from now; a zero Time for a timer that is not armed.
func (t Timers) Deadlines(now time.Time) (keepalive, retransmit time.Time) {
	if t.KeepaliveIn > 0 {
		keepalive = now.Add(t.KeepaliveIn)
	}
	if t.RetransmitIn > 0 {
		retransmit = now.Add(t.RetransmitIn)
	}
	return keepalive, retransmit
}

// Crypto is the state of a record-protocol layer (TLS, a QUIC-like
// transport) above the session: which key generation is in use and the
// record sequence numbers that feed the AEAD nonces. Keys themselves never
// travel in a Session.
type Crypto struct {
	KeyEpoch uint32 // key generation (TLS 1.3 KeyUpdate count)
	TxSeq    uint64 // next record sequence number we send
	RxSeq    uint64 // next record sequence number we expect
}

// Session is the state of one network session as a TCP stack carries it,
// the fields CRIU's tcp_stream_entry saves through TCP_REPAIR plus the timers
// and the migration epoch.
//
// The send side holds the bytes sent and not yet acknowledged: SendQueue
// starts at sequence number SndUna, and SndNxt is past its end (SYN and FIN
// each take one sequence number without a byte, so SndNxt-SndUna is
// len(SendQueue), plus one for each of them in flight). The receive side
// holds the bytes received in order and not yet read by the application:
// RecvQueue ends at RcvNxt.
type Session struct {
	ID    uint64
	Tuple FiveTuple
	State TCPState

	SndUna uint32 // oldest unacknowledged sequence number
	SndNxt uint32 // next sequence number to send
	RcvNxt uint32 // next sequence number expected from the peer

	SndWnd    uint32 // peer's receive window in bytes (scaled)
	RcvWnd    uint32 // window we advertise in bytes (scaled)
	SndWScale uint8  // shift applied to the peer's window field
	RcvWScale uint8  // shift the peer applies to our window field
	MSS       uint16 // maximum segment size for the path

	TS     Timestamps
	Timers Timers

	RecvQueue []byte // received in order, unread by the application
	SendQueue []byte // sent, unacknowledged; starts at SndUna

	Crypto *Crypto // nil when the session carries no record protocol

	Epoch uint32 // migration epoch that last owned this session
}

// Clone returns a deep copy of s.
func (s *Session) Clone() *Session {
	c := *s
	c.RecvQueue = append([]byte(nil), s.RecvQueue...)
	c.SendQueue = append([]byte(nil), s.SendQueue...)
	if s.Crypto != nil {
		cr := *s.Crypto
		c.Crypto = &cr
	}
	return &c
}

// inFlight is the sequence space between SndUna and SndNxt.
func (s *Session) inFlight() int64 { return int64(seqnum.Diff(s.SndUna, s.SndNxt)) }

// Validate reports the first field of s that no TCP stack could hold.
func (s *Session) Validate() error {
	switch {
	case !s.State.Valid():
		return fmt.Errorf("session %d: state %d: %w", s.ID, s.State, ErrInvalidSession)
	case s.SndWScale > MaxWindowScale || s.RcvWScale > MaxWindowScale:
		return fmt.Errorf("session %d: window scale %d/%d above %d: %w",
			s.ID, s.SndWScale, s.RcvWScale, MaxWindowScale, ErrInvalidSession)
	case s.inFlight() < 0:
		return fmt.Errorf("session %d: snd_nxt %d before snd_una %d: %w", s.ID, s.SndNxt, s.SndUna, ErrInvalidSession)
	}
	if extra := s.inFlight() - int64(len(s.SendQueue)); extra < 0 || extra > 2 {
		return fmt.Errorf("session %d: %d unacknowledged bytes but snd_nxt-snd_una is %d: %w",
			s.ID, len(s.SendQueue), s.inFlight(), ErrInvalidSession)
	}
	t := s.Timers
	if t.KeepaliveIdle < 0 || t.KeepaliveInterval < 0 || t.KeepaliveIn < 0 || t.RTO < 0 || t.RetransmitIn < 0 {
		return fmt.Errorf("session %d: negative timer: %w", s.ID, ErrInvalidSession)
	}
	for _, ap := range [2]netip.AddrPort{s.Tuple.Src, s.Tuple.Dst} {
		if ap.Addr().Zone() != "" {
			return fmt.Errorf("session %d: address %v has a zone: %w", s.ID, ap, ErrInvalidSession)
		}
	}
	return nil
}

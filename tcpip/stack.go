package tcpip

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"time"

	eth "github.com/ringkit/ringkit/frame"
)

// StackConfig describes a TCP endpoint. The zero value of each field but
// Clock selects its default.
type StackConfig struct {
	// Clock is the time source of every timer and of the timestamp option
	// (RealClock{} when nil).
	Clock Clock
	// MAC is the stack's Ethernet address: the source of every frame it
	// sends, the one its ARP replies give, the destination of the frames
	// it takes (besides broadcasts). The zero MAC takes a random locally
	// administered one, as a Linux interface without an address of its
	// own does (eth_random_addr).
	MAC [6]byte
	// Addrs are the stack's IPv4 addresses with their subnets
	// (10.0.0.10/24). The stack answers ARP requests for them and
	// connects only from them; a destination inside one of the subnets is
	// on the link (its own MAC is resolved), one outside is reached
	// through Gateway. A stack without addresses answers no ARP and takes
	// every destination to be on the link.
	Addrs []netip.Prefix
	// Gateway is the next hop to destinations outside every subnet of
	// Addrs; without one they are unreachable (ErrNoRoute).
	Gateway netip.Addr
	// Neighbor tunes the neighbour cache (ARP); zero fields take Linux's
	// defaults.
	Neighbor NeighborConfig
	// MSS is the largest payload of a segment this side sends and announces
	// (1460).
	MSS uint16
	// WindowScale is the shift announced in the SYN's window scale option
	// (7: windows up to 8 MiB).
	WindowScale uint8
	// RecvBuffer is how many received bytes the application may leave
	// unread before the advertised window closes (256 KiB).
	RecvBuffer int
	// NoTimestamps turns the RFC 7323 timestamp option off.
	NoTimestamps bool
	// OutOfOrder is how many stretches of the peer's stream beyond a gap
	// a connection holds until the gap fills (64): the segments a lost
	// one leaves behind it are then not sent again. The bytes held are
	// within the window advertised. Negative: none, every segment beyond
	// rcv_nxt is dropped.
	OutOfOrder int
	// RTO is the initial retransmission timeout (200 ms); each expiry
	// doubles it up to MaxRTO (2 s).
	RTO, MaxRTO time.Duration
	// TimeWait is how long a connection stays in TIME_WAIT, answering a
	// FIN its peer sends again, before it is closed and its address pair
	// may be used again (60 s, Linux's TCP_TIMEWAIT_LEN; RFC 9293's 2×MSL).
	// A FIN received again restarts it; a connection imported in
	// TIME_WAIT waits it whole again.
	TimeWait time.Duration
	// MaxFlight caps the bytes in flight on a connection (64 KiB), a
	// congestion window without its estimation: after a timeout the flight
	// restarts at two segments and grows by one per acknowledgement, so a
	// stack never floods a NIC ring with a whole receive window.
	MaxFlight int
	// MaxRetries is how many retransmission or window-probe timeouts in a
	// row, each without a single segment from the peer since the previous
	// one, declare the connection lost (8).
	MaxRetries int
	// Keepalive probes an idle connection after KeepaliveIdle, then every
	// KeepaliveInterval, and declares it lost after KeepaliveProbes probes
	// without an answer. KeepaliveProbes 0 turns keepalive off.
	KeepaliveIdle, KeepaliveInterval time.Duration
	KeepaliveProbes                  int
	// ISN picks the initial sequence number of a connection (a seeded
	// random number when nil).
	ISN func(local, remote netip.AddrPort) uint32
	// Seed seeds the random initial sequence numbers and timestamp offsets.
	Seed uint64
	// TimestampOrigin is the instant the timestamp clock counts its 1 ms
	// ticks from (the clock's reading at NewStack when zero). Two stacks
	// with one origin send one sequence of TSvals: a stack standing in for
	// another takes its origin.
	TimestampOrigin time.Time
	// WriteAhead, when set, is told of every change to a connection before
	// the change is made and before a segment reveals it, and inbound
	// payload is accepted only as far as it has room (see WriteAhead).
	WriteAhead WriteAhead
	// StandIn makes the stack answer for the connections of an application
	// that is suspended (the sessions of a VM being migrated): it accepts
	// no connection and resets no unknown segment (either may be for the
	// application, which is not here to say), runs no timer (the
	// application's are frozen with it), so sends no data, retransmission
	// or probe of its own, and keeps no received payload: the WriteAhead
	// log holds it, though it fills the receive buffer all the same. A
	// stand-in needs a WriteAhead.
	StandIn bool
}

// Validate reports the first field of c out of range, as NewStack does.
func (c StackConfig) Validate() error {
	_, err := c.withDefaults()
	return err
}

func (c StackConfig) withDefaults() (StackConfig, error) {
	if c.Clock == nil {
		c.Clock = RealClock{}
	}
	if c.MAC == [6]byte{} {
		var r [8]byte
		binary.BigEndian.PutUint64(r[:], rand.Uint64()) // a global source: two stacks of one Seed still differ
		copy(c.MAC[:], r[:])
		c.MAC[0] = c.MAC[0]&^1 | 2 // unicast, locally administered
	}
	c.Addrs = slices.Clone(c.Addrs)
	var err error
	if c.Neighbor, err = c.Neighbor.withDefaults(); err != nil {
		return c, err
	}
	for _, p := range c.Addrs {
		if !p.Addr().Is4() || p.Bits() < 0 || p.Addr().IsUnspecified() {
			return c, fmt.Errorf("tcpip: address %v: an IPv4 address with its prefix length: %w", p, ErrConfig)
		}
	}
	if c.TimestampOrigin.IsZero() {
		c.TimestampOrigin = c.Clock.Now()
	}
	if c.MSS == 0 {
		c.MSS = 1460
	}
	if c.WindowScale == 0 {
		c.WindowScale = 7
	}
	if c.RecvBuffer == 0 {
		c.RecvBuffer = 256 << 10
	}
	if c.RTO == 0 {
		c.RTO = 200 * time.Millisecond
	}
	if c.MaxRTO == 0 {
		c.MaxRTO = 2 * time.Second
	}
	if c.TimeWait == 0 {
		c.TimeWait = 60 * time.Second
	}
	if c.MaxFlight == 0 {
		c.MaxFlight = 64 << 10
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = 8
	}
	switch {
	case c.OutOfOrder == 0:
		c.OutOfOrder = 64
	case c.OutOfOrder < 0:
		c.OutOfOrder = 0
	}
	switch {
	case c.MSS < 64 || c.MSS > 9000:
		return c, fmt.Errorf("tcpip: MSS %d outside [64, 9000]: %w", c.MSS, ErrConfig)
	case c.WindowScale > MaxWindowScale:
		return c, fmt.Errorf("tcpip: window scale %d above %d: %w", c.WindowScale, MaxWindowScale, ErrConfig)
	case c.RecvBuffer < int(c.MSS) || c.RecvBuffer > MaxQueue:
		return c, fmt.Errorf("tcpip: receive buffer %d outside [MSS, MaxQueue]: %w", c.RecvBuffer, ErrConfig)
	case c.MaxFlight < int(c.MSS):
		return c, fmt.Errorf("tcpip: MaxFlight %d below the MSS: %w", c.MaxFlight, ErrConfig)
	case c.RTO < 0 || c.MaxRTO < c.RTO || c.MaxRetries < 0:
		return c, fmt.Errorf("tcpip: RTO %v, max %v, retries %d: %w", c.RTO, c.MaxRTO, c.MaxRetries, ErrConfig)
	case c.TimeWait < 0:
		return c, fmt.Errorf("tcpip: TimeWait %v: want a positive duration (0: 60s): %w", c.TimeWait, ErrConfig)
	case !unicastMAC(c.MAC):
		return c, fmt.Errorf("tcpip: MAC %x is not a unicast address: %w", c.MAC, ErrConfig)
	case c.Gateway.IsValid() && (!c.Gateway.Is4() || len(c.Addrs) == 0):
		return c, fmt.Errorf("tcpip: gateway %v: an IPv4 address, with addresses on its subnet: %w", c.Gateway, ErrConfig)
	case c.StandIn && c.WriteAhead == nil:
		return c, fmt.Errorf("tcpip: a stand-in stack without a WriteAhead: %w", ErrConfig)
	case c.KeepaliveProbes < 0 || c.KeepaliveProbes > 255 ||
		c.KeepaliveProbes > 0 && (c.KeepaliveIdle <= 0 || c.KeepaliveInterval <= 0):
		return c, fmt.Errorf("tcpip: keepalive idle %v interval %v probes %d: %w",
			c.KeepaliveIdle, c.KeepaliveInterval, c.KeepaliveProbes, ErrConfig)
	}
	return c, nil
}

// StackStats counts what a stack did, summed over its connections.
type StackStats struct {
	SegmentsIn, SegmentsOut uint64
	BadSegments             uint64 // checksum or header errors
	NotForUs                uint64 // frames to another MAC, dropped
	ARPIn, ARPOut           uint64 // ARP packets taken and sent (requests, replies, announcements)
	ARPErrors               uint64 // malformed ARP packets
	// Unresolved counts frames dropped for want of their next hop's MAC:
	// its resolution failed, too many frames waited for it, or the
	// neighbour cache was full.
	Unresolved         uint64
	NoRoute            uint64 // frames to an address outside every subnet, with no gateway, dropped
	Unknown            uint64 // segments for no connection (answered with RST unless a stand-in)
	ResetsSent         uint64
	Retransmits        uint64 // segments sent again after a timeout
	KeepalivesSent     uint64
	KeepalivesAnswered uint64 // peer keepalive probes acknowledged
	WindowProbes       uint64 // zero-window probes sent
	ZeroWindows        uint64 // acknowledgements sent advertising a zero window
	Duplicates         uint64 // segments (or parts) received again and dropped
	OutOfOrder         uint64 // segments beyond rcv_nxt, held in the out-of-order queue until the gap before them fills
	OutOfOrderDropped  uint64 // segments (or parts) beyond rcv_nxt not held: beyond the window, or the queue full
	PAWSDropped        uint64 // segments whose TSval went backwards (RFC 7323 PAWS)
	Refused            uint64 // inbound bytes not accepted: the window or the WriteAhead log was full
	LogRefused         uint64 // changes the WriteAhead log refused, left unmade
}

// String says what the stack did in a few clauses, the zeros left out
// past the segment counts.
func (s StackStats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d segments in, %d out", s.SegmentsIn, s.SegmentsOut)
	for _, c := range []struct {
		n    uint64
		what string
	}{
		{s.BadSegments, "bad segments"}, {s.NotForUs, "frames for another MAC"}, {s.ARPIn, "ARP in"},
		{s.ARPOut, "ARP out"}, {s.ARPErrors, "malformed ARP"}, {s.Unresolved, "frames dropped unresolved"},
		{s.NoRoute, "frames with no route"}, {s.Unknown, "segments for no connection"}, {s.ResetsSent, "resets sent"},
		{s.Retransmits, "retransmissions"}, {s.KeepalivesSent, "keepalives sent"},
		{s.KeepalivesAnswered, "keepalives answered"}, {s.WindowProbes, "window probes"},
		{s.ZeroWindows, "zero windows advertised"}, {s.Duplicates, "duplicates dropped"},
		{s.OutOfOrder, "out of order held"}, {s.OutOfOrderDropped, "out of order dropped"},
		{s.PAWSDropped, "PAWS drops"}, {s.Refused, "inbound bytes refused"},
		{s.LogRefused, "changes the log refused"},
	} {
		if c.n != 0 {
			fmt.Fprintf(&b, ", %d %s", c.n, c.what)
		}
	}
	return b.String()
}

type connKey struct{ local, remote netip.AddrPort }

// Stack is a small TCP endpoint over Ethernet/IPv4 frames: many
// connections, the three-way handshake both ways, in-order delivery (a
// segment beyond rcv_nxt is held until the gap before it fills), go-back-N
// retransmission with exponential backoff, zero-window probes, keepalive,
// and the MSS, window scale and timestamp options. Sequence numbers are
// compared modulo 2^32 everywhere. It answers ARP for its addresses and
// sends every frame to its next hop's MAC from a neighbour cache (see the
// package documentation).
//
// It is driven from outside: Input with each frame received, Tick as time
// passes; it sends frames through the function given to NewStack. A
// connection's state is a Session, so that Export and Import move the
// stack's connections to another host as they are, and Neighbors and
// ImportNeighbors its neighbour cache.
//
// A Stack and its Conns belong to one goroutine at a time.
type Stack struct {
	cfg   StackConfig
	log   WriteAhead // cfg.WriteAhead, or noLog
	out   func(frame []byte)
	conns map[connKey]*Conn
	byID  map[uint64]*Conn
	order []*Conn // in creation order, for Tick
	// listen holds the local addresses accepting connections, and the
	// function told of each.
	listen map[netip.AddrPort]func(*Conn)
	nextID uint64
	rng    *rand.Rand
	stats  StackStats
	nbr    neighbors
	ann    announcer

	seg    segment
	buf    []byte
	optBuf [40]byte
	spec   eth.Spec
	// ARP and RARP frames are built apart from buf, which may hold the
	// frame a request resolves.
	arpPkt  []byte
	arpSpec eth.Spec
	arpBuf  []byte
}

// NewStack returns a stack that sends its frames with out. out must not
// keep the slice it is given.
func NewStack(cfg StackConfig, out func(frame []byte)) (*Stack, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if out == nil {
		return nil, fmt.Errorf("tcpip: stack without an output: %w", ErrConfig)
	}
	var log WriteAhead = noLog{}
	if cfg.WriteAhead != nil {
		log = cfg.WriteAhead
	}
	st := &Stack{
		cfg: cfg, log: log, out: out,
		conns:  make(map[connKey]*Conn),
		byID:   make(map[uint64]*Conn),
		listen: make(map[netip.AddrPort]func(*Conn)),
		nextID: 1,
		rng:    rand.New(rand.NewPCG(cfg.Seed, 0x6d696772617465)),
		buf:    make([]byte, 0, 64+int(cfg.MSS)+60),
		nbr:    neighbors{byAddr: make(map[netip.Addr]*neighbor)},
		arpBuf: make([]byte, 0, 60),
	}
	base := cfg.Neighbor.ReachableTime
	st.nbr.reachable = base/2 + time.Duration(st.rng.Int64N(int64(base)+1))
	return st, nil
}

// Stats returns the stack's counters.
func (st *Stack) Stats() StackStats { return st.stats }

// Config returns the stack's configuration with its defaults filled in.
func (st *Stack) Config() StackConfig {
	c := st.cfg
	c.Addrs = slices.Clone(c.Addrs)
	return c
}

// TSClock is the timestamp clock's reading: milliseconds since
// TimestampOrigin, modulo 2^32. A session's TSval is this plus its offset
// (Timestamps.TSval).
func (st *Stack) TSClock() uint32 {
	return uint32(st.cfg.Clock.Now().Sub(st.cfg.TimestampOrigin) / time.Millisecond)
}

func (st *Stack) isn(local, remote netip.AddrPort) uint32 {
	if st.cfg.ISN != nil {
		return st.cfg.ISN(local, remote)
	}
	return st.rng.Uint32()
}

// Listen makes the stack accept connections to local, telling accept of
// each once it is established.
func (st *Stack) Listen(local netip.AddrPort, accept func(*Conn)) error {
	if !local.Addr().Is4() {
		return fmt.Errorf("tcpip: listen on %v: only IPv4: %w", local, ErrConfig)
	}
	if len(st.cfg.Addrs) > 0 && !st.hasAddr(local.Addr()) {
		return fmt.Errorf("tcpip: listen on %v: not an address of the stack: %w", local, ErrConfig)
	}
	st.listen[local] = accept
	return nil
}

// Dial opens a connection from local to remote: it sends the SYN
// (resolving remote's MAC, or the gateway's, first) and returns the
// connection in SYN_SENT. A remote address no subnet and no gateway
// reaches is ErrNoRoute; one whose MAC does not resolve fails the
// connection with ErrHostUnreachable (Conn.Err) after
// NeighborConfig.MulticastProbes requests.
func (st *Stack) Dial(local, remote netip.AddrPort) (*Conn, error) {
	if !local.Addr().Is4() || !remote.Addr().Is4() {
		return nil, fmt.Errorf("tcpip: dial %v -> %v: only IPv4: %w", local, remote, ErrConfig)
	}
	if len(st.cfg.Addrs) > 0 && !st.hasAddr(local.Addr()) {
		return nil, fmt.Errorf("tcpip: dial from %v: not an address of the stack: %w", local, ErrConfig)
	}
	if _, ok := st.nextHop(remote.Addr()); !ok {
		return nil, fmt.Errorf("tcpip: dial %v: outside every subnet and no gateway: %w", remote, ErrNoRoute)
	}
	k := connKey{local, remote}
	if old, dup := st.conns[k]; dup && old.Live() {
		return nil, fmt.Errorf("tcpip: dial %v -> %v: connection exists (%v): %w", local, remote, old.s.State, ErrConnState)
	}
	c := st.newConn(k, SynSent)
	iss := st.isn(local, remote)
	c.s.SndUna, c.s.SndNxt = iss, iss+1
	c.send(eth.TCPSyn, iss, nil)
	c.armRTO()
	return c, nil
}

func (st *Stack) newConn(k connKey, state TCPState) *Conn {
	now := st.cfg.Clock.Now()
	c := &Conn{st: st, rto: st.cfg.RTO, lastRecv: now, lastFire: now, cwnd: st.cfg.MaxFlight}
	c.s = Session{
		ID:        st.nextID,
		Tuple:     FiveTuple{Proto: eth.ProtoTCP, Src: k.local, Dst: k.remote},
		State:     state,
		MSS:       st.cfg.MSS,
		RcvWScale: st.cfg.WindowScale,
		SndWnd:    uint32(st.cfg.MSS),
		RcvWnd:    uint32(st.cfg.RecvBuffer),
	}
	if !st.cfg.NoTimestamps {
		c.s.TS = Timestamps{Enabled: true, Offset: st.rng.Uint32()}
		c.s.TS.LastSent = c.s.TS.TSval(st.TSClock()) - 1 // as if one had been sent just before
	}
	c.logTS, c.logWnd = c.s.TS, [2]uint32{c.s.SndWnd, c.s.RcvWnd}
	st.nextID++
	st.add(c)
	return c
}

func (st *Stack) add(c *Conn) {
	st.conns[connKey{c.s.Tuple.Src, c.s.Tuple.Dst}] = c
	st.byID[c.s.ID] = c
	st.order = append(st.order, c)
}

// Conn returns the connection with the given session id, nil if there is
// none.
func (st *Stack) Conn(id uint64) *Conn { return st.byID[id] }

// Conns returns the connections in the order they were made (or
// imported), closed ones included.
func (st *Stack) Conns() []*Conn { return st.order }

// Input processes one received frame: ARP, or TCP over IPv4. A frame to
// another MAC (or, for a stack with addresses, another IP address) is
// counted and dropped, a damaged one too; one of another protocol is
// ignored.
func (st *Stack) Input(b []byte) {
	if len(b) < 14 {
		st.stats.BadSegments++
		return
	}
	if dst := [6]byte(b[0:6]); dst != st.cfg.MAC && dst != broadcastMAC {
		st.stats.NotForUs++
		return
	}
	if etherType(b) == eth.EtherTypeARP {
		st.inputARP(b)
		return
	}
	seg := &st.seg
	ok, err := parseSegment(b, seg)
	if err != nil {
		st.stats.BadSegments++
		return
	}
	if !ok {
		return
	}
	if len(st.cfg.Addrs) > 0 && !st.hasAddr(seg.dst.Addr()) {
		st.stats.NotForUs++
		return
	}
	st.stats.SegmentsIn++
	if c := st.conns[connKey{seg.dst, seg.src}]; c != nil && (c.Live() || seg.flags&(eth.TCPSyn|eth.TCPAck|eth.TCPRst) != eth.TCPSyn) {
		c.input(seg)
		return
	}
	// A SYN for an address pair whose connection has ended (closed, reset,
	// timed out, or out of TIME_WAIT) opens a new one; the old one stays
	// in Conns for its application to read to the end.
	if st.cfg.StandIn {
		st.stats.Unknown++
		return
	}
	if accept, ok := st.listen[seg.dst]; ok && seg.flags&(eth.TCPSyn|eth.TCPAck|eth.TCPRst) == eth.TCPSyn {
		st.accept(seg, accept)
		return
	}
	st.stats.Unknown++
	if seg.has(eth.TCPRst) {
		return
	}
	// RFC 9293 section 3.10.7.1: a segment for no connection gets a reset.
	if seg.has(eth.TCPAck) {
		st.reset(seg.dst, seg.src, seg.ack, 0, false)
	} else {
		st.reset(seg.dst, seg.src, 0, seg.seq+seg.seqLen(), true)
	}
}

func (st *Stack) accept(seg *segment, accept func(*Conn)) {
	c := st.newConn(connKey{seg.dst, seg.src}, SynReceived)
	c.accept = accept
	c.synOptions(seg)
	iss := st.isn(seg.dst, seg.src)
	c.s.SndUna, c.s.SndNxt = iss, iss+1
	c.s.RcvNxt = seg.seq + 1
	c.send(eth.TCPSyn|eth.TCPAck, iss, nil)
	c.armRTO()
}

func (st *Stack) reset(local, remote netip.AddrPort, seq, ack uint32, withAck bool) {
	flags := eth.TCPRst
	if withAck {
		flags |= eth.TCPAck
	}
	st.spec = eth.Spec{
		SrcMAC: st.cfg.MAC,
		Src:    local.Addr(), Dst: remote.Addr(), Proto: eth.ProtoTCP,
		SrcPort: local.Port(), DstPort: remote.Port(), Seq: seq, Ack: ack, TCPFlags: flags,
	}
	st.buf = eth.Build(st.buf[:0], &st.spec)
	patchWindow(st.buf, 0)
	st.stats.ResetsSent++
	st.stats.SegmentsOut++
	st.transmit(st.buf, local.Addr(), remote.Addr())
}

// Tick runs the timers due at the clock's reading: the neighbour cache's
// and the announcements', then the connections' (retransmissions, window
// probes and keepalive probes, and the connections they declare lost). A
// stand-in runs no connection timer: the application's are frozen with it.
func (st *Stack) Tick() {
	now := st.cfg.Clock.Now()
	st.tickNeighbors(now)
	st.tickAnnounce(now)
	if st.cfg.StandIn {
		return
	}
	for _, c := range st.order {
		c.tick(now)
	}
}

// Export returns a copy of every live connection's state (those not
// closed or lost), with its timers as durations from the clock's reading.
func (st *Stack) Export() []*Session {
	now := st.cfg.Clock.Now()
	out := make([]*Session, 0, len(st.order))
	for _, c := range st.order {
		if c.Live() {
			out = append(out, c.export(now))
		}
	}
	return out
}

// Import replaces the stack's connections with the given sessions,
// re-arming their timers from the clock's reading. A session in CLOSED is
// taken as one that ended cleanly: its application reads what it received,
// then io.EOF. A retransmission timer
// is armed only where it has something to time (a SYN, bytes or a FIN in
// flight, a zero window to probe): a session whose timers were taken
// before its last changes (a replayed journal moved it on) may carry one
// that no longer applies, and a probe from a connection in TIME_WAIT would
// draw a reset from a peer that has forgotten it. Sessions in SYN_RECEIVED
// are told to accept of the listener of their local address when they
// become established, if there is one. The stack takes the sessions as
// they are, queues included: the caller must not use them afterwards
// (Export's copies, a restored table the caller drops).
func (st *Stack) Import(sessions []*Session) error {
	for _, s := range sessions {
		if err := s.Validate(); err != nil {
			return err
		}
		if !s.Tuple.Src.Addr().Is4() || !s.Tuple.Dst.Addr().Is4() {
			return fmt.Errorf("tcpip: import session %d: only IPv4: %w", s.ID, ErrConfig)
		}
	}
	clear(st.conns)
	clear(st.byID)
	st.order = st.order[:0]
	now := st.cfg.Clock.Now()
	for _, s := range sessions {
		c := &Conn{st: st, s: *s, lastRecv: now, lastFire: now, cwnd: 2 * int(s.MSS)}
		c.rto = s.Timers.RTO
		if c.rto <= 0 {
			c.rto = st.cfg.RTO
		}
		if s.Timers.RetransmitIn > 0 && c.timerDue() {
			c.rtoAt = now.Add(s.Timers.RetransmitIn)
		}
		if s.Timers.KeepaliveIn > 0 {
			c.kaAt = now.Add(s.Timers.KeepaliveIn)
		}
		if s.State == TimeWait {
			c.twAt = now.Add(st.cfg.TimeWait)
		}
		c.logTS = c.s.TS
		c.logWnd = [2]uint32{c.s.SndWnd, c.s.RcvWnd}
		// A session in CLOSED ended cleanly, both FINs exchanged (a reset
		// or a timeout leaves no session to move): what it received is
		// read to its end.
		c.done = s.State == Closed
		if s.State == SynReceived {
			c.accept = st.listen[s.Tuple.Src]
		}
		st.add(c)
		st.nextID = max(st.nextID, s.ID+1)
	}
	return nil
}

// AckAll sends, for each connection that is synchronized, an
// acknowledgement carrying its current window: after a move it tells every
// peer at once that the connection lives on, and reopens windows a
// stand-in closed. A connection in TIME_WAIT gets none: both FINs are
// acknowledged, and its peer, if it closed second, has forgotten it and
// would answer with a reset.
func (st *Stack) AckAll() {
	for _, c := range st.order {
		switch {
		case !c.Live(), c.s.State == SynSent, c.s.State == SynReceived, c.s.State == TimeWait:
		default:
			c.sendAck()
		}
	}
}

var broadcastMAC = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// patchWindow writes w into the TCP window field of a frame built without
// VLAN tags and IP options, adjusting the checksum incrementally (RFC 1624):
// the frame builder reads a window of 0 as "the default", so a zero window
// is written here.
func patchWindow(b []byte, w uint16) {
	const off = 14 + 20 // Ethernet, IPv4 without options
	old := uint16(b[off+14])<<8 | uint16(b[off+15])
	if old == w {
		return
	}
	sum := uint16(b[off+16])<<8 | uint16(b[off+17])
	acc := uint32(^sum) + uint32(^old) + uint32(w)
	sum = ^eth.Fold(acc)
	b[off+14], b[off+15] = byte(w>>8), byte(w)
	b[off+16], b[off+17] = byte(sum>>8), byte(sum)
}

package tcpip

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	eth "github.com/ringkit/ringkit/frame"
)

// NeighborState is the state of a neighbour cache entry: the states of
// RFC 4861 section 7.3.2, which Linux runs for ARP too, named as `ip neigh`
// prints them.
type NeighborState uint8

const (
	// NeighborIncomplete: resolving; broadcast requests are out, frames
	// to the neighbour wait (up to NeighborConfig.QueueLen of them).
	NeighborIncomplete NeighborState = iota + 1
	// NeighborReachable: the MAC was confirmed within the reachable time,
	// by a reply or by a connection's forward progress.
	NeighborReachable
	// NeighborStale: the MAC is known but not confirmed lately; frames use
	// it, and the first one starts a check (NeighborDelay).
	NeighborStale
	// NeighborDelay: used while stale; a confirmation within
	// DelayFirstProbe makes it reachable, else probing starts.
	NeighborDelay
	// NeighborProbe: unicast requests go to the cached MAC, which frames
	// still use, until a reply or UnicastProbes unanswered.
	NeighborProbe
	// NeighborFailed: resolution failed; the next frame to the neighbour
	// starts it again.
	NeighborFailed
	numNeighborStates
)

var neighborStateNames = [numNeighborStates]string{"NONE", "INCOMPLETE", "REACHABLE", "STALE", "DELAY", "PROBE", "FAILED"}

func (s NeighborState) String() string {
	if s < numNeighborStates {
		return neighborStateNames[s]
	}
	return fmt.Sprintf("NeighborState(%d)", uint8(s))
}

// hasMAC reports whether an entry in state s holds a MAC frames may use.
func (s NeighborState) hasMAC() bool {
	return s == NeighborReachable || s == NeighborStale || s == NeighborDelay || s == NeighborProbe
}

// NeighborConfig tunes a stack's neighbour cache. The zero value of each
// field takes Linux's default (/proc/sys/net/ipv4/neigh/default/).
type NeighborConfig struct {
	// ReachableTime is base_reachable_time (30 s): an entry stays
	// REACHABLE for a random time between half and one and a half of it
	// after a confirmation.
	ReachableTime time.Duration
	// RetransTime is retrans_time (1 s): the time between two requests
	// of one resolution or probe.
	RetransTime time.Duration
	// DelayFirstProbe is delay_first_probe_time (5 s): how long a STALE
	// entry in use waits for a confirmation before it is probed.
	DelayFirstProbe time.Duration
	// MulticastProbes is mcast_solicit (3): broadcast requests sent for an
	// unresolved address before it fails.
	MulticastProbes int
	// UnicastProbes is ucast_solicit (3): unicast requests sent to
	// reconfirm a MAC before the entry fails.
	UnicastProbes int
	// QueueLen is unres_qlen (101): frames held for an address being
	// resolved; beyond it the oldest is dropped (and counted).
	QueueLen int
	// StaleTime is gc_stale_time (60 s): a STALE or FAILED entry unused
	// for this long is forgotten.
	StaleTime time.Duration
	// LockTime is locktime (1 s): an ARP packet naming another MAC for an
	// entry updated less than this ago is ignored, so that of several
	// replies the first wins; a gratuitous ARP is always taken.
	LockTime time.Duration
	// MaxEntries is gc_thresh3 (1024): the most entries the cache holds.
	// A new entry takes the place of an unused STALE or FAILED one, or is
	// refused and the frame dropped (counted in StackStats.Unresolved).
	MaxEntries int
}

func (c NeighborConfig) withDefaults() (NeighborConfig, error) {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.ReachableTime, 30*time.Second)
	def(&c.RetransTime, time.Second)
	def(&c.DelayFirstProbe, 5*time.Second)
	def(&c.StaleTime, 60*time.Second)
	def(&c.LockTime, time.Second)
	if c.MulticastProbes == 0 {
		c.MulticastProbes = 3
	}
	if c.UnicastProbes == 0 {
		c.UnicastProbes = 3
	}
	if c.QueueLen == 0 {
		c.QueueLen = 101
	}
	if c.MaxEntries == 0 {
		c.MaxEntries = 1024
	}
	if c.ReachableTime < 0 || c.RetransTime < 0 || c.DelayFirstProbe < 0 || c.StaleTime < 0 || c.LockTime < 0 ||
		c.MulticastProbes < 0 || c.MulticastProbes > 255 || c.UnicastProbes < 0 || c.UnicastProbes > 255 ||
		c.QueueLen < 0 || c.MaxEntries < 0 {
		return c, fmt.Errorf("tcpip: neighbour config %+v out of range: %w", c, ErrConfig)
	}
	return c, nil
}

// Neighbor is one entry of a stack's neighbour cache, as Neighbors exports
// it and ImportNeighbors takes it: the entries that hold a MAC.
type Neighbor struct {
	Addr  netip.Addr // IPv4
	MAC   [6]byte
	State NeighborState // REACHABLE, STALE, DELAY or PROBE
	// TimerIn is the time from the export to the entry's next step: the
	// end of its reachable time (REACHABLE), of its delay (DELAY), the
	// next probe (PROBE); 0 when no timer runs (STALE).
	TimerIn time.Duration
	Probes  uint8 // unicast probes sent (PROBE)
}

// neighbor is an entry of the cache. Entries are owned by the stack's
// goroutine.
type neighbor struct {
	addr    netip.Addr
	mac     [6]byte
	state   NeighborState
	at      time.Time  // the state's timer; zero: none
	probes  int        // requests sent in this resolution or probe
	src     netip.Addr // the source address of the requests: that of the frame that started the resolution
	used    time.Time  // a frame last went (or queued) to the neighbour
	updated time.Time  // an ARP packet last changed the entry
	queue   [][]byte   // frames waiting for the MAC (INCOMPLETE)
}

// neighbors is a stack's neighbour cache: entries by address, and in
// creation order for the timers, so that they fire in the same order on
// every run.
type neighbors struct {
	byAddr    map[netip.Addr]*neighbor
	order     []*neighbor
	reachable time.Duration // ReachableTime, randomized once per stack as Linux does
	next      time.Time     // the earliest timer of any entry; zero: none
}

func (st *Stack) arm(n *neighbor, at time.Time) {
	n.at = at
	if !at.IsZero() && (st.nbr.next.IsZero() || at.Before(st.nbr.next)) {
		st.nbr.next = at
	}
}

// setState moves n to state s at now and arms its timer.
func (st *Stack) setState(n *neighbor, s NeighborState, now time.Time) {
	cfg := &st.cfg.Neighbor
	n.state = s
	n.probes = 0
	switch s {
	case NeighborReachable:
		st.arm(n, now.Add(st.nbr.reachable))
	case NeighborDelay:
		st.arm(n, now.Add(cfg.DelayFirstProbe))
	case NeighborStale, NeighborFailed:
		st.arm(n, time.Time{})
		// The garbage collector's deadline, for an entry nobody uses.
		if gc := n.used.Add(cfg.StaleTime); st.nbr.next.IsZero() || gc.Before(st.nbr.next) {
			st.nbr.next = gc
		}
	}
}

// newNeighbor adds an entry for addr, evicting the least recently used
// STALE or FAILED entry when the cache is full; nil when none can go.
func (st *Stack) newNeighbor(addr netip.Addr, now time.Time) *neighbor {
	if len(st.nbr.order) >= st.cfg.Neighbor.MaxEntries {
		victim := -1
		for i, n := range st.nbr.order {
			if (n.state == NeighborStale || n.state == NeighborFailed) &&
				(victim < 0 || n.used.Before(st.nbr.order[victim].used)) {
				victim = i
			}
		}
		if victim < 0 {
			return nil
		}
		st.dropNeighbor(victim)
	}
	n := &neighbor{addr: addr, used: now}
	st.nbr.byAddr[addr] = n
	st.nbr.order = append(st.nbr.order, n)
	return n
}

func (st *Stack) dropNeighbor(i int) {
	n := st.nbr.order[i]
	st.stats.Unresolved += uint64(len(n.queue))
	delete(st.nbr.byAddr, n.addr)
	st.nbr.order = slices.Delete(st.nbr.order, i, i+1)
}

// transmit sends b, a frame built with a zero destination MAC, to the
// IPv4 destination dst from the local address src: to dst's MAC, or its
// gateway's, from the neighbour cache, resolving it first if need be
// (the frame waits, copied). A frame nobody can reach is dropped and
// counted.
func (st *Stack) transmit(b []byte, src, dst netip.Addr) {
	hop, ok := st.nextHop(dst)
	if !ok {
		st.stats.NoRoute++
		return
	}
	now := st.cfg.Clock.Now()
	n := st.nbr.byAddr[hop]
	if n == nil {
		if n = st.newNeighbor(hop, now); n == nil {
			st.stats.Unresolved++
			return
		}
	}
	n.used = now
	switch n.state {
	case NeighborReachable, NeighborDelay, NeighborProbe:
	case NeighborStale:
		st.setState(n, NeighborDelay, now)
	default: // new, INCOMPLETE or FAILED: the frame waits for the MAC
		if len(n.queue) >= st.cfg.Neighbor.QueueLen {
			st.stats.Unresolved++
			n.queue = slices.Delete(n.queue, 0, 1) // the oldest goes, as Linux drops the head
		}
		if st.cfg.Neighbor.QueueLen > 0 {
			n.queue = append(n.queue, append([]byte(nil), b...))
		} else {
			st.stats.Unresolved++
		}
		if n.state != NeighborIncomplete {
			n.src = src
			st.setState(n, NeighborIncomplete, now)
			st.solicit(n, now)
		}
		return
	}
	copy(b[0:6], n.mac[:])
	st.out(b)
}

// solicit sends the next request of n's resolution (broadcast) or probe
// (unicast to the cached MAC) and arms the retransmission timer.
func (st *Stack) solicit(n *neighbor, now time.Time) {
	n.probes++
	dst := broadcastMAC
	if n.state == NeighborProbe {
		dst = n.mac
	}
	st.sendARP(eth.ARPRequest, dst, n.src, [6]byte{}, n.addr)
	st.arm(n, now.Add(st.cfg.Neighbor.RetransTime))
}

// resolved gives n its MAC in state s and sends the frames that waited.
func (st *Stack) resolved(n *neighbor, mac [6]byte, s NeighborState, now time.Time) {
	n.mac = mac
	st.setState(n, s, now)
	q := n.queue
	n.queue = nil
	for _, f := range q {
		copy(f[0:6], mac[:])
		st.out(f)
	}
}

// learn takes what an ARP packet says of addr: its MAC, and the state the
// packet warrants (REACHABLE for a reply to us, STALE otherwise). Only an
// ARP request for one of our addresses creates an entry (create), as
// Linux does with arp_accept off; a gratuitous ARP (garp) overrides the
// lock time.
func (st *Stack) learn(addr netip.Addr, mac [6]byte, s NeighborState, create, garp bool, now time.Time) {
	n := st.nbr.byAddr[addr]
	if n == nil {
		if !create {
			return
		}
		if n = st.newNeighbor(addr, now); n == nil {
			return
		}
	}
	switch {
	case !n.state.hasMAC():
		st.resolved(n, mac, s, now)
	case n.mac == mac:
		if s == NeighborReachable {
			st.setState(n, NeighborReachable, now)
		} // a STALE update naming the same MAC leaves the state as it is
	case !garp && now.Sub(n.updated) < st.cfg.Neighbor.LockTime:
		return // another reply came first
	default:
		n.mac = mac
		st.setState(n, s, now)
	}
	n.updated = now
}

// confirm records that the connection to dst made forward progress: its
// next hop's MAC is good (RFC 4861 section 7.3.3, upper-layer advice).
func (st *Stack) confirm(dst netip.Addr) {
	hop, ok := st.nextHop(dst)
	if !ok {
		return
	}
	n := st.nbr.byAddr[hop]
	if n == nil || !n.state.hasMAC() {
		return
	}
	// An entry confirmed less than half its reachable time ago keeps its
	// timer: every acknowledgement need not re-arm it.
	now := st.cfg.Clock.Now()
	if n.state != NeighborReachable || n.at.Sub(now) < st.nbr.reachable/2 {
		st.setState(n, NeighborReachable, now)
	}
}

// tickNeighbors runs the neighbour timers due at now, and forgets the
// entries unused for StaleTime.
func (st *Stack) tickNeighbors(now time.Time) {
	if st.nbr.next.IsZero() || now.Before(st.nbr.next) {
		return
	}
	cfg := &st.cfg.Neighbor
	st.nbr.next = time.Time{}
	for i := 0; i < len(st.nbr.order); i++ {
		n := st.nbr.order[i]
		if !n.at.IsZero() && !now.Before(n.at) {
			st.neighborTimer(n, now)
		}
		if (n.state == NeighborStale || n.state == NeighborFailed) && now.Sub(n.used) >= cfg.StaleTime {
			st.dropNeighbor(i)
			i--
			continue
		}
		next := n.at
		if n.state == NeighborStale || n.state == NeighborFailed {
			next = n.used.Add(cfg.StaleTime)
		}
		if !next.IsZero() && (st.nbr.next.IsZero() || next.Before(st.nbr.next)) {
			st.nbr.next = next
		}
	}
}

// neighborTimer moves n on when its timer fires.
func (st *Stack) neighborTimer(n *neighbor, now time.Time) {
	cfg := &st.cfg.Neighbor
	switch n.state {
	case NeighborReachable:
		st.setState(n, NeighborStale, now)
	case NeighborDelay:
		st.setState(n, NeighborProbe, now)
		st.solicit(n, now)
	case NeighborProbe:
		if n.probes >= cfg.UnicastProbes {
			st.setState(n, NeighborFailed, now)
			return
		}
		st.solicit(n, now)
	case NeighborIncomplete:
		if n.probes >= cfg.MulticastProbes {
			st.stats.Unresolved += uint64(len(n.queue))
			n.queue = nil
			st.setState(n, NeighborFailed, now)
			st.unreachable(n.addr)
			return
		}
		st.solicit(n, now)
	}
}

// unreachable tells the connections whose next hop is addr that it did
// not resolve: a connection still in SYN_SENT fails with
// ErrHostUnreachable at once, as Linux's connect does; the others keep
// trying, and report it if they time out (a soft error).
func (st *Stack) unreachable(addr netip.Addr) {
	for _, c := range st.order {
		if !c.Live() {
			continue
		}
		if hop, ok := st.nextHop(c.s.Tuple.Dst.Addr()); !ok || hop != addr {
			continue
		}
		err := fmt.Errorf("next hop %v did not answer ARP: %w", addr, ErrHostUnreachable)
		if c.s.State == SynSent {
			c.fail(fmt.Errorf("tcpip: dial %v: %w", c.s.Tuple.Dst, err))
		} else {
			c.softErr = err
		}
	}
}

// Neighbors returns the neighbour cache's entries that hold a MAC, in the
// order they were made, with their timers as durations from the clock's
// reading.
func (st *Stack) Neighbors() []Neighbor {
	now := st.cfg.Clock.Now()
	var out []Neighbor
	for _, n := range st.nbr.order {
		if !n.state.hasMAC() {
			continue
		}
		out = append(out, Neighbor{Addr: n.addr, MAC: n.mac, State: n.state,
			TimerIn: until(now, n.at), Probes: uint8(min(n.probes, 255))})
	}
	return out
}

// ImportNeighbors puts entries into the neighbour cache, re-arming their
// timers from the clock's reading: the cache of a stack that moved to
// this host. An entry replaces the cache's entry for its address.
func (st *Stack) ImportNeighbors(entries []Neighbor) error {
	for _, e := range entries {
		switch {
		case !e.Addr.Is4():
			return fmt.Errorf("tcpip: neighbour %v: only IPv4: %w", e.Addr, ErrConfig)
		case !e.State.hasMAC():
			return fmt.Errorf("tcpip: neighbour %v in state %v: %w", e.Addr, e.State, ErrConfig)
		case !unicastMAC(e.MAC):
			return fmt.Errorf("tcpip: neighbour %v at MAC %x: not a unicast address: %w", e.Addr, e.MAC, ErrConfig)
		case e.TimerIn < 0:
			return fmt.Errorf("tcpip: neighbour %v: timer in %v: %w", e.Addr, e.TimerIn, ErrConfig)
		}
	}
	now := st.cfg.Clock.Now()
	for _, e := range entries {
		n := st.nbr.byAddr[e.Addr]
		if n == nil {
			if n = st.newNeighbor(e.Addr, now); n == nil {
				return fmt.Errorf("tcpip: neighbour %v: the cache holds %d entries in use: %w",
					e.Addr, st.cfg.Neighbor.MaxEntries, ErrConfig)
			}
		}
		st.stats.Unresolved += uint64(len(n.queue))
		n.queue = nil
		n.mac, n.used, n.updated = e.MAC, now, now
		st.setState(n, e.State, now)
		n.probes = int(e.Probes)
		if e.TimerIn > 0 {
			st.arm(n, now.Add(e.TimerIn))
		} else if e.State != NeighborStale {
			st.arm(n, now) // a timer due at the export is due now
		}
	}
	return nil
}

// unicastMAC reports whether m is a unicast address and not all zero.
func unicastMAC(m [6]byte) bool { return m[0]&1 == 0 && m != [6]byte{} }

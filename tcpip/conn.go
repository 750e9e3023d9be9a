package tcpip

import (
	"fmt"
	"io"
	"time"

	eth "github.com/ringkit/ringkit/frame"
	"github.com/ringkit/ringkit/internal/seqnum"
)

// ConnStats counts what one connection did.
type ConnStats struct {
	BytesIn, BytesOut uint64 // payload delivered to the application and accepted from it
	Retransmits       uint64
	KeepalivesSent    uint64
	ResetReceived     bool
}

// String says what the connection did in one line.
func (s ConnStats) String() string {
	reset := ""
	if s.ResetReceived {
		reset = "; reset by the peer"
	}
	return fmt.Sprintf("%d bytes in, %d out; %d retransmissions, %d keepalives sent%s",
		s.BytesIn, s.BytesOut, s.Retransmits, s.KeepalivesSent, reset)
}

// Conn is one TCP connection of a Stack. Its state is a Session: the
// sequence numbers, windows, options, timers and queues a move carries.
// Bytes the application writes are sent at once as far as the peer's window
// allows (Write returns how many); there is no unsent queue, so a Session
// holds everything.
type Conn struct {
	st *Stack
	s  Session

	rto      time.Duration
	rtoAt    time.Time // retransmit or window-probe timer; zero: not armed
	retries  int       // timeouts in a row with nothing heard from the peer in between
	lastRecv time.Time // last segment from the peer
	lastFire time.Time // last retransmit timeout
	kaAt     time.Time // next keepalive probe; zero: not armed
	twAt     time.Time // the end of TIME_WAIT; zero: not in it
	probes   int       // keepalive probes without an answer
	wantSend bool      // the application has bytes the window did not take
	lastAdv  uint32    // window last advertised, in bytes
	// Recovery after a timeout, go-back-N paced by acknowledgements: the
	// bytes from rtx on are sent again, recoverBurst segments per
	// acknowledgement, until snd_una passes recover (snd_nxt at the timeout).
	cwnd       int // bytes allowed in flight: MaxFlight, or growing back to it after a timeout
	recovering bool
	rtx        uint32
	recover    uint32
	gen        uint64 // bumped by every change to the session: see Changes
	err        error  // ErrReset, ErrTimeout or ErrHostUnreachable once lost
	// softErr is what went wrong on the way while the connection kept
	// trying (its next hop did not resolve): a timeout reports it.
	softErr error
	done    bool // closed cleanly after both FINs
	accept  func(*Conn)

	// ooo is the out-of-order queue: the segments received beyond a gap
	// after rcv_nxt, within the window advertised, sorted by sequence
	// number, neither overlapping nor touching, at most
	// StackConfig.OutOfOrder of them. They are neither acknowledged nor logged: when
	// the gap fills they are taken as if they had just arrived, and a move
	// leaves them behind (they are not part of the Session), as they are
	// the peer's to send again.
	ooo []heldSegment

	// held counts the payload a stand-in has logged for the application:
	// it is not kept in RecvQueue (the WriteAhead log holds it), but fills
	// the receive buffer all the same.
	held int

	// What the WriteAhead log holds of the fields logged by value.
	logTS  Timestamps
	logWnd [2]uint32

	stats ConnStats
}

// ID is the connection's session id.
func (c *Conn) ID() uint64 { return c.s.ID }

// Tuple is the connection's addresses: Src is this side.
func (c *Conn) Tuple() FiveTuple { return c.s.Tuple }

// State is the connection's TCP state.
func (c *Conn) State() TCPState { return c.s.State }

// Err is nil while the connection lives; once it is lost, an error
// wrapping ErrReset, ErrTimeout (and ErrHostUnreachable too when the
// peer's MAC did not resolve in the meantime), or ErrHostUnreachable for a
// connection whose SYN never went out.
func (c *Conn) Err() error { return c.err }

// Live reports whether the connection is neither lost nor closed.
func (c *Conn) Live() bool { return c.err == nil && c.s.State != Closed }

// Stats returns the connection's counters.
func (c *Conn) Stats() ConnStats { return c.stats }

// Session returns a copy of the connection's state.
func (c *Conn) Session() *Session { return c.export(c.st.cfg.Clock.Now()) }

// SessionView returns the connection's state as Session does, but with
// its queues (and Crypto) shared with the connection rather than copied:
// it stays valid only until the connection next changes (Input, Tick,
// Read, Write or Close on its stack). A migration's pre-copy reads the
// bytes a queue gained this way without copying the whole queue.
func (c *Conn) SessionView() Session {
	v := c.s
	v.Timers = c.timers(c.st.cfg.Clock.Now())
	return v
}

// Buffered is the number of received bytes the application has not read.
func (c *Conn) Buffered() int { return len(c.s.RecvQueue) }

// Unacked is the number of bytes sent and not yet acknowledged.
func (c *Conn) Unacked() int { return len(c.s.SendQueue) }

// Changes counts the changes made to the connection's state: two equal
// readings mean the Session did not change in between (dirty tracking for
// a migration's pre-copy).
func (c *Conn) Changes() uint64 { return c.gen }

func (c *Conn) export(now time.Time) *Session {
	s := c.s.Clone()
	s.Timers = c.timers(now)
	return s
}

// enterTimeWait starts the wait of a connection that has just entered
// TIME_WAIT; no retransmission is due any more.
func (c *Conn) enterTimeWait() {
	c.rtoAt = time.Time{}
	c.twAt = c.st.cfg.Clock.Now().Add(c.st.cfg.TimeWait)
}

// timers are the connection's timers as durations from now.
func (c *Conn) timers(now time.Time) Timers {
	cfg := &c.st.cfg
	return Timers{
		KeepaliveIdle: cfg.KeepaliveIdle, KeepaliveInterval: cfg.KeepaliveInterval,
		KeepaliveProbes: uint8(cfg.KeepaliveProbes), RTO: c.rto,
		KeepaliveIn: until(now, c.kaAt), RetransmitIn: until(now, c.rtoAt),
	}
}

// until is the time from now to t, at least 1 ns for a timer that is armed
// (0 means "not armed"), 0 for a zero t.
func until(now, t time.Time) time.Duration {
	if t.IsZero() {
		return 0
	}
	return max(t.Sub(now), 1)
}

// Read copies received bytes into p. After the peer's FIN and the last
// byte it returns 0, io.EOF; before, 0, nil when nothing is there.
func (c *Conn) Read(p []byte) (int, error) {
	n := copy(p, c.s.RecvQueue)
	if n > 0 {
		c.s.RecvQueue = trimFront(c.s.RecvQueue, n)
		c.stats.BytesIn += uint64(n)
		c.gen++
		// Reopen a window that had shrunk below half the buffer.
		if half := uint32(c.st.cfg.RecvBuffer / 2); c.lastAdv < half && c.rcvWindow() >= half && c.synchronized() {
			c.sendAck()
		}
		return n, nil
	}
	if c.finReceived() {
		return 0, io.EOF
	}
	return 0, c.err
}

// Write sends as much of p as the peer's window and MSS-sized segments
// allow now and returns how many bytes it took. The rest is the caller's
// to offer again; while the window is zero the connection probes it.
func (c *Conn) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.s.State != Established && c.s.State != CloseWait {
		return 0, fmt.Errorf("tcpip: write on session %d in %v: %w", c.s.ID, c.s.State, ErrConnState)
	}
	room := min(int(c.s.SndWnd), c.cwnd) - int(c.s.inFlight())
	room = min(room, MaxQueue-len(c.s.SendQueue), len(p))
	if room < len(p) {
		c.wantSend = true
	}
	if room <= 0 {
		if c.rtoAt.IsZero() && c.s.SndWnd == 0 {
			c.armRTO() // persist timer
		}
		return 0, nil
	}
	c.wantSend = room < len(p)
	data := p[:room]
	seq := c.s.SndNxt
	c.s.SendQueue = append(c.s.SendQueue, data...)
	c.s.SndNxt += uint32(room)
	c.gen++
	c.stats.BytesOut += uint64(room)
	mss := int(c.s.MSS)
	for off := 0; off < room; off += mss {
		end := min(off+mss, room)
		c.send(eth.TCPAck|eth.TCPPsh, seq+uint32(off), data[off:end])
	}
	if c.rtoAt.IsZero() {
		c.armRTO()
	}
	return room, nil
}

// Close sends a FIN: ESTABLISHED goes to FIN_WAIT1, CLOSE_WAIT to
// LAST_ACK. Closing a connection already closing does nothing.
func (c *Conn) Close() error {
	if c.err != nil {
		return c.err
	}
	switch c.s.State {
	case Established:
		c.s.State = FinWait1
	case CloseWait:
		c.s.State = LastAck
	case SynSent:
		c.s.State = Closed
		c.rtoAt = time.Time{}
		return nil
	default:
		return nil
	}
	c.send(eth.TCPFin|eth.TCPAck, c.s.SndNxt, nil)
	c.s.SndNxt++
	c.gen++
	c.armRTO()
	return nil
}

func (c *Conn) synchronized() bool {
	return c.s.State >= Established || c.s.State == SynReceived
}

// finReceived reports whether the peer's FIN has been taken.
func (c *Conn) finReceived() bool {
	switch c.s.State {
	case CloseWait, Closing, LastAck, TimeWait:
		return true
	}
	return c.done
}

// finInFlight reports whether our FIN occupies sequence space not yet
// acknowledged.
func (c *Conn) finInFlight() bool {
	switch c.s.State {
	case FinWait1, Closing, LastAck:
		return true
	}
	return false
}

func (c *Conn) armRTO() { c.rtoAt = c.st.cfg.Clock.Now().Add(c.rto) }

// timerDue reports whether the connection has something for its
// retransmission timer to time: a SYN, bytes or a FIN unacknowledged, or a
// zero window to probe while it may still send.
func (c *Conn) timerDue() bool {
	switch c.s.State {
	case SynSent, SynReceived:
		return true
	case Established, CloseWait:
		return c.s.SndUna != c.s.SndNxt || c.s.SndWnd == 0
	case FinWait1, Closing, LastAck:
		return c.s.SndUna != c.s.SndNxt
	}
	return false
}

// rcvWindow is the window to advertise in bytes: the room left in the
// receive buffer and in the WriteAhead log.
func (c *Conn) rcvWindow() uint32 {
	w := max(c.st.cfg.RecvBuffer-len(c.s.RecvQueue)-c.held, 0)
	return uint32(min(w, c.st.log.Room(int(c.s.MSS))))
}

// timedOut declares the connection lost for want of answers.
func (c *Conn) timedOut() {
	if c.softErr != nil {
		c.fail(fmt.Errorf("tcpip: %v: %w (%w)", c.s.Tuple.Dst, ErrTimeout, c.softErr))
		return
	}
	c.fail(ErrTimeout)
}

// fail declares the connection lost.
func (c *Conn) fail(err error) {
	c.err = err
	c.s.State = Closed
	c.rtoAt, c.kaAt = time.Time{}, time.Time{}
	c.gen++
}

// send builds one segment from the session's state and sends it: the
// acknowledgement of rcv_nxt, the window, and the timestamp option.
func (c *Conn) send(flags uint8, seq uint32, payload []byte) {
	st := c.st
	syn := flags&eth.TCPSyn != 0
	if c.s.State != SynSent {
		flags |= eth.TCPAck
	}
	ts := c.s.TS.Enabled
	var tsval uint32
	if ts {
		tsval = c.nextTSval()
	}
	wnd := c.rcvWindow()
	c.lastAdv = wnd
	var field uint16
	if syn {
		field = uint16(min(wnd, 65535)) // RFC 7323: a SYN's window is never scaled
	} else {
		field = uint16(min(wnd>>c.s.RcvWScale, 65535))
	}
	if wnd != c.s.RcvWnd {
		c.setWindows(c.s.SndWnd, wnd)
	}
	st.spec = eth.Spec{
		SrcMAC: st.cfg.MAC,
		Src:    c.s.Tuple.Src.Addr(), Dst: c.s.Tuple.Dst.Addr(), Proto: eth.ProtoTCP,
		SrcPort: c.s.Tuple.Src.Port(), DstPort: c.s.Tuple.Dst.Port(),
		Seq: seq, TCPFlags: flags, Window: 65535, Payload: payload,
		TCPOptions: segmentOptions(&st.optBuf, syn, c.s.MSS, c.s.RcvWScale, ts, tsval, c.s.TS.Recent),
	}
	if flags&eth.TCPAck != 0 {
		st.spec.Ack = c.s.RcvNxt
	}
	st.buf = eth.Build(st.buf[:0], &st.spec)
	patchWindow(st.buf, field)
	if field == 0 {
		st.stats.ZeroWindows++
	}
	st.stats.SegmentsOut++
	st.transmit(st.buf, c.s.Tuple.Src.Addr(), c.s.Tuple.Dst.Addr())
}

// nextTSval is the TSval of the next segment. The timestamps are logged
// before a TSval goes out that a move must not go below; when the log
// refuses, the last TSval logged is sent again (equal values pass the
// peer's PAWS check), echoing the TS.Recent logged with it.
func (c *Conn) nextTSval() uint32 {
	v := c.s.TS.TSval(c.st.TSClock())
	if seqnum.LT(v, c.s.TS.LastSent) {
		v = c.s.TS.LastSent // a clock never runs backwards, an imported offset may
	}
	if v == c.logTS.LastSent && c.s.TS.Recent == c.logTS.Recent {
		return v
	}
	if err := c.st.log.Timestamps(c.s.ID, c.s.TS.Recent, v); err != nil {
		c.st.stats.LogRefused++
		c.s.TS.Recent = c.logTS.Recent
		return c.logTS.LastSent
	}
	if v != c.s.TS.LastSent {
		c.s.TS.LastSent = v
		c.gen++ // a changed session: the pre-copy must send it again, or TSvals would step back after the move
	}
	c.logTS = c.s.TS
	return v
}

// setWindows records the peer's window and ours, logging the change when
// either window opens from zero or closes to zero (see WriteAhead.Window).
func (c *Conn) setWindows(snd, rcv uint32) {
	if (snd == 0) != (c.logWnd[0] == 0) || (rcv == 0) != (c.logWnd[1] == 0) {
		if err := c.st.log.Window(c.s.ID, snd, rcv); err != nil {
			c.st.stats.LogRefused++
		} else {
			c.logWnd = [2]uint32{snd, rcv}
		}
	}
	c.s.SndWnd, c.s.RcvWnd = snd, rcv
}

func (c *Conn) sendAck() { c.send(eth.TCPAck, c.s.SndNxt, nil) }

// synOptions takes the options of the peer's SYN or SYN-ACK: window
// scale and timestamps are used only when both sides send them.
func (c *Conn) synOptions(seg *segment) {
	if seg.mss != 0 {
		c.s.MSS = min(c.s.MSS, seg.mss)
	}
	if seg.wscale >= 0 {
		c.s.SndWScale = uint8(seg.wscale)
	} else {
		c.s.SndWScale, c.s.RcvWScale = 0, 0
	}
	if c.s.TS.Enabled && seg.hasTS {
		c.s.TS.Recent = seg.tsval
	} else {
		c.s.TS.Enabled = false
	}
	c.s.SndWnd = uint32(seg.wnd) // unscaled in a SYN
}

// input processes a segment of this connection (RFC 9293 section 3.10.7,
// simplified).
func (c *Conn) input(seg *segment) {
	if !c.Live() {
		if c.done && (seg.has(eth.TCPFin) || len(seg.payload) > 0) {
			c.sendAck()
		}
		return
	}
	st := c.st
	if seg.has(eth.TCPRst) {
		if c.s.State == SynSent && seg.has(eth.TCPAck) && seg.ack == c.s.SndNxt ||
			c.s.State != SynSent && seqnum.LEQ(c.s.RcvNxt, seg.seq) && seqnum.LT(seg.seq, c.s.RcvNxt+max(c.lastAdv, 1)) {
			if c.s.State == TimeWait {
				// Both FINs are acknowledged: the reset only ends the wait,
				// as Linux's does (RFC 1337 would ignore it); what was
				// received stays for the application.
				if c.logState(Closed, c.s.SndNxt, c.s.RcvNxt) {
					c.s.State, c.done = Closed, true
					c.gen++
				}
				return
			}
			if err := st.log.Reset(c.s.ID); err != nil {
				st.stats.LogRefused++
			}
			c.stats.ResetReceived = true
			c.fail(ErrReset)
		}
		return
	}
	now := st.cfg.Clock.Now()
	c.lastRecv, c.probes, c.kaAt, c.softErr = now, 0, time.Time{}, nil

	switch c.s.State {
	case SynSent:
		if seg.flags&(eth.TCPSyn|eth.TCPAck) != eth.TCPSyn|eth.TCPAck || seg.ack != c.s.SndNxt {
			return
		}
		saved := c.s
		c.synOptions(seg)
		c.s.RcvNxt = seg.seq + 1
		c.s.SndUna = seg.ack
		c.s.SndWnd = uint32(seg.wnd) << c.s.SndWScale
		c.s.State = Established
		if !c.logSnapshot() {
			c.s = saved // not logged: as if the SYN-ACK never came
			return
		}
		c.logTS = c.s.TS
		c.rtoAt, c.retries, c.rto = time.Time{}, 0, st.cfg.RTO
		c.gen++
		c.sendAck()
		return
	case SynReceived:
		if seg.has(eth.TCPSyn) {
			c.send(eth.TCPSyn|eth.TCPAck, c.s.SndUna, nil)
			return
		}
		if !seg.has(eth.TCPAck) || seg.ack != c.s.SndNxt {
			return
		}
		if !c.logState(Established, c.s.SndNxt, c.s.RcvNxt) {
			return
		}
		c.s.SndUna = seg.ack
		c.s.SndWnd = uint32(seg.wnd) << c.s.SndWScale
		c.s.State = Established
		c.rtoAt, c.retries, c.rto = time.Time{}, 0, st.cfg.RTO
		c.gen++
		if c.accept != nil {
			c.accept(c)
		}
	}

	if c.s.TS.Enabled && seg.hasTS && seqnum.LT(seg.tsval, c.s.TS.Recent) {
		st.stats.PAWSDropped++
		c.sendAck()
		return
	}
	if seg.has(eth.TCPSyn) { // the peer missed our ACK of its SYN
		c.sendAck()
		return
	}
	if c.s.TS.Enabled && seg.hasTS && seqnum.LEQ(seg.seq, c.s.RcvNxt) && seg.tsval != c.s.TS.Recent {
		c.s.TS.Recent = seg.tsval
		c.gen++
	}
	if seg.has(eth.TCPAck) {
		c.ack(seg, now)
		if !c.Live() {
			return
		}
	}
	if len(seg.payload) > 0 || seg.has(eth.TCPFin) {
		c.data(seg)
		return
	}
	if seg.seq == c.s.RcvNxt-1 { // keepalive or window probe: answer it
		st.stats.KeepalivesAnswered++
		c.sendAck()
	}
}

// ack processes the acknowledgement and window of seg.
func (c *Conn) ack(seg *segment, now time.Time) {
	if seqnum.LT(c.s.SndNxt, seg.ack) {
		c.sendAck() // acknowledges what we never sent
		return
	}
	if seqnum.LT(c.s.SndUna, seg.ack) {
		if err := c.st.log.Acked(c.s.ID, seg.ack); err != nil {
			c.st.stats.LogRefused++
			return // not logged, not applied: the peer acknowledges again
		}
		k := min(int(seqnum.Diff(c.s.SndUna, seg.ack)), len(c.s.SendQueue))
		c.s.SendQueue = trimFront(c.s.SendQueue, k)
		c.s.SndUna = seg.ack
		c.retries, c.rto = 0, c.st.cfg.RTO
		c.st.confirm(c.s.Tuple.Dst.Addr()) // forward progress: the peer's MAC is good
		c.cwnd = min(c.cwnd+int(c.s.MSS), c.st.cfg.MaxFlight)
		if c.recovering {
			if seqnum.LEQ(c.recover, c.s.SndUna) {
				c.recovering = false
			} else {
				c.resend(recoverBurst)
			}
		}
		if c.s.SndUna == c.s.SndNxt {
			c.rtoAt = time.Time{}
			if c.finInFlight() {
				next := map[TCPState]TCPState{FinWait1: FinWait2, Closing: TimeWait, LastAck: Closed}[c.s.State]
				if c.logState(next, c.s.SndNxt, c.s.RcvNxt) {
					c.s.State = next
					switch next {
					case Closed:
						c.done = true
					case TimeWait:
						c.enterTimeWait()
					}
				}
			}
		} else {
			c.rtoAt = now.Add(c.rto)
		}
		c.gen++
	}
	if w := uint32(seg.wnd) << c.s.SndWScale; w != c.s.SndWnd {
		c.setWindows(w, c.s.RcvWnd)
		c.gen++
	}
	if c.s.SndWnd > 0 && c.s.SndUna == c.s.SndNxt && !c.rtoAt.IsZero() {
		c.rtoAt = time.Time{} // the window reopened: the persist timer stops
	}
}

// data takes the payload and FIN of seg if they start at rcv_nxt, as far as
// the window (and the WriteAhead log) has room, then what the
// out-of-order queue holds that now follows, and acknowledges. A segment
// beyond rcv_nxt is held in the queue and answered with a duplicate
// acknowledgement, which tells the peer of the gap.
func (c *Conn) data(seg *segment) {
	st := c.st
	switch c.s.State {
	case Established, FinWait1, FinWait2:
	default:
		if c.s.State == TimeWait && seg.has(eth.TCPFin) {
			c.twAt = st.cfg.Clock.Now().Add(st.cfg.TimeWait) // the peer did not get the last ACK: wait again
		}
		c.sendAck() // a retransmission after the peer's FIN
		return
	}
	seq, data, fin := seg.seq, seg.payload, seg.has(eth.TCPFin)
	if seqnum.LT(seq, c.s.RcvNxt) {
		off := int(seqnum.Diff(seq, c.s.RcvNxt))
		if off > len(data) || off == len(data) && !fin {
			st.stats.Duplicates++
			if len(data) <= 1 && !fin && seq == c.s.RcvNxt-1 {
				st.stats.KeepalivesAnswered++
			}
			c.sendAck()
			return
		}
		data, seq = data[off:], c.s.RcvNxt
	}
	if seq != c.s.RcvNxt {
		st.stats.OutOfOrder++
		c.hold(seq, data, fin)
		c.sendAck()
		return
	}
	if c.take(data, fin) && len(c.ooo) > 0 {
		c.takeHeld()
	}
	c.sendAck()
}

// take takes data (and the FIN after it) at rcv_nxt as far as the window
// and the WriteAhead log have room, and reports whether it took all.
func (c *Conn) take(data []byte, fin bool) bool {
	st := c.st
	took := min(len(data), int(c.rcvWindow()))
	if took > 0 {
		if err := st.log.Received(c.s.ID, c.s.RcvNxt, data[:took]); err != nil {
			st.stats.LogRefused++
			took = 0
		}
	}
	if took > 0 {
		if st.cfg.StandIn {
			c.held += took // the bytes live in the log; the stand-in only counts them
		} else {
			c.s.RecvQueue = append(c.s.RecvQueue, data[:took]...)
		}
		c.s.RcvNxt += uint32(took)
		c.gen++
	}
	if took < len(data) {
		st.stats.Refused += uint64(len(data) - took)
		return false
	}
	if !fin {
		return true
	}
	next := map[TCPState]TCPState{Established: CloseWait, FinWait1: Closing, FinWait2: TimeWait}[c.s.State]
	if !c.logState(next, c.s.SndNxt, c.s.RcvNxt+1) {
		return false
	}
	c.s.State = next
	c.s.RcvNxt++
	c.gen++
	if next == TimeWait {
		c.enterTimeWait()
	}
	c.ooo = nil // nothing comes after a FIN
	return true
}

// logState logs a move to TCP state st; true when the move may be made.
func (c *Conn) logState(st TCPState, sndNxt, rcvNxt uint32) bool {
	if err := c.st.log.State(c.s.ID, st, sndNxt, rcvNxt); err != nil {
		c.st.stats.LogRefused++
		return false
	}
	return true
}

// logSnapshot logs the whole session (WriteAhead.Snapshot); true when the
// change it records may be made. The log sees the session through a
// shallow copy whose queues alias the connection's, valid for the call.
func (c *Conn) logSnapshot() bool {
	snap := c.s
	snap.Timers = c.timers(c.st.cfg.Clock.Now())
	if err := c.st.log.Snapshot(&snap); err != nil {
		c.st.stats.LogRefused++
		return false
	}
	return true
}

// tick runs the connection's timers.
func (c *Conn) tick(now time.Time) {
	if !c.Live() {
		return
	}
	cfg := &c.st.cfg
	if c.s.State == TimeWait {
		// Both FINs are acknowledged: nothing to send; once the wait is
		// over the connection closes, and a SYN for its address pair
		// opens a new one. Retried on a later tick if the log refuses.
		if !c.twAt.IsZero() && !now.Before(c.twAt) && c.logState(Closed, c.s.SndNxt, c.s.RcvNxt) {
			c.s.State, c.done, c.twAt = Closed, true, time.Time{}
			c.gen++
		}
		return
	}
	if !c.rtoAt.IsZero() && !now.Before(c.rtoAt) {
		if c.lastRecv.After(c.lastFire) {
			c.retries = 0
		}
		c.retries++
		c.lastFire = now
		if c.retries > cfg.MaxRetries {
			c.timedOut()
			return
		}
		if c.s.SndUna != c.s.SndNxt {
			c.retransmit()
		} else {
			c.st.stats.WindowProbes++
			c.send(eth.TCPAck, c.s.SndNxt-1, nil)
		}
		c.rto = min(2*c.rto, cfg.MaxRTO)
		c.rtoAt = now.Add(c.rto)
		return
	}
	switch c.s.State {
	case Established, FinWait2, CloseWait: // states where the other side may be silent yet alive
	default:
		return
	}
	if cfg.KeepaliveProbes == 0 || c.s.SndUna != c.s.SndNxt || !c.rtoAt.IsZero() {
		return
	}
	if c.kaAt.IsZero() {
		c.kaAt = c.lastRecv.Add(cfg.KeepaliveIdle)
	}
	if now.Before(c.kaAt) {
		return
	}
	if c.probes >= cfg.KeepaliveProbes {
		c.timedOut()
		return
	}
	c.probes++
	c.stats.KeepalivesSent++
	c.st.stats.KeepalivesSent++
	c.send(eth.TCPAck, c.s.SndNxt-1, nil)
	c.kaAt = now.Add(cfg.KeepaliveInterval)
}

// retransmit resends everything unacknowledged, go-back-N: the SYN, the
// queued bytes in MSS-sized segments within the peer's window, the FIN.
func (c *Conn) retransmit() {
	st := c.st
	st.stats.Retransmits++
	c.stats.Retransmits++
	switch c.s.State {
	case SynSent:
		c.send(eth.TCPSyn, c.s.SndUna, nil)
		return
	case SynReceived:
		c.send(eth.TCPSyn|eth.TCPAck, c.s.SndUna, nil)
		return
	}
	c.recovering, c.rtx, c.recover = true, c.s.SndUna, c.s.SndNxt
	c.cwnd = 2 * int(c.s.MSS)
	c.resend(recoverBurst)
}

// recoverBurst is how many segments a timeout, then each acknowledgement
// during the recovery, sends again: a flight grows by one segment per
// acknowledgement, as after a timeout in TCP (cwnd of one, slow start),
// rather than a whole window flooding rings at once.
const recoverBurst = 2

// resend sends up to n segments from max(rtx, snd_una): queued bytes
// within the peer's window (a zero window still takes one probe byte), then
// the FIN.
func (c *Conn) resend(n int) {
	if seqnum.LT(c.rtx, c.s.SndUna) {
		c.rtx = c.s.SndUna
	}
	q := c.s.SendQueue
	limit := max(int(c.s.SndWnd), 1)
	mss := int(c.s.MSS)
	for off := int(seqnum.Diff(c.s.SndUna, c.rtx)); n > 0 && off < len(q) && off < limit; n-- {
		end := min(off+mss, len(q), limit)
		c.send(eth.TCPAck|eth.TCPPsh, c.s.SndUna+uint32(off), q[off:end])
		off = end
		c.rtx = c.s.SndUna + uint32(off)
	}
	if n > 0 && c.finInFlight() && int(seqnum.Diff(c.s.SndUna, c.rtx)) >= len(q) && len(q) <= limit {
		c.send(eth.TCPFin|eth.TCPAck, c.s.SndNxt-1, nil)
		c.rtx = c.s.SndNxt
	}
}

// trimFront drops the first k bytes of q; an emptied queue is nil, as a
// decoded one is.
func trimFront(q []byte, k int) []byte {
	if k >= len(q) {
		return nil
	}
	return q[k:]
}

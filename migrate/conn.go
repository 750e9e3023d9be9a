package migrate

import (
	"fmt"
	"io"
	"time"

	eth "github.com/ringkit/ringkit/frame"
)

// ConnStats counts what one connection did.
type ConnStats struct {
	BytesIn, BytesOut uint64 // payload delivered to the application and accepted from it
	Retransmits       uint64
	KeepalivesSent    uint64
	ResetReceived     bool
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
	gen        uint64 // bumped by every change to the session: dirty tracking for the pre-copy
	err        error  // ErrReset or ErrTimeout once lost
	done       bool   // closed cleanly after both FINs
	accept     func(*Conn)

	// held counts the payload a circuit has journaled for the VM: it is
	// not kept in RecvQueue (the journal holds it), but fills the VM's
	// receive buffer all the same.
	held int

	// What a circuit has journaled of the fields it journals by value.
	jTS  Timestamps
	jWnd [2]uint32

	stats ConnStats
}

// ID is the connection's session id.
func (c *Conn) ID() uint64 { return c.s.ID }

// Tuple is the connection's addresses: Src is this side.
func (c *Conn) Tuple() FiveTuple { return c.s.Tuple }

// State is the connection's TCP state.
func (c *Conn) State() TCPState { return c.s.State }

// Err is ErrReset or ErrTimeout once the connection is lost, nil before.
func (c *Conn) Err() error { return c.err }

// Live reports whether the connection is neither lost nor closed.
func (c *Conn) Live() bool { return c.err == nil && c.s.State != Closed }

// Stats returns the connection's counters.
func (c *Conn) Stats() ConnStats { return c.stats }

// Session returns a copy of the connection's state.
func (c *Conn) Session() *Session { return c.export(c.st.cfg.Clock.Now()) }

// Buffered is the number of received bytes the application has not read.
func (c *Conn) Buffered() int { return len(c.s.RecvQueue) }

// Unacked is the number of bytes sent and not yet acknowledged.
func (c *Conn) Unacked() int { return len(c.s.SendQueue) }

func (c *Conn) export(now time.Time) *Session {
	s := c.s.Clone()
	cfg := &c.st.cfg
	s.Timers = Timers{
		KeepaliveIdle: cfg.KeepaliveIdle, KeepaliveInterval: cfg.KeepaliveInterval,
		KeepaliveProbes: uint8(cfg.KeepaliveProbes), RTO: c.rto,
		KeepaliveIn: until(now, c.kaAt), RetransmitIn: until(now, c.rtoAt),
	}
	return s
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
		return 0, fmt.Errorf("migrate: write on session %d in %v: %w", c.s.ID, c.s.State, ErrConnState)
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

// rcvWindow is the window to advertise in bytes: the room left in the
// receive buffer and, in a circuit, in the journal.
func (c *Conn) rcvWindow() uint32 {
	w := max(c.st.cfg.RecvBuffer-len(c.s.RecvQueue)-c.held, 0)
	if j := c.st.cfg.Journal; j != nil {
		w = min(w, j.PayloadRoom(int(c.s.MSS)))
	}
	return uint32(w)
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
		SrcMAC: st.cfg.MAC, DstMAC: broadcastMAC,
		Src: c.s.Tuple.Src.Addr(), Dst: c.s.Tuple.Dst.Addr(), Proto: eth.ProtoTCP,
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
	st.out(st.buf)
}

// nextTSval is the TSval of the next segment. A circuit journals the
// timestamps before it sends a TSval the destination must not go below;
// with the journal full it repeats the last TSval journaled (equal values
// pass the peer's PAWS check).
func (c *Conn) nextTSval() uint32 {
	v := c.s.TS.TSval(c.st.tick())
	if seqLT(v, c.s.TS.LastSent) {
		v = c.s.TS.LastSent // a clock never runs backwards, an imported offset may
	}
	j := c.st.cfg.Journal
	if j == nil {
		if v != c.s.TS.LastSent {
			c.s.TS.LastSent = v
			c.gen++ // a changed session: the pre-copy must send it again, or TSvals would step back after the move
		}
		return v
	}
	if v == c.jTS.LastSent && c.s.TS.Recent == c.jTS.Recent {
		return v
	}
	if _, err := j.AppendTimestamp(c.s.ID, c.s.TS.Recent, v); err != nil {
		c.st.stats.JournalFull++
		c.s.TS.Recent = c.jTS.Recent
		return c.jTS.LastSent
	}
	c.s.TS.LastSent = v
	c.jTS = c.s.TS
	c.gen++
	return v
}

// setWindows records the peer's window and ours. A circuit journals the
// change when either window opens from zero or closes to zero: the state a
// destination acts on (a peer waiting for a window update).
func (c *Conn) setWindows(snd, rcv uint32) {
	if j := c.st.cfg.Journal; j != nil && (snd == 0) != (c.jWnd[0] == 0) || j != nil && (rcv == 0) != (c.jWnd[1] == 0) {
		if _, err := j.AppendWindow(c.s.ID, snd, rcv); err != nil {
			c.st.stats.JournalFull++
		} else {
			c.jWnd = [2]uint32{snd, rcv}
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
// simplified: in-order delivery only).
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
			c.s.State != SynSent && seqLEQ(c.s.RcvNxt, seg.seq) && seqLT(seg.seq, c.s.RcvNxt+max(c.lastAdv, 1)) {
			if j := st.cfg.Journal; j != nil {
				if _, err := j.AppendClose(c.s.ID); err != nil {
					st.stats.JournalFull++
				}
			}
			c.stats.ResetReceived = true
			c.fail(ErrReset)
		}
		return
	}
	now := st.cfg.Clock.Now()
	c.lastRecv, c.probes, c.kaAt = now, 0, time.Time{}

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
		if !c.journalSnapshot() {
			c.s = saved // not journaled: as if the SYN-ACK never came
			return
		}
		c.jTS = c.s.TS
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
		if !c.journalState(Established, c.s.SndNxt, c.s.RcvNxt) {
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

	if c.s.TS.Enabled && seg.hasTS && seqLT(seg.tsval, c.s.TS.Recent) {
		st.stats.PAWSDropped++
		c.sendAck()
		return
	}
	if seg.has(eth.TCPSyn) { // the peer missed our ACK of its SYN
		c.sendAck()
		return
	}
	if c.s.TS.Enabled && seg.hasTS && seqLEQ(seg.seq, c.s.RcvNxt) && seg.tsval != c.s.TS.Recent {
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
	if seqLT(c.s.SndNxt, seg.ack) {
		c.sendAck() // acknowledges what we never sent
		return
	}
	if seqLT(c.s.SndUna, seg.ack) {
		if j := c.st.cfg.Journal; j != nil {
			if _, err := j.AppendAck(c.s.ID, seg.ack); err != nil {
				c.st.stats.JournalFull++
				return // not journaled, not applied: the peer acknowledges again
			}
		}
		k := min(int(seqDiff(c.s.SndUna, seg.ack)), len(c.s.SendQueue))
		c.s.SendQueue = trimFront(c.s.SendQueue, k)
		c.s.SndUna = seg.ack
		c.retries, c.rto = 0, c.st.cfg.RTO
		c.cwnd = min(c.cwnd+int(c.s.MSS), c.st.cfg.MaxFlight)
		if c.recovering {
			if seqLEQ(c.recover, c.s.SndUna) {
				c.recovering = false
			} else {
				c.resend(recoverBurst)
			}
		}
		if c.s.SndUna == c.s.SndNxt {
			c.rtoAt = time.Time{}
			if c.finInFlight() {
				next := map[TCPState]TCPState{FinWait1: FinWait2, Closing: TimeWait, LastAck: Closed}[c.s.State]
				if c.journalState(next, c.s.SndNxt, c.s.RcvNxt) {
					c.s.State = next
					if next == Closed {
						c.done = true
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
// the window (and a circuit's journal) has room, and acknowledges.
func (c *Conn) data(seg *segment) {
	st := c.st
	switch c.s.State {
	case Established, FinWait1, FinWait2:
	default:
		c.sendAck() // a retransmission after the peer's FIN
		return
	}
	seq, data, fin := seg.seq, seg.payload, seg.has(eth.TCPFin)
	if seqLT(seq, c.s.RcvNxt) {
		off := int(seqDiff(seq, c.s.RcvNxt))
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
		c.sendAck()
		return
	}
	take := min(len(data), int(c.rcvWindow()))
	if take > 0 {
		if j := st.cfg.Journal; j != nil {
			if _, err := j.AppendRecv(c.s.ID, c.s.RcvNxt, data[:take]); err != nil {
				st.stats.JournalFull++
				take = 0
			}
		}
	}
	if take > 0 {
		if st.cfg.Journal != nil {
			c.held += take // the bytes live in the journal; the circuit only counts them
		} else {
			c.s.RecvQueue = append(c.s.RecvQueue, data[:take]...)
		}
		c.s.RcvNxt += uint32(take)
		c.gen++
	}
	if take < len(data) {
		st.stats.Refused += uint64(len(data) - take)
	}
	if fin && take == len(data) {
		next := map[TCPState]TCPState{Established: CloseWait, FinWait1: Closing, FinWait2: TimeWait}[c.s.State]
		if c.journalState(next, c.s.SndNxt, c.s.RcvNxt+1) {
			c.s.State = next
			c.s.RcvNxt++
			c.gen++
			if next == TimeWait {
				c.rtoAt = time.Time{}
			}
		}
	}
	c.sendAck()
}

// journalState journals a state change in a circuit; true when the change
// may be made.
func (c *Conn) journalState(st TCPState, sndNxt, rcvNxt uint32) bool {
	j := c.st.cfg.Journal
	if j == nil {
		return true
	}
	if _, err := j.AppendState(c.s.ID, st, sndNxt, rcvNxt); err != nil {
		c.st.stats.JournalFull++
		return false
	}
	return true
}

// journalSnapshot journals the whole session, as a close and a create, in
// a circuit: the change from SYN_SENT learns what no smaller record
// carries (the peer's sequence number, window scale and timestamps). Both
// records are written or neither.
func (c *Conn) journalSnapshot() bool {
	j := c.st.cfg.Journal
	if j == nil {
		return true
	}
	s := c.export(c.st.cfg.Clock.Now())
	enc := AppendSession(nil, s)
	if j.Free() < RecordSize(0)+RecordSize(len(enc)) {
		c.st.stats.JournalFull++
		return false
	}
	if _, err := j.AppendClose(c.s.ID); err != nil {
		c.st.stats.JournalFull++
		return false
	}
	if _, err := j.Append(RecCreate, c.s.ID, enc); err != nil {
		panic(fmt.Sprintf("migrate: journal refused a create it had room for: %v", err))
	}
	return true
}

// tick runs the connection's timers.
func (c *Conn) tick(now time.Time) {
	if !c.Live() {
		return
	}
	cfg := &c.st.cfg
	if !c.rtoAt.IsZero() && !now.Before(c.rtoAt) {
		if c.lastRecv.After(c.lastFire) {
			c.retries = 0
		}
		c.retries++
		c.lastFire = now
		if c.retries > cfg.MaxRetries {
			c.fail(ErrTimeout)
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
		c.fail(ErrTimeout)
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
	if seqLT(c.rtx, c.s.SndUna) {
		c.rtx = c.s.SndUna
	}
	q := c.s.SendQueue
	limit := max(int(c.s.SndWnd), 1)
	mss := int(c.s.MSS)
	for off := int(seqDiff(c.s.SndUna, c.rtx)); n > 0 && off < len(q) && off < limit; n-- {
		end := min(off+mss, len(q), limit)
		c.send(eth.TCPAck|eth.TCPPsh, c.s.SndUna+uint32(off), q[off:end])
		off = end
		c.rtx = c.s.SndUna + uint32(off)
	}
	if n > 0 && c.finInFlight() && int(seqDiff(c.s.SndUna, c.rtx)) >= len(q) && len(q) <= limit {
		c.send(eth.TCPFin|eth.TCPAck, c.s.SndNxt-1, nil)
		c.rtx = c.s.SndNxt
	}
}

package migrate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/ringkit/ringkit/internal/seqnum"
	"github.com/ringkit/ringkit/tcpip"
)

// Table is the destination's session table: the sessions by id, the VM's
// network interface, the migration epoch it accepts records from, and the
// sequence number of the last record applied. Replay into it is idempotent: a record at or below
// Applied is skipped, so replaying a journal twice, or again after a crash
// in the middle of a replay, ends in the same state.
//
// A Table is not safe for concurrent use.
type Table struct {
	Epoch    uint32
	Applied  uint64 // sequence number of the last record applied (0: none)
	Sessions map[uint64]*tcpip.Session
	// Interface is the VM's MAC, addresses, gateway and neighbour cache.
	Interface Interface
}

// NewTable returns an empty table accepting records of the given epoch.
func NewTable(epoch uint32) *Table {
	return &Table{Epoch: epoch, Sessions: make(map[uint64]*tcpip.Session)}
}

// ReplayStats counts what a replay did.
type ReplayStats struct {
	Applied uint64 // records applied
	Skipped uint64 // records at or below Applied, already in the table
	Sealed  bool   // the journal's seal was read (Restore only)
}

// String says what the replay did in one line.
func (s ReplayStats) String() string {
	sealed := "the seal not read"
	if s.Sealed {
		sealed = "the journal's seal read"
	}
	return fmt.Sprintf("%d records applied, %d skipped as already applied, %s", s.Applied, s.Skipped, sealed)
}

// Apply applies one record. It returns false, nil for a record already
// applied (Seq <= Applied). A record is checked in full before it changes
// anything: on error the table is unchanged. Errors name the record and
// wrap ErrSeqGap (Seq > Applied+1), ErrStaleEpoch or ErrFutureEpoch (the
// record's epoch is not the table's) or ErrBadRecord (it cannot apply to
// the session it names).
func (t *Table) Apply(r Record) (bool, error) {
	if r.Seq <= t.Applied {
		return false, nil
	}
	if r.Seq != t.Applied+1 {
		return false, replayErr(r, fmt.Errorf("table has applied %d: %w", t.Applied, ErrSeqGap))
	}
	switch {
	case r.Epoch < t.Epoch:
		return false, replayErr(r, fmt.Errorf("table epoch %d: %w", t.Epoch, ErrStaleEpoch))
	case r.Epoch > t.Epoch:
		return false, replayErr(r, fmt.Errorf("table epoch %d: %w", t.Epoch, ErrFutureEpoch))
	}
	if err := t.apply(&r); err != nil {
		return false, replayErr(r, err)
	}
	t.Applied = r.Seq
	return true, nil
}

// Activate readies the restored sessions to run on this host: each now
// belongs to the table's epoch, and each that uses timestamps has its
// offset rebased to the local timestamp clock reading tsNow, so its next
// TSval follows the last one the source sent.
func (t *Table) Activate(tsNow uint32) {
	for _, s := range t.Sessions {
		s.Epoch = t.Epoch
		if s.TS.Enabled {
			s.TS.Rebase(tsNow)
		}
	}
}

// replayErr names the record an error is about. It takes the record by
// value so that only a failing Apply pays for the copy the message needs.
func replayErr(r Record, err error) error {
	return fmt.Errorf("migrate: replay %v: %w", &r, err)
}

// Replay applies recs in order, skipping those already applied, and stops
// at the first error.
func (t *Table) Replay(recs []Record) (ReplayStats, error) {
	var st ReplayStats
	for _, r := range recs {
		ok, err := t.Apply(r)
		if err != nil {
			return st, err
		}
		if ok {
			st.Applied++
		} else {
			st.Skipped++
		}
	}
	return st, nil
}

// Restore reads the journal b and replays it into t. A corrupt journal
// (ErrCorrupt, ErrSeqGap) or one of another epoch (ErrStaleEpoch,
// ErrFutureEpoch) changes nothing: the destination must not activate. A
// record that cannot apply (ErrBadRecord) stops the replay there, with the
// records before it applied and t.Applied naming the last. A torn tail replays the sound records before it and returns
// the *TornTailError with the stats. Sealed is set when the whole journal,
// seal included, was read.
func Restore(t *Table, b []byte) (ReplayStats, error) {
	recs, sealed, rerr := ReadAll(b)
	if rerr != nil && recs == nil {
		return ReplayStats{}, rerr
	}
	// Fence before changing anything: a journal of another epoch, or one
	// that does not follow what the table holds, must leave it untouched.
	for i := range recs {
		r := &recs[i]
		switch {
		case r.Seq <= t.Applied:
			continue
		case r.Epoch < t.Epoch:
			return ReplayStats{}, fmt.Errorf("migrate: restore %v: table epoch %d: %w", r, t.Epoch, ErrStaleEpoch)
		case r.Epoch > t.Epoch:
			return ReplayStats{}, fmt.Errorf("migrate: restore %v: table epoch %d: %w", r, t.Epoch, ErrFutureEpoch)
		case i == 0 && r.Seq != t.Applied+1:
			return ReplayStats{}, fmt.Errorf("migrate: restore %v: table has applied %d: %w", r, t.Applied, ErrSeqGap)
		}
	}
	growRecvQueues(t, recs)
	st, err := t.Replay(recs)
	st.Sealed = sealed
	if err != nil {
		return st, err
	}
	return st, rerr
}

// payloadLen is the payload size of each fixed-size record type, -1 for
// the types that carry bytes (a 4-byte sequence number and the data).
var payloadLen = [16]int{RecClose: 0, RecState: stateLen, RecAck: ackLen, RecSend: -1, RecRecv: -1,
	RecWindow: windowLen, RecTimestamp: timestampLen, RecCrypto: cryptoLen, RecTimers: timersLen}

func (t *Table) apply(r *Record) error {
	le := binary.LittleEndian
	p := r.Payload
	if r.Type == RecCreate {
		s, err := DecodeSession(p)
		if err != nil {
			return err
		}
		if s.ID != r.Session {
			return fmt.Errorf("payload holds session %d: %w", s.ID, ErrBadRecord)
		}
		if _, dup := t.Sessions[s.ID]; dup {
			return fmt.Errorf("session exists: %w", ErrBadRecord)
		}
		t.Sessions[s.ID] = s
		return nil
	}
	switch r.Type {
	case RecSeal:
		return nil
	case RecUpdate:
		return t.update(r)
	case RecInterface:
		if r.Session != 0 {
			return fmt.Errorf("interface record for session %d: %w", r.Session, ErrBadRecord)
		}
		ifc, err := DecodeInterface(p)
		if err != nil {
			return fmt.Errorf("%w (%w)", err, ErrBadRecord)
		}
		t.Interface = *ifc
		return nil
	}
	s := t.Sessions[r.Session]
	if s == nil {
		return fmt.Errorf("no such session: %w", ErrBadRecord)
	}
	if n := payloadLen[r.Type&15]; n >= 0 && len(p) != n || n < 0 && len(p) < dataHdrLen {
		return fmt.Errorf("payload of %d bytes: %w", len(p), ErrBadRecord)
	}
	switch r.Type {
	case RecClose:
		delete(t.Sessions, r.Session)
	case RecState:
		st, sndNxt, rcvNxt := tcpip.TCPState(p[0]), le.Uint32(p[4:]), le.Uint32(p[8:])
		extra := int64(seqnum.Diff(s.SndUna, sndNxt)) - int64(len(s.SendQueue))
		d := seqnum.Diff(s.RcvNxt, rcvNxt)
		switch {
		case !st.Valid() || !allZero(p[1:4]):
			return fmt.Errorf("state %d: %w", p[0], ErrBadRecord)
		case extra < 0 || extra > 2:
			return fmt.Errorf("snd_nxt %d with snd_una %d and %d bytes unacknowledged: %w",
				sndNxt, s.SndUna, len(s.SendQueue), ErrBadRecord)
		case d < 0 || d > 1:
			return fmt.Errorf("rcv_nxt %d from %d: %w", rcvNxt, s.RcvNxt, ErrBadRecord)
		}
		s.State, s.SndNxt, s.RcvNxt = st, sndNxt, rcvNxt
	case RecAck:
		una := le.Uint32(p)
		if !seqnum.LEQ(s.SndUna, una) || !seqnum.LEQ(una, s.SndNxt) {
			return fmt.Errorf("ack %d outside [%d, %d]: %w", una, s.SndUna, s.SndNxt, ErrBadRecord)
		}
		k := min(int(seqnum.Diff(s.SndUna, una)), len(s.SendQueue))
		s.SendQueue = trimFront(s.SendQueue, k)
		s.SndUna = una
	case RecSend:
		seq, data := le.Uint32(p), p[dataHdrLen:]
		if seq != s.SndNxt || len(s.SendQueue)+len(data) > tcpip.MaxQueue {
			return fmt.Errorf("send %d bytes at %d, snd_nxt %d: %w", len(data), seq, s.SndNxt, ErrBadRecord)
		}
		s.SendQueue = appendBytes(s.SendQueue, data)
		s.SndNxt += uint32(len(data))
	case RecRecv:
		seq, data := le.Uint32(p), p[dataHdrLen:]
		if seq != s.RcvNxt || len(s.RecvQueue)+len(data) > tcpip.MaxQueue {
			return fmt.Errorf("receive %d bytes at %d, rcv_nxt %d: %w", len(data), seq, s.RcvNxt, ErrBadRecord)
		}
		s.RecvQueue = appendBytes(s.RecvQueue, data)
		s.RcvNxt += uint32(len(data))
	case RecWindow:
		s.SndWnd, s.RcvWnd = le.Uint32(p[0:]), le.Uint32(p[4:])
	case RecTimestamp:
		s.TS.Recent, s.TS.LastSent = le.Uint32(p[0:]), le.Uint32(p[4:])
	case RecCrypto:
		if !allZero(p[4:8]) {
			return fmt.Errorf("crypto reserved bytes: %w", ErrBadRecord)
		}
		s.Crypto = &tcpip.Crypto{KeyEpoch: le.Uint32(p[0:]), TxSeq: le.Uint64(p[8:]), RxSeq: le.Uint64(p[16:])}
	case RecTimers:
		ka, rt, rto := time.Duration(le.Uint64(p[0:])), time.Duration(le.Uint64(p[8:])), time.Duration(le.Uint64(p[16:]))
		if ka < 0 || rt < 0 || rto < 0 {
			return fmt.Errorf("negative timer: %w", ErrBadRecord)
		}
		s.Timers.KeepaliveIn, s.Timers.RetransmitIn, s.Timers.RTO = ka, rt, rto
	}
	return nil
}

// update applies a RecUpdate record: the session's fields as they are now,
// its queues less the bytes they lost at the front, plus those they gained.
func (t *Table) update(r *Record) error {
	p := r.Payload
	if len(p) < updateHdrLen {
		return fmt.Errorf("payload of %d bytes: %w", len(p), ErrBadRecord)
	}
	s := t.Sessions[r.Session]
	if s == nil {
		return fmt.Errorf("no such session: %w", ErrBadRecord)
	}
	le := binary.LittleEndian
	recvDrop, sendDrop := int64(le.Uint32(p)), int64(le.Uint32(p[4:]))
	u, err := decodeSessionRaw(p[updateHdrLen:])
	if err != nil {
		return fmt.Errorf("%w (%w)", err, ErrBadRecord)
	}
	switch {
	case u.ID != r.Session || u.Tuple != s.Tuple:
		return fmt.Errorf("update of session %d %v, the table's is %v: %w", u.ID, u.Tuple, s.Tuple, ErrBadRecord)
	case recvDrop > int64(len(s.RecvQueue)) || sendDrop > int64(len(s.SendQueue)):
		return fmt.Errorf("drops %d and %d bytes of queues of %d and %d: %w",
			recvDrop, sendDrop, len(s.RecvQueue), len(s.SendQueue), ErrBadRecord)
	case int64(len(s.RecvQueue))-recvDrop+int64(len(u.RecvQueue)) > tcpip.MaxQueue ||
		int64(len(s.SendQueue))-sendDrop+int64(len(u.SendQueue)) > tcpip.MaxQueue:
		return fmt.Errorf("queues grow above %d bytes: %w", tcpip.MaxQueue, ErrBadRecord)
	}
	u.RecvQueue = join(s.RecvQueue[recvDrop:], u.RecvQueue)
	u.SendQueue = join(s.SendQueue[sendDrop:], u.SendQueue)
	if err := u.Validate(); err != nil {
		return fmt.Errorf("%w (%w)", err, ErrBadRecord)
	}
	t.Sessions[r.Session] = u
	return nil
}

// join appends b (a decoded copy) to the queue a, which the table owns
// (the session it belonged to is being replaced); an empty queue is nil, as
// a decoded one is. Bytes appended past a's length change nothing a's
// session shows, so a failed check leaves the table as it was.
func join(a, b []byte) []byte {
	if len(a)+len(b) == 0 {
		return nil
	}
	return append(a, b...)
}

// trimFront drops the first k bytes of q; an emptied queue is nil, as a
// decoded one is.
func trimFront(q []byte, k int) []byte {
	if k >= len(q) {
		return nil
	}
	return q[k:]
}

// appendBytes copies data onto q (data aliases journal bytes).
func appendBytes(q, data []byte) []byte {
	if len(data) == 0 {
		return q
	}
	return append(q, data...)
}

// growRecvQueues gives each session's receive queue, once, the room the
// journal's recv records will fill, instead of letting record after record
// regrow it (the larger part of a replay's cost for a buffering circuit's
// journal).
func growRecvQueues(t *Table, recs []Record) {
	need := make(map[uint64]int)
	for i := range recs {
		if r := &recs[i]; r.Type == RecRecv && r.Seq > t.Applied && len(r.Payload) > dataHdrLen {
			need[r.Session] += len(r.Payload) - dataHdrLen
		}
	}
	for id, n := range need {
		if s := t.Sessions[id]; s != nil && n <= tcpip.MaxQueue {
			s.RecvQueue = slices.Grow(s.RecvQueue, n)
		}
	}
}

// applier replays a journal into a table as its bytes arrive: each record
// as soon as it is whole, checked as Restore checks it. A destination
// applies a journal streamed during the suspension this way, so that only
// its tail is left to replay once it is sealed. Unlike Restore, it changes
// the table before it has read the whole journal: a table it failed on
// (err) must be dropped, as a destination drops the migration.
type applier struct {
	t   *Table
	r   Reader
	st  ReplayStats
	err error
}

// feed applies the records of b (the journal so far: the bytes fed before
// and more) that are whole and not yet applied.
func (a *applier) feed(b []byte) {
	if a.err != nil {
		return
	}
	a.r.b = b
	for {
		rec, err := a.r.next()
		if err == io.EOF {
			return
		}
		if _, torn := err.(*TornTailError); torn {
			return // the rest of the record has not arrived
		}
		if err != nil {
			a.err = err
			return
		}
		ok, err := a.t.Apply(rec)
		if err != nil {
			a.err = err
			return
		}
		if ok {
			a.st.Applied++
		} else {
			a.st.Skipped++
		}
	}
}

// done is the replay of the whole journal b: an error if a record failed,
// if b ends inside a record, or if it ends unsealed.
func (a *applier) done(b []byte) (ReplayStats, error) {
	a.feed(b)
	switch {
	case a.err != nil:
		return a.st, a.err
	case a.r.off != len(b):
		return a.st, &TornTailError{Offset: a.r.off, Seq: a.r.lastSeq}
	case !a.r.sealed:
		return a.st, errors.New("journal not sealed")
	}
	a.st.Sealed = true
	return a.st, nil
}

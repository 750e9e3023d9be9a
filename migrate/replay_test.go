package migrate

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/ringkit/ringkit/tcpip"
)

func TestReplayMatchesModel(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		w := newWorkload(t, seed, 300, 7)
		tbl := w.destination(t)
		st, err := Restore(tbl, w.journal)
		if err != nil {
			t.Fatal(err)
		}
		if !st.Sealed || st.Applied != uint64(w.records) || st.Skipped != 0 {
			t.Fatalf("seed %d: %+v, want %d applied", seed, st, w.records)
		}
		checkSessions(t, w.model, tbl.Sessions)
		if !reflect.DeepEqual(tbl.Interface, w.iface) {
			t.Fatalf("seed %d: interface\n got %+v\nwant %+v", seed, tbl.Interface, w.iface)
		}
	}
}

// TestReplayIdempotent replays a journal twice, and replays it again after
// a crash at every point of a first replay: the table ends the same.
func TestReplayIdempotent(t *testing.T) {
	w := newWorkload(t, 21, 200, 7)
	recs, sealed, err := ReadAll(w.journal)
	if err != nil || !sealed {
		t.Fatal(err)
	}

	tbl := w.destination(t)
	if _, err := tbl.Replay(recs); err != nil {
		t.Fatal(err)
	}
	st, err := tbl.Replay(recs)
	if err != nil || st.Applied != 0 || st.Skipped != uint64(len(recs)) {
		t.Fatalf("second replay: %+v, %v", st, err)
	}
	checkSessions(t, w.model, tbl.Sessions)

	step := 1
	if testing.Short() {
		step = 13
	}
	for crash := 0; crash < len(recs); crash += step {
		tbl := w.destination(t)
		if _, err := tbl.Replay(recs[:crash]); err != nil { // the replay dies after crash records
			t.Fatal(err)
		}
		st, err := tbl.Replay(recs)
		if err != nil || st.Skipped != uint64(crash) || st.Applied != uint64(len(recs)-crash) {
			t.Fatalf("crash after %d: %+v, %v", crash, st, err)
		}
		checkSessions(t, w.model, tbl.Sessions)
		if tbl.Applied != recs[len(recs)-1].Seq {
			t.Fatalf("crash after %d: applied %d", crash, tbl.Applied)
		}
	}
}

// TestReplaySequenceWrap moves a session's sequence numbers across 2^32 in
// both directions through journaled changes.
func TestReplaySequenceWrap(t *testing.T) {
	base := &tcpip.Session{ID: 1, State: tcpip.Established, SndUna: 0xfffffffa, SndNxt: 0xfffffffa, RcvNxt: 0xfffffff0, Epoch: 2}
	j, _ := NewJournal(4096, 2, 1)
	j.AppendCreate(base)
	j.AppendRecv(1, 0xfffffff0, []byte("0123456789abcdef")) // ends at 0
	j.AppendRecv(1, 0, []byte("after-wrap"))
	j.AppendSend(1, 0xfffffffa, []byte("0123456789")) // snd_nxt 4
	j.AppendAck(1, 2)                                 // acknowledges 8 bytes across the wrap
	j.AppendState(1, tcpip.CloseWait, 4, 11)          // the peer's FIN at 10
	j.Seal()

	tbl := NewTable(2)
	if _, err := Restore(tbl, j.Bytes()); err != nil {
		t.Fatal(err)
	}
	s := tbl.Sessions[1]
	want := &tcpip.Session{ID: 1, State: tcpip.CloseWait, SndUna: 2, SndNxt: 4, RcvNxt: 11, Epoch: 2,
		RecvQueue: []byte("0123456789abcdefafter-wrap"), SendQueue: []byte("89")}
	checkSessions(t, map[uint64]*tcpip.Session{1: want}, tbl.Sessions)
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}

	// An ack beyond snd_nxt (read with < on raw numbers, 2 < 0xfffffffa
	// would look like a step back) is refused.
	bad := Record{Type: RecAck, Session: 1, Seq: tbl.Applied + 1, Epoch: 2, Payload: []byte{9, 0, 0, 0}}
	if _, err := tbl.Apply(bad); !errors.Is(err, ErrBadRecord) {
		t.Fatalf("ack past snd_nxt: %v", err)
	}
}

func TestReplayRejectsStaleEpochAndGap(t *testing.T) {
	w := newWorkload(t, 31, 20, 7)
	recs, _, err := ReadAll(w.journal)
	if err != nil {
		t.Fatal(err)
	}
	first := recs[0]

	tests := []struct {
		name  string
		table func() *Table
		rec   Record
		want  error
		names string
	}{
		{"stale epoch", func() *Table { tb := w.destination(t); tb.Epoch = 8; return tb }, first, ErrStaleEpoch, "record 101"},
		{"future epoch", func() *Table { tb := w.destination(t); tb.Epoch = 6; return tb }, first, ErrFutureEpoch, "record 101"},
		{"gap", func() *Table { return w.destination(t) }, recs[1], ErrSeqGap, "record 102"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tbl := tc.table()
			before := normalize(tbl.Sessions)
			ok, err := tbl.Apply(tc.rec)
			if ok || !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.names) {
				t.Fatalf("Apply = %v, %v; want %v naming %q", ok, err, tc.want, tc.names)
			}
			checkSessions(t, before, tbl.Sessions)
			if tbl.Applied != w.precopy.Applied {
				t.Fatalf("applied moved to %d", tbl.Applied)
			}
			// Restore fences the whole journal before changing anything.
			if tc.name != "gap" {
				if _, err := Restore(tbl, w.journal); !errors.Is(err, tc.want) {
					t.Fatalf("Restore: %v", err)
				}
				checkSessions(t, before, tbl.Sessions)
			}
		})
	}

	// A journal that starts after what the table holds is a gap too.
	tbl := w.destination(t)
	tbl.Applied = 50
	if _, err := Restore(tbl, w.journal); !errors.Is(err, ErrSeqGap) {
		t.Fatalf("journal starting past applied+1: %v", err)
	}
}

func TestReplayRejectsBadRecords(t *testing.T) {
	mk := func(typ RecordType, session uint64, p []byte) Record {
		return Record{Type: typ, Session: session, Seq: 1, Epoch: 1, Payload: p}
	}
	s := &tcpip.Session{ID: 1, State: tcpip.Established, SndUna: 100, SndNxt: 103, RcvNxt: 500, SendQueue: []byte("abc")}
	upd := func(recvDrop, sendDrop uint32, edit func(u *tcpip.Session)) []byte {
		u := s.Clone()
		u.SendQueue = nil
		edit(u)
		p := binary.LittleEndian.AppendUint32(nil, recvDrop)
		p = binary.LittleEndian.AppendUint32(p, sendDrop)
		return AppendSession(p, u)
	}
	same := func(*tcpip.Session) {}
	tests := []struct {
		name string
		rec  Record
	}{
		{"unknown session", mk(RecClose, 2, nil)},
		{"create existing", mk(RecCreate, 1, AppendSession(nil, s))},
		{"create other id", mk(RecCreate, 5, AppendSession(nil, s))},
		{"short ack", mk(RecAck, 1, []byte{1})},
		{"ack behind snd_una", mk(RecAck, 1, []byte{99, 0, 0, 0})},
		{"recv out of order", mk(RecRecv, 1, []byte{0xf5, 1, 0, 0, 'x'})},
		{"send out of order", mk(RecSend, 1, []byte{100, 0, 0, 0, 'x'})},
		{"state invalid", mk(RecState, 1, []byte{20, 0, 0, 0, 103, 0, 0, 0, 0xf4, 1, 0, 0})},
		{"state rcv_nxt jump", mk(RecState, 1, []byte{7, 0, 0, 0, 103, 0, 0, 0, 0xf6, 1, 0, 0})},
		{"negative timer", mk(RecTimers, 1, append(make([]byte, 16), 0, 0, 0, 0, 0, 0, 0, 0x80))},
		{"update short", mk(RecUpdate, 1, []byte{0, 0, 0, 0, 0})},
		{"update unknown session", mk(RecUpdate, 2, upd(0, 0, func(u *tcpip.Session) { u.ID = 2 }))},
		{"update other id", mk(RecUpdate, 1, upd(0, 0, func(u *tcpip.Session) { u.ID = 2 }))},
		{"update other tuple", mk(RecUpdate, 1, upd(0, 0, func(u *tcpip.Session) { u.Tuple.Proto = 17 }))},
		{"update drops more than received", mk(RecUpdate, 1, upd(1, 0, same))},
		{"update drops more than sent", mk(RecUpdate, 1, upd(0, 4, same))},
		{"update leaves snd_nxt behind", mk(RecUpdate, 1, upd(0, 0, func(u *tcpip.Session) { u.SendQueue = []byte("d") }))},
		{"update malformed", mk(RecUpdate, 1, upd(0, 0, same)[:40])},
		{"update trailing", mk(RecUpdate, 1, append(upd(0, 0, same), 0))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tbl := NewTable(1)
			tbl.Sessions[1] = s.Clone()
			ok, err := tbl.Apply(tc.rec)
			if ok || !errors.Is(err, ErrBadRecord) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("Apply = %v, %v", ok, err)
			}
			checkSessions(t, map[uint64]*tcpip.Session{1: s}, tbl.Sessions)
			if tbl.Applied != 0 {
				t.Fatal("applied moved")
			}
		})
	}
}

func TestActivate(t *testing.T) {
	w := newWorkload(t, 91, 100, 7)
	tbl := w.destination(t)
	if _, err := Restore(tbl, w.journal); err != nil {
		t.Fatal(err)
	}
	const now = 12345 // the destination's clock, far behind the source's
	tbl.Activate(now)
	for id, s := range tbl.Sessions {
		if s.Epoch != 7 {
			t.Fatalf("session %d: epoch %d", id, s.Epoch)
		}
		if got := s.TS.TSval(now); got != w.model[id].TS.LastSent+1 {
			t.Fatalf("session %d: TSval %d after activation, last sent %d", id, got, w.model[id].TS.LastSent)
		}
	}
}

// The applier replays a journal as its bytes arrive, in pieces cut
// anywhere (inside headers and payloads): each record as soon as it is
// whole, ending where Restore ends; a journal that ends torn, unsealed or
// corrupt is refused.
func TestApplierIncremental(t *testing.T) {
	w := newWorkload(t, 81, 300, 7)
	rng := rand.New(rand.NewPCG(81, 2))
	for trial := range 20 {
		ap := &applier{t: w.destination(t)}
		for off := 0; off < len(w.journal); {
			off = min(off+1+rng.IntN(400), len(w.journal))
			ap.feed(w.journal[:off])
			if off >= len(w.journal)/2 && ap.st.Applied == 0 {
				t.Fatalf("trial %d: nothing applied with %d of %d bytes in", trial, off, len(w.journal))
			}
		}
		st, err := ap.done(w.journal)
		if err != nil || !st.Sealed || st.Applied != uint64(w.records) {
			t.Fatalf("trial %d: %+v, %v", trial, st, err)
		}
		checkSessions(t, w.model, ap.t.Sessions)
	}
	offs := recordOffsets(t, w.journal)
	flipped := append([]byte(nil), w.journal...)
	flipped[offs[5]+HeaderSize] ^= 1
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"torn", w.journal[:offs[7]+HeaderSize+1], ErrTornTail},
		{"unsealed", w.journal[:offs[len(offs)-1]], nil},
		{"corrupt", flipped, ErrCorrupt},
	} {
		ap := &applier{t: w.destination(t)}
		ap.feed(tc.b)
		_, err := ap.done(tc.b)
		if err == nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

package migrate

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/ringkit/ringkit/tcpip"
)

// FuzzJournalReader feeds arbitrary bytes to the reader: it must never
// panic, every error must be one of the named kinds, a torn tail must be
// reported at a record boundary with the sound records before it, and what
// it accepts must replay without a panic.
func FuzzJournalReader(f *testing.F) {
	w := newWorkload(f, 51, 40, 3)
	f.Add(w.journal)
	offs := recordOffsets(f, w.journal)
	f.Add(w.journal[:offs[len(offs)-1]+HeaderSize+2]) // torn seal
	f.Add(w.journal[:offs[3]+5])                      // torn header
	flipped := append([]byte(nil), w.journal...)
	flipped[offs[2]+HeaderSize] ^= 0x10
	f.Add(flipped)
	f.Add([]byte{})
	f.Add(make([]byte, HeaderSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(b)
		var recs []Record
		for {
			rec, err := r.Next()
			if err == io.EOF {
				if r.Offset() != len(b) {
					t.Fatalf("EOF at %d of %d", r.Offset(), len(b))
				}
				break
			}
			if err != nil {
				var torn *TornTailError
				switch {
				case errors.As(err, &torn):
					if torn.Offset != r.Offset() || torn.Offset >= len(b) {
						t.Fatalf("torn at %d, reader at %d of %d", torn.Offset, r.Offset(), len(b))
					}
				case errors.Is(err, ErrCorrupt), errors.Is(err, ErrSeqGap):
				default:
					t.Fatalf("unnamed error: %v", err)
				}
				if _, err2 := r.Next(); err2 != err {
					t.Fatalf("error not sticky: %v then %v", err, err2)
				}
				break
			}
			if !rec.Type.Valid() || len(rec.Payload) > MaxPayload {
				t.Fatalf("accepted %v with %d bytes", &rec, len(rec.Payload))
			}
			recs = append(recs, rec)
		}
		if len(recs) > 0 {
			tbl := NewTable(recs[0].Epoch)
			tbl.Applied = recs[0].Seq - 1
			tbl.Replay(recs) // may refuse a record, must not panic
		}
	})
}

// FuzzUpdate applies arbitrary update payloads to a session: never a
// panic; a refused one names ErrBadRecord and leaves the table as it was;
// an accepted one leaves a session that validates.
func FuzzUpdate(f *testing.F) {
	rng := rand.New(rand.NewPCG(63, 1))
	base := randSession(rng, 1)
	for _, d := range [][2]int{{0, 0}, {len(base.RecvQueue), 0}, {1, 1}, {len(base.RecvQueue) + 1, 0}} {
		u := base.Clone()
		u.RecvQueue, u.SendQueue = randBytes(rng, 20), nil
		u.SendQueue = u.SendQueue[:0]
		u.SndUna += uint32(d[1])
		j, _ := NewJournal(1<<16, 1, 1)
		if _, err := j.AppendUpdate(u, d[0], d[1]); err != nil {
			f.Fatal(err)
		}
		recs, _, err := ReadAll(j.Bytes())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(recs[0].Payload)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, p []byte) {
		tbl := NewTable(1)
		tbl.Sessions[1] = base.Clone()
		ok, err := tbl.Apply(Record{Type: RecUpdate, Session: 1, Seq: 1, Epoch: 1, Payload: p})
		if err != nil {
			if ok || !errors.Is(err, ErrBadRecord) || tbl.Applied != 0 {
				t.Fatalf("Apply = %v, %v (applied %d)", ok, err, tbl.Applied)
			}
			checkSessions(t, map[uint64]*tcpip.Session{1: base}, tbl.Sessions)
			return
		}
		if err := tbl.Sessions[1].Validate(); err != nil {
			t.Fatalf("accepted an update to an invalid session: %v", err)
		}
	})
}

// FuzzSessionDecode: the decoder never panics, and what it accepts is
// canonical: it encodes back to the same bytes and validates.
func FuzzSessionDecode(f *testing.F) {
	rng := rand.New(rand.NewPCG(61, 1))
	for id := uint64(1); id <= 6; id++ {
		f.Add(AppendSession(nil, randSession(rng, id)))
	}
	f.Add(AppendSession(nil, &tcpip.Session{}))
	f.Add([]byte{sessionVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeSession(b)
		if err != nil {
			if s != nil || !errors.Is(err, ErrMalformed) {
				t.Fatalf("DecodeSession = %v, %v", s, err)
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("accepted an invalid session: %v", err)
		}
		if again := AppendSession(nil, s); !bytes.Equal(again, b) {
			t.Fatalf("not canonical:\n in  %x\n out %x", b, again)
		}
	})
}

// FuzzTableDecode: the same for the pre-copy table.
func FuzzTableDecode(f *testing.F) {
	f.Add(AppendTable(nil, newWorkload(f, 62, 10, 2).precopy))
	f.Add(AppendTable(nil, NewTable(1)))
	f.Fuzz(func(t *testing.T, b []byte) {
		tbl, err := DecodeTable(b)
		if err != nil {
			if tbl != nil || !errors.Is(err, ErrMalformed) && !errors.Is(err, tcpip.ErrInvalidSession) {
				t.Fatalf("DecodeTable = %v, %v", tbl, err)
			}
			return
		}
		if again := AppendTable(nil, tbl); !bytes.Equal(again, b) {
			t.Fatalf("not canonical")
		}
	})
}

// fuzzConn is a connection whose peer wrote b and reads nothing back.
type fuzzConn struct{ r *bytes.Reader }

func (c fuzzConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c fuzzConn) Write(p []byte) (int, error) { return len(p), nil }

// FuzzReceiver feeds arbitrary bytes to a receiver as its sender's side of
// the connection: it never panics; it ends with the stream (Done, the data
// within the size it accepts), or an error naming a protocol breach or the
// connection's end.
func FuzzReceiver(f *testing.F) {
	le := binary.LittleEndian
	for _, open := range []bool{false, true} {
		var b bytes.Buffer
		mw := msgWriter{w: &b}
		hello := le.AppendUint64(nil, streamJournal)
		if open {
			hello = le.AppendUint64(hello, 0)
			hello = le.AppendUint32(hello, 8)
			hello = le.AppendUint32(hello, helloOpen)
		} else {
			hello = le.AppendUint64(hello, 13)
			hello = le.AppendUint32(hello, 8)
			hello = le.AppendUint32(hello, 0)
		}
		_ = mw.write(msgHello, 0, hello)
		_ = mw.write(msgData, 0, []byte("12345678"))
		_ = mw.write(msgData, 1, []byte("12345"))
		var end []byte
		if open {
			end = le.AppendUint64(nil, 13)
		}
		_ = mw.write(msgBye, 2, end)
		f.Add(b.Bytes())
		f.Add(b.Bytes()[:b.Len()-3])
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		rcv := NewReceiver(streamJournal, 64)
		err := rcv.Receive(context.Background(), fuzzConn{bytes.NewReader(b)})
		switch {
		case err == nil:
			if !rcv.Done() || len(rcv.Data()) > 64 {
				t.Fatalf("ended without the stream: done %v, %d bytes", rcv.Done(), len(rcv.Data()))
			}
		case !errors.Is(err, ErrProtocol) && !errors.Is(err, ErrConnection):
			t.Fatalf("unnamed error: %v", err)
		}
	})
}

// FuzzControl: a control message of arbitrary bytes is read or refused as
// a protocol breach or a short read, never a panic.
func FuzzControl(f *testing.F) {
	var b bytes.Buffer
	_ = writeCtl(&b, ctlMsg{kind: ctlGo, a: 7})
	f.Add(b.Bytes())
	f.Add(b.Bytes()[:20])
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := readCtlAny(bytes.NewReader(b))
		switch {
		case err == nil:
			if len(b) < ctlLen || m.kind != b[4] {
				t.Fatalf("read %+v from %d bytes", m, len(b))
			}
		case !errors.Is(err, ErrProtocol) && !errors.Is(err, ErrConnection):
			t.Fatalf("unnamed error: %v", err)
		}
	})
}

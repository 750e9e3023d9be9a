package migrate

import (
	"bytes"
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

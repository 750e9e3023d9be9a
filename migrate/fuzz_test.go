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

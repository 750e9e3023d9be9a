package migrate

import (
	"bytes"
	"errors"
	"io"
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/ringkit/ringkit/tcpip"
)

func TestJournalFullNeverOverwrites(t *testing.T) {
	j, err := NewJournal(1024, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	payload := bytes.Repeat([]byte{0xab}, 100) // 144-byte records
	var appended int
	for {
		free := j.Free()
		_, err := j.Append(RecRecv, 1, payload)
		if err != nil {
			if !errors.Is(err, ErrJournalFull) {
				t.Fatalf("append %d: %v", appended, err)
			}
			if free >= RecordSize(len(payload)) {
				t.Fatalf("full with %d free for a %d-byte record", free, RecordSize(len(payload)))
			}
			break
		}
		appended++
		if got := j.Free(); got != free-RecordSize(len(payload)) {
			t.Fatalf("Free %d after append, was %d", got, free)
		}
	}
	before := j.Bytes()
	if _, err := j.AppendRecv(1, 0, payload); !errors.Is(err, ErrJournalFull) {
		t.Fatalf("second full append: %v", err)
	}
	if !bytes.Equal(j.Bytes(), before) || j.Records() != uint64(appended) {
		t.Fatal("a failed append changed the journal")
	}
	if _, err := j.Seal(); err != nil { // the seal's room is kept back
		t.Fatalf("seal of a full journal: %v", err)
	}
	if j.Free() != 0 {
		t.Fatalf("Free %d after seal", j.Free())
	}
	if _, err := j.AppendClose(1); !errors.Is(err, ErrSealed) {
		t.Fatalf("append after seal: %v", err)
	}
	if _, err := j.Seal(); !errors.Is(err, ErrSealed) {
		t.Fatalf("second seal: %v", err)
	}
	recs, sealed, err := ReadAll(j.Bytes())
	if err != nil || !sealed || len(recs) != appended+1 {
		t.Fatalf("ReadAll: %d records, sealed %v, %v", len(recs), sealed, err)
	}
	if j.Peak() != j.Used() || j.Used() > j.Cap() {
		t.Fatalf("peak %d used %d cap %d", j.Peak(), j.Used(), j.Cap())
	}
}

func TestJournalBadConfig(t *testing.T) {
	if _, err := NewJournal(64, 1, 1); err == nil {
		t.Fatal("capacity too small for a seal accepted")
	}
	if _, err := NewJournal(4096, 1, 0); err == nil {
		t.Fatal("first sequence number 0 accepted")
	}
	j, _ := NewJournal(4096, 1, 1)
	if _, err := j.Append(RecRecv, 1, make([]byte, MaxPayload+1)); !errors.Is(err, ErrRecordTooLarge) {
		t.Fatalf("oversize payload: %v", err)
	}
	if _, err := j.Append(RecSeal, 0, nil); !errors.Is(err, ErrBadRecord) {
		t.Fatalf("Append of a seal: %v", err)
	}
	if _, err := j.Append(RecRecv, 1, make([]byte, 4096)); !errors.Is(err, ErrRecordTooLarge) {
		t.Fatalf("record larger than the ring: %v", err)
	}
}

// TestJournalWrap moves many records through a small ring, so that records
// wrap around its end, and checks the stream read back against what went in.
func TestJournalWrap(t *testing.T) {
	j, err := NewJournal(512, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	var stream []byte // every byte read out, in order
	var pos int64
	buf := make([]byte, 96)
	drain := func() {
		for {
			n, err := j.ReadAt(buf, pos)
			stream = append(stream, buf[:n]...)
			pos += int64(n)
			j.Release(pos)
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range 200 {
		data := bytes.Repeat([]byte{byte(i)}, i%37)
		if _, err := j.AppendRecv(7, uint32(i), data); err != nil {
			if !errors.Is(err, ErrJournalFull) {
				t.Fatal(err)
			}
			drain()
			if _, err := j.AppendRecv(7, uint32(i), data); err != nil {
				t.Fatalf("append %d after drain: %v", i, err)
			}
		}
		if j.Used() > j.Cap() {
			t.Fatalf("used %d above capacity %d", j.Used(), j.Cap())
		}
	}
	if _, err := j.Seal(); err != nil {
		t.Fatal(err)
	}
	drain()
	if _, err := j.ReadAt(buf, 0); err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("read of released bytes: %v", err)
	}
	if j.Size() < 10*int64(j.Cap()) {
		t.Fatalf("only %d bytes moved through a %d-byte ring", j.Size(), j.Cap())
	}
	recs, sealed, err := ReadAll(stream)
	if err != nil || !sealed || len(recs) != 201 {
		t.Fatalf("ReadAll: %d records, sealed %v, %v", len(recs), sealed, err)
	}
	for i, r := range recs[:200] {
		if r.Seq != uint64(i+1) || len(r.Payload) != 4+i%37 || (i%37 > 0 && r.Payload[4] != byte(i)) {
			t.Fatalf("record %d: %v payload %x", i, &r, r.Payload)
		}
	}
}

func TestJournalAppendAllocs(t *testing.T) {
	j, _ := NewJournal(1<<20, 1, 1)
	data := make([]byte, 64)
	s := randSessionForAllocs()
	j.AppendCreate(s) // sizes the scratch buffer
	var seq uint32
	allocs := testing.AllocsPerRun(1000, func() {
		if j.Free() < 4096 {
			j.Release(j.Size())
		}
		j.AppendRecv(1, seq, data)
		j.AppendAck(1, seq)
		j.AppendWindow(1, 1, 2)
		j.AppendCreate(s)
		seq += 64
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per append round", allocs)
	}
}

// TestTornTail cuts the journal at every byte inside its last record: the
// records before it are returned, the tail is reported with its offset,
// and Restore replays the sound part.
func TestTornTail(t *testing.T) {
	w := newWorkload(t, 11, 30, 5)
	offs := recordOffsets(t, w.journal)
	last := offs[len(offs)-1]
	for _, cutLast := range []bool{true, false} {
		// The last record is the seal; cut the record before it too.
		start, end := last, len(w.journal)
		if !cutLast {
			start, end = offs[len(offs)-2], last
		}
		for cut := start + 1; cut < end; cut++ {
			b := w.journal[:cut]
			recs, sealed, err := ReadAll(b)
			var torn *TornTailError
			if !errors.As(err, &torn) || !errors.Is(err, ErrTornTail) {
				t.Fatalf("cut at %d: %v, want a torn tail", cut, err)
			}
			if torn.Offset != start || sealed {
				t.Fatalf("cut at %d: torn at %d (want %d), sealed %v", cut, torn.Offset, start, sealed)
			}
			wantRecs := len(offs) - 1
			if !cutLast {
				wantRecs--
			}
			if len(recs) != wantRecs || torn.Seq != recs[len(recs)-1].Seq {
				t.Fatalf("cut at %d: %d records (want %d), torn after %d", cut, len(recs), wantRecs, torn.Seq)
			}
			if testing.Short() && cut > start+HeaderSize+8 {
				cut = max(cut, end-9) // header, the start of the payload and its end
			}
		}
	}
	// Cut inside the seal: every change replays, the journal is not sealed.
	tbl := w.destination(t)
	st, err := Restore(tbl, w.journal[:last+HeaderSize+3])
	if !errors.Is(err, ErrTornTail) || st.Sealed || st.Applied != uint64(len(offs)-1) {
		t.Fatalf("Restore of a torn journal: %+v, %v", st, err)
	}
	checkSessions(t, w.model, tbl.Sessions)
}

// TestCorruptBitFlip flips each bit of a record in the middle of the
// journal: every flip is a hard error, never a torn tail, and Restore
// leaves the table untouched (the destination does not activate).
func TestCorruptBitFlip(t *testing.T) {
	w := newWorkload(t, 12, 30, 5)
	offs := recordOffsets(t, w.journal)
	mid := len(offs) / 2
	start, end := offs[mid], offs[mid+1]
	step := 1
	if testing.Short() {
		step = 7 // a sample of bit positions across the record
	}
	b := append([]byte(nil), w.journal...)
	for bit := 0; bit < (end-start)*8; bit += step {
		i := start + bit/8
		b[i] ^= 1 << (bit % 8)
		recs, _, err := ReadAll(b)
		if !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrTornTail) || recs != nil {
			t.Fatalf("bit %d of record %d (byte %d): %d records, %v; want ErrCorrupt", bit, mid, i, len(recs), err)
		}
		tbl := w.destination(t)
		if st, err := Restore(tbl, b); !errors.Is(err, ErrCorrupt) || st.Applied != 0 || tbl.Applied != w.precopy.Applied {
			t.Fatalf("bit %d: Restore applied %d records, %v", bit, st.Applied, err)
		}
		checkSessions(t, w.precopy.Sessions, tbl.Sessions)
		b[i] ^= 1 << (bit % 8)
	}
}

func TestReaderRejectsGapAndTrailing(t *testing.T) {
	j, _ := NewJournal(4096, 1, 10)
	j.AppendClose(1)
	j.SetNextSeq(12)
	j.AppendClose(2)
	_, _, err := ReadAll(j.Bytes())
	if !errors.Is(err, ErrSeqGap) || !bytes.Contains([]byte(err.Error()), []byte("record 12")) {
		t.Fatalf("gap: %v", err)
	}

	j, _ = NewJournal(4096, 1, 1)
	j.AppendClose(1)
	j.Seal()
	b := append(j.Bytes(), make([]byte, 8)...)
	if _, _, err := ReadAll(b); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("bytes after the seal: %v", err)
	}
}

// TestReaderChecksSeal: a seal whose count does not match the records
// before it is corruption (a writer lost or invented records).
func TestReaderChecksSeal(t *testing.T) {
	j, _ := NewJournal(4096, 1, 1)
	j.AppendClose(1)
	j.AppendClose(2)
	j.SetRecords(3)
	j.Seal()
	_, _, err := ReadAll(j.Bytes())
	if !errors.Is(err, ErrCorrupt) || !bytes.Contains([]byte(err.Error()), []byte("seals 3 records, 2 read")) {
		t.Fatalf("seal with a wrong count: %v", err)
	}
}

// TestPayloadRoom: a circuit that advertises PayloadRoom can journal
// exactly that much inbound payload, and not one byte more.
func TestPayloadRoom(t *testing.T) {
	for _, mss := range []int{1, 7, 536, 1460} {
		j, _ := NewJournal(8192+8*mss, 1, 1)
		j.AppendClose(9) // start from an odd fill
		room := j.PayloadRoom(mss)
		if room <= 0 {
			t.Fatalf("mss %d: room %d", mss, room)
		}
		data := make([]byte, mss)
		var seq uint32
		for room > 0 {
			n := min(room, mss)
			if _, err := j.AppendRecv(1, seq, data[:n]); err != nil {
				t.Fatalf("mss %d: %d bytes left of the room: %v", mss, room, err)
			}
			room -= n
			seq += uint32(n)
		}
		if got := j.PayloadRoom(mss); got != 0 {
			t.Fatalf("mss %d: room %d after filling it", mss, got)
		}
		if _, err := j.AppendRecv(1, seq, data[:1]); !errors.Is(err, ErrJournalFull) {
			t.Fatalf("mss %d: one byte past the room: %v", mss, err)
		}
	}
}

// TestJournalSizeLimit: a journal capacity out of range, above
// MaxJournalSize included, is refused with an error wrapping ErrConfig
// before anything is allocated (Go cannot recover from an allocation the
// machine cannot serve), by NewJournal and already by NewCircuit, not
// only when a Suspend makes the journal.
func TestJournalSizeLimit(t *testing.T) {
	for _, c := range []int{math.MaxInt / 2, math.MaxInt, MaxJournalSize + Align, 64, -1} {
		if _, err := NewJournal(c, 1, 1); !errors.Is(err, ErrConfig) {
			t.Errorf("NewJournal(%d) = %v, want ErrConfig", c, err)
		}
	}
	if _, err := NewJournal(4096, 1, 0); !errors.Is(err, ErrConfig) {
		t.Errorf("NewJournal with first sequence number 0 = %v, want ErrConfig", err)
	}
	clock := tcpip.NewSimClock(time.Unix(1700000000, 0))
	stack := tcpip.StackConfig{Clock: clock, Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.10/24")}}
	for _, c := range []int{math.MaxInt, MaxJournalSize + Align, 64, -1} {
		if _, err := NewCircuit(CircuitConfig{Stack: stack, JournalSize: c}, func([]byte) {}); !errors.Is(err, ErrConfig) {
			t.Errorf("NewCircuit with JournalSize %d = %v, want ErrConfig", c, err)
		}
	}
}

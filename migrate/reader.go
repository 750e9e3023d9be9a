package migrate

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
)

// Reader decodes a journal's bytes record by record, checking each as
// etcd's WAL decoder and LevelDB's log reader do, and telling a torn tail
// from corruption:
//
//   - The journal ends inside a record (fewer bytes than a header, or than
//     the length a sound header gives): a write was cut short. Next returns
//     a *TornTailError (errors.Is ErrTornTail) with the record's offset; the
//     records before it are sound.
//   - A complete record fails a check (header CRC, chained CRC, reserved or
//     padding bytes, an unknown type, a seal that does not match what came
//     before, bytes after the seal): Next returns an error wrapping
//     ErrCorrupt. Nothing of the journal should be replayed.
//   - A record whose sequence number does not follow the previous one:
//     ErrSeqGap, naming the record.
//
// The header CRC is what makes the split sound: the length is trusted only
// once the header checks, so a flipped length bit reads as corruption, never
// as a torn tail. Errors are sticky. A Reader never panics and never reads
// outside its input.
type Reader struct {
	b       []byte
	off     int
	crc     uint32 // chained CRC of the last sound record
	lastSeq uint64 // sequence number of the last sound record, 0 before the first
	count   uint64 // sound records, seal excluded
	sealed  bool
	err     error
}

// NewReader returns a Reader of the journal bytes b, which start at a
// record boundary whose previous chained CRC is 0 (a journal's first
// record). The records' payloads alias b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Offset is the byte offset of the next record.
func (r *Reader) Offset() int { return r.off }

// Sealed reports whether the seal has been read: the journal is complete.
func (r *Reader) Sealed() bool { return r.sealed }

// Next returns the next record. At the end of b it returns io.EOF; check
// Sealed to know whether the journal was complete.
func (r *Reader) Next() (Record, error) {
	if r.err != nil {
		return Record{}, r.err
	}
	rec, err := r.next()
	if err != nil {
		r.err = err
	}
	return rec, err
}

// recName names a record in an error; by value, so that only a failing
// read pays for the copy.
func recName(rec Record) string { return rec.String() }

func (r *Reader) corrupt(format string, args ...any) error {
	return fmt.Errorf("migrate: journal record at byte %d (after record %d): %s: %w",
		r.off, r.lastSeq, fmt.Sprintf(format, args...), ErrCorrupt)
}

func (r *Reader) next() (Record, error) {
	rem := r.b[r.off:]
	if len(rem) == 0 {
		return Record{}, io.EOF
	}
	if r.sealed {
		return Record{}, r.corrupt("%d bytes after the seal", len(rem))
	}
	if len(rem) < HeaderSize {
		return Record{}, &TornTailError{Offset: r.off, Seq: r.lastSeq}
	}
	le := binary.LittleEndian
	hdr := rem[:HeaderSize]
	if got, want := crc32.Checksum(hdr[offLen:], castagnoli), le.Uint32(hdr[offHdrCRC:]); got != want {
		return Record{}, r.corrupt("header CRC %#08x, stored %#08x", got, want)
	}
	n := int(le.Uint32(hdr[offLen:]))
	rec := Record{
		Type:    RecordType(hdr[offType]),
		Session: le.Uint64(hdr[offSession:]),
		Seq:     le.Uint64(hdr[offSeq:]),
		Epoch:   le.Uint32(hdr[offEpoch:]),
	}
	switch {
	case n > MaxPayload:
		return Record{}, r.corrupt("payload length %d above %d", n, MaxPayload)
	case !rec.Type.Valid():
		return Record{}, r.corrupt("record type %d", hdr[offType])
	case !allZero(hdr[offType+1:offSession]) || !allZero(hdr[offEpoch+4:]):
		return Record{}, r.corrupt("reserved header bytes not zero")
	case rec.Seq == 0:
		return Record{}, r.corrupt("sequence number 0")
	}
	size := recordSize(n)
	if len(rem) < size {
		return Record{}, &TornTailError{Offset: r.off, Seq: r.lastSeq}
	}
	crc := crc32.Update(r.crc, castagnoli, rem[offHdrCRC:size])
	if stored := le.Uint32(hdr[offCRC:]); crc != stored {
		return Record{}, r.corrupt("%s: chained CRC %#08x, stored %#08x", recName(rec), crc, stored)
	}
	if !allZero(rem[HeaderSize+n : size]) {
		return Record{}, r.corrupt("%s: padding not zero", recName(rec))
	}
	if r.lastSeq != 0 && rec.Seq != r.lastSeq+1 {
		return Record{}, fmt.Errorf("migrate: journal %s at byte %d follows record %d: %w",
			recName(rec), r.off, r.lastSeq, ErrSeqGap)
	}
	rec.Payload = rem[HeaderSize : HeaderSize+n : HeaderSize+n]
	if rec.Type == RecSeal {
		if err := r.checkSeal(rec); err != nil {
			return Record{}, err
		}
		r.sealed = true
	} else {
		r.count++
	}
	r.crc = crc
	r.lastSeq = rec.Seq
	r.off += size
	return rec, nil
}

func (r *Reader) checkSeal(rec Record) error {
	if len(rec.Payload) != sealPayload || rec.Session != 0 {
		return r.corrupt("%s: seal of %d bytes for session %d", recName(rec), len(rec.Payload), rec.Session)
	}
	le := binary.LittleEndian
	count, last, crc := le.Uint64(rec.Payload[0:]), le.Uint64(rec.Payload[8:]), le.Uint32(rec.Payload[16:])
	switch {
	case !allZero(rec.Payload[20:]):
		return r.corrupt("%s: reserved seal bytes not zero", recName(rec))
	case last != rec.Seq-1:
		return r.corrupt("%s: seals up to record %d", recName(rec), last)
	case count != r.count:
		return r.corrupt("%s: seals %d records, %d read", recName(rec), count, r.count)
	case crc != r.crc:
		return r.corrupt("%s: seals chained CRC %#08x, read %#08x", recName(rec), crc, r.crc)
	}
	return nil
}

// ReadAll reads every record of the journal b. On a torn tail it returns
// the sound records before it and the *TornTailError. On any other error
// (corruption, a sequence gap) it returns no records: nothing of such a
// journal may be replayed. sealed reports whether the seal was read.
func ReadAll(b []byte) (recs []Record, sealed bool, err error) {
	r := NewReader(b)
	for {
		rec, err := r.Next()
		switch {
		case err == io.EOF:
			return recs, r.sealed, nil
		case err != nil:
			if _, torn := err.(*TornTailError); torn {
				return recs, false, err
			}
			return nil, false, err
		}
		recs = append(recs, rec)
	}
}

package migrate

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"sync/atomic"

	"github.com/ringkit/ringkit/internal/pad"
)

// zeroPad is the padding appended after a payload.
var zeroPad [Align]byte

// sealSize is the bytes a seal record takes; the ring keeps that much room
// back from ordinary appends so that Seal always fits.
const sealSize = HeaderSize + sealPayload

// Journal is a bounded in-memory byte ring of records: the changes a circuit
// makes to the sessions of a suspended VM, in order, framed as the package
// documentation describes. It never overwrites: when a record does not fit,
// Append fails with ErrJournalFull and the journal is unchanged. Used and
// Free tell how full it is, so a circuit can shrink the window it
// advertises as the journal fills, and advertise zero when Free is below
// the record it would need.
//
// One goroutine appends (Append, the typed AppendXxx, Seal); one goroutine
// reads (ReadAt, Release, Bytes), in the manner of a single-producer
// single-consumer ring with byte positions (DPDK's rte_ring head/tail,
// rigtorp's SPSC). Used, Free, Cap, Peak, Records and Sealed may be called
// from any goroutine. An Append synchronizes before a ReadAt that returns
// its bytes; a Release synchronizes before the Append that reuses the room.
//
// A Journal must not be copied after first use.
type Journal struct {
	_ pad.NoCopy

	buf []byte // len is the capacity, a multiple of Align

	// tail is the position (bytes since creation, free-running) one past the
	// last byte appended. Written by the appender only: the store-release
	// after a record's bytes are in buf publishes them to the reader, whose
	// load-acquire in ReadAt pairs with it.
	tail atomic.Int64
	_    pad.Line // tail (appender) vs head (reader)
	// head is the position of the oldest byte still held. Written by the
	// reader only, in Release: the store-release hands the room below it back
	// to the appender, whose load-acquire in Append pairs with it.
	head atomic.Int64
	_    pad.Line // head (reader) vs the appender's own fields

	// Owned by the appender.
	crc     uint32 // chained CRC of the last record (0 before the first)
	nextSeq uint64 // sequence number of the next record
	epoch   uint32
	scratch []byte // reused payload buffer for AppendCreate
	// hdr and small are built in the Journal, not on the stack: the CRC32C
	// code is reached through a function value, so a stack buffer passed to
	// it would escape and cost an allocation per record.
	hdr   [HeaderSize]byte
	small [cryptoLen]byte // fixed-size payloads of the typed appends

	// Written by the appender, read by anyone.
	sealed  atomic.Bool   // store after the seal's bytes are published
	done    chan struct{} // closed after sealed is stored
	records atomic.Uint64 // records appended, seal excluded
	peak    atomic.Int64  // highest Used seen after an append
}

// MaxJournalSize is the largest journal capacity, 1 GiB: NewJournal (and
// NewCircuit, for CircuitConfig.JournalSize) refuses more before
// allocating anything, because Go cannot recover from an allocation the
// machine cannot serve.
const MaxJournalSize = 1 << 30

// NewJournal returns an empty journal holding up to capacity bytes of
// records (rounded down to a multiple of 8), written in the given migration
// epoch, whose first record will carry sequence number firstSeq (at least
// 1; 0 means "nothing applied" to a Table). The capacity must hold the seal
// and one record with an empty payload, and be at most MaxJournalSize.
// Errors wrap ErrConfig.
func NewJournal(capacity int, epoch uint32, firstSeq uint64) (*Journal, error) {
	if err := checkJournalSize(capacity); err != nil {
		return nil, err
	}
	if firstSeq == 0 {
		return nil, fmt.Errorf("migrate: journal first sequence number must be at least 1: %w", ErrConfig)
	}
	return newJournalOn(make([]byte, capacity&^(Align-1)), epoch, firstSeq), nil
}

// newJournalOn is NewJournal on a buffer the caller allocated (whose
// length checkJournalSize has checked), so that a circuit can allocate it
// before the VM is suspended.
func newJournalOn(buf []byte, epoch uint32, firstSeq uint64) *Journal {
	return &Journal{buf: buf, nextSeq: firstSeq, epoch: epoch, done: make(chan struct{})}
}

// checkJournalSize checks a journal capacity for NewJournal.
func checkJournalSize(capacity int) error {
	if c := capacity &^ (Align - 1); c < sealSize+HeaderSize || capacity > MaxJournalSize {
		return fmt.Errorf("migrate: journal capacity %d (want %d..%d bytes): %w", capacity, sealSize+HeaderSize, MaxJournalSize, ErrConfig)
	}
	return nil
}

// Cap is the capacity in bytes.
func (j *Journal) Cap() int { return len(j.buf) }

// Used is the bytes held: appended and not yet released.
func (j *Journal) Used() int { return int(j.tail.Load() - j.head.Load()) }

// Free is the room left for ordinary records, the seal's room excluded. A
// record with an n-byte payload fits when RecordSize(n) <= Free().
func (j *Journal) Free() int {
	f := len(j.buf) - sealSize - j.Used()
	if j.sealed.Load() || f < 0 {
		return 0
	}
	return f
}

// PayloadRoom is how many bytes of inbound payload the journal can still
// take as recv records of at most mss bytes each: the receive window a
// circuit may advertise (zero when the journal is full). Appender only, or
// any goroutine for an estimate.
func (j *Journal) PayloadRoom(mss int) int {
	if mss <= 0 {
		return 0
	}
	free := j.Free()
	full := recordSize(dataHdrLen + mss)
	room := free / full * mss
	if rem := free % full; rem >= HeaderSize+Align {
		room += min(mss, rem-HeaderSize-dataHdrLen)
	}
	return room
}

// Peak is the highest Used seen right after an append.
func (j *Journal) Peak() int { return int(j.peak.Load()) }

// Records is the number of records appended, the seal not counted.
func (j *Journal) Records() uint64 { return j.records.Load() }

// Sealed reports whether Seal has been called.
func (j *Journal) Sealed() bool { return j.sealed.Load() }

// Done returns a channel closed once the journal is sealed (Sealed is then
// true): a transfer streaming it while it grows wakes on it.
func (j *Journal) Done() <-chan struct{} { return j.done }

// Epoch is the migration epoch the journal writes.
func (j *Journal) Epoch() uint32 { return j.epoch }

// NextSeq is the sequence number the next record will carry. Appender only.
func (j *Journal) NextSeq() uint64 { return j.nextSeq }

// RecordSize is the bytes a record with an n-byte payload takes in a
// journal: the header plus the payload padded to 8 bytes.
func RecordSize(n int) int { return recordSize(n) }

// Append adds a record of type typ for the given session and returns its
// sequence number. It copies payload; it does not allocate unless it
// fails. It fails with ErrJournalFull when the record does not fit (the
// journal is unchanged), ErrSealed after Seal, ErrRecordTooLarge for a
// payload above MaxPayload. Appender only.
func (j *Journal) Append(typ RecordType, session uint64, payload []byte) (uint64, error) {
	if typ == RecSeal {
		return 0, fmt.Errorf("migrate: append: seal records are written by Seal: %w", ErrBadRecord)
	}
	return j.append(typ, session, nil, payload, sealSize)
}

// append writes one record whose payload is prefix followed by data.
// reserve is the room that must stay free after it (the seal's).
func (j *Journal) append(typ RecordType, session uint64, prefix, data []byte, reserve int) (uint64, error) {
	if j.sealed.Load() {
		return 0, fmt.Errorf("migrate: append %v for session %d: %w", typ, session, ErrSealed)
	}
	n := len(prefix) + len(data)
	if n > MaxPayload {
		return 0, fmt.Errorf("migrate: append %v for session %d: payload of %d bytes above %d: %w",
			typ, session, n, MaxPayload, ErrRecordTooLarge)
	}
	size := recordSize(n)
	tail := j.tail.Load()
	head := j.head.Load() // load-acquire: pairs with Release; the reader is done with the bytes below head
	if used := int(tail - head); size > len(j.buf)-used-reserve {
		if size > len(j.buf)-reserve {
			return 0, fmt.Errorf("migrate: append %v for session %d: record of %d bytes never fits a %d-byte journal: %w",
				typ, session, size, len(j.buf), ErrRecordTooLarge)
		}
		return 0, fmt.Errorf("migrate: append %v for session %d: record of %d bytes, %d free: %w",
			typ, session, size, max(len(j.buf)-used-reserve, 0), ErrJournalFull)
	}

	hdr := &j.hdr
	putHeader(hdr, typ, session, j.nextSeq, j.epoch, n)
	crc := crc32.Update(j.crc, castagnoli, hdr[offHdrCRC:])
	crc = crc32.Update(crc, castagnoli, prefix)
	crc = crc32.Update(crc, castagnoli, data)
	zeros := zeroPad[:]
	padN := padded(n) - n
	crc = crc32.Update(crc, castagnoli, zeros[:padN])
	binary.LittleEndian.PutUint32(hdr[offCRC:], crc)

	pos := j.put(tail, hdr[:])
	pos = j.put(pos, prefix)
	pos = j.put(pos, data)
	pos = j.put(pos, zeros[:padN])

	j.tail.Store(pos) // store-release: publishes the record to ReadAt
	j.crc = crc
	seq := j.nextSeq
	j.nextSeq++
	if typ != RecSeal {
		j.records.Add(1)
	}
	if used := pos - head; used > j.peak.Load() {
		j.peak.Store(used)
	}
	return seq, nil
}

// put copies p into the ring at position pos, wrapping, and returns the
// position after it.
func (j *Journal) put(pos int64, p []byte) int64 {
	off := int(pos % int64(len(j.buf)))
	c := copy(j.buf[off:], p)
	copy(j.buf, p[c:])
	return pos + int64(len(p))
}

// Seal closes the journal with a seal record (the count of records, the
// last sequence number and the chained CRC of the last record) and returns
// the seal's sequence number. The room for it is kept back from Append, so
// Seal fails only when called twice (ErrSealed). Appender only.
func (j *Journal) Seal() (uint64, error) {
	p := make([]byte, sealPayload)
	le := binary.LittleEndian
	le.PutUint64(p[0:], j.records.Load())
	le.PutUint64(p[8:], j.nextSeq-1)
	le.PutUint32(p[16:], j.crc)
	seq, err := j.append(RecSeal, 0, nil, p, 0)
	if err != nil {
		return 0, err
	}
	j.sealed.Store(true) // after the seal's bytes are published: Sealed implies they are readable
	close(j.done)
	return seq, nil
}

// Size is the position one past the last byte appended: the length of the
// journal's byte stream since it was created.
func (j *Journal) Size() int64 { return j.tail.Load() }

// ReadAt copies journal bytes from stream position off into p, as
// io.ReaderAt does: it returns io.EOF when fewer than len(p) bytes lie
// between off and the end of what is appended. Bytes below the last
// Release are gone (an error). Reader only.
func (j *Journal) ReadAt(p []byte, off int64) (int, error) {
	tail := j.tail.Load() // load-acquire: pairs with Append's store; the bytes below tail are written
	head := j.head.Load()
	if off < head {
		return 0, fmt.Errorf("migrate: journal read at %d: bytes below %d are released", off, head)
	}
	if off >= tail {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), tail-off))
	o := int(off % int64(len(j.buf)))
	c := copy(p[:n], j.buf[o:])
	copy(p[c:n], j.buf)
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Release hands the bytes below stream position off back to the appender:
// they have reached the destination. Positions at or below the current one
// and beyond Size are ignored. Reader only.
func (j *Journal) Release(off int64) {
	if off > j.head.Load() && off <= j.tail.Load() {
		j.head.Store(off) // store-release: pairs with Append's load; the room is free
	}
}

// Bytes returns a copy of the bytes held (appended, not released), a
// journal the Reader can read if nothing was released. Reader only.
func (j *Journal) Bytes() []byte {
	head, tail := j.head.Load(), j.tail.Load()
	b := make([]byte, tail-head)
	n, _ := j.ReadAt(b, head)
	return b[:n]
}

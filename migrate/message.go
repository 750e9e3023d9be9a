package migrate

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
)

// Transfer messages (see doc.go): a 24-byte header and a payload.
//
//	kind u8 | zero u8 x3 | length u32 | seq u64 | crc u32 | zero u32
//
// crc is CRC32C of header bytes [0, 16) followed by the payload.
const (
	msgHeader = 24

	msgHello    = 1 // sender → receiver: stream u64 | size u64 | chunk u32 | flags u32
	msgHelloAck = 2 // receiver → sender: seq = next chunk expected; stream u64
	msgData     = 3 // sender → receiver: seq = chunk number; the chunk's bytes
	msgAck      = 4 // receiver → sender: seq = next chunk expected (cumulative)
	msgNak      = 5 // receiver → sender: seq = next chunk expected; a later one arrived
	msgBye      = 6 // sender → receiver: every chunk is acknowledged; of an open stream, size u64
	msgByeAck   = 7 // receiver → sender: the last message the receiver writes

	helloLen = 24
	// helloOpen flags a stream that grows while it is sent: its size is
	// 0 in the greeting, and the end message gives it.
	helloOpen = 1

	// MaxChunk is the largest chunk a transfer uses.
	MaxChunk = 1 << 20
)

// msgWriter builds a message in one buffer and writes it with one Write, so
// that a message is never interleaved and a lossy link (or a fault injector)
// sees messages whole.
type msgWriter struct {
	w   io.Writer
	buf []byte
}

func (mw *msgWriter) write(kind uint8, seq uint64, payload []byte) error {
	le := binary.LittleEndian
	b := mw.buf[:0]
	b = append(b, kind, 0, 0, 0)
	b = le.AppendUint32(b, uint32(len(payload)))
	b = le.AppendUint64(b, seq)
	crc := crc32.Checksum(b, castagnoli)
	crc = crc32.Update(crc, castagnoli, payload)
	b = le.AppendUint32(b, crc)
	b = le.AppendUint32(b, 0)
	b = append(b, payload...)
	mw.buf = b
	if _, err := mw.w.Write(b); err != nil {
		return fmt.Errorf("migrate: transfer write: %w (%w)", ErrConnection, err)
	}
	return nil
}

// message is one decoded message; payload aliases the reader's buffer until
// the next read.
type message struct {
	kind    uint8
	seq     uint64
	payload []byte
}

type msgReader struct {
	r   io.Reader
	hdr [msgHeader]byte
	buf []byte
	max int // largest payload accepted
}

func (mr *msgReader) read() (message, error) {
	if _, err := io.ReadFull(mr.r, mr.hdr[:]); err != nil {
		return message{}, connErr(err)
	}
	le := binary.LittleEndian
	h := mr.hdr[:]
	m := message{kind: h[0], seq: le.Uint64(h[8:])}
	n := le.Uint32(h[4:])
	switch {
	case m.kind < msgHello || m.kind > msgByeAck:
		return message{}, fmt.Errorf("migrate: transfer message kind %d: %w", m.kind, ErrProtocol)
	case !allZero(h[1:4]) || !allZero(h[20:24]):
		return message{}, fmt.Errorf("migrate: transfer message reserved bytes: %w", ErrProtocol)
	case int64(n) > int64(mr.max):
		return message{}, fmt.Errorf("migrate: transfer message of %d bytes above %d: %w", n, mr.max, ErrProtocol)
	}
	if cap(mr.buf) < int(n) {
		mr.buf = make([]byte, n)
	}
	m.payload = mr.buf[:n]
	if _, err := io.ReadFull(mr.r, m.payload); err != nil {
		return message{}, connErr(err)
	}
	crc := crc32.Update(crc32.Checksum(h[:16], castagnoli), castagnoli, m.payload)
	if stored := le.Uint32(h[16:]); stored != crc {
		return message{}, fmt.Errorf("migrate: transfer message %d (kind %d): CRC %#08x, stored %#08x: %w",
			m.seq, m.kind, crc, stored, ErrProtocol)
	}
	return m, nil
}

// connErr reports a failed read (the peer closed, the connection was cut
// mid-message, or it failed) as ErrConnection: Resume can go on.
func connErr(err error) error {
	return fmt.Errorf("migrate: transfer read: %w (%w)", ErrConnection, err)
}

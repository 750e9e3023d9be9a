package migrate

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
)

// Transfer frames (see doc.go): a 24-byte header and a payload.
//
//	kind u8 | zero u8 x3 | length u32 | seq u64 | crc u32 | zero u32
//
// crc is CRC32C of header bytes [0, 16) followed by the payload.
const (
	frameHeader = 24

	kindHello    = 1 // sender → receiver: stream u64 | size u64 | chunk u32 | zero u32
	kindHelloAck = 2 // receiver → sender: seq = next chunk expected; stream u64
	kindData     = 3 // sender → receiver: seq = chunk number; the chunk's bytes
	kindAck      = 4 // receiver → sender: seq = next chunk expected (cumulative)
	kindNak      = 5 // receiver → sender: seq = next chunk expected; a later one arrived
	kindBye      = 6 // sender → receiver: every chunk is acknowledged
	kindByeAck   = 7 // receiver → sender: the last frame the receiver writes

	helloLen = 24

	// MaxChunk is the largest chunk a transfer uses.
	MaxChunk = 1 << 20
)

// frameWriter builds a frame in one buffer and writes it with one Write, so
// that a frame is never interleaved and a lossy link (or a fault injector)
// sees frames whole.
type frameWriter struct {
	w   io.Writer
	buf []byte
}

func (fw *frameWriter) write(kind uint8, seq uint64, payload []byte) error {
	le := binary.LittleEndian
	b := fw.buf[:0]
	b = append(b, kind, 0, 0, 0)
	b = le.AppendUint32(b, uint32(len(payload)))
	b = le.AppendUint64(b, seq)
	crc := crc32.Checksum(b, castagnoli)
	crc = crc32.Update(crc, castagnoli, payload)
	b = le.AppendUint32(b, crc)
	b = le.AppendUint32(b, 0)
	b = append(b, payload...)
	fw.buf = b
	if _, err := fw.w.Write(b); err != nil {
		return fmt.Errorf("migrate: transfer write: %w (%w)", ErrConnection, err)
	}
	return nil
}

// frame is one decoded frame; payload aliases the reader's buffer until
// the next read.
type frame struct {
	kind    uint8
	seq     uint64
	payload []byte
}

type frameReader struct {
	r   io.Reader
	hdr [frameHeader]byte
	buf []byte
	max int // largest payload accepted
}

func (fr *frameReader) read() (frame, error) {
	if _, err := io.ReadFull(fr.r, fr.hdr[:]); err != nil {
		return frame{}, connErr(err)
	}
	le := binary.LittleEndian
	h := fr.hdr[:]
	f := frame{kind: h[0], seq: le.Uint64(h[8:])}
	n := le.Uint32(h[4:])
	switch {
	case f.kind < kindHello || f.kind > kindByeAck:
		return frame{}, fmt.Errorf("migrate: transfer frame kind %d: %w", f.kind, ErrProtocol)
	case !allZero(h[1:4]) || !allZero(h[20:24]):
		return frame{}, fmt.Errorf("migrate: transfer frame reserved bytes: %w", ErrProtocol)
	case int64(n) > int64(fr.max):
		return frame{}, fmt.Errorf("migrate: transfer frame of %d bytes above %d: %w", n, fr.max, ErrProtocol)
	}
	if cap(fr.buf) < int(n) {
		fr.buf = make([]byte, n)
	}
	f.payload = fr.buf[:n]
	if _, err := io.ReadFull(fr.r, f.payload); err != nil {
		return frame{}, connErr(err)
	}
	crc := crc32.Update(crc32.Checksum(h[:16], castagnoli), castagnoli, f.payload)
	if stored := le.Uint32(h[16:]); stored != crc {
		return frame{}, fmt.Errorf("migrate: transfer frame %d (kind %d): CRC %#08x, stored %#08x: %w",
			f.seq, f.kind, crc, stored, ErrProtocol)
	}
	return f, nil
}

// connErr reports a failed read (the peer closed, the connection was cut
// mid-frame, or it failed) as ErrConnection: Resume can go on.
func connErr(err error) error {
	return fmt.Errorf("migrate: transfer read: %w (%w)", ErrConnection, err)
}

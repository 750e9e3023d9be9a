package pcap

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// ErrFormat is wrapped by every error about a malformed capture.
var ErrFormat = errors.New("pcap: malformed capture")

// Magic numbers of the classic format, as written in the file's own byte
// order.
const (
	magicMicro = 0xa1b2c3d4
	magicNano  = 0xa1b23c4d
	headerLen  = 24
	recordLen  = 16
	// MaxRecord is the most bytes a record may keep; a larger length is
	// taken for a corrupt file rather than allocated.
	MaxRecord = 256 << 10
)

// Link types.
const (
	LinkEthernet = 1 // LINKTYPE_ETHERNET
)

// Header is a capture's file header.
type Header struct {
	BigEndian bool   // written in big-endian byte order
	Nano      bool   // timestamps in nanoseconds (else microseconds)
	Major     uint16 // version, 2.4 when zero
	Minor     uint16
	ThisZone  int32  // GMT offset, normally 0
	SigFigs   uint32 // timestamp accuracy, normally 0
	SnapLen   uint32 // the most bytes kept of a frame
	LinkType  uint32 // LinkEthernet for frames ringkit reads and writes
}

// Record is one frame of a capture.
type Record struct {
	Time     time.Time
	Data     []byte // the bytes kept, at most SnapLen
	Original int    // the frame's length on the wire
}

// byteOrder reads and appends in one byte order.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

func (h *Header) order() byteOrder {
	if h.BigEndian {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// parseHeader decodes a file header.
func parseHeader(b []byte) (Header, error) {
	var h Header
	if len(b) < headerLen {
		return h, fmt.Errorf("%w: %d bytes, shorter than the 24-byte file header", ErrFormat, len(b))
	}
	switch m := binary.LittleEndian.Uint32(b); m {
	case magicMicro:
	case magicNano:
		h.Nano = true
	default:
		switch binary.BigEndian.Uint32(b) {
		case magicMicro:
			h.BigEndian = true
		case magicNano:
			h.BigEndian, h.Nano = true, true
		default:
			return h, fmt.Errorf("%w: magic %#08x is not a classic pcap file's", ErrFormat, m)
		}
	}
	o := h.order()
	h.Major, h.Minor = o.Uint16(b[4:]), o.Uint16(b[6:])
	h.ThisZone, h.SigFigs = int32(o.Uint32(b[8:])), o.Uint32(b[12:])
	h.SnapLen, h.LinkType = o.Uint32(b[16:]), o.Uint32(b[20:])
	if h.Major != 2 {
		return h, fmt.Errorf("%w: version %d.%d (want 2.x)", ErrFormat, h.Major, h.Minor)
	}
	return h, nil
}

func (h *Header) appendTo(b []byte) []byte {
	o := h.order()
	magic := uint32(magicMicro)
	if h.Nano {
		magic = magicNano
	}
	major, minor := h.Major, h.Minor
	if major == 0 {
		major, minor = 2, 4
	}
	b = o.AppendUint32(b, magic)
	b = o.AppendUint16(b, major)
	b = o.AppendUint16(b, minor)
	b = o.AppendUint32(b, uint32(h.ThisZone))
	b = o.AppendUint32(b, h.SigFigs)
	b = o.AppendUint32(b, h.SnapLen)
	return o.AppendUint32(b, h.LinkType)
}

// limit is the most bytes a record of h may keep.
func (h *Header) limit() int {
	if h.SnapLen == 0 || h.SnapLen > MaxRecord {
		return MaxRecord
	}
	return int(h.SnapLen)
}

// parseRecord decodes record header b (recordLen bytes) of record n.
func (h *Header) parseRecord(b []byte, n int) (t time.Time, incl, orig int, err error) {
	o := h.order()
	sec, frac := o.Uint32(b), o.Uint32(b[4:])
	incl, orig = int(o.Uint32(b[8:])), int(o.Uint32(b[12:]))
	unit, max := int64(time.Microsecond), uint32(1e6)
	if h.Nano {
		unit, max = 1, 1e9
	}
	switch {
	case frac >= max:
		return t, 0, 0, fmt.Errorf("%w: record %d: fraction of a second %d out of range", ErrFormat, n, frac)
	case incl > h.limit():
		return t, 0, 0, fmt.Errorf("%w: record %d: %d bytes kept, more than the snap length %d", ErrFormat, n, incl, h.limit())
	case incl > orig:
		return t, 0, 0, fmt.Errorf("%w: record %d: %d bytes kept of a %d-byte frame", ErrFormat, n, incl, orig)
	}
	return time.Unix(int64(sec), int64(frac)*unit).UTC(), incl, orig, nil
}

// Parse decodes a whole capture held in memory. The records' Data alias
// b. On a malformed record it returns the records before it and an error
// wrapping ErrFormat.
func Parse(b []byte) (Header, []Record, error) {
	h, err := parseHeader(b)
	if err != nil {
		return h, nil, err
	}
	var recs []Record
	for off := headerLen; off < len(b); {
		if len(b)-off < recordLen {
			return h, recs, fmt.Errorf("%w: record %d: header cut short at byte %d", ErrFormat, len(recs), off)
		}
		t, incl, orig, err := h.parseRecord(b[off:], len(recs))
		if err != nil {
			return h, recs, err
		}
		off += recordLen
		if len(b)-off < incl {
			return h, recs, fmt.Errorf("%w: record %d: %d bytes kept, %d left in the file", ErrFormat, len(recs), incl, len(b)-off)
		}
		recs = append(recs, Record{Time: t, Data: b[off : off+incl : off+incl], Original: orig})
		off += incl
	}
	return h, recs, nil
}

// Reader reads a capture record by record.
type Reader struct {
	r   *bufio.Reader
	h   Header
	n   int
	buf []byte
	hdr [recordLen]byte
}

// NewReader reads the file header of the capture r holds.
func NewReader(r io.Reader) (*Reader, error) {
	br := bufio.NewReader(r)
	var b [headerLen]byte
	if n, err := io.ReadFull(br, b[:]); err != nil {
		return nil, fmt.Errorf("%w: file header: %d bytes: %w", ErrFormat, n, err)
	}
	h, err := parseHeader(b[:])
	if err != nil {
		return nil, err
	}
	return &Reader{r: br, h: h}, nil
}

// Header returns the capture's file header.
func (r *Reader) Header() Header { return r.h }

// Next returns the next record, or io.EOF after the last. The record's
// Data is valid until the next call.
func (r *Reader) Next() (Record, error) {
	n, err := io.ReadFull(r.r, r.hdr[:])
	if err == io.EOF {
		return Record{}, io.EOF
	}
	if err != nil {
		return Record{}, fmt.Errorf("%w: record %d: header cut short after %d bytes", ErrFormat, r.n, n)
	}
	t, incl, orig, err := r.h.parseRecord(r.hdr[:], r.n)
	if err != nil {
		return Record{}, err
	}
	if cap(r.buf) < incl {
		r.buf = make([]byte, incl)
	}
	r.buf = r.buf[:incl]
	if n, err := io.ReadFull(r.r, r.buf); err != nil {
		return Record{}, fmt.Errorf("%w: record %d: %d of %d bytes", ErrFormat, r.n, n, incl)
	}
	r.n++
	return Record{Time: t, Data: r.buf, Original: orig}, nil
}

// Writer writes a capture.
type Writer struct {
	w   *bufio.Writer
	h   Header
	buf []byte
	n   int
}

// NewWriter writes h as the file header of a capture to w. A zero SnapLen
// is written as 65535; Data longer than SnapLen is cut to it.
func NewWriter(w io.Writer, h Header) (*Writer, error) {
	if h.SnapLen == 0 {
		h.SnapLen = 65535
	}
	if h.SnapLen > MaxRecord {
		return nil, fmt.Errorf("%w: snap length %d (want at most %d)", ErrFormat, h.SnapLen, MaxRecord)
	}
	wr := &Writer{w: bufio.NewWriter(w), h: h, buf: make([]byte, 0, headerLen)}
	if _, err := wr.w.Write(h.appendTo(wr.buf[:0])); err != nil {
		return nil, fmt.Errorf("pcap: write header: %w", err)
	}
	return wr, nil
}

// Header returns the header the Writer writes.
func (w *Writer) Header() Header { return w.h }

// Write appends one record: at most SnapLen bytes of data, of a frame of
// orig bytes (len(data) if smaller), at time t. It does not allocate.
func (w *Writer) Write(t time.Time, data []byte, orig int) error {
	if len(data) > int(w.h.SnapLen) {
		data = data[:w.h.SnapLen]
	}
	orig = max(orig, len(data))
	o := w.h.order()
	frac := uint32(t.Nanosecond() / 1000)
	if w.h.Nano {
		frac = uint32(t.Nanosecond())
	}
	b := w.buf[:0]
	b = o.AppendUint32(b, uint32(t.Unix()))
	b = o.AppendUint32(b, frac)
	b = o.AppendUint32(b, uint32(len(data)))
	b = o.AppendUint32(b, uint32(orig))
	if _, err := w.w.Write(b); err != nil {
		return fmt.Errorf("pcap: write record %d: %w", w.n, err)
	}
	if _, err := w.w.Write(data); err != nil {
		return fmt.Errorf("pcap: write record %d: %w", w.n, err)
	}
	w.n++
	return nil
}

// Records returns the number of records written.
func (w *Writer) Records() int { return w.n }

// Flush writes what is buffered to the underlying writer.
func (w *Writer) Flush() error {
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("pcap: flush: %w", err)
	}
	return nil
}

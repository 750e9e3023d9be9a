package pipeline

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ringkit/ringkit/descriptor"
)

// Capture keeps a sample of frames in memory, every Every-th frame up to
// Max frames, and writes them as a classic libpcap file (WriteTo). Sample
// copies into storage allocated up front, so capturing allocates nothing
// on the transmit path. A Capture belongs to one goroutine while the
// pipeline runs; WriteTo is for after.
type Capture struct {
	every, max, snap int
	seen             uint64
	data             []byte // frames, back to back
	recs             []capRec
	start            time.Time
}

type capRec struct {
	at       time.Duration // since the capture's start
	off, n   int           // bytes kept, in data
	original int           // the frame's length
}

// NewCapture returns a capture of every every-th frame, at most max
// frames of at most snap bytes each.
func NewCapture(every, max, snap int) (*Capture, error) {
	if every < 1 || max < 1 || snap < 14 || snap > 65535 {
		return nil, fmt.Errorf("pipeline: capture: every %d, max %d, snap %d (want ≥1, ≥1, 14..65535)", every, max, snap)
	}
	return &Capture{every: every, max: max, snap: snap, data: make([]byte, 0, max*snap),
		recs: make([]capRec, 0, max), start: time.Now()}, nil
}

// Sample considers each packet of pkts, frames of pool, sent at time at.
func (c *Capture) Sample(pool *descriptor.Pool, pkts []descriptor.Packet, at time.Duration) {
	for i := range pkts {
		c.seen++
		if len(c.recs) == c.max {
			return
		}
		if (c.seen-1)%uint64(c.every) != 0 {
			continue
		}
		b := pool.Bytes(pkts[i])
		c.Add(b[:min(len(b), c.snap)], len(b), at)
	}
}

// Add keeps one frame (already cut to the snap length) of original length
// orig; it does nothing once Max frames are kept.
func (c *Capture) Add(b []byte, orig int, at time.Duration) {
	if len(c.recs) == c.max {
		return
	}
	b = b[:min(len(b), c.snap)]
	off := len(c.data)
	c.data = append(c.data, b...)
	c.recs = append(c.recs, capRec{at: at, off: off, n: len(b), original: orig})
}

// Len returns the number of frames kept.
func (c *Capture) Len() int { return len(c.recs) }

// pcap's classic file format (https://wiki.wireshark.org/Development/LibpcapFileFormat),
// little-endian, microsecond timestamps.
const (
	pcapMagic     = 0xa1b2c3d4
	pcapEthernet  = 1 // LINKTYPE_ETHERNET
	pcapHeaderLen = 24
	pcapRecordLen = 16
)

// WriteTo writes the kept frames as a pcap file: the global header, then a
// record header and the bytes of each frame. Timestamps are the capture's
// start plus each frame's transmit time.
func (c *Capture) WriteTo(w io.Writer) (int64, error) {
	bw := bufio.NewWriter(w)
	var h [pcapHeaderLen]byte
	binary.LittleEndian.PutUint32(h[0:], pcapMagic)
	binary.LittleEndian.PutUint16(h[4:], 2) // version 2.4
	binary.LittleEndian.PutUint16(h[6:], 4)
	// thiszone 0, sigfigs 0
	binary.LittleEndian.PutUint32(h[16:], uint32(c.snap))
	binary.LittleEndian.PutUint32(h[20:], pcapEthernet)
	n, err := bw.Write(h[:])
	total := int64(n)
	for _, r := range c.recs {
		if err != nil {
			break
		}
		t := c.start.Add(r.at)
		var rh [pcapRecordLen]byte
		binary.LittleEndian.PutUint32(rh[0:], uint32(t.Unix()))
		binary.LittleEndian.PutUint32(rh[4:], uint32(t.Nanosecond()/1000))
		binary.LittleEndian.PutUint32(rh[8:], uint32(r.n))
		binary.LittleEndian.PutUint32(rh[12:], uint32(r.original))
		n, err = bw.Write(rh[:])
		total += int64(n)
		if err == nil {
			n, err = bw.Write(c.data[r.off : r.off+r.n])
			total += int64(n)
		}
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return total, fmt.Errorf("pipeline: pcap: %w", err)
	}
	return total, nil
}

// PcapRecord is one frame read back from a pcap file.
type PcapRecord struct {
	Time     time.Time
	Data     []byte
	Original int
}

// ErrPcap is wrapped by ReadPcap's errors.
var ErrPcap = errors.New("pipeline: bad pcap file")

// ReadPcap reads a classic little-endian microsecond pcap file of Ethernet
// frames, as WriteTo writes it; it returns the records and the snap length.
func ReadPcap(b []byte) ([]PcapRecord, int, error) {
	if len(b) < pcapHeaderLen {
		return nil, 0, fmt.Errorf("%w: %d bytes, shorter than the 24-byte header", ErrPcap, len(b))
	}
	le := binary.LittleEndian
	switch {
	case le.Uint32(b) != pcapMagic:
		return nil, 0, fmt.Errorf("%w: magic %#x", ErrPcap, le.Uint32(b))
	case le.Uint16(b[4:]) != 2 || le.Uint16(b[6:]) != 4:
		return nil, 0, fmt.Errorf("%w: version %d.%d", ErrPcap, le.Uint16(b[4:]), le.Uint16(b[6:]))
	case le.Uint32(b[20:]) != pcapEthernet:
		return nil, 0, fmt.Errorf("%w: link type %d", ErrPcap, le.Uint32(b[20:]))
	}
	snap := int(le.Uint32(b[16:]))
	var recs []PcapRecord
	for off := pcapHeaderLen; off < len(b); {
		if len(b)-off < pcapRecordLen {
			return recs, snap, fmt.Errorf("%w: record %d: header cut at byte %d", ErrPcap, len(recs), off)
		}
		h := b[off:]
		incl, orig := int(le.Uint32(h[8:])), int(le.Uint32(h[12:]))
		usec := le.Uint32(h[4:])
		switch {
		case usec >= 1e6:
			return recs, snap, fmt.Errorf("%w: record %d: %d microseconds", ErrPcap, len(recs), usec)
		case incl > snap || incl > orig:
			return recs, snap, fmt.Errorf("%w: record %d: %d bytes kept of %d, snap length %d", ErrPcap, len(recs), incl, orig, snap)
		case len(b)-off-pcapRecordLen < incl:
			return recs, snap, fmt.Errorf("%w: record %d: %d bytes cut short", ErrPcap, len(recs), incl)
		}
		off += pcapRecordLen
		recs = append(recs, PcapRecord{Time: time.Unix(int64(le.Uint32(h[0:])), int64(usec)*1000),
			Data: b[off : off+incl], Original: orig})
		off += incl
	}
	return recs, snap, nil
}

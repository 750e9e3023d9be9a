package pipeline

import (
	"errors"
	"fmt"
	"io"
	"time"
	"unsafe"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/internal/mem"
	"github.com/ringkit/ringkit/pcap"
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

// MaxCaptureBytes is the most memory a Capture's frames may take: max ×
// snap bytes, which NewCapture allocates at once.
const MaxCaptureBytes = 1 << 30

// NewCapture returns a capture of every every-th frame, at most max
// frames of at most snap bytes each. Errors wrap ErrConfig; frames that
// would take more than MaxCaptureBytes are refused before anything is
// allocated.
func NewCapture(every, max, snap int) (*Capture, error) {
	if every < 1 || max < 1 || snap < 14 || snap > 65535 {
		return nil, fmt.Errorf("%w: capture: every %d, max %d, snap %d (want ≥1, ≥1, 14..65535)", ErrConfig, every, max, snap)
	}
	var rec capRec
	need := mem.Size(uint64(max), uint64(snap)+uint64(unsafe.Sizeof(rec)))
	if err := mem.Check(ErrConfig, fmt.Sprintf("a capture of %d frames of %d bytes", max, snap), need, MaxCaptureBytes, ""); err != nil {
		return nil, err
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

// WriteTo writes the kept frames as a classic pcap file (package pcap):
// little-endian, microsecond timestamps, Ethernet. Timestamps are the
// capture's start plus each frame's transmit time.
func (c *Capture) WriteTo(w io.Writer) (int64, error) {
	cw := &countingWriter{w: w}
	pw, err := pcap.NewWriter(cw, pcap.Header{SnapLen: uint32(c.snap), LinkType: pcap.LinkEthernet})
	for _, r := range c.recs {
		if err != nil {
			break
		}
		err = pw.Write(c.start.Add(r.at), c.data[r.off:r.off+r.n], r.original)
	}
	if err == nil {
		err = pw.Flush()
	}
	if err != nil {
		return cw.n, fmt.Errorf("pipeline: pcap: %w", err)
	}
	return cw.n, nil
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// PcapRecord is one frame read back from a pcap file.
type PcapRecord = pcap.Record

// ErrPcap is wrapped by ReadPcap's errors, with pcap.ErrFormat.
var ErrPcap = errors.New("pipeline: bad pcap file")

// ReadPcap reads a classic pcap file of Ethernet frames, as WriteTo writes
// it; it returns the records and the snap length.
func ReadPcap(b []byte) ([]PcapRecord, int, error) {
	h, recs, err := pcap.Parse(b)
	if err == nil && h.LinkType != pcap.LinkEthernet {
		err = fmt.Errorf("%w: link type %d", pcap.ErrFormat, h.LinkType)
	}
	if err != nil {
		return recs, int(h.SnapLen), fmt.Errorf("%w: %w", ErrPcap, err)
	}
	return recs, int(h.SnapLen), nil
}

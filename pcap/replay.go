package pcap

import (
	"fmt"
	"os"
	"time"
)

// Replay hands out a capture's frames as a port.Source: paced, frame i is
// due once as much time has passed since the replay began as passed in
// the capture between its first frame and frame i; unpaced, every frame is
// due at once. Its methods are called by one goroutine at a time.
type Replay struct {
	recs  []Record
	next  int
	paced bool
	last  time.Time
	orig  int
}

var _ RecordSource = (*Replay)(nil)

// NewReplay returns a replay of recs, which it keeps (not copied).
func NewReplay(recs []Record, paced bool) *Replay {
	return &Replay{recs: recs, paced: paced}
}

// ReadFile reads the capture in file path, for a Replay.
func ReadFile(path string) (Header, []Record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Header{}, nil, fmt.Errorf("pcap: %w", err)
	}
	h, recs, err := Parse(b)
	if err != nil {
		return h, recs, fmt.Errorf("pcap: %s: %w", path, err)
	}
	return h, recs, nil
}

// Due returns how many frames are due by now, the time since the replay
// began.
func (r *Replay) Due(now time.Duration) int {
	left := len(r.recs) - r.next
	if !r.paced || left == 0 {
		return left
	}
	t0 := r.recs[0].Time
	n := 0
	for i := r.next; i < len(r.recs) && r.recs[i].Time.Sub(t0) <= now; i++ {
		n++
	}
	return n
}

// Next appends the next frame to dst[:0] and returns it. It returns nil
// after the last frame.
func (r *Replay) Next(dst []byte) []byte {
	if r.next == len(r.recs) {
		return nil
	}
	rec := &r.recs[r.next]
	r.next++
	r.last, r.orig = rec.Time, rec.Original
	return append(dst[:0], rec.Data...)
}

// Time returns the capture time of the frame Next returned last.
func (r *Replay) Time() time.Time { return r.last }

// Original returns the wire length of the frame Next returned last.
func (r *Replay) Original() int { return r.orig }

// Done reports whether every frame was handed out.
func (r *Replay) Done() bool { return r.next == len(r.recs) }

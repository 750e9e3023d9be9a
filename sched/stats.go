package sched

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// TCStats are one traffic class's counters and its share of the port.
type TCStats struct {
	Name     string
	Priority int
	Weight   int
	// Packets and Bytes count what the Sink took (Bytes are frame bytes,
	// without overhead).
	Packets, Bytes uint64
	// Drops counts packets dropped: frames larger than a token bucket,
	// and what Release gave up.
	Drops uint64
	// WindowBytes is the wire bytes (frames plus overhead) the Sink took
	// from this class over the last Window.
	WindowBytes uint64
	// Share is WindowBytes over the port's wire bytes in the window
	// (0 when the port sent nothing).
	Share float64
	// Active reports whether the class was backlogged at some moment of
	// the window.
	Active bool
}

// String says what the class sent and its share in one line.
func (s TCStats) String() string {
	state := "idle"
	if s.Active {
		state = "backlogged"
	}
	return fmt.Sprintf("class %s (priority %d, weight %d): %d packets, %d bytes, %d dropped; %.1f%% of the port over the window, %s",
		s.Name, s.Priority, s.Weight, s.Packets, s.Bytes, s.Drops, 100*s.Share, state)
}

// PortStats are a snapshot of a port's counters.
type PortStats struct {
	Name string // PortConfig.Name
	TCs  []TCStats
	// Refused counts packets the Sink refused, once per attempt; each was
	// offered again and is not lost.
	Refused uint64
	// Window is the span the window-based fields cover (shorter than
	// PortConfig.Window until the port has run that long).
	Window time.Duration
}

// String is a table of the port's classes: what each sent, dropped, and
// its share of the port's wire bytes over the window.
func (s PortStats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "port %s: shares over the last %v; %d refusals by the transmitter (offered again)\n", s.Name, s.Window, s.Refused)
	fmt.Fprintf(&b, "  %-10s %4s %6s %12s %14s %8s %7s  %s\n", "class", "prio", "weight", "packets", "bytes", "dropped", "share", "window")
	for _, t := range s.TCs {
		state := "idle"
		if t.Active {
			state = "backlogged"
		}
		fmt.Fprintf(&b, "  %-10s %4d %6d %12d %14d %8d %6.1f%%  %s\n", t.Name, t.Priority, t.Weight, t.Packets, t.Bytes,
			t.Drops, 100*t.Share, state)
	}
	return b.String()
}

// Fairness returns Jain's fairness index over the weight-normalised window
// throughput (WindowBytes/Weight) of the active classes of one priority
// level: 1 when every backlogged class got exactly its weighted share, 1/n
// when one took everything. Only one level is considered because strict
// priority is unfair by design; classes that were never backlogged are
// left out because an idle class is owed nothing.
func (s PortStats) Fairness(priority int) float64 {
	var x []float64
	for _, t := range s.TCs {
		if t.Priority == priority && t.Active {
			x = append(x, float64(t.WindowBytes)/float64(t.Weight))
		}
	}
	return Jain(x)
}

// Jain returns Jain's fairness index (Σx)² / (n·Σx²) of x, in [1/n, 1]. It
// returns 1 for an empty x or one of all zeros (nobody got more than
// anyone else).
func Jain(x []float64) float64 {
	var sum, sq float64
	for _, v := range x {
		sum += v
		sq += v * v
	}
	if sq == 0 {
		return 1
	}
	return sum * sum / (float64(len(x)) * sq)
}

// Stats returns a snapshot of the port's counters. It may be called from
// any goroutine; the counters are those published by the last completed
// step of each draining goroutine, and the window those of the last slot
// boundary a step crossed.
func (p *Port) Stats() PortStats {
	s := PortStats{Name: p.cfg.Name, TCs: make([]TCStats, len(p.tcs)), Refused: p.refused.Load()}
	win, active, span := p.win.snapshot()
	var total uint64
	for _, b := range win {
		total += b
	}
	for i := range p.tcs {
		c := &p.cfg.TCs[i]
		pub := &p.tcs[i].pub
		ts := TCStats{
			Name: c.Name, Priority: c.Priority, Weight: c.Weight,
			Packets: pub.packets.Load(), Bytes: pub.bytes.Load(), Drops: pub.drops.Load(),
			Active: active&(1<<i) != 0,
		}
		if win != nil {
			ts.WindowBytes = win[i]
			if total > 0 {
				ts.Share = float64(win[i]) / float64(total)
			}
		}
		s.TCs[i] = ts
	}
	s.Window = span
	return s
}

// windowSlots is the number of slots a stats window is divided into: the
// window slides by Window/windowSlots.
const windowSlots = 8

// window keeps, for the last windowSlots slot boundaries, each class's
// cumulative wire bytes and which classes were backlogged, so the bytes of
// the last window are one subtraction. It is advanced by the stepping
// goroutine; snapshot is read by Stats from any goroutine under mu.
type window struct {
	slot time.Duration // length of one slot
	next time.Duration // end of the current slot

	cum    [][]uint64 // ring of windowSlots+1 snapshots of cumulative wire bytes per class
	act    []uint64   // classes backlogged in each slot, bit i for class i
	pos    int        // next snapshot to write
	filled int        // snapshots written, up to windowSlots+1

	mu        sync.Mutex
	pubBytes  []uint64 // guarded by mu: wire bytes per class over the window
	pubActive uint64   // guarded by mu
	pubSpan   time.Duration
}

func (w *window) init(span time.Duration, n int) {
	w.slot = max(span/windowSlots, 1)
	w.cum = make([][]uint64, windowSlots+1)
	w.act = make([]uint64, windowSlots+1)
	for i := range w.cum {
		w.cum[i] = make([]uint64, n)
	}
}

func (w *window) start(now time.Duration) { w.next = now }

// advance records a snapshot at every slot boundary passed by now.
func (w *window) advance(now time.Duration, tcs []tcState, overhead int64) {
	if now < w.next {
		return
	}
	if now-w.next > w.slot*windowSlots {
		w.next = now // idle for longer than the window: one snapshot is enough
	}
	for ; now >= w.next; w.next += w.slot {
		c := w.cum[w.pos]
		var mask uint64
		for i := range tcs {
			pub := &tcs[i].pub
			c[i] = pub.bytes.Load() + pub.packets.Load()*uint64(overhead)
			if pub.active.Swap(false) { // pairs with the drainer's Store(true)
				mask |= 1 << i
			}
			if tcs[i].staged.Load() > 0 { // held over from an earlier slot

				mask |= 1 << i
			}
		}
		w.act[w.pos] = mask
		w.pos = (w.pos + 1) % len(w.cum)
		w.filled = min(w.filled+1, len(w.cum))
	}
	if w.filled < 2 {
		return
	}
	newest := (w.pos + len(w.cum) - 1) % len(w.cum)
	oldest := (w.pos + len(w.cum) - w.filled) % len(w.cum)
	var active uint64
	for k := 1; k < w.filled; k++ { // the slots after the oldest snapshot
		active |= w.act[(oldest+k)%len(w.cum)]
	}
	w.mu.Lock()
	if w.pubBytes == nil {
		w.pubBytes = make([]uint64, len(tcs))
	}
	for i := range tcs {
		w.pubBytes[i] = w.cum[newest][i] - w.cum[oldest][i]
	}
	w.pubActive = active
	w.pubSpan = time.Duration(w.filled-1) * w.slot
	w.mu.Unlock()
}

// snapshot returns a copy of the published window.
func (w *window) snapshot() ([]uint64, uint64, time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pubBytes == nil {
		return nil, 0, 0
	}
	return append([]uint64(nil), w.pubBytes...), w.pubActive, w.pubSpan
}

package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/ringkit/ringkit/pipeline"
)

// view shows live progress: on a terminal a block of lines redrawn in
// place (ANSI cursor-up and erase-line), elsewhere one block per interval.
type view struct {
	w     io.Writer
	tty   bool
	cfg   *pipeline.Config
	last  pipeline.Snapshot
	lastT time.Duration
	lines int // lines of the block drawn last, to move back over
}

func newView(w io.Writer, tty bool, cfg *pipeline.Config) *view {
	return &view{w: w, tty: tty, cfg: cfg}
}

// header says what runs, before the first update.
func (v *view) header(d time.Duration) {
	var rate float64
	for k := range v.cfg.Ports {
		rate += v.cfg.PortRate(k)
	}
	offered := v.cfg.Traffic.Rate * v.cfg.Traffic.MeanWireBytes() * 8
	fmt.Fprintf(v.w, "ringkit pipeline: %.3g frames/s offered (%.3f Gb/s) for %v to %d output ports configured for %.3f Gb/s",
		v.cfg.Traffic.Rate, offered/1e9, d, len(v.cfg.Ports), rate/1e9)
	if offered > rate {
		fmt.Fprintf(v.w, ":\n  %.0f%% of the load is shaped away by design", 100*(1-rate/offered))
	}
	fmt.Fprintf(v.w, "; %d RX queues", v.cfg.Queues)
	if o := v.cfg.Offload; o != nil {
		fmt.Fprintf(v.w, "; class %d of %s offloaded to a co-processor model", o.TC, v.cfg.Ports[o.Port].Name)
	}
	fmt.Fprintln(v.w)
}

// update draws the progress at t of the run: each stage's rate over the
// last interval, the drops by cause, each port's shares, the migration.
func (v *view) update(t time.Duration, s pipeline.Snapshot) {
	dt := (t - v.lastT).Seconds()
	rate := func(now, before uint64) float64 { return float64(now-before) / dt / 1e6 }
	block := []string{fmt.Sprintf("%6.2fs Mpps: generated %.3f  received %.3f  classified %.3f  offloaded %.3f  "+
		"scheduled %.3f  sent %.3f  delivered %.3f  (in flight %d)",
		t.Seconds(), rate(s.Generated, v.last.Generated), rate(s.Received, v.last.Received),
		rate(s.Classified, v.last.Classified), rate(s.Offloaded, v.last.Offloaded),
		rate(s.Scheduled, v.last.Scheduled), rate(s.Transmitted, v.last.Transmitted),
		rate(s.Delivered, v.last.Delivered), s.InFlight)}
	now, before := pipeline.ByCause(s.Drops), pipeline.ByCause(v.last.Drops)
	var drops []string
	for i, c := range now {
		if c.Packets == 0 {
			continue
		}
		prev := uint64(0)
		if i < len(before) {
			prev = before[i].Packets
		}
		if c.Cause == pipeline.CausePending {
			drops = append(drops, fmt.Sprintf("%d being attributed", c.Packets))
			continue
		}
		drops = append(drops, fmt.Sprintf("%s %.3f Mpps (%d in all)", c.Cause, rate(c.Packets, prev), c.Packets))
	}
	if len(drops) == 0 {
		drops = append(drops, "none")
	}
	block = append(block, "        drops: "+strings.Join(drops, ", "))
	for _, p := range s.Ports {
		var sh []string
		for _, tc := range p.TCs {
			sh = append(sh, fmt.Sprintf("%s %.1f%%", tc.Name, 100*tc.Share))
		}
		block = append(block, fmt.Sprintf("        %s shares: %s", p.Name, strings.Join(sh, "  ")))
	}
	block = append(block, "        migration: "+s.Migration)
	if v.tty {
		if v.lines > 0 {
			fmt.Fprintf(v.w, "\x1b[%dA", v.lines)
		}
		cols := width(v.w)
		for _, l := range block {
			if r := []rune(l); len(r) >= cols {
				l = string(r[:cols-1])
			}
			fmt.Fprintf(v.w, "\x1b[2K%s\n", l)
		}
		v.lines = len(block)
	} else {
		fmt.Fprintln(v.w, strings.Join(block, "\n"))
	}
	v.last, v.lastT = s, t
}

// width returns the terminal's width in columns (80 if unknown). Lines
// are cut to it: a line that wrapped would take two rows, and moving the
// cursor back over the block would then miss.
func width(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if c, _, err := term.GetSize(int(f.Fd())); err == nil && c > 0 {
			return c
		}
	}
	return 80
}

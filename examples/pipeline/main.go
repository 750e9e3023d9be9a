// Command pipeline is ringkit's main job: a whole software data plane on the
// in-memory NIC model, run for about ten seconds with live progress and a
// report at the end.
//
//	traffic ─► NIC (RSS over 4 RX queues, descriptor rings) ─► classify (rules, DSCP → TC)
//	        ─► per-(port, TC) rings ─► sched per output port (priority, weights, caps)
//	        ─► TX rings ─► NIC ─► wire ─► sink NIC: every frame's checksums verified
//	   one class's L4 checksums are computed by a co-processor model through a job ring
//
// The traffic is IMIX frames of 4096 flows (30% IPv6, half TCP) in six DSCP
// classes; each output port is held to a fraction of the offered load, so
// its scheduler decides what goes through, and each class's share comes out
// as configured. Every frame generated is accounted for: delivered, or
// dropped with a reason.
//
//	go run ./examples/pipeline [-duration 10s] [-rate 5e5] [-config FILE] [-json] [-pcap FILE]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/ringkit/ringkit/pipeline"
	"github.com/ringkit/ringkit/port"
)

func main() {
	duration := flag.Duration("duration", 10*time.Second, "how long the traffic runs")
	rate := flag.Float64("rate", 5e5, "offered load in frames per second (overrides the config's traffic.rate; 0 keeps it)")
	config := flag.String("config", "", "JSON file with the ports, classes, rules and traffic (default: the built-in config)")
	asJSON := flag.Bool("json", false, "write the report as JSON on stdout (progress goes to stderr)")
	pcap := flag.String("pcap", "", "write a sample of the transmitted frames to this pcap file")
	pcapEvery := flag.Int("pcap-every", 100, "with -pcap, keep every n-th transmitted frame")
	pcapMax := flag.Int("pcap-max", 10000, "with -pcap, keep at most this many frames")
	every := flag.Duration("every", 250*time.Millisecond, "progress interval")
	iface := flag.String("iface", "", "run on these interfaces, the ingress then one per output port (comma-separated; root)")
	inNetns := flag.Bool("netns", false, "run on AF_XDP ports in network namespaces made for the run, with traffic from a TPACKET sender (root)")
	flag.Parse()
	real := realPorts{netns: *inNetns}
	if *iface != "" {
		real.ifaces = strings.Split(*iface, ",")
	}
	if err := run(*config, *rate, *duration, *every, *asJSON, *pcap, *pcapEvery, *pcapMax, real); err != nil {
		fmt.Fprintln(os.Stderr, "pipeline:", err)
		os.Exit(1)
	}
}

// realPorts says which real ports, if any, the pipeline runs on.
type realPorts struct {
	ifaces []string
	netns  bool
}

func run(config string, rate float64, duration, every time.Duration, asJSON bool, pcapFile string, pcapEvery, pcapMax int, real realPorts) error {
	cfg := pipeline.DefaultConfig(rate)
	if config != "" {
		var err error
		if cfg, err = pipeline.LoadConfig(config); err != nil {
			return err
		}
		if rate > 0 {
			cfg.Traffic.Rate = rate
		}
	}
	var opts pipeline.Options
	if pcapFile != "" {
		c, err := pipeline.NewCapture(pcapEvery, pcapMax, 1514)
		if err != nil {
			return err
		}
		opts.Capture = c
	}
	// Progress goes where the report does not.
	out := io.Writer(os.Stdout)
	progress := os.Stdout
	if asJSON {
		progress = os.Stderr
	}
	var bed *testBed
	switch {
	case real.netns && real.ifaces != nil:
		return fmt.Errorf("-netns and -iface exclude each other")
	case real.netns:
		ps, b, err := openNetns(&cfg, cfg.Traffic.Rate, duration, progress)
		if err != nil {
			return err
		}
		bed, opts.Ports = b, ps
		defer bed.close()
	case real.ifaces != nil:
		ps, _, err := openIfaces(real.ifaces, &cfg, progress)
		if err != nil {
			return err
		}
		opts.Ports = ps
	}
	p, err := pipeline.New(cfg, opts)
	if err != nil {
		if ps := opts.Ports; ps != nil {
			for _, pt := range append(append([]port.Port{ps.In}, ps.Out...), ps.Sink...) {
				_ = pt.Close()
			}
		}
		return err
	}
	cfg = p.Config()
	view := newView(progress, isTerminal(progress), &cfg)
	view.header(duration)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if bed != nil {
		bed.start(ctx)
	}
	rep, err := pipeline.Run(ctx, p, pipeline.RunOptions{Duration: duration, Every: every,
		Progress: view.update})
	if err != nil {
		return err
	}
	if bed != nil {
		bed.report(progress)
	}
	if opts.Capture != nil {
		f, err := os.Create(pcapFile)
		if err != nil {
			return err
		}
		if _, err := opts.Capture.WriteTo(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Fprintf(progress, "pcap: %d frames written to %s\n", opts.Capture.Len(), pcapFile)
	}
	if asJSON {
		return rep.WriteJSON(out)
	}
	fmt.Fprintln(out)
	return rep.WriteText(out)
}

// isTerminal reports whether f is a terminal, where progress is redrawn in
// place.
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// width returns the terminal's width in columns (80 if unknown). Lines
// are cut to it: a line that wrapped would take two rows, and moving the
// cursor back over the block would then miss.
func width(f *os.File) int {
	w, _, err := term.GetSize(int(f.Fd()))
	if err != nil || w <= 0 {
		return 80
	}
	return w
}

// view shows live progress: on a terminal a block of lines redrawn in
// place (ANSI cursor-up and erase-line), elsewhere one plain line per
// interval.
type view struct {
	f     *os.File
	w     io.Writer
	tty   bool
	cfg   *pipeline.Config
	last  pipeline.Snapshot
	lastT time.Duration
	lines int // lines of the block drawn last, to move back over
}

func newView(f *os.File, tty bool, cfg *pipeline.Config) *view {
	return &view{f: f, w: f, tty: tty, cfg: cfg}
}

func (v *view) header(d time.Duration) {
	fmt.Fprintf(v.w, "ringkit pipeline: %.3g frames/s offered for %v, %d RX queues, %d output ports",
		v.cfg.Traffic.Rate, d, v.cfg.Queues, len(v.cfg.Ports))
	if o := v.cfg.Offload; o != nil {
		fmt.Fprintf(v.w, ", class %d of %s offloaded", o.TC, v.cfg.Ports[o.Port].Name)
	}
	fmt.Fprintln(v.w)
}

func (v *view) update(t time.Duration, s pipeline.Snapshot) {
	dt := (t - v.lastT).Seconds()
	rate := func(now, before uint64) float64 { return float64(now-before) / dt / 1e6 }
	var b strings.Builder
	fmt.Fprintf(&b, "%6.2fs Mpps: gen %.3f  rx %.3f  classify %.3f  offload %.3f  sched %.3f  tx %.3f  sink %.3f  (in flight %d)",
		t.Seconds(), rate(s.Generated, v.last.Generated), rate(s.Received, v.last.Received),
		rate(s.Classified, v.last.Classified), rate(s.Offloaded, v.last.Offloaded),
		rate(s.Scheduled, v.last.Scheduled), rate(s.Transmitted, v.last.Transmitted),
		rate(s.Delivered, v.last.Delivered), s.InFlight)
	var drops []string
	for i, d := range s.Drops {
		if d.Packets > 0 {
			prev := uint64(0)
			if i < len(v.last.Drops) {
				prev = v.last.Drops[i].Packets
			}
			drops = append(drops, fmt.Sprintf("%s %.3f Mpps (%d)", d.Reason, rate(d.Packets, prev), d.Packets))
		}
	}
	if len(drops) == 0 {
		drops = append(drops, "none")
	}
	block := []string{b.String(), "        drops: " + strings.Join(drops, ", ")}
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
		cols := width(v.f)
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

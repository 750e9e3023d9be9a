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
// classes; each output port is configured for a fraction of the offered
// load, so its scheduler decides what goes through and most frames are
// dropped by design (shaping); each class's share comes out as configured.
// Every frame generated is accounted for: delivered, or dropped with a
// reason and a cause. `pipeline -h` says more.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/ringkit/ringkit/examples/internal/exporter"
	"github.com/ringkit/ringkit/pipeline"
	"github.com/ringkit/ringkit/port"
)

const description = `%[1]s runs ringkit's whole software data plane on an in-memory NIC model for
a while, shows its progress live, then prints a report. Generated traffic (IMIX frames
of 4096 flows, 30%% IPv6, half TCP, six DSCP classes) arrives at a NIC port; RSS
spreads it over RX queues; a classifier sorts it by rules into a ring per output port
and traffic class; a scheduler per output port sends the port at its configured rate
and shares it among its classes (strict priority, weights, caps); one class's
checksums are computed by a co-processor model; the frames cross a wire to a sink
that verifies every checksum; midway, a VM with 16 TCP sessions is live-migrated.
The output ports are configured for a quarter of the offered load, so most frames
are dropped by design (shaping): the report tells shaping from overload (a stage
that could not keep up) and bad frames, and warns when a rate or share was missed.

Usage: %[1]s [flags]

Flags:
`

const examples = `
Examples:
  %[1]s                                   10 s of the default configuration
  %[1]s -duration 3s -rate 2e5            a shorter, lighter run
  %[1]s -dump-config > my.json            the default configuration, to edit
  %[1]s -config my.json -json > rep.json  your configuration; the report as JSON
  %[1]s -pcap out.pcap                    a sample of the transmitted frames, for Wireshark
  %[1]s -http localhost:9100              metrics for Prometheus at http://localhost:9100/metrics
  %[1]s -netns -rate 1e5                  the same stages on AF_XDP ports in namespaces made for the run (root)

The config format is documented in the pipeline package (go doc github.com/ringkit/ringkit/pipeline).
`

// options are the program's flags.
type options struct {
	duration   time.Duration
	rate       float64
	config     string
	dumpConfig bool
	asJSON     bool
	pcap       string
	pcapEvery  int
	pcapMax    int
	every      time.Duration
	iface      string // the ingress then one interface per output port, comma-separated
	netns      bool
	http       string // address of the metrics endpoint; "" for none
	// served, if set, is called with the metrics endpoint's address once
	// the report is written, and the endpoint closes when it returns;
	// unset, the endpoint stays up until ctx ends.
	served func(addr string)
}

// newFlags defines the program's flags on a new flag set named name, whose
// Usage prints the description, the flags and examples to its output.
func newFlags(name string) (*flag.FlagSet, *options) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	o := &options{}
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long the traffic runs")
	fs.Float64Var(&o.rate, "rate", 5e5, "offered load in frames per second (with -config, overrides its traffic.rate; 0 keeps it)")
	fs.StringVar(&o.config, "config", "", "JSON `file` with the ports, classes, rules and traffic (default: the built-in config; see -dump-config)")
	fs.BoolVar(&o.dumpConfig, "dump-config", false, "print the configuration as JSON (the default, or -config's, at -rate) and exit")
	fs.BoolVar(&o.asJSON, "json", false, "write the report as JSON on stdout (progress goes to stderr)")
	fs.StringVar(&o.pcap, "pcap", "", "write a sample of the transmitted frames to this pcap `file`")
	fs.IntVar(&o.pcapEvery, "pcap-every", 100, "with -pcap, keep every n-th transmitted frame")
	fs.IntVar(&o.pcapMax, "pcap-max", 10000, "with -pcap, keep at most this many frames")
	fs.DurationVar(&o.every, "every", 250*time.Millisecond, "progress interval")
	fs.StringVar(&o.iface, "iface", "", "run on these interfaces, the ingress then one per output port (comma-separated; root)")
	fs.StringVar(&o.http, "http", "", "serve Prometheus metrics at http://`ADDR`/metrics and Go profiles at /debug/pprof/, during the run and after the report until Ctrl-C (e.g. localhost:9100)")
	fs.BoolVar(&o.netns, "netns", false, "run on AF_XDP ports in network namespaces made for the run, with traffic from a TPACKET sender (root)")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, description, name)
		fs.PrintDefaults()
		fmt.Fprintf(w, examples, name)
	}
	return fs, o
}

func main() {
	fs, o := newFlags(filepath.Base(os.Args[0]))
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, fs.Name()+":", err)
		os.Exit(1)
	}
}

// loadConfig returns the configuration o asks for, checked and its defaults
// filled in.
func (o *options) loadConfig() (pipeline.Config, error) {
	cfg := pipeline.DefaultConfig(o.rate)
	if o.config != "" {
		var err error
		if cfg, err = pipeline.LoadConfig(o.config); err != nil {
			return cfg, err
		}
		if o.rate > 0 {
			cfg.Traffic.Rate = o.rate
		}
	}
	return cfg, cfg.Validate()
}

// run runs the program: the report goes to stdout, and so does the
// progress unless the report is JSON (then it goes to stderr).
func run(ctx context.Context, o *options, stdout, stderr io.Writer) error {
	cfg, err := o.loadConfig()
	if err != nil {
		return err
	}
	if o.dumpConfig {
		b, err := json.MarshalIndent(cfg, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	var opts pipeline.Options
	if o.pcap != "" {
		c, err := pipeline.NewCapture(o.pcapEvery, o.pcapMax, 1514)
		if err != nil {
			return err
		}
		opts.Capture = c
	}
	progress := stdout
	if o.asJSON {
		progress = stderr
	}
	var bed *testBed
	switch {
	case o.netns && o.iface != "":
		return fmt.Errorf("-netns and -iface exclude each other")
	case o.netns:
		ps, b, err := openNetns(&cfg, cfg.Traffic.Rate, o.duration, progress)
		if err != nil {
			return err
		}
		bed, opts.Ports = b, ps
		defer bed.close()
	case o.iface != "":
		ps, _, err := openIfaces(strings.Split(o.iface, ","), &cfg, progress)
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
	var srv *exporter.Server
	if o.http != "" {
		reg, err := exporter.NewRegistry(newCollector(p))
		if err == nil {
			srv, err = exporter.Serve(o.http, reg)
		}
		if err != nil {
			p.Close()
			return err
		}
		defer srv.Close()
		fmt.Fprintf(progress, "metrics at http://%[1]s/metrics, Go profiles at http://%[1]s/debug/pprof/\n", srv.Addr())
	}
	view := newView(progress, isTerminal(progress), &cfg)
	view.header(o.duration)

	if bed != nil {
		bed.start(ctx)
	}
	rep, err := pipeline.Run(ctx, p, pipeline.RunOptions{Duration: o.duration, Every: o.every, Progress: view.update})
	if err != nil {
		return err
	}
	if bed != nil {
		bed.report(progress)
	}
	if opts.Capture != nil {
		if err := writePcap(opts.Capture, o.pcap); err != nil {
			return err
		}
		fmt.Fprintf(progress, "pcap: %d frames written to %s\n", opts.Capture.Len(), o.pcap)
	}
	if o.asJSON {
		err = rep.WriteJSON(stdout)
	} else {
		fmt.Fprintln(stdout)
		err = rep.WriteText(stdout)
	}
	if err != nil || srv == nil {
		return err
	}
	if o.served != nil {
		o.served(srv.Addr())
		return nil
	}
	fmt.Fprintf(progress, "\nmetrics: still at http://%s/metrics with the run's final counts; Ctrl-C to exit\n", srv.Addr())
	<-ctx.Done()
	return nil
}

func writePcap(c *pipeline.Capture, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := c.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// isTerminal reports whether w is a terminal, where progress is redrawn in
// place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

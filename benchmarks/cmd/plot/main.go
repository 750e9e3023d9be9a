package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ringkit/ringkit/benchmarks/internal/benchfmt"
)

// figures are the names -plots accepts, in the order they are drawn.
var figures = []string{"rings", "tc", "downtime"}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// run is the command: it parses the flags and the input files and draws
// the figures asked for, telling out what it wrote and what it skipped.
func run(args []string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("plot", flag.ContinueOnError)
	fs.SetOutput(errOut)
	dir := fs.String("out", filepath.Join("..", "docs"), "directory the PNG files go to (created if missing)")
	which := fs.String("plots", strings.Join(figures, ","), "comma-separated figures to draw: "+strings.Join(figures, ", "))
	fs.Usage = func() {
		fmt.Fprintf(errOut, "usage: plot [-out dir] [-plots %s] [bench-output-file...]\n", strings.Join(figures, ","))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	want := map[string]bool{}
	for f := range strings.SplitSeq(*which, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains(figures, f) {
			return fmt.Errorf("plot: -plots: unknown figure %q (have %s)", f, strings.Join(figures, ", "))
		}
		want[f] = true
	}

	var results []Result
	for _, path := range fs.Args() {
		p, err := benchfmt.ParseFile(path)
		if err != nil {
			return fmt.Errorf("plot: %w", err)
		}
		if p.Skipped > 0 {
			fmt.Fprintf(errOut, "plot: %s: %d benchmark(s) without figures skipped (failed or unreadable)\n", path, p.Skipped)
		}
		results = append(results, p.Results...)
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return fmt.Errorf("plot: -out: %w", err)
	}

	if want["rings"] {
		path := filepath.Join(*dir, "rings-producers.png")
		ok, err := DrawRings(path, results)
		if err := report(out, path, ok, err, "no BenchmarkTry or BenchmarkBest MPSC or MPMC results with ns/elem in the input"); err != nil {
			return err
		}
	}
	if want["tc"] {
		path := filepath.Join(*dir, "tc-shares.png")
		sh, err := SimulateShares(defaultShares)
		if err == nil {
			err = DrawShares(path, sh, defaultShares.Weights)
		}
		if err := report(out, path, true, err, ""); err != nil {
			return err
		}
	}
	if want["downtime"] {
		path := filepath.Join(*dir, "downtime-sessions.png")
		ok, err := DrawDowntime(path, results)
		if err := report(out, path, ok, err, "no BenchmarkDowntime/sessions=N results with a downtime-*ms metric in the input"); err != nil {
			return err
		}
	}
	return nil
}

// report tells out what became of one figure.
func report(out io.Writer, path string, drawn bool, err error, why string) error {
	switch {
	case err != nil:
		return err
	case !drawn:
		fmt.Fprintf(out, "skipped %s: %s\n", filepath.Base(path), why)
	default:
		fmt.Fprintf(out, "wrote %s\n", path)
	}
	return nil
}

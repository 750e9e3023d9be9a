package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/ringkit/ringkit/benchmarks/internal/benchfmt"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}

// files is a flag that may be given more than once.
type files []string

func (f *files) String() string     { return fmt.Sprint(*f) }
func (f *files) Set(s string) error { *f = append(*f, s); return nil }

// run is the command: it reads the inputs the flags and arguments name and
// writes the markdown to out, and what it left out to errOut.
func run(args []string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("ratios", flag.ContinueOnError)
	fs.SetOutput(errOut)
	ref := fs.String("ref", "ringkit", "the contender every other one is divided into")
	unit := fs.String("unit", "ns/elem", "the metric compared")
	var dpdkFiles files
	fs.Var(&dpdkFiles, "dpdk", "dpdk-ringbench output to compare with (repeatable)")
	dpdkTable := fs.String("dpdk-table", "Try", "the table whose rows the DPDK cases are compared with")
	calFile := fs.String("calibration", "", "file of calibrate lines to list first")
	fs.Usage = func() {
		fmt.Fprintln(errOut, "usage: ratios [-ref name] [-unit unit] [-dpdk file]... [-calibration file] bench-output-file...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("ratios: no benchmark output named")
	}

	var cals []Calibration
	if *calFile != "" {
		var err error
		cals, err = parseFile(*calFile, ParseCalibration)
		if err != nil {
			return err
		}
	}
	var dpdk []DPDKResult
	for _, path := range dpdkFiles {
		d, err := parseFile(path, ParseDPDK)
		if err != nil {
			return err
		}
		dpdk = append(dpdk, d...)
	}
	var results []benchfmt.Result
	for _, path := range fs.Args() {
		p, err := benchfmt.ParseFile(path)
		if err != nil {
			return fmt.Errorf("ratios: %w", err)
		}
		if p.Skipped > 0 {
			fmt.Fprintf(errOut, "ratios: %s: %d benchmark(s) without figures left out (failed or unreadable)\n", path, p.Skipped)
		}
		results = append(results, p.Results...)
	}
	tables, skipped := Collect(results, *unit)
	if skipped > 0 {
		fmt.Fprintf(errOut, "ratios: %d result(s) without %s or without a TABLE/ROW/ROW/CONTENDER name left out\n", skipped, *unit)
	}
	if len(tables) == 0 {
		return fmt.Errorf("ratios: no results with %s and a TABLE/ROW/ROW/CONTENDER name in %v", *unit, fs.Args())
	}

	if *calFile != "" {
		WriteCalibration(out, cals)
	}
	WriteTables(out, tables, *ref, *unit)
	if len(dpdk) > 0 {
		WriteDPDK(out, tables, dpdk, *dpdkTable, *ref, *unit)
	}
	return nil
}

// parseFile opens path and parses it with parse, naming the file in any
// error.
func parseFile[T any](path string, parse func(io.Reader) ([]T, error)) ([]T, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ratios: %w", err)
	}
	defer f.Close()
	v, err := parse(f)
	if err != nil {
		return nil, fmt.Errorf("ratios: %s: %w", path, err)
	}
	return v, nil
}

package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// A DPDKResult is one line of ../shared/anchors/dpdk-ringbench output:
//
//	dpdk SPSC uncontended burst=32 ns/elem=0.56
//	dpdk MPMC 1p1c burst=8 ns/elem=7.98 Melem/s=125.4
type DPDKResult struct {
	// Ring is SPSC (rte_ring with RING_F_SP_ENQ|RING_F_SC_DEQ) or MPMC.
	Ring string
	// Shape is the case in the benchmarks' naming: "uncontended" or
	// "pXcY" (DPDK's "1p1c" is p1c1).
	Shape     string
	Burst     int
	NsPerElem float64
}

// ParseDPDK reads dpdk-ringbench output. Lines that do not start with
// "dpdk " (the script's notes, compiler output) are skipped; a line that
// does and is not a result is an error naming its line number, as is
// output with no result at all.
func ParseDPDK(r io.Reader) ([]DPDKResult, error) {
	var out []DPDKResult
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if !strings.HasPrefix(text, "dpdk ") {
			continue
		}
		res, err := parseDPDKLine(text)
		if err != nil {
			return nil, fmt.Errorf("dpdk-ringbench output, line %d %q: %w", line, text, err)
		}
		out = append(out, res)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading dpdk-ringbench output: %w", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("dpdk-ringbench output: no result lines (\"dpdk RING SHAPE burst=N ns/elem=X\")")
	}
	return out, nil
}

func parseDPDKLine(text string) (DPDKResult, error) {
	f := strings.Fields(text)
	if len(f) < 5 {
		return DPDKResult{}, fmt.Errorf("want dpdk RING SHAPE burst=N ns/elem=X, got %d fields", len(f))
	}
	var res DPDKResult
	switch f[1] {
	case "SPSC", "MPMC":
		res.Ring = f[1]
	default:
		return DPDKResult{}, fmt.Errorf("ring %q: want SPSC or MPMC", f[1])
	}
	shape, err := dpdkShape(f[2])
	if err != nil {
		return DPDKResult{}, err
	}
	res.Shape = shape
	b, ok := strings.CutPrefix(f[3], "burst=")
	if !ok {
		return DPDKResult{}, fmt.Errorf("%q: want burst=N", f[3])
	}
	res.Burst, err = strconv.Atoi(b)
	if err != nil || res.Burst < 1 {
		return DPDKResult{}, fmt.Errorf("%q: want a burst of 1 or more", f[3])
	}
	v, ok := strings.CutPrefix(f[4], "ns/elem=")
	if !ok {
		return DPDKResult{}, fmt.Errorf("%q: want ns/elem=X", f[4])
	}
	res.NsPerElem, err = strconv.ParseFloat(v, 64)
	if err != nil || !(res.NsPerElem > 0) || math.IsInf(res.NsPerElem, 0) {
		return DPDKResult{}, fmt.Errorf("%q: want a positive, finite ns/elem", f[4])
	}
	return res, nil
}

// dpdkShape translates dpdk-ringbench's case into the benchmarks' shape
// name: "uncontended" stays, "XpYc" becomes "pXcY".
func dpdkShape(s string) (string, error) {
	if s == "uncontended" {
		return s, nil
	}
	ps, rest, ok := strings.Cut(s, "p")
	cs, tail, ok2 := strings.Cut(rest, "c")
	p, err1 := strconv.Atoi(ps)
	c, err2 := strconv.Atoi(cs)
	if !ok || !ok2 || tail != "" || err1 != nil || err2 != nil || p < 1 || c < 1 {
		return "", fmt.Errorf("case %q: want uncontended or XpYc", s)
	}
	return fmt.Sprintf("p%dc%d", p, c), nil
}

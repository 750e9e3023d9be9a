package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// A Calibration is one line of ../shared/anchors/calibrate output, with the
// label suite.sh puts before it:
//
//	before rings: calibration: cache line one-way between CPU 0 and 1: 62.3 ns
type Calibration struct {
	// Label is what precedes "calibration:" (without the colon), or empty.
	Label string
	// OneWayNs is how long a cache line took to move between the two CPUs.
	OneWayNs float64
}

// calibrationMark starts the figure's part of a calibrate line.
const calibrationMark = "calibration: cache line one-way"

// The machine states the calibration tells apart. These VMs move between a
// cache line crossing in 55–75 ns and in 190–210 ns; a figure outside both
// bands, with some margin, is reported as between them, and one far above
// the slow band as busy: the calibration's two threads did not have the two
// CPUs to themselves, so neither did the benchmarks.
const (
	fastUpTo = 90.0  // ns one-way: the fast state
	slowFrom = 160.0 // ns one-way: the slow state
	busyFrom = 300.0 // ns one-way: other work on the CPUs
)

// State names the machine state a calibration shows.
func (c Calibration) State() string {
	switch {
	case c.OneWayNs <= fastUpTo:
		return "fast"
	case c.OneWayNs >= busyFrom:
		return "busy"
	case c.OneWayNs >= slowFrom:
		return "slow"
	}
	return "between the two"
}

// ParseCalibration reads calibration lines. Lines without the calibrate
// figure (notes such as "calibrate: skipped") are skipped; a line with the
// mark and no readable figure is an error naming its line number.
func ParseCalibration(r io.Reader) ([]Calibration, error) {
	var out []Calibration
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		i := strings.Index(text, calibrationMark)
		if i < 0 {
			continue
		}
		label := strings.TrimSuffix(strings.TrimSpace(text[:i]), ":")
		rest := text[i+len(calibrationMark):]
		j := strings.LastIndexByte(rest, ':')
		fig, ok := strings.CutSuffix(strings.TrimSpace(rest[j+1:]), " ns")
		v, err := strconv.ParseFloat(fig, 64)
		if j < 0 || !ok || err != nil || !(v > 0) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("calibration, line %d %q: want \"...: N ns\" with N positive", line, text)
		}
		out = append(out, Calibration{Label: strings.TrimSpace(label), OneWayNs: v})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading calibration: %w", err)
	}
	return out, nil
}

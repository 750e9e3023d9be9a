package main

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/ringkit/ringkit/benchmarks/internal/benchfmt"
)

// Result and Metric are what the figures are drawn from: the parsed lines
// of `go test -bench` output.
type (
	Result = benchfmt.Result
	Metric = benchfmt.Metric
)

// Point is one point of a figure's line: Y is the median of the samples
// at X, and Lo and Hi are the smallest and largest of them.
type Point struct{ X, Y, Lo, Hi float64 }

// Series is one line of a figure: its label and its points in order of X.
type Series struct {
	Label  string
	Points []Point
}

// samples groups the values of one metric by series label and X, so that
// the median can be taken over the -count samples of each benchmark.
type samples map[string]map[float64][]float64

func (s samples) add(label string, x, y float64) {
	if s[label] == nil {
		s[label] = make(map[float64][]float64)
	}
	s[label][x] = append(s[label][x], y)
}

// series returns one Series per label, in the order of labels given first
// (when present) and then of the other labels sorted, each point the median
// of its samples with their range.
func (s samples) series(order ...string) []Series {
	labels := slices.Sorted(maps.Keys(s))
	slices.SortStableFunc(labels, func(a, b string) int {
		return cmp.Compare(rank(order, a), rank(order, b))
	})
	out := make([]Series, 0, len(labels))
	for _, l := range labels {
		xs := slices.Sorted(maps.Keys(s[l]))
		pts := make([]Point, len(xs))
		for i, x := range xs {
			sp := benchfmt.SpreadOf(s[l][x])
			pts[i] = Point{X: x, Y: sp.Median, Lo: sp.Min, Hi: sp.Max}
		}
		out = append(out, Series{Label: l, Points: pts})
	}
	return out
}

// rank is the position in order of the first entry that label starts with,
// or len(order) if none does.
func rank(order []string, label string) int {
	for i, o := range order {
		if strings.HasPrefix(label, o) {
			return i
		}
	}
	return len(order)
}

// implOrder is the order of the ring implementations in legends: ringkit
// first, then the peers as the benchmarks list them.
var implOrder = []string{"ringkit", "chan", "xsync", "workiva"}

// Ring tables and their names in figures: the benchmark functions of the
// benchmarks module (BenchmarkTry, BenchmarkBest) and what they measure.
var tableTitles = map[string]string{
	"Try":  "Try API, one backoff",
	"Best": "blocking API",
}

// RingSeries returns, for one table (Try or Best), one ring type (MPSC or
// MPMC) and one burst, the median ns/elem against the number of producers,
// one Series per implementation. The shapes are those where the producers
// vary: pPc1 for MPSC (one consumer) and pPcP for MPMC (as many consumers as
// producers). Results with other names, shapes or bursts are ignored. When
// the input holds several GOMAXPROCS values the label names each.
func RingSeries(results []Result, table, ringType string, burst int) []Series {
	prefix := table + "/" + ringType + "/"
	procs := procsOf(results, prefix)
	s := samples{}
	wantBurst := "burst=" + strconv.Itoa(burst)
	for _, r := range results {
		parts := strings.Split(r.Name, "/")
		if len(parts) != 5 || parts[0] != table || parts[1] != ringType || parts[3] != wantBurst {
			continue
		}
		p, c, ok := parseShape(parts[2])
		if !ok || !producersVary(ringType, p, c) {
			continue
		}
		y, ok := r.Value("ns/elem")
		if !ok {
			continue
		}
		label := parts[4]
		if len(procs) > 1 {
			label = fmt.Sprintf("%s (GOMAXPROCS=%d)", label, r.Procs)
		}
		s.add(label, float64(p), y)
	}
	return s.series(implOrder...)
}

// producersVary reports whether shape pPcC belongs to the producers figure
// of ringType.
func producersVary(ringType string, p, c int) bool {
	switch ringType {
	case "MPSC":
		return c == 1
	case "MPMC":
		return c == p
	}
	return false
}

// parseShape parses "p4c16" into 4 and 16.
func parseShape(s string) (producers, consumers int, ok bool) {
	rest, found := strings.CutPrefix(s, "p")
	if !found {
		return 0, 0, false
	}
	ps, cs, found := strings.Cut(rest, "c")
	if !found {
		return 0, 0, false
	}
	p, err1 := strconv.Atoi(ps)
	c, err2 := strconv.Atoi(cs)
	if err1 != nil || err2 != nil || p <= 0 || c <= 0 {
		return 0, 0, false
	}
	return p, c, true
}

// procsOf returns the distinct GOMAXPROCS values of the results whose name
// starts with prefix.
func procsOf(results []Result, prefix string) []int {
	seen := map[int]bool{}
	for _, r := range results {
		if strings.HasPrefix(r.Name, prefix) {
			seen[r.Procs] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// DowntimeSeries returns migration downtime in milliseconds against the
// number of sessions from BenchmarkDowntime/.../sessions=N/... results: one
// Series per downtime metric (every unit that starts with "downtime" and
// ends in "-ms", such as downtime-ms and downtime-p99-ms) and per value of
// the name's other parts, labelled by the metric and those parts.
func DowntimeSeries(results []Result) []Series {
	procs := procsOf(results, "Downtime/")
	s := samples{}
	for _, r := range results {
		parts := strings.Split(r.Name, "/")
		if parts[0] != "Downtime" {
			continue
		}
		sessions, rest, ok := sessionsOf(parts[1:])
		if !ok {
			continue
		}
		if len(procs) > 1 {
			rest = append(rest, fmt.Sprintf("GOMAXPROCS=%d", r.Procs))
		}
		for _, m := range r.Metrics {
			if !strings.HasPrefix(m.Unit, "downtime") || !strings.HasSuffix(m.Unit, "-ms") {
				continue
			}
			label := m.Unit
			if len(rest) > 0 {
				label += " " + strings.Join(rest, "/")
			}
			s.add(label, float64(sessions), m.Value)
		}
	}
	return s.series("downtime-ms", "downtime-p50-ms", "downtime-p99-ms")
}

// sessionsOf finds the sessions=N part of a benchmark name's parts and
// returns N and the other parts.
func sessionsOf(parts []string) (int, []string, bool) {
	var rest []string
	n := -1
	for _, p := range parts {
		v, ok := strings.CutPrefix(p, "sessions=")
		if !ok {
			rest = append(rest, p)
			continue
		}
		s, err := strconv.Atoi(v)
		if err != nil || s < 0 || n >= 0 {
			return 0, nil, false
		}
		n = s
	}
	return n, rest, n >= 0
}

package benchfmt

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Metric is one value of a benchmark result line with its unit, as in
// "12.5 ns/elem".
type Metric struct {
	Value float64
	Unit  string
}

// Result is one line of `go test -bench` output: one sample of one
// benchmark.
type Result struct {
	// Pkg is the package named by the last "pkg:" line before the result
	// (empty if there was none).
	Pkg string
	// Name is the benchmark's name without the "Benchmark" prefix and
	// without the GOMAXPROCS suffix: "MPMC/p4c4/burst=1/ringkit".
	Name string
	// Procs is the GOMAXPROCS suffix of the name ("-2"), or 0 if the name
	// had none.
	Procs int
	// N is the number of iterations.
	N int64
	// Metrics are the value-unit pairs in the order of the line; the
	// first is ns/op.
	Metrics []Metric
}

// Value returns the value of the metric with the given unit.
func (r Result) Value(unit string) (float64, bool) {
	for _, m := range r.Metrics {
		if m.Unit == unit {
			return m.Value, true
		}
	}
	return 0, false
}

// Parsed is what Parse found in one input.
type Parsed struct {
	Results []Result
	// Skipped counts the benchmark names that came without figures: a
	// benchmark that failed or was skipped, or output mangled beyond
	// reading. They are counted so that nothing is dropped silently.
	Skipped int
}

// ParseFile parses the benchmark output in the named file. A file that
// cannot be read is an error naming it.
func ParseFile(path string) (Parsed, error) {
	f, err := os.Open(path)
	if err != nil {
		return Parsed{}, fmt.Errorf("input %s: %w", path, err)
	}
	defer f.Close()
	p, err := Parse(f)
	if err != nil {
		return Parsed{}, fmt.Errorf("input %s: %w", path, err)
	}
	return p, nil
}

// Parse reads `go test -bench` output. It understands result lines
//
//	BenchmarkName-P   N   v1 unit1   v2 unit2 ...
//
// and "pkg: path" configuration lines, and skips everything else. When a
// benchmark prints while it runs, go test leaves its name at the start of a
// line and the figures on a later line of their own; Parse joins the two.
func Parse(r io.Reader) (Parsed, error) {
	var (
		out     Parsed
		pkg     string
		pending string // a benchmark name still waiting for its figures
	)
	// drop gives up on the pending name, if any.
	drop := func() {
		if pending != "" {
			out.Skipped++
			pending = ""
		}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "pkg:"); ok {
			drop()
			pkg = strings.TrimSpace(v)
			continue
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		name, figures := pending, fields
		if isBenchName(fields[0]) {
			drop()
			name, figures = fields[0], fields[1:]
		}
		if name == "" {
			continue
		}
		res, ok := parseFigures(name, figures)
		if !ok {
			// The name alone, or followed by the benchmark's own
			// print: its figures may come on a later line.
			pending = name
			continue
		}
		res.Pkg, pending = pkg, ""
		out.Results = append(out.Results, res)
	}
	drop()
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("reading benchmark output: %w", err)
	}
	return out, nil
}

// isBenchName reports whether s is a benchmark name: "Benchmark" followed by
// nothing or by a character that is not a lower-case letter, as the
// benchmark format requires (so "Benchmarks" is not one).
func isBenchName(s string) bool {
	rest, ok := strings.CutPrefix(s, "Benchmark")
	if !ok {
		return false
	}
	r, _ := utf8.DecodeRuneInString(rest)
	return rest == "" || !unicode.IsLower(r)
}

// parseFigures parses the iteration count and value-unit pairs that follow
// a benchmark name.
func parseFigures(name string, fields []string) (Result, bool) {
	if len(fields) < 3 || len(fields)%2 != 1 {
		return Result{}, false
	}
	n, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil || n <= 0 {
		return Result{}, false
	}
	res := Result{N: n, Metrics: make([]Metric, 0, len(fields)/2)}
	for i := 1; i < len(fields); i += 2 {
		v, err := parseValue(fields[i])
		if err != nil {
			return Result{}, false
		}
		res.Metrics = append(res.Metrics, Metric{Value: v, Unit: fields[i+1]})
	}
	res.Name, res.Procs = splitProcs(strings.TrimPrefix(name, "Benchmark"))
	if res.Name == "" {
		return Result{}, false
	}
	return res, true
}

func parseValue(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, err
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("value %s is not finite", s)
	}
	return v, nil
}

// splitProcs splits the "-P" GOMAXPROCS suffix off a benchmark name.
func splitProcs(name string) (string, int) {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return name, 0
	}
	p, err := strconv.Atoi(name[i+1:])
	if err != nil || p <= 0 || strings.ContainsAny(name[i+1:], "+-") {
		return name, 0
	}
	return name[:i], p
}

// Command stages turns a CPU profile of the pipeline benchmark's step mode
// (one goroutine running every stage in turn) into a per-stage cost table:
// each sample is charged to the outermost stage function on its stack, and
// a stage's share of the samples times the benchmark's ns/pkt is what the
// stage costs per packet.
//
//	go test -run '^$' -bench 'Pipeline/mode=step/verify=sample$' \
//	    -cpuprofile cpu.prof -o pipeline.test ./pipeline > bench.txt
//	go tool pprof -traces pipeline.test cpu.prof > traces.txt
//	go run ./cmd/stages -traces traces.txt -bench bench.txt
//
// It prints a markdown table: stage, share of the samples, ns/pkt.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// A stage is a name and the functions whose frames make a sample its own.
type stage struct {
	name  string
	funcs []string
}

// stages, outermost first: a sample goes to the first stage any of whose
// functions is on its stack, looking from the root down.
var stages = []stage{
	{"NIC receive: generate, parse, RSS, place in the RX ring", []string{"nicsim.(*Port).Receive"}},
	{"classify: RX burst, parse, rules, flow cache, TC rings, refill", []string{"classify.(*Stage).Step"}},
	{"schedule: strict priority, DRR, token buckets", []string{"sched.(*Port).Step"}},
	{"NIC transmit: TX ring fetch, wire, sink NIC", []string{"nicsim.(*Port).Step"}},
	{"sink: receive, verify a sample, free", []string{"pipeline.(*Pipeline).receiveSink"}},
}

// glue is charged what the pipeline's loop does outside every stage.
var glue = stage{"pipeline glue: stamps, counters, loop", []string{"pipeline.(*Pipeline).Step"}}

// subStages splits the schedule stage: the TX ring enqueue it makes.
var subStages = []stage{
	{"  of which TX ring enqueue (driver side)", []string{"pipeline.(*output).Transmit"}},
	{"  of which picking the next class (pick/next)", []string{"sched.(*Port).pick"}},
}

func main() {
	traces := flag.String("traces", "", "output of `go tool pprof -traces BINARY PROFILE`")
	bench := flag.String("bench", "", "output of the benchmark run that wrote the profile (for ns/pkt)")
	name := flag.String("name", "Pipeline/mode=step/verify=sample", "benchmark whose ns/pkt scales the shares")
	flag.Parse()
	if *traces == "" || *bench == "" {
		fmt.Fprintln(os.Stderr, "stages: -traces and -bench are required")
		os.Exit(2)
	}
	tf, err := os.Open(*traces)
	if err != nil {
		fatal(err)
	}
	defer tf.Close()
	samples, err := parseTraces(tf)
	if err != nil {
		fatal(err)
	}
	bf, err := os.Open(*bench)
	if err != nil {
		fatal(err)
	}
	defer bf.Close()
	nsPkt, err := benchMetric(bf, *name, "ns/pkt")
	if err != nil {
		fatal(err)
	}
	if err := write(os.Stdout, samples, nsPkt); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "stages:", err)
	os.Exit(1)
}

// A sample is one stack (root last, as pprof prints it) and its weight.
type sample struct {
	weight float64 // seconds
	stack  []string
}

var weightRE = regexp.MustCompile(`^\s*([0-9.]+)(ns|us|µs|ms|s)\s+(\S.*)$`)

// parseTraces reads `go tool pprof -traces` output.
func parseTraces(r io.Reader) ([]sample, error) {
	var out []sample
	var cur *sample
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		t := sc.Text()
		if strings.HasPrefix(t, "-----------+") {
			cur = nil
			continue
		}
		if m := weightRE.FindStringSubmatch(t); m != nil {
			w, err := strconv.ParseFloat(m[1], 64)
			if err != nil {
				return nil, fmt.Errorf("line %d: weight %q: %v", line, m[1], err)
			}
			w *= map[string]float64{"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1}[m[2]]
			out = append(out, sample{weight: w, stack: []string{strings.TrimSpace(m[3])}})
			cur = &out[len(out)-1]
			continue
		}
		if cur != nil && strings.TrimSpace(t) != "" {
			cur.stack = append(cur.stack, strings.TrimSpace(t))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no samples: not the output of pprof -traces")
	}
	return out, nil
}

// benchMetric returns the value of unit on the first result line of the
// benchmark named name (any -N suffix).
func benchMetric(r io.Reader, name, unit string) (float64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || !strings.HasPrefix(f[0], "Benchmark"+name) {
			continue
		}
		if rest := strings.TrimPrefix(f[0], "Benchmark"+name); rest != "" && !regexp.MustCompile(`^-\d+$`).MatchString(rest) {
			continue
		}
		for i := 2; i+1 < len(f); i++ {
			if f[i+1] == unit {
				return strconv.ParseFloat(f[i], 64)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no %s of Benchmark%s in the benchmark output", unit, name)
}

// charge returns the index in ss of the outermost stage on the stack, or
// -1.
func charge(stack []string, ss []stage) int {
	for i := len(stack) - 1; i >= 0; i-- {
		for k, s := range ss {
			for _, f := range s.funcs {
				if strings.HasSuffix(stack[i], f) || strings.Contains(stack[i], "/"+f) {
					return k
				}
			}
		}
	}
	return -1
}

func write(w io.Writer, samples []sample, nsPkt float64) error {
	var total float64
	by := make([]float64, len(stages))
	sub := make([]float64, len(subStages))
	var outside, glued float64
	for _, s := range samples {
		total += s.weight
		k := charge(s.stack, stages)
		if k < 0 {
			if charge(s.stack, []stage{glue}) == 0 {
				glued += s.weight
			} else {
				outside += s.weight
			}
			continue
		}
		by[k] += s.weight
		if stages[k].name == stages[2].name {
			if j := charge(s.stack, subStages); j >= 0 {
				sub[j] += s.weight
			}
		}
	}
	fmt.Fprintf(w, "| stage | share of CPU samples | ns/pkt |\n|---|---:|---:|\n")
	row := func(name string, v float64) {
		fmt.Fprintf(w, "| %s | %.1f%% | %.0f |\n", name, 100*v/total, nsPkt*v/total)
	}
	for k, s := range stages {
		row(s.name, by[k])
		if k == 2 {
			for j, ss := range subStages {
				row(ss.name, sub[j])
			}
		}
	}
	row(glue.name, glued)
	row("outside the pipeline (runtime, benchmark loop)", outside)
	_, err := fmt.Fprintf(w, "| **total** | 100%% | %.0f |\n", nsPkt)
	return err
}

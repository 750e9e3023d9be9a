package benchfmt

import (
	"bufio"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseLine(t *testing.T) {
	tests := []struct {
		name string
		line string
		want []Result // nil: the line is skipped
	}{
		{
			name: "ring with custom metric",
			line: "BenchmarkTry/MPMC/p4c4/burst=1/ringkit-2                	14563527	        24.28 ns/op	        24.28 ns/elem	       0 B/op	       0 allocs/op",
			want: []Result{{Name: "Try/MPMC/p4c4/burst=1/ringkit", Procs: 2, N: 14563527, Metrics: []Metric{
				{24.28, "ns/op"}, {24.28, "ns/elem"}, {0, "B/op"}, {0, "allocs/op"}}}},
		},
		{
			name: "receive with Mpps",
			line: "BenchmarkReceive/path=nicsim/mode=step-2   	  338101	      3551 ns/op	        110.9 ns/pkt	         9.015 Mpps	       0 B/op	       0 allocs/op",
			want: []Result{{Name: "Receive/path=nicsim/mode=step", Procs: 2, N: 338101, Metrics: []Metric{
				{3551, "ns/op"}, {110.9, "ns/pkt"}, {9.015, "Mpps"}, {0, "B/op"}, {0, "allocs/op"}}}},
		},
		{
			name: "dash inside the name",
			line: "BenchmarkJobRing/workers=2/burst=8/jobring-callback-16 	 100	 5.5e+03 ns/op",
			want: []Result{{Name: "JobRing/workers=2/burst=8/jobring-callback", Procs: 16, N: 100, Metrics: []Metric{{5500, "ns/op"}}}},
		},
		{
			name: "no GOMAXPROCS suffix",
			line: "BenchmarkPool/jobring-callback 	 100	 12 ns/op",
			want: []Result{{Name: "Pool/jobring-callback", N: 100, Metrics: []Metric{{12, "ns/op"}}}},
		},
		{
			name: "downtime",
			line: "BenchmarkDowntime/sessions=1000-2 	10	 101234567 ns/op	 4.7 downtime-ms",
			want: []Result{{Name: "Downtime/sessions=1000", Procs: 2, N: 10, Metrics: []Metric{{101234567, "ns/op"}, {4.7, "downtime-ms"}}}},
		},
		{name: "lower case after Benchmark", line: "Benchmarks 10 1 ns/op"},
		{name: "odd fields", line: "BenchmarkX-2 10 1 ns/op 5"},
		{name: "no iterations", line: "BenchmarkX-2 ten 1 ns/op"},
		{name: "zero iterations", line: "BenchmarkX-2 0 1 ns/op"},
		{name: "value not a number", line: "BenchmarkX-2 10 fast ns/op"},
		{name: "NaN", line: "BenchmarkX-2 10 NaN ns/op"},
		{name: "infinite", line: "BenchmarkX-2 10 +Inf ns/op"},
		{name: "empty name", line: "Benchmark-2 10 1 ns/op"},
		{name: "config line", line: "cpu: AMD EPYC"},
		{name: "summary", line: "ok  	github.com/ringkit/ringkit/benchmarks	372.055s"},
		{name: "failure", line: "--- FAIL: BenchmarkX-2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse(strings.NewReader(tc.line + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p.Results, tc.want) {
				t.Errorf("Parse(%q)\n got %+v\nwant %+v", tc.line, p.Results, tc.want)
			}
		})
	}
}

// TestParseSplitLine checks that a result whose name and figures a
// benchmark's own output separated is read as one result.
func TestParseSplitLine(t *testing.T) {
	in := "pkg: example.com/x\n" +
		"BenchmarkModes/serial-2         	starting 4 workers\n" +
		"    bench_test.go:99: warmed up in 3ms\n" +
		"  1000	      1234 ns/op	         5.5 Mpps\n" +
		"BenchmarkNext-2 	 10	 3 ns/op\n"
	p, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Result{
		{Pkg: "example.com/x", Name: "Modes/serial", Procs: 2, N: 1000, Metrics: []Metric{{1234, "ns/op"}, {5.5, "Mpps"}}},
		{Pkg: "example.com/x", Name: "Next", Procs: 2, N: 10, Metrics: []Metric{{3, "ns/op"}}},
	}
	if !reflect.DeepEqual(p.Results, want) || p.Skipped != 0 {
		t.Errorf("got %+v, skipped %d; want %+v, skipped 0", p.Results, p.Skipped, want)
	}
}

// TestParseSkipped checks that benchmark names that never get figures are
// counted, and that a new "pkg:" line ends the wait for figures.
func TestParseSkipped(t *testing.T) {
	in := "pkg: a\n" +
		"BenchmarkFails-2 \t\n" +
		"--- FAIL: BenchmarkFails-2\n" +
		"BenchmarkOK-2 \t 10 \t 1 ns/op\n" +
		"BenchmarkGarbled-2 \t 10 \t 1 ns/op extra\n" +
		"pkg: b\n" +
		"  10 \t 2 ns/op\n" + // figures without a name: not joined across packages
		"BenchmarkLast-2\n"
	p, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Results) != 1 || p.Results[0].Name != "OK" || p.Results[0].Pkg != "a" {
		t.Errorf("results %+v, want only OK of package a", p.Results)
	}
	if p.Skipped != 3 {
		t.Errorf("skipped %d, want 3 (Fails, Garbled, Last)", p.Skipped)
	}
}

func TestParseFileMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.txt")
	_, err := ParseFile(path)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Fatalf("ParseFile(%s) = %v, want a not-exist error naming the file", path, err)
	}
}

// TestParseFixture reads a real run: every line that starts with
// "Benchmark" is one result, with the package of the run.
func TestParseFixture(t *testing.T) {
	const path = "../../testdata/rings.txt"
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines := 0
	for sc := bufio.NewScanner(f); sc.Scan(); {
		if strings.HasPrefix(sc.Text(), "Benchmark") {
			lines++
		}
	}
	p, err := ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Results) != lines || p.Skipped != 0 || lines == 0 {
		t.Fatalf("%d results, %d skipped; want %d and 0", len(p.Results), p.Skipped, lines)
	}
	for _, r := range p.Results {
		if r.Pkg != "github.com/ringkit/ringkit/benchmarks" || r.Procs != 2 {
			t.Fatalf("%+v: want package github.com/ringkit/ringkit/benchmarks and GOMAXPROCS 2", r)
		}
		if _, ok := r.Value("ns/elem"); !ok {
			t.Fatalf("%s has no ns/elem", r.Name)
		}
	}
}

// FuzzParse checks that no input makes Parse panic or return a result that
// breaks its invariants.
func FuzzParse(f *testing.F) {
	f.Add("BenchmarkTry/MPMC/p4c4/burst=1/ringkit-2 \t 14563527 \t 24.28 ns/op \t 24.28 ns/elem\n")
	f.Add("pkg: x\nBenchmarkA-2 starting\n 10 1 ns/op\n")
	f.Add("BenchmarkDowntime/sessions=10-2 20 5 ns/op 1.8 downtime-ms\n")
	f.Add("Benchmark-2 1 1 x\nBenchmarkX--2 1 NaN y\n")
	f.Fuzz(func(t *testing.T, in string) {
		p, err := Parse(strings.NewReader(in))
		if err != nil {
			return // a line longer than the scanner's limit
		}
		if p.Skipped < 0 || p.Skipped > strings.Count(in, "Benchmark") {
			t.Fatalf("skipped %d with %d names in the input", p.Skipped, strings.Count(in, "Benchmark"))
		}
		for _, r := range p.Results {
			if r.Name == "" || r.N <= 0 || len(r.Metrics) == 0 || r.Procs < 0 {
				t.Fatalf("bad result %+v", r)
			}
			for _, m := range r.Metrics {
				if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) || m.Unit == "" {
					t.Fatalf("bad metric %+v", m)
				}
			}
		}
	})
}

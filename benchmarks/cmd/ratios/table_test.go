package main

import (
	"bufio"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ringkit/ringkit/benchmarks/internal/benchfmt"
)

// Fixtures of real runs, shared with the module's other commands.
const (
	ringsFixture       = "../../testdata/rings.txt"
	dpdkFixture        = "../../testdata/dpdk-ringbench.txt"
	calibrationFixture = "../../testdata/calibration.txt"
)

// rawSamples reads the ns/elem samples of one benchmark from the fixture
// with nothing but strings.Fields, as a check on the parser and Collect:
// "BenchmarkNAME-2  N  x ns/op  y ns/elem ...".
func rawSamples(t *testing.T, name string) []float64 {
	t.Helper()
	f, err := os.Open(ringsFixture)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []float64
	for sc := bufio.NewScanner(f); sc.Scan(); {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[0] != "Benchmark"+name+"-2" || fields[5] != "ns/elem" {
			continue
		}
		v, err := strconv.ParseFloat(fields[4], 64)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		t.Fatalf("no %s in %s", name, ringsFixture)
	}
	return out
}

func fixtureTables(t *testing.T) []*Table {
	t.Helper()
	p, err := benchfmt.ParseFile(ringsFixture)
	if err != nil {
		t.Fatal(err)
	}
	tables, skipped := Collect(p.Results, "ns/elem")
	if skipped != 0 {
		t.Fatalf("Collect left out %d results of the fixture", skipped)
	}
	return tables
}

// TestCollectFixture checks the tables of a real run: the names in the
// order of the run, the rows and contenders of each, three samples each,
// and samples that are the fixture's own figures.
func TestCollectFixture(t *testing.T) {
	tables := fixtureTables(t)
	type want struct {
		name        string
		rows        int
		contenders  []string
		firstShape  string
		secondShape string
	}
	wants := []want{
		{"Try/SPSC", 6, []string{"ringkit", "chan", "xsync"}, "uncontended", "p1c1"},
		{"Try/MPSC", 12, []string{"ringkit", "chan", "xsync"}, "uncontended", "p1c1"},
		{"Try/SPMC", 12, []string{"ringkit", "chan", "xsync"}, "uncontended", "p1c1"},
		{"Try/MPMC", 12, []string{"ringkit", "chan", "xsync"}, "uncontended", "p1c1"},
		{"Best/SPSC", 6, []string{"ringkit", "chan", "workiva"}, "uncontended", "p1c1"},
		{"Best/MPMC", 12, []string{"ringkit", "chan", "workiva"}, "uncontended", "p1c1"},
	}
	if len(tables) != len(wants) {
		t.Fatalf("%d tables, want %d", len(tables), len(wants))
	}
	for i, w := range wants {
		tb := tables[i]
		if tb.Name != w.name || tb.Procs != 2 || len(tb.Rows) != w.rows || !slices.Equal(tb.Contenders, w.contenders) {
			t.Errorf("table %d: %s GOMAXPROCS=%d, %d rows, contenders %v; want %s, 2, %d, %v",
				i, tb.Name, tb.Procs, len(tb.Rows), tb.Contenders, w.name, w.rows, w.contenders)
			continue
		}
		if tb.Rows[0].Parts != [2]string{w.firstShape, "burst=1"} || tb.Rows[3].Parts != [2]string{w.secondShape, "burst=1"} {
			t.Errorf("%s: rows 0 and 3 are %v and %v", tb.Name, tb.Rows[0].Parts, tb.Rows[3].Parts)
		}
		for _, r := range tb.Rows {
			for _, c := range tb.Contenders {
				if n := len(r.Samples[c]); n != 3 {
					t.Errorf("%s %v %s: %d samples, want 3", tb.Name, r.Parts, c, n)
				}
			}
		}
	}
	r := Find(tables, "Try/MPMC", 2).Row([2]string{"p4c4", "burst=8"})
	if got, want := r.Samples["xsync"], rawSamples(t, "Try/MPMC/p4c4/burst=8/xsync"); !reflect.DeepEqual(got, want) {
		t.Errorf("Try/MPMC p4c4 burst=8 xsync samples %v, want %v", got, want)
	}
	if Find(tables, "Try/MPMC", 4) != nil || Find(tables, "Try", 2) != nil {
		t.Error("Find found a table that is not in the run")
	}
}

// TestCollect checks grouping on hand-made results: names too short or
// without the unit are left out and counted, GOMAXPROCS keeps tables
// apart, and rows and contenders keep the order they first appear in.
func TestCollect(t *testing.T) {
	res := func(name string, procs int, unit string, v float64) benchfmt.Result {
		return benchfmt.Result{Name: name, Procs: procs, N: 1, Metrics: []benchfmt.Metric{{Value: v, Unit: unit}}}
	}
	results := []benchfmt.Result{
		res("T/a/b=1/x", 2, "ns/elem", 1),
		res("T/a/b=1/y", 2, "ns/elem", 2),
		res("T/c/b=1/y", 2, "ns/elem", 3),
		res("T/a/b=1/x", 2, "ns/elem", 4),
		res("T/a/b=1/x", 4, "ns/elem", 5),
		res("Deep/T/a/b=1/x", 2, "ns/elem", 6),
		res("T/a/x", 2, "ns/elem", 7),     // too short
		res("T/a/b=1/x", 2, "ns/op", 8),   // no ns/elem
		res("T/a/b=1/z", 2, "ns/elem", 9), // a contender that comes late
	}
	tables, skipped := Collect(results, "ns/elem")
	if skipped != 2 {
		t.Errorf("skipped %d, want 2", skipped)
	}
	var names []string
	for _, tb := range tables {
		names = append(names, tb.Name+"@"+strconv.Itoa(tb.Procs))
	}
	if want := []string{"T@2", "T@4", "Deep/T@2"}; !slices.Equal(names, want) {
		t.Fatalf("tables %v, want %v", names, want)
	}
	tb := tables[0]
	if !slices.Equal(tb.Contenders, []string{"x", "y", "z"}) || len(tb.Rows) != 2 {
		t.Fatalf("T@2: contenders %v, %d rows", tb.Contenders, len(tb.Rows))
	}
	if got := tb.Rows[0].Samples; !reflect.DeepEqual(got, map[string][]float64{"x": {1, 4}, "y": {2}, "z": {9}}) {
		t.Errorf("row a b=1: %v", got)
	}
	if got := tb.Row([2]string{"c", "b=1"}).Spread("y"); got != (benchfmt.Spread{Median: 3, Min: 3, Max: 3, N: 1}) {
		t.Errorf("row c b=1 y: %+v", got)
	}
	if got := tb.Row([2]string{"c", "b=1"}).Spread("x"); got.N != 0 {
		t.Errorf("row c b=1 x has no samples, got %+v", got)
	}
}

package main

import (
	"reflect"
	"testing"

	"github.com/ringkit/ringkit/benchmarks/internal/benchfmt"
)

// ringsFixture is a real run of the ring benchmarks, shared with the
// module's other commands.
const ringsFixture = "../../testdata/rings.txt"

func TestParseShape(t *testing.T) {
	tests := []struct {
		in   string
		p, c int
		ok   bool
	}{
		{"p1c1", 1, 1, true},
		{"p16c4", 16, 4, true},
		{"uncontended", 0, 0, false},
		{"p0c1", 0, 0, false},
		{"pxc1", 0, 0, false},
		{"p4", 0, 0, false},
	}
	for _, tc := range tests {
		p, c, ok := parseShape(tc.in)
		if p != tc.p || c != tc.c || ok != tc.ok {
			t.Errorf("parseShape(%q) = %d, %d, %v; want %d, %d, %v", tc.in, p, c, ok, tc.p, tc.c, tc.ok)
		}
	}
}

func ringResult(name string, procs int, nsPerElem float64) Result {
	return Result{Name: name, Procs: procs, N: 1, Metrics: []Metric{{Value: nsPerElem, Unit: "ns/op"}, {Value: nsPerElem, Unit: "ns/elem"}}}
}

// TestRingSeries checks which results make the producers figure and that
// each point is the median of its samples with their range, ringkit first.
func TestRingSeries(t *testing.T) {
	results := []Result{
		ringResult("Try/MPMC/p1c1/burst=1/xsync", 2, 40),
		ringResult("Try/MPMC/p1c1/burst=1/ringkit", 2, 30),
		ringResult("Try/MPMC/p1c1/burst=1/ringkit", 2, 10),
		ringResult("Try/MPMC/p1c1/burst=1/ringkit", 2, 20),
		ringResult("Try/MPMC/p4c4/burst=1/ringkit", 2, 25),
		ringResult("Try/MPMC/p16c16/burst=1/ringkit", 2, 50),
		ringResult("Try/MPMC/p4c1/burst=1/ringkit", 2, 999),                                                  // consumers do not follow producers
		ringResult("Try/MPMC/p1c1/burst=32/ringkit", 2, 999),                                                 // another burst
		ringResult("Try/MPMC/uncontended/burst=1/ringkit", 2, 999),                                           // no producers
		ringResult("Try/MPSC/p4c1/burst=1/ringkit", 2, 999),                                                  // another ring type
		ringResult("Best/MPMC/p4c4/burst=1/ringkit", 2, 999),                                                 // another table
		ringResult("MPMC/p4c4/burst=1/ringkit", 2, 999),                                                      // no table
		ringResult("Try/MPMC/p4c4/burst=1", 2, 999),                                                          // no implementation
		{Name: "Try/MPMC/p4c4/burst=1/chan", Procs: 2, N: 1, Metrics: []Metric{{Value: 999, Unit: "ns/op"}}}, // no ns/elem
	}
	got := RingSeries(results, "Try", "MPMC", 1)
	want := []Series{
		{Label: "ringkit", Points: []Point{{1, 20, 10, 30}, {4, 25, 25, 25}, {16, 50, 50, 50}}},
		{Label: "xsync", Points: []Point{{1, 40, 40, 40}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("RingSeries(Try, MPMC, 1)\n got %+v\nwant %+v", got, want)
	}

	got = RingSeries(results, "Try", "MPSC", 1)
	want = []Series{{Label: "ringkit", Points: []Point{{4, 999, 999, 999}}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("RingSeries(Try, MPSC, 1)\n got %+v\nwant %+v", got, want)
	}
	got = RingSeries(results, "Best", "MPMC", 1)
	want = []Series{{Label: "ringkit", Points: []Point{{4, 999, 999, 999}}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("RingSeries(Best, MPMC, 1)\n got %+v\nwant %+v", got, want)
	}
}

// TestRingSeriesProcs checks that runs at several GOMAXPROCS stay apart.
func TestRingSeriesProcs(t *testing.T) {
	results := []Result{
		ringResult("Try/MPSC/p1c1/burst=32/chan", 1, 10),
		ringResult("Try/MPSC/p1c1/burst=32/chan", 4, 30),
	}
	got := RingSeries(results, "Try", "MPSC", 32)
	want := []Series{
		{Label: "chan (GOMAXPROCS=1)", Points: []Point{{1, 10, 10, 10}}},
		{Label: "chan (GOMAXPROCS=4)", Points: []Point{{1, 30, 30, 30}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

// TestRingSeriesFixture checks the figure's data from a real run: every
// implementation of each panel at 1, 4 and 16 producers, in legend order,
// each median within its range.
func TestRingSeriesFixture(t *testing.T) {
	p, err := benchfmt.ParseFile(ringsFixture)
	if err != nil {
		t.Fatal(err)
	}
	wantImpls := map[string][]string{"Try": {"ringkit", "chan", "xsync"}, "Best": {"ringkit", "chan", "workiva"}}
	for _, panel := range ringPanels {
		for _, burst := range ringBursts {
			ss := RingSeries(p.Results, panel.table, panel.ring, burst)
			var labels []string
			for _, s := range ss {
				labels = append(labels, s.Label)
				var xs []float64
				for _, pt := range s.Points {
					xs = append(xs, pt.X)
					if !(0 < pt.Lo && pt.Lo <= pt.Y && pt.Y <= pt.Hi) {
						t.Errorf("%s %s burst=%d %s: median %v outside (0, %v..%v]", panel.table, panel.ring, burst, s.Label, pt.Y, pt.Lo, pt.Hi)
					}
				}
				if !reflect.DeepEqual(xs, []float64{1, 4, 16}) {
					t.Errorf("%s %s burst=%d %s: producers %v, want [1 4 16]", panel.table, panel.ring, burst, s.Label, xs)
				}
			}
			if !reflect.DeepEqual(labels, wantImpls[panel.table]) {
				t.Errorf("%s %s burst=%d: series %v, want %v", panel.table, panel.ring, burst, labels, wantImpls[panel.table])
			}
		}
	}
}

func TestDowntimeSeries(t *testing.T) {
	dt := func(name string, ms, p99 float64) Result {
		return Result{Name: name, Procs: 2, N: 1, Metrics: []Metric{
			{Value: 1e6, Unit: "ns/op"}, {Value: ms, Unit: "downtime-ms"}, {Value: p99, Unit: "downtime-p99-ms"}, {Value: 7, Unit: "B/op"}, {Value: 3, Unit: "records"}}}
	}
	results := []Result{
		dt("Downtime/sessions=100", 2, 3),
		dt("Downtime/sessions=10", 1, 1.5),
		dt("Downtime/sessions=10", 3, 2.5),
		dt("Downtime/sessions=10/transport=tcp", 5, 6),
		dt("Downtime/sessions=x", 99, 99),          // not a number
		dt("Downtime/sessions=1/sessions=2", 9, 9), // twice
		dt("Downtime", 9, 9),                       // no sessions
		dt("Replay/sessions=10", 9, 9),             // another benchmark
	}
	got := DowntimeSeries(results)
	want := []Series{
		{Label: "downtime-ms", Points: []Point{{10, 2, 1, 3}, {100, 2, 2, 2}}},
		{Label: "downtime-ms transport=tcp", Points: []Point{{10, 5, 5, 5}}},
		{Label: "downtime-p99-ms", Points: []Point{{10, 2, 1.5, 2.5}, {100, 3, 3, 3}}},
		{Label: "downtime-p99-ms transport=tcp", Points: []Point{{10, 6, 6, 6}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DowntimeSeries\n got %+v\nwant %+v", got, want)
	}
}

func TestLinearTicks(t *testing.T) {
	tests := []struct {
		lo, hi float64
		want   []string
	}{
		{0, 33, []string{"0", "5", "10", "15", "20", "25", "30"}},
		{0, 1, []string{"0.0", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9", "1.0"}},
		{2, 90, []string{"10", "20", "30", "40", "50", "60", "70", "80", "90"}},
		{5, 5, nil},
	}
	for _, tc := range tests {
		var got []string
		for _, tk := range (linearTicks{}).Ticks(tc.lo, tc.hi) {
			got = append(got, tk.Label)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Ticks(%v, %v) = %v, want %v", tc.lo, tc.hi, got, tc.want)
		}
	}
}

func TestTicks125(t *testing.T) {
	var got []string
	for _, tk := range (ticks125{}).Ticks(4, 300) {
		got = append(got, tk.Label)
	}
	if want := []string{"5", "10", "20", "50", "100", "200"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Ticks(4, 300) = %v, want %v", got, want)
	}
}

package main

import (
	"reflect"
	"testing"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want float64
	}{
		{"one", []float64{3}, 3},
		{"odd", []float64{9, 1, 5}, 5},
		{"even", []float64{4, 1, 10, 2}, 3},
		{"outlier", []float64{10, 11, 12, 1000, 9}, 11},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := median(tc.in); got != tc.want {
				t.Errorf("median = %v, want %v", got, tc.want)
			}
		})
	}
}

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
	return Result{Name: name, Procs: procs, N: 1, Metrics: []Metric{{nsPerElem, "ns/op"}, {nsPerElem, "ns/elem"}}}
}

// TestRingSeries checks which results make the producers figure and that
// each point is the median of its samples, with ringkit first.
func TestRingSeries(t *testing.T) {
	results := []Result{
		ringResult("MPMC/p1c1/burst=1/xsync", 2, 40),
		ringResult("MPMC/p1c1/burst=1/ringkit", 2, 30),
		ringResult("MPMC/p1c1/burst=1/ringkit", 2, 10),
		ringResult("MPMC/p1c1/burst=1/ringkit", 2, 20),
		ringResult("MPMC/p4c4/burst=1/ringkit", 2, 25),
		ringResult("MPMC/p16c16/burst=1/ringkit", 2, 50),
		ringResult("MPMC/p4c1/burst=1/ringkit", 2, 999),                                     // consumers do not follow producers
		ringResult("MPMC/p1c1/burst=32/ringkit", 2, 999),                                    // another burst
		ringResult("MPMC/uncontended/burst=1/ringkit", 2, 999),                              // no producers
		ringResult("MPSC/p4c1/burst=1/ringkit", 2, 999),                                     // another ring type
		ringResult("MPMC/p4c4/burst=1", 2, 999),                                             // no implementation
		{Name: "MPMC/p4c4/burst=1/chan", Procs: 2, N: 1, Metrics: []Metric{{999, "ns/op"}}}, // no ns/elem
	}
	got := RingSeries(results, "MPMC", 1)
	want := []Series{
		{Label: "ringkit", Points: []Point{{1, 20}, {4, 25}, {16, 50}}},
		{Label: "xsync", Points: []Point{{1, 40}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("RingSeries(MPMC, 1)\n got %+v\nwant %+v", got, want)
	}

	got = RingSeries(results, "MPSC", 1)
	want = []Series{{Label: "ringkit", Points: []Point{{4, 999}}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("RingSeries(MPSC, 1)\n got %+v\nwant %+v", got, want)
	}
}

// TestRingSeriesProcs checks that runs at several GOMAXPROCS stay apart.
func TestRingSeriesProcs(t *testing.T) {
	results := []Result{
		ringResult("MPSC/p1c1/burst=32/chan", 1, 10),
		ringResult("MPSC/p1c1/burst=32/chan", 4, 30),
	}
	got := RingSeries(results, "MPSC", 32)
	want := []Series{
		{Label: "chan (GOMAXPROCS=1)", Points: []Point{{1, 10}}},
		{Label: "chan (GOMAXPROCS=4)", Points: []Point{{1, 30}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

// TestRingSeriesFixture checks the figure's data from a real run: every
// implementation at 1, 4 and 16 producers, in legend order.
func TestRingSeriesFixture(t *testing.T) {
	p, err := ParseFile("testdata/rings.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range ringTypes {
		for _, burst := range ringBursts {
			ss := RingSeries(p.Results, typ, burst)
			var labels []string
			for _, s := range ss {
				labels = append(labels, s.Label)
				var xs []float64
				for _, pt := range s.Points {
					xs = append(xs, pt.X)
					if pt.Y <= 0 {
						t.Errorf("%s burst=%d %s: ns/elem %v", typ, burst, s.Label, pt.Y)
					}
				}
				if !reflect.DeepEqual(xs, []float64{1, 4, 16}) {
					t.Errorf("%s burst=%d %s: producers %v, want [1 4 16]", typ, burst, s.Label, xs)
				}
			}
			if !reflect.DeepEqual(labels, implOrder) {
				t.Errorf("%s burst=%d: series %v, want %v", typ, burst, labels, implOrder)
			}
		}
	}
}

func TestDowntimeSeries(t *testing.T) {
	dt := func(name string, ms, p99 float64) Result {
		return Result{Name: name, Procs: 2, N: 1, Metrics: []Metric{
			{1e6, "ns/op"}, {ms, "downtime-ms"}, {p99, "downtime-p99-ms"}, {7, "B/op"}, {3, "records"}}}
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
		{Label: "downtime-ms", Points: []Point{{10, 2}, {100, 2}}},
		{Label: "downtime-ms transport=tcp", Points: []Point{{10, 5}}},
		{Label: "downtime-p99-ms", Points: []Point{{10, 2}, {100, 3}}},
		{Label: "downtime-p99-ms transport=tcp", Points: []Point{{10, 6}}},
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

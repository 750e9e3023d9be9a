package main

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ringkit/ringkit/benchmarks/internal/benchfmt"
)

func result(name string, procs int, v float64) benchfmt.Result {
	return benchfmt.Result{Name: name, Procs: procs, N: 1, Metrics: []benchfmt.Metric{{Value: v, Unit: "ns/elem"}}}
}

// TestWriteTables checks the whole output for hand-made results: the
// reference first whatever the input order, medians with their ranges,
// ratios reference ÷ peer, the count on a cell that has fewer samples, a
// dash for a missing contender, key=value row elements as columns, and
// GOMAXPROCS in the titles when the input has several.
func TestWriteTables(t *testing.T) {
	results := []benchfmt.Result{
		result("Try/SPSC/p1c1/burst=1/xsync", 2, 40),
		result("Try/SPSC/p1c1/burst=1/ringkit", 2, 10),
		result("Try/SPSC/p1c1/burst=1/ringkit", 2, 30),
		result("Try/SPSC/p1c1/burst=1/ringkit", 2, 20),
		result("Try/SPSC/p1c1/burst=1/xsync", 2, 50),
		result("Try/SPSC/p1c1/burst=1/xsync", 2, 45),
		result("Try/SPSC/p1c1/burst=32/ringkit", 2, 2),
		result("Try/SPSC/p1c1/burst=32/ringkit", 2, 2),
		result("Try/SPSC/p1c1/burst=32/ringkit", 2, 2),
		result("Try/SPSC/p1c1/burst=32/xsync", 2, 400),
		result("Try/SPSC/p1c1/burst=32/xsync", 2, 400),
		result("Best/MPMC/p4c4/burst=1/chan", 4, 8),
	}
	tables, _ := Collect(results, "ns/elem")
	var buf bytes.Buffer
	WriteTables(&buf, tables, "ringkit", "ns/elem")
	want := `### Try/SPSC (GOMAXPROCS=2)

ns/elem: median (min–max) of 3 samples; ringkit ÷ peer: ratio of the medians, below 1 means ringkit is faster (lower is better).

| shape | burst | ringkit | xsync | ringkit ÷ xsync |
| --- | --- | ---: | ---: | ---: |
| p1c1 | 1 | 20.0 (10.0–30.0) | 45.0 (40.0–50.0) | 0.44× |
| p1c1 | 32 | 2.00 | 400 n=2 | 0.005× |

### Best/MPMC (GOMAXPROCS=4)

ns/elem: median (min–max) of 1 sample; no ringkit in this table, so no ratios.

| shape | burst | chan |
| --- | --- | ---: |
| p4c4 | 1 | 8.00 |

`
	if got := buf.String(); got != want {
		t.Errorf("WriteTables wrote\n%s\nwant\n%s", got, want)
	}
}

// TestWriteTablesFixture checks one row of a real run against medians
// taken here from the fixture's lines.
func TestWriteTablesFixture(t *testing.T) {
	var buf bytes.Buffer
	WriteTables(&buf, fixtureTables(t), "ringkit", "ns/elem")
	med := func(name string) float64 {
		v := rawSamples(t, name)
		slices.Sort(v)
		return v[len(v)/2] // three samples
	}
	rk, ch, xs := med("Try/MPMC/p16c16/burst=1/ringkit"), med("Try/MPMC/p16c16/burst=1/chan"), med("Try/MPMC/p16c16/burst=1/xsync")
	wantRatios := fmt.Sprintf(" | %s | %s |\n", ratio(rk/ch), ratio(rk/xs))
	_, try, _ := strings.Cut(buf.String(), "### Try/MPMC\n")
	try, _, _ = strings.Cut(try, "###")
	var row string
	for line := range strings.Lines(try) {
		if strings.HasPrefix(line, "| p16c16 | 1 | ") {
			row = line
		}
	}
	if !strings.HasPrefix(row, "| p16c16 | 1 | "+num(rk)+" (") || !strings.HasSuffix(row, wantRatios) {
		t.Errorf("Try/MPMC p16c16 burst=1 row %q, want ringkit median %s and ratios%q", row, num(rk), wantRatios)
	}
	for _, title := range []string{"Try/SPSC", "Try/MPSC", "Try/SPMC", "Try/MPMC", "Best/SPSC", "Best/MPMC"} {
		if !strings.Contains(buf.String(), "### "+title+"\n") {
			t.Errorf("no table %s", title)
		}
	}
}

// TestWriteDPDK checks the DPDK table: DPDK's own samples summarized, the
// ringkit row of the same ring, shape and burst in the named table, and a
// dash where ringkit has no such row.
func TestWriteDPDK(t *testing.T) {
	results := []benchfmt.Result{
		result("Try/SPSC/p1c1/burst=32/ringkit", 2, 2),
		result("Try/SPSC/p1c1/burst=32/ringkit", 2, 3),
		result("Try/SPSC/p1c1/burst=32/ringkit", 2, 1),
		result("Best/SPSC/p1c1/burst=32/ringkit", 2, 99),
		result("Try/SPSC/p1c1/burst=32/xsync", 2, 99),
	}
	dpdk := []DPDKResult{
		{"SPSC", "p1c1", 32, 4}, {"MPMC", "p1c1", 32, 3}, {"SPSC", "p1c1", 32, 5}, {"SPSC", "p1c1", 32, 3},
	}
	tables, _ := Collect(results, "ns/elem")
	var buf bytes.Buffer
	WriteDPDK(&buf, tables, dpdk, "Try", "ringkit", "ns/elem")
	for _, want := range []string{
		"| ring | shape | burst | ringkit | DPDK rte_ring | ringkit ÷ DPDK |\n",
		"| SPSC | p1c1 | 32 | 2.00 (1.00–3.00) | 4.00 (3.00–5.00) | 0.50× |\n",
		"| MPMC | p1c1 | 32 | – | 3.00 | – |\n",
		"ringkit from Try/RING/SHAPE/burst=N/ringkit",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("WriteDPDK output lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestWriteCalibration(t *testing.T) {
	tests := []struct {
		name string
		cals []Calibration
		want []string
	}{
		{"none", nil, []string{"unknown"}},
		{"one state", []Calibration{{"before rings", 60}, {"after rings", 70.04}},
			[]string{"| before rings | 60.0 ns | fast |", "| after rings | 70.0 ns | fast |", "Every calibration shows one state: fast."}},
		{"changed", []Calibration{{"before rings", 60}, {"", 200}},
			[]string{"| – | 200.0 ns | slow |", "show fast, slow: the machine changed state during the run"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			WriteCalibration(&buf, tc.cals)
			for _, w := range tc.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, buf.String())
				}
			}
		})
	}
}

func TestNum(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{{1543.4, "1543"}, {100, "100"}, {99.94, "99.9"}, {10, "10.0"}, {9.999, "10.00"}, {1.934, "1.93"}, {0.56, "0.560"}} {
		if got := num(tc.v); got != tc.want {
			t.Errorf("num(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
	for _, tc := range []struct {
		r    float64
		want string
	}{{0.8, "0.80×"}, {0.1, "0.10×"}, {0.0052, "0.005×"}, {3.7, "3.70×"}} {
		if got := ratio(tc.r); got != tc.want {
			t.Errorf("ratio(%v) = %q, want %q", tc.r, got, tc.want)
		}
	}
}

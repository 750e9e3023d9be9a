package main

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestParseDPDKFixture reads a real run of dpdk-ringbench: both rings, both
// cases, every burst, each figure as printed.
func TestParseDPDKFixture(t *testing.T) {
	f, err := os.Open(dpdkFixture)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := ParseDPDK(f)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(dpdkFixture)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(got) != 12 || len(lines) != 12 {
		t.Fatalf("%d results from %d lines, want 12 from 12", len(got), len(lines))
	}
	i := 0
	for _, ring := range []string{"SPSC", "MPMC"} {
		for _, shape := range []string{"uncontended", "p1c1"} {
			for _, burst := range []int{1, 8, 32} {
				r := got[i]
				_, fig, _ := strings.Cut(lines[i], "ns/elem=")
				want, err := strconv.ParseFloat(strings.Fields(fig)[0], 64)
				if err != nil {
					t.Fatal(err)
				}
				if r.Ring != ring || r.Shape != shape || r.Burst != burst || r.NsPerElem != want {
					t.Errorf("result %d = %+v, want %s %s burst=%d ns/elem=%v (line %q)", i, r, ring, shape, burst, want, lines[i])
				}
				i++
			}
		}
	}
}

func TestParseDPDK(t *testing.T) {
	in := "installing libdpdk-dev (once per machine)...\n" +
		"dpdk SPSC uncontended burst=32 ns/elem=0.56\n" +
		"\n" +
		"dpdk MPMC 4p2c burst=8 ns/elem=7.98 Melem/s=125.4\n"
	got, err := ParseDPDK(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []DPDKResult{{"SPSC", "uncontended", 32, 0.56}, {"MPMC", "p4c2", 8, 7.98}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("ParseDPDK = %+v, want %+v", got, want)
	}
}

// TestParseDPDKErrors checks that every malformed result line is an error
// naming its line and what is wrong, and that output without results is
// one too.
func TestParseDPDKErrors(t *testing.T) {
	tests := []struct {
		name, line, want string
	}{
		{"too few fields", "dpdk SPSC 1p1c burst=1", "fields"},
		{"unknown ring", "dpdk MPSC 1p1c burst=1 ns/elem=3", `ring "MPSC"`},
		{"bad case", "dpdk SPSC 1x1c burst=1 ns/elem=3", `case "1x1c"`},
		{"case without consumers", "dpdk SPSC 1p burst=1 ns/elem=3", `case "1p"`},
		{"zero producers", "dpdk SPSC 0p1c burst=1 ns/elem=3", `case "0p1c"`},
		{"case with a tail", "dpdk SPSC 1p1cx burst=1 ns/elem=3", `case "1p1cx"`},
		{"no burst key", "dpdk SPSC 1p1c 1 ns/elem=3", `"1": want burst=N`},
		{"zero burst", "dpdk SPSC 1p1c burst=0 ns/elem=3", `"burst=0"`},
		{"burst not a number", "dpdk SPSC 1p1c burst=x ns/elem=3", `"burst=x"`},
		{"no ns/elem key", "dpdk SPSC 1p1c burst=1 3", `"3": want ns/elem=X`},
		{"figure not a number", "dpdk SPSC 1p1c burst=1 ns/elem=fast", `"ns/elem=fast"`},
		{"negative figure", "dpdk SPSC 1p1c burst=1 ns/elem=-1", `"ns/elem=-1"`},
		{"NaN", "dpdk SPSC 1p1c burst=1 ns/elem=NaN", `"ns/elem=NaN"`},
		{"infinite", "dpdk SPSC 1p1c burst=1 ns/elem=+Inf", `"ns/elem=+Inf"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := "dpdk SPSC uncontended burst=1 ns/elem=3.33\n" + tc.line + "\n"
			_, err := ParseDPDK(strings.NewReader(in))
			if err == nil {
				t.Fatalf("ParseDPDK(%q) succeeded", tc.line)
			}
			if !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name line 2 and %s", err, tc.want)
			}
		})
	}
	if _, err := ParseDPDK(strings.NewReader("installing libdpdk-dev...\n")); err == nil || !strings.Contains(err.Error(), "no result") {
		t.Errorf("output without results: error %v, want one saying there is no result", err)
	}
}

// FuzzParseDPDK checks that no input makes ParseDPDK panic or return a
// result outside what a dpdk-ringbench line can say.
func FuzzParseDPDK(f *testing.F) {
	f.Add("dpdk SPSC uncontended burst=1 ns/elem=3.33\n")
	f.Add("dpdk MPMC 1p1c burst=32 ns/elem=3.36 Melem/s=297.7\n")
	f.Add("installing\ndpdk SPSC 16p16c burst=8 ns/elem=1e3\n")
	f.Add("dpdk MPMC 1p1c burst=-1 ns/elem=0x1p-2\n")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParseDPDK(strings.NewReader(in))
		if err != nil {
			if len(got) != 0 {
				t.Fatalf("error %v with results %+v", err, got)
			}
			return
		}
		if len(got) == 0 {
			t.Fatal("no error and no result")
		}
		for _, r := range got {
			if r.Ring != "SPSC" && r.Ring != "MPMC" || r.Burst < 1 || !(r.NsPerElem > 0) || r.NsPerElem > 1e308 {
				t.Fatalf("bad result %+v", r)
			}
			if r.Shape != "uncontended" {
				if _, _, ok := parseShapeName(r.Shape); !ok {
					t.Fatalf("bad shape in %+v", r)
				}
			}
		}
	})
}

// parseShapeName parses "pXcY" for the fuzz target's check.
func parseShapeName(s string) (p, c int, ok bool) {
	rest, ok1 := strings.CutPrefix(s, "p")
	ps, cs, ok2 := strings.Cut(rest, "c")
	p, err1 := strconv.Atoi(ps)
	c, err2 := strconv.Atoi(cs)
	return p, c, ok1 && ok2 && err1 == nil && err2 == nil && p > 0 && c > 0
}

package main

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestParseCalibrationFixture reads calibrate's real output as suite.sh
// labels it.
func TestParseCalibrationFixture(t *testing.T) {
	f, err := os.Open(calibrationFixture)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := ParseCalibration(f)
	if err != nil {
		t.Fatal(err)
	}
	want := []Calibration{{"before rings", 132.5}, {"after rings", 153.2}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseCalibration = %+v, want %+v", got, want)
	}
}

func TestParseCalibration(t *testing.T) {
	in := "calibrate: ../shared/anchors/calibrate not found, skipped\n" +
		"calibration: cache line one-way between CPU 0 and 1: 62.3 ns\n" +
		"  after pipeline :  calibration: cache line one-way between CPU 0 and 1: 201 ns\n"
	got, err := ParseCalibration(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Calibration{{"", 62.3}, {"after pipeline", 201}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseCalibration = %+v, want %+v", got, want)
	}
	got, err = ParseCalibration(strings.NewReader(""))
	if err != nil || len(got) != 0 {
		t.Errorf("empty input: %+v, %v; want nothing and no error", got, err)
	}
}

func TestParseCalibrationErrors(t *testing.T) {
	for _, line := range []string{
		"x: calibration: cache line one-way between CPU 0 and 1: fast ns",
		"x: calibration: cache line one-way between CPU 0 and 1: 62.3",
		"x: calibration: cache line one-way between CPU 0 and 1: -4 ns",
		"x: calibration: cache line one-way between CPU 0 and 1: 0 ns",
		"x: calibration: cache line one-way between CPU 0 and 1: NaN ns",
		"x: calibration: cache line one-way between CPU 0 and 1: Inf ns",
		"x: calibration: cache line one-way",
	} {
		in := "calibration: cache line one-way between CPU 0 and 1: 62.3 ns\n" + line + "\n"
		_, err := ParseCalibration(strings.NewReader(in))
		if err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("ParseCalibration(%q) = %v, want an error naming line 2", line, err)
		}
	}
}

func TestCalibrationState(t *testing.T) {
	for _, tc := range []struct {
		ns   float64
		want string
	}{
		{55, "fast"}, {75, "fast"}, {fastUpTo, "fast"}, {97.7, "between the two"},
		{140, "between the two"}, {slowFrom, "slow"}, {210, "slow"}, {busyFrom, "busy"}, {3469, "busy"},
	} {
		if got := (Calibration{OneWayNs: tc.ns}).State(); got != tc.want {
			t.Errorf("State(%v ns) = %q, want %q", tc.ns, got, tc.want)
		}
	}
}

// FuzzParseCalibration checks that no input makes ParseCalibration panic or
// return a figure that is not a positive, finite number of nanoseconds.
func FuzzParseCalibration(f *testing.F) {
	f.Add("before rings: calibration: cache line one-way between CPU 0 and 1: 62.3 ns\n")
	f.Add("calibration: cache line one-way:: 1e2 ns\ncalibration: cache line one-way\n")
	f.Add("calibrate: skipped\n")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParseCalibration(strings.NewReader(in))
		if err != nil {
			return
		}
		if len(got) > strings.Count(in, calibrationMark) {
			t.Fatalf("%d calibrations from %d marks", len(got), strings.Count(in, calibrationMark))
		}
		for _, c := range got {
			if !(c.OneWayNs > 0) || c.OneWayNs > 1e308 {
				t.Fatalf("bad calibration %+v", c)
			}
		}
	})
}

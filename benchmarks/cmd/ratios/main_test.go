package main

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRun runs the command on the fixtures of real runs: the calibration
// first, then every table, then DPDK.
func TestRun(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run([]string{"-dpdk", dpdkFixture, "-calibration", calibrationFixture, ringsFixture}, &out, &errOut)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	if errOut.Len() != 0 {
		t.Errorf("stderr: %s", errOut.String())
	}
	s := out.String()
	order := []string{
		"### Machine state", "| before rings | 132.5 ns |",
		"### Try/SPSC", "| shape | burst | ringkit | chan | xsync | ringkit ÷ chan | ringkit ÷ xsync |",
		"### Best/MPMC", "| shape | burst | ringkit | chan | workiva | ringkit ÷ chan | ringkit ÷ workiva |",
		"### ringkit against DPDK rte_ring (Try table)", "| MPMC | p1c1 | 32 |",
	}
	at := 0
	for _, w := range order {
		i := strings.Index(s[at:], w)
		if i < 0 {
			t.Fatalf("output lacks %q after byte %d:\n%s", w, at, s)
		}
		at += i + len(w)
	}
}

// TestRunRef checks -ref and -unit on another benchmark's names: the job
// ring's workers=N/burst=N/IMPL with its ns/job.
func TestRunRef(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jobring.txt")
	in := "BenchmarkJobRing/workers=1/burst=8/jobring-2 \t 100 \t 900 ns/op \t 60 ns/job\n" +
		"BenchmarkJobRing/workers=1/burst=8/chanpool-2 \t 100 \t 900 ns/op \t 80 ns/job\n"
	if err := os.WriteFile(path, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := run([]string{"-ref", "jobring", "-unit", "ns/job", path}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"### JobRing\n", "| workers | burst | jobring | chanpool | jobring ÷ chanpool |", "| 1 | 8 | 60.0 | 80.0 | 0.75× |"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "absent.txt")
	badDPDK := filepath.Join(dir, "dpdk.txt")
	if err := os.WriteFile(badDPDK, []byte("dpdk SPSC 1p1c burst=1 ns/elem=x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	noFigures := filepath.Join(dir, "none.txt")
	if err := os.WriteFile(noFigures, []byte("PASS\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		want  string
		errIs error
	}{
		{"no input", nil, "no benchmark output", nil},
		{"missing input", []string{ringsFixture, missing}, missing, fs.ErrNotExist},
		{"missing dpdk", []string{"-dpdk", missing, ringsFixture}, missing, fs.ErrNotExist},
		{"missing calibration", []string{"-calibration", missing, ringsFixture}, missing, fs.ErrNotExist},
		{"bad dpdk", []string{"-dpdk", badDPDK, ringsFixture}, badDPDK + ": dpdk-ringbench output, line 1", nil},
		{"nothing to compare", []string{noFigures}, "no results with ns/elem", nil},
		{"unit absent", []string{"-unit", "Mpps", ringsFixture}, "no results with Mpps", nil},
		{"bad flag", []string{"-colour", ringsFixture}, "colour", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(tc.args, &out, &errOut)
			if err == nil {
				t.Fatalf("run succeeded:\n%s", out.String())
			}
			if !strings.Contains(err.Error()+errOut.String(), tc.want) {
				t.Errorf("error %q (stderr %q) does not say %s", err, errOut.String(), tc.want)
			}
			if tc.errIs != nil && !errors.Is(err, tc.errIs) {
				t.Errorf("error %v is not %v", err, tc.errIs)
			}
		})
	}
}

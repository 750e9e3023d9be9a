package main

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ringkit/ringkit/benchmarks/internal/benchfmt"
	"gonum.org/v1/plot"
)

// checkPNG fails unless path holds a PNG image of a plausible size with
// something drawn on it (more than a handful of colours: lines, glyphs and
// anti-aliased text).
func checkPNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b := img.Bounds()
	if b.Dx() < 400 || b.Dy() < 300 {
		t.Errorf("%s: %v, want at least 400x300", path, b)
	}
	if n := colours(img); n < 8 {
		t.Errorf("%s: %d colours: nothing drawn", path, n)
	}
}

func colours(img image.Image) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
		}
	}
	return len(seen)
}

func results(t *testing.T, path string) []Result {
	t.Helper()
	p, err := benchfmt.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return p.Results
}

func TestDrawRings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rings.png")
	ok, err := DrawRings(path, results(t, ringsFixture))
	if err != nil || !ok {
		t.Fatalf("DrawRings = %v, %v", ok, err)
	}
	checkPNG(t, path)
}

func TestDrawShares(t *testing.T) {
	cfg := defaultShares
	cfg.Duration, cfg.IdleFrom, cfg.IdleTo = 200*time.Millisecond, 50*time.Millisecond, 120*time.Millisecond
	sh, err := SimulateShares(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tc.png")
	if err := DrawShares(path, sh, cfg.Weights); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, path)
}

func TestDrawDowntime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "downtime.png")
	ok, err := DrawDowntime(path, results(t, "testdata/downtime.txt"))
	if err != nil || !ok {
		t.Fatalf("DrawDowntime = %v, %v", ok, err)
	}
	checkPNG(t, path)
}

// TestDrawWithoutData checks that a figure whose benchmarks are not in the
// input is skipped, writing nothing.
func TestDrawWithoutData(t *testing.T) {
	dir := t.TempDir()
	rings, downtime := results(t, ringsFixture), results(t, "testdata/downtime.txt")
	if ok, err := DrawRings(filepath.Join(dir, "r.png"), downtime); ok || err != nil {
		t.Errorf("DrawRings without ring results = %v, %v", ok, err)
	}
	if ok, err := DrawDowntime(filepath.Join(dir, "d.png"), rings); ok || err != nil {
		t.Errorf("DrawDowntime without downtime results = %v, %v", ok, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files written: %v", entries)
	}
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	err := run([]string{"-out", dir, ringsFixture, "testdata/downtime.txt"}, &out, &errOut)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	for _, name := range []string{"rings-producers.png", "tc-shares.png", "downtime-sessions.png"} {
		checkPNG(t, filepath.Join(dir, name))
		if !strings.Contains(out.String(), "wrote "+filepath.Join(dir, name)) {
			t.Errorf("output does not tell it wrote %s:\n%s", name, out.String())
		}
	}
}

func TestRunSkipsMissingFigure(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	if err := run([]string{"-out", dir, "-plots", "rings,downtime", ringsFixture}, &out, &errOut); err != nil {
		t.Fatalf("run: %v", err)
	}
	if !strings.Contains(out.String(), "skipped downtime-sessions.png") {
		t.Errorf("output does not tell downtime-sessions.png was skipped:\n%s", out.String())
	}
	for name, want := range map[string]bool{"rings-producers.png": true, "tc-shares.png": false, "downtime-sessions.png": false} {
		_, err := os.Stat(filepath.Join(dir, name))
		if got := err == nil; got != want {
			t.Errorf("%s written: %v, want %v", name, got, want)
		}
	}
}

func TestRunErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-run.txt")
	tests := []struct {
		name  string
		args  []string
		want  string
		errIs error
	}{
		{"missing input", []string{"-out", t.TempDir(), ringsFixture, missing}, missing, fs.ErrNotExist},
		{"unknown figure", []string{"-out", t.TempDir(), "-plots", "rings,pie"}, `"pie"`, nil},
		{"bad flag", []string{"-colour"}, "colour", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(tc.args, &out, &errOut)
			if err == nil {
				t.Fatal("run succeeded")
			}
			if !strings.Contains(err.Error()+errOut.String(), tc.want) {
				t.Errorf("error %q (stderr %q) does not name %s", err, errOut.String(), tc.want)
			}
			if tc.errIs != nil && !errors.Is(err, tc.errIs) {
				t.Errorf("error %v is not %v", err, tc.errIs)
			}
		})
	}
}

// TestAddLinesWhiskers checks that a series is drawn with the range of its
// samples: the plot's Y range must reach the smallest and largest sample,
// which the medians alone do not, and series at the same X are dodged
// apart.
func TestAddLinesWhiskers(t *testing.T) {
	p := plot.New()
	ss := []Series{
		{Label: "a", Points: []Point{{X: 4, Y: 10, Lo: 8, Hi: 30}}},
		{Label: "b", Points: []Point{{X: 4, Y: 12, Lo: 11, Hi: 13}}},
	}
	if err := addLines(p, ss, nil); err != nil {
		t.Fatal(err)
	}
	if p.Y.Min != 8 || p.Y.Max != 30 {
		t.Errorf("Y range %v..%v, want the samples' 8..30", p.Y.Min, p.Y.Max)
	}
	if !(p.X.Min < 4 && 4 < p.X.Max) {
		t.Errorf("X range %v..%v: the two series at X=4 are not dodged apart", p.X.Min, p.X.Max)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ringkit/ringkit/examples/internal/smoke"
	"github.com/ringkit/ringkit/pipeline"
)

func TestMain(m *testing.M) {
	if smoke.AsMain() {
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// The program itself: -h prints the description, the flags and examples
// and exits 0; -dump-config prints JSON that -config takes back.
func TestProgramHelpAndDumpConfig(t *testing.T) {
	_, help := smoke.Run(t, time.Minute, "-h")
	smoke.Contains(t, help, "runs ringkit's whole software data plane", "are dropped by design (shaping)",
		"Usage:", "-dump-config", "-http ADDR", "Examples:")
	dump, _ := smoke.Run(t, time.Minute, "-dump-config")
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, []byte(dump), 0o644); err != nil {
		t.Fatal(err)
	}
	again, _ := smoke.Run(t, time.Minute, "-config", path, "-dump-config")
	if again != dump || !strings.HasPrefix(dump, "{") {
		t.Errorf("-dump-config of -config of the dump differs:\n%s\nwant\n%s", again, dump)
	}
	out, _ := smoke.Run(t, time.Minute, "-config", path, "-duration", "200ms", "-rate", "5e4")
	if !strings.Contains(out, "accounting: generated") {
		t.Errorf("a run on the dumped config:\n%s", out)
	}
}

// -h describes the program under its own name, lists every flag with its
// default, and shows examples.
func TestUsage(t *testing.T) {
	fs, _ := newFlags("pipeline")
	var out bytes.Buffer
	fs.SetOutput(&out)
	if err := fs.Parse([]string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	help := out.String()
	for _, s := range []string{"pipeline runs ringkit's whole software data plane", "dropped by design (shaping)",
		"Usage: pipeline [flags]", "-dump-config", "-duration duration", "(default 10s)", "(default 500000)",
		"Examples:", "pipeline -config my.json -json", "go doc github.com/ringkit/ringkit/pipeline"} {
		if !strings.Contains(help, s) {
			t.Errorf("usage lacks %q:\n%s", s, help)
		}
	}
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.Contains(help, "-"+f.Name) {
			t.Errorf("usage does not list -%s", f.Name)
		}
	})
}

// -dump-config prints the default configuration as JSON that -config
// reads back to the same configuration.
func TestDumpConfigRoundTrip(t *testing.T) {
	var dump bytes.Buffer
	if err := run(context.Background(), &options{dumpConfig: true, rate: 5e5}, &dump, os.Stderr); err != nil {
		t.Fatal(err)
	}
	want := pipeline.DefaultConfig(5e5)
	if err := want.Validate(); err != nil {
		t.Fatal(err)
	}
	got, err := pipeline.ParseConfig(dump.Bytes())
	if err != nil {
		t.Fatalf("the dump does not parse: %v\n%s", err, dump.String())
	}
	wb, _ := json.Marshal(want)
	gb, _ := json.Marshal(got)
	if !bytes.Equal(wb, gb) {
		t.Errorf("dump reads back as\n%s\nwant\n%s", gb, wb)
	}
	path := filepath.Join(t.TempDir(), "pipeline.json")
	if err := os.WriteFile(path, dump.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if err := run(context.Background(), &options{dumpConfig: true, config: path}, &again, os.Stderr); err != nil {
		t.Fatal(err)
	}
	if again.String() != dump.String() {
		t.Errorf("-config of the dump dumps differently:\n%s\nwant\n%s", again.String(), dump.String())
	}
	for _, key := range []string{`"ring_delay": "10ms"`, `"rate_share": 0.15`, `"quantum": "1ms"`, `"offload"`} {
		if !strings.Contains(dump.String(), key) {
			t.Errorf("dump lacks %s", key)
		}
	}
}

// A short run prints what it shows up front, the tables, the drops by
// cause and the accounting; with -json the report reads back.
func TestRunSmoke(t *testing.T) {
	var out bytes.Buffer
	o := &options{duration: 300 * time.Millisecond, rate: 1e5, every: 100 * time.Millisecond}
	if err := run(context.Background(), o, &out, os.Stderr); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	flat := strings.Join(strings.Fields(text), " ") // the report wraps its paragraphs
	for _, s := range []string{"ringkit pipeline: 1e+05 frames/s offered", "of the load is shaped away by design",
		"Mpps: generated", "drops: shaping", "of traffic offered at 1e+05 frames/s", "The ports are the bottleneck by design",
		"Result:", "port uplink:", "full wait", "latency from the driver's receive", "queueing in the TC rings",
		"drops by cause:", "shaping (by design", "accounting: generated", "migration:"} {
		if !strings.Contains(flat, s) {
			t.Errorf("output lacks %q:\n%s", s, text)
		}
	}
	if strings.Contains(text, "{") {
		t.Errorf("output has a raw struct:\n%s", text)
	}

	var js, progress bytes.Buffer
	o.asJSON = true
	if err := run(context.Background(), o, &js, &progress); err != nil {
		t.Fatal(err)
	}
	rep, err := pipeline.ReadReport(&js)
	if err != nil {
		t.Fatalf("-json output does not read back: %v", err)
	}
	if rep.Generated == 0 || rep.Generated != rep.Delivered+dropTotal(rep.Drops)+uint64(rep.InFlight) {
		t.Errorf("JSON report does not add up: %+v", rep)
	}
	if !strings.Contains(progress.String(), "Mpps: generated") {
		t.Errorf("progress did not go to stderr with -json: %q", progress.String())
	}
}

func dropTotal(ds []pipeline.Drop) uint64 {
	var n uint64
	for _, d := range ds {
		n += d.Packets
	}
	return n
}

// A bad config file is an error naming the field, not a panic.
func TestBadConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(path, []byte(`{"queues": 99}`), 0o644); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), &options{config: path, duration: time.Second}, &bytes.Buffer{}, &bytes.Buffer{})
	if !errors.Is(err, pipeline.ErrConfig) || !strings.Contains(err.Error(), "queues") {
		t.Errorf("run with a bad config: %v", err)
	}
}

package main

import (
	"bytes"
	"strings"
	"testing"
)

const tracesFixture = `File: pipe.test
Type: cpu
-----------+-------------------------------------------------------
      30ms   github.com/ringkit/ringkit/descriptor.(*RxRing).NICPlace
             github.com/ringkit/ringkit/nicsim.(*Port).Receive
             github.com/ringkit/ringkit/pipeline.(*Pipeline).Ingress
             github.com/ringkit/ringkit/pipeline.(*Pipeline).Step
-----------+-------------------------------------------------------
      10ms   github.com/ringkit/ringkit/descriptor.(*TxRing).Transmit
             github.com/ringkit/ringkit/pipeline.(*output).Transmit
             github.com/ringkit/ringkit/sched.(*emitter).flush
             github.com/ringkit/ringkit/sched.(*Port).Step
             github.com/ringkit/ringkit/pipeline.(*Pipeline).Egress
             github.com/ringkit/ringkit/pipeline.(*Pipeline).Step
-----------+-------------------------------------------------------
      10ms   runtime.lock2
             runtime.schedule
-----------+-------------------------------------------------------
     500us   github.com/ringkit/ringkit/pipeline.(*Pipeline).Step
`

const benchFixture = `goos: linux
BenchmarkPipeline/mode=step/verify=all-2      	  170150	     13643 ns/op	         2.345 Mpps	       999.0 ns/pkt
BenchmarkPipeline/mode=step/verify=sample-2   	  170150	     13643 ns/op	         2.345 Mpps	       505.0 ns/pkt	       0 B/op
`

func TestTable(t *testing.T) {
	s, err := parseTraces(strings.NewReader(tracesFixture))
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 4 || s[0].weight != 0.03 || len(s[1].stack) != 6 || s[3].weight != 0.0005 {
		t.Fatalf("parsed %+v", s)
	}
	ns, err := benchMetric(strings.NewReader(benchFixture), "Pipeline/mode=step/verify=sample", "ns/pkt")
	if err != nil || ns != 505 {
		t.Fatalf("ns/pkt = %v, %v; want 505", ns, err)
	}
	var b bytes.Buffer
	if err := write(&b, s, ns); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	// 50.5 ms of samples: receive 30 (59.4%), schedule 10 of which TX 10,
	// glue 0.5, outside 10.
	for _, want := range []string{
		"| NIC receive: generate, parse, RSS, place in the RX ring | 59.4% | 300 |",
		"| schedule: strict priority, DRR, token buckets | 19.8% | 100 |",
		"|   of which TX ring enqueue (driver side) | 19.8% | 100 |",
		"| pipeline glue: stamps, counters, loop | 1.0% | 5 |",
		"| outside the pipeline (runtime, benchmark loop) | 19.8% | 100 |",
		"| **total** | 100% | 505 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}

func TestErrors(t *testing.T) {
	if _, err := parseTraces(strings.NewReader("nothing here\n")); err == nil {
		t.Error("parseTraces accepted text without samples")
	}
	if _, err := benchMetric(strings.NewReader(benchFixture), "Pipeline/mode=run/verify=sample", "ns/pkt"); err == nil {
		t.Error("benchMetric found a benchmark that is not there")
	}
}

func FuzzParseTraces(f *testing.F) {
	f.Add(tracesFixture)
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = parseTraces(strings.NewReader(s))
	})
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ringkit/ringkit/pipeline"
)

// scrape fetches and parses the metrics at addr.
func scrape(addr string) (map[string]*dto.MetricFamily, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

// value returns the value of the metric of family name whose labels are
// labels (name, value pairs), and whether there is one.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// -http serves the pipeline's counters while it runs and, after the run,
// the same figures as the report: every stage, every drop reason and
// cause, every class, the latency histogram's count; and they add up
// (generated = delivered + dropped + in flight).
func TestMetricsAddUpToReport(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	var live float64 // generated, in a scrape during the run
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if fams, err := scrape(addr); err == nil {
				if v, _ := value(fams, "ringkit_pipeline_generated_frames_total"); v > 0 {
					live = v
					return
				}
			}
		}
	})

	var fams map[string]*dto.MetricFamily
	var js, progress bytes.Buffer
	o := &options{duration: 400 * time.Millisecond, rate: 1e5, every: 100 * time.Millisecond, asJSON: true, http: addr,
		served: func(a string) { fams, err = scrape(a) }}
	if rerr := run(context.Background(), o, &js, &progress); rerr != nil {
		t.Fatal(rerr)
	}
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("scrape after the run: %v", err)
	}
	if live == 0 {
		t.Error("no scrape during the run saw a frame generated")
	}
	if !strings.Contains(progress.String(), "metrics at http://"+addr+"/metrics") {
		t.Errorf("the endpoint is not announced:\n%s", progress.String())
	}
	rep, err := pipeline.ReadReport(&js)
	if err != nil {
		t.Fatal(err)
	}

	get := func(name string, labels ...string) float64 {
		t.Helper()
		v, ok := value(fams, name, labels...)
		if !ok {
			t.Errorf("no %s%v", name, labels)
		}
		return v
	}
	stages := map[string]string{"generate": "generated", "receive (NIC → RX rings)": "received", "classify": "classified",
		"offload (co-processor)": "offloaded", "schedule": "scheduled", "transmit (NIC → wire)": "transmitted",
		"sink (verified)": "delivered"}
	for _, st := range rep.Stages {
		name, ok := stages[st.Stage]
		if !ok {
			t.Errorf("report stage %q has no metric", st.Stage)
			continue
		}
		if v := get("ringkit_pipeline_" + name + "_frames_total"); v != float64(st.Packets) {
			t.Errorf("%s: %v frames in the metrics, %d in the report", name, v, st.Packets)
		}
	}
	if v := get("ringkit_pipeline_verified_frames_total"); v != float64(rep.Verified) {
		t.Errorf("verified: %v, report %d", v, rep.Verified)
	}
	var dropped float64
	for _, d := range rep.Drops {
		name, labels := "ringkit_pipeline_dropped_frames_total", []string{"reason", d.Name, "cause", d.Cause}
		if d.Cause == pipeline.CausePending {
			name, labels = "ringkit_pipeline_dropped_unattributed_frames", []string{"reason", d.Name}
		}
		v := get(name, labels...)
		if v != float64(d.Packets) {
			t.Errorf("drops %s (%s): %v in the metrics, %d in the report", d.Name, d.Cause, v, d.Packets)
		}
		dropped += v
	}
	generated, delivered := get("ringkit_pipeline_generated_frames_total"), get("ringkit_pipeline_delivered_frames_total")
	if inFlight := get("ringkit_pipeline_in_flight_frames"); generated != delivered+dropped+inFlight || generated == 0 || dropped == 0 {
		t.Errorf("generated %v != delivered %v + dropped %v + in flight %v", generated, delivered, dropped, inFlight)
	}
	for _, p := range rep.Ports {
		for _, tc := range p.TCs {
			l := []string{"port", p.Name, "class", tc.Name}
			if v := get("ringkit_pipeline_class_sent_frames_total", l...); v != float64(tc.Packets) {
				t.Errorf("port %s class %s: %v frames sent in the metrics, %d in the report", p.Name, tc.Name, v, tc.Packets)
			}
			if v := get("ringkit_pipeline_class_queue_capacity_frames", l...); v != float64(tc.RingSize) {
				t.Errorf("port %s class %s: ring of %v in the metrics, %d in the report", p.Name, tc.Name, v, tc.RingSize)
			}
			if v := get("ringkit_pipeline_class_configured_share_ratio", l...); v != tc.Configured {
				t.Errorf("port %s class %s: configured share %v in the metrics, %v in the report", p.Name, tc.Name, v, tc.Configured)
			}
		}
	}
	if v := get("ringkit_pipeline_latency_seconds"); v != float64(rep.Latency.Samples) || v == 0 {
		t.Errorf("latency histogram of %v samples, report %d", v, rep.Latency.Samples)
	}
	if _, ok := value(fams, "go_goroutines"); !ok {
		t.Error("no Go runtime metrics")
	}
}

// The exported metrics follow Prometheus's naming conventions (promlint).
func TestMetricsLint(t *testing.T) {
	p, err := pipeline.New(pipeline.DefaultConfig(1e5), pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	problems, err := testutil.CollectAndLint(newCollector(p))
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range problems {
		t.Errorf("%s: %s", pr.Metric, pr.Text)
	}
}

// The endpoint serves the Go profiles too.
func TestPprofServed(t *testing.T) {
	var body string
	o := &options{duration: 50 * time.Millisecond, rate: 1e4, every: time.Second, http: "127.0.0.1:0",
		served: func(a string) {
			resp, err := http.Get("http://" + a + "/debug/pprof/goroutine?debug=1")
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var b bytes.Buffer
			_, _ = b.ReadFrom(resp.Body)
			body = b.String()
		}}
	if err := run(context.Background(), o, &bytes.Buffer{}, os.Stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body, "goroutine profile:") {
		t.Errorf("/debug/pprof/goroutine: %.200q", body)
	}
}

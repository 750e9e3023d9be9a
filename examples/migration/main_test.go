package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ringkit/ringkit/examples/internal/smoke"
)

func TestMain(m *testing.M) { smoke.Main(m, main) }

// program starts the example with args, its output on a pipe; the program
// starts its destination as a second copy of the test binary.
func program(t *testing.T, args ...string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := smoke.Command(context.Background(), args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd, bufio.NewScanner(out)
}

// A short migration prints a report in sentences and a table: the
// downtime split into the hold and what lay beyond it, the bytes, the
// journal, what the peers saw and the verdict; no Go struct.
func TestSmoke(t *testing.T) {
	cmd, lines := program(t, "-sessions=8", "-run=300ms", "-hold=50ms")
	var out strings.Builder
	for lines.Scan() {
		out.WriteString(lines.Text() + "\n")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v:\n%s", err, out.String())
	}
	text := out.String()
	for _, s := range []string{"source: 8 sessions up", "dest: the VM is active here:", "records applied",
		"migration: the VM moved to the destination with its 8 sessions.", "from the VM's suspension to the destination's first frame",
		"hold: the VM suspended by choice (-hold 50ms)", "beyond the hold: seal the journal", "bytes before the suspension",
		"replayed on the destination", "peers: 8 sessions", "result: no session lost, no stream differing"} {
		if !strings.Contains(text, s) {
			t.Errorf("output lacks %q:\n%s", s, text)
		}
	}
	if strings.ContainsAny(text, "{}&") {
		t.Errorf("output prints a struct:\n%s", text)
	}
	// The hold and what lay beyond it add up to the downtime.
	down, hold, beyond := duration(t, text, `downtime +(\S+) from`), duration(t, text, `(\S+) hold:`), duration(t, text, `(\S+) beyond the hold`)
	if d := down - hold - beyond; d < -down/100 || d > down/100 || hold < 50*time.Millisecond {
		t.Errorf("downtime %v is not hold %v + beyond %v", down, hold, beyond)
	}
}

func duration(t *testing.T, text, re string) time.Duration {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no %s in:\n%s", re, text)
	}
	d, err := time.ParseDuration(m[1])
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// -http serves the source's metrics; after the report they agree with it
// (the peers' bytes, the bytes moved, the journal and its replay, the
// downtime and the hold), and the program exits on an interrupt.
func TestMetricsAgreeWithReport(t *testing.T) {
	cmd, lines := program(t, "-sessions=8", "-run=300ms", "-hold=50ms", "-http=127.0.0.1:0")
	var out strings.Builder
	var addr string
	for lines.Scan() {
		l := lines.Text()
		out.WriteString(l + "\n")
		if _, err := fmt.Sscanf(l, "metrics at http://%s", &addr); err == nil {
			addr = strings.TrimSuffix(strings.Fields(addr)[0], "/metrics,")
		}
		if strings.HasPrefix(l, "metrics: still at") {
			break
		}
	}
	text := out.String()
	if addr == "" || !strings.Contains(text, "metrics: still at") {
		t.Fatalf("no metrics endpoint announced:\n%s", text)
	}
	fams := scrape(t, addr)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for lines.Scan() {
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after an interrupt: %v\n%s", err, text)
	}

	num := func(re string) float64 {
		t.Helper()
		m := regexp.MustCompile(re).FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("no %s in:\n%s", re, text)
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		return v
	}
	for _, c := range []struct {
		metric string
		labels []string
		report float64
	}{
		{"ringkit_migration_peer_stream_bytes_total", nil, num(`peers: \d+ sessions, (\d+) bytes sent`)},
		{"ringkit_migration_peer_sessions", nil, num(`peers: (\d+) sessions`)},
		{"ringkit_migration_transferred_bytes_total", []string{"phase", "pre_copy"}, num(`(\d+) bytes before the suspension`)},
		{"ringkit_migration_transferred_bytes_total", []string{"phase", "downtime"}, num(`, (\d+) during it \(the journal\)`)},
		{"ringkit_migration_journal_records_total", nil, num(`journal +(\d+) records`)},
		{"ringkit_migration_replayed_records_total", []string{"result", "applied"}, num(`(\d+) replayed on the destination`)},
		{"ringkit_migration_sessions_lost", nil, 0},
		{"ringkit_migration_phase_info", []string{"phase", "moved"}, 1},
	} {
		if v := value(t, fams, c.metric, c.labels...); v != c.report {
			t.Errorf("%s%v = %v, the report says %v", c.metric, c.labels, v, c.report)
		}
	}
	for _, c := range []struct {
		metric, re string
	}{{"ringkit_migration_downtime_seconds", `downtime +(\S+) from`}, {"ringkit_migration_hold_seconds", `(\S+) hold:`}} {
		v, d := value(t, fams, c.metric), duration(t, text, c.re).Seconds()
		if v < d*0.99 || v > d*1.01 {
			t.Errorf("%s = %v, the report says %v", c.metric, v, d)
		}
	}
	var list []*dto.MetricFamily
	for _, f := range fams {
		list = append(list, f)
	}
	problems, err := promlint.NewWithMetricFamilies(list).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	if v := value(t, fams, "ringkit_nic_frames_total", "nic", "peers", "port", "0", "direction", "tx"); v == 0 {
		t.Error("the peers' NIC sent nothing, by the metrics")
	}
}

func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// value returns the metric of family name with the given labels (name,
// value pairs); a missing one fails the test.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("no metric %s", name)
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
		if m.Counter != nil {
			return m.Counter.GetValue()
		}
		return m.Gauge.GetValue()
	}
	t.Fatalf("no metric %s%v", name, labels)
	return 0
}

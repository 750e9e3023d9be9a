package pipeline

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// A report written as JSON reads back equal, and its text form names the
// sections a user looks for.
func TestReportJSONRoundTrip(t *testing.T) {
	p, err := New(simConfig(true), Options{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := RunSim(p, 10*time.Millisecond, 32*time.Microsecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	rep.Migration = &MigrationReport{Ran: true, Sessions: 3, Downtime: Duration(1500 * time.Microsecond)}
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	got, err := ReadReport(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rep, got) {
		t.Errorf("round trip:\nwrote %+v\nread  %+v", rep, got)
	}
	var txt strings.Builder
	if err := rep.WriteText(&txt); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Mpps", "configured", "latency", "drops by reason", "accounting: generated", "offload", "migration"} {
		if !strings.Contains(txt.String(), s) {
			t.Errorf("text report lacks %q", s)
		}
	}
}

// Quantiles come within a bucket (12.5%) of the exact ones.
func TestHistogram(t *testing.T) {
	var h Histogram
	rng := rand.New(rand.NewPCG(1, 2))
	var vs []int64
	for range 100000 {
		v := int64(rng.ExpFloat64() * 50000)
		vs = append(vs, v)
		h.Record(v)
	}
	slices.Sort(vs)
	qs := []float64{0.5, 0.9, 0.99, 0.999}
	got, maxv := h.Quantiles(qs...)
	for i, q := range qs {
		exact := vs[int(q*float64(len(vs)))-1]
		if g := int64(got[i]); g < exact || float64(g) > float64(exact)*1.125+8 {
			t.Errorf("q%v: %d, exact %d", q, g, exact)
		}
	}
	if int64(maxv) != vs[len(vs)-1] || h.Count() != uint64(len(vs)) {
		t.Errorf("max %d count %d", maxv, h.Count())
	}
	for i := range histBuckets - 1 {
		if histIndex(histUpper(i)) != i || histIndex(histUpper(i)+1) != i+1 {
			t.Fatalf("bucket %d: upper %d", i, histUpper(i))
		}
	}
}

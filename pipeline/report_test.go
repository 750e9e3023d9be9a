package pipeline

import (
	"bytes"
	"reflect"
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
	for _, s := range []string{"Mpps", "configured", "latency", "drops by cause", "shaping", "accounting: generated", "offload", "migration"} {
		if !strings.Contains(txt.String(), s) {
			t.Errorf("text report lacks %q", s)
		}
	}
}

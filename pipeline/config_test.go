package pipeline

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The default config survives a JSON round trip through ParseConfig.
func TestConfigRoundTrip(t *testing.T) {
	want := DefaultConfig(5e5)
	if err := want.Validate(); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseConfig(b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	b2, _ := json.Marshal(got)
	if string(b) != string(b2) {
		t.Errorf("round trip differs:\n%s\n%s", b, b2)
	}
}

func TestLoadConfigFile(t *testing.T) {
	path := filepath.Join("testdata", "pipeline.json")
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Ports) != 1 || c.Ports[0].Name != "wan" || c.Queues != 2 || c.Offload != nil {
		t.Errorf("loaded %+v", c)
	}
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "missing.json")); !errors.Is(err, ErrConfig) {
		t.Errorf("missing file: %v", err)
	}
}

// Each bad field gets an error wrapping ErrConfig that names it.
func TestConfigErrors(t *testing.T) {
	base, err := os.ReadFile(filepath.Join("testdata", "pipeline.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, old, new, field string
	}{
		{"syntax", `"queues": 2,`, `"queues": 2,,`, "line 2"},
		{"unknown", `"queues": 2,`, `"queues": 2, "qeues": 1,`, `"qeues"`},
		{"type", `"queues": 2,`, `"queues": "two",`, "queues"},
		{"queues", `"queues": 2,`, `"queues": 99,`, "queues"},
		{"rate", `"rate": 200000`, `"rate": -1`, "traffic.rate"},
		{"ipv6", `"ipv6": 0.5`, `"ipv6": 1.5`, "traffic.ipv6"},
		{"size", `{"size": 60, "weight": 7}`, `{"size": 20, "weight": 7}`, "traffic.sizes[0].size"},
		{"dscp", `{"dscp": 46, "weight": 1}`, `{"dscp": 64, "weight": 1}`, "traffic.dscp[0].dscp"},
		{"rules", `"dst_ports": "80-83"`, `"dst_ports": "83-80"`, "rules"},
		{"no ports", `"ports": [`, `"portz": [`, `"portz"`},
		{"rate both", `"rate_share": 0.2`, `"rate_share": 0.2, "rate_bps": 1e9`, "ports[0].rate_bps"},
		{"quantum", `"quantum": "1ms"`, `"quantum": "1h"`, "ports[0].quantum"},
		{"quantum text", `"quantum": "1ms"`, `"quantum": "soon"`, "duration"},
		{"weight", `"priority": 1, "weight": 4}`, `"priority": 1, "weight": 0}`, "ports[0].tcs[1].weight"},
		{"tc twice", `{"tc": 4,`, `{"tc": 5,`, "ports[0].tcs[1].tc"},
		{"cap", `"cap_share": 0.1`, `"cap_share": 2`, "ports[0].tcs[0].cap_share"},
		{"priority", `"priority": 1, "weight": 4`, `"priority": 16, "weight": 4`, "ports[0].tcs[1].priority"},
		{"trailing", "  ]\n}\n", "  ]\n} {}\n", "after the top-level"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(string(base), tc.old) {
				t.Fatalf("testdata has no %q", tc.old)
			}
			doc := strings.Replace(string(base), tc.old, tc.new, 1)
			_, err := ParseConfig([]byte(doc))
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error %v, want ErrConfig naming %q", err, tc.field)
			}
		})
	}
}

func TestConfiguredShares(t *testing.T) {
	c := Config{Traffic: Traffic{Rate: 1}, Rules: RulesJSON(`{"default": {"port": 0}}`), Ports: []PortConfig{{
		RateBPS: 1e9, TCs: []TCConfig{
			{TC: 0, Priority: 0, Weight: 1, CapBPS: 1e8}, // strict, capped: 10%
			{TC: 1, Priority: 1, Weight: 3},              // 90% × 3/4 = 67.5% ...
			{TC: 2, Priority: 1, Weight: 1, CapBPS: 5e7}, // ... unless capped: 5%
			{TC: 3, Priority: 1, Weight: 1},              // the rest by weight: 85% × 1/4
			{TC: 4, Priority: 2, Weight: 1},              // nothing left
		}}}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	got := c.ConfiguredShares(0)
	want := []float64{0.10, 0.85 * 3 / 4, 0.05, 0.85 / 4, 0}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-9 {
			t.Errorf("class %d: share %v, want %v", i, got[i], want[i])
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	base, err := os.ReadFile(filepath.Join("testdata", "pipeline.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(base)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"ports": [{"rate_bps": 1e9, "tcs": [{"tc": 0, "weight": 1}]}], "rules": {"default": {"port": 0}}}`))
	f.Add([]byte(`{"traffic": {"rate": 1e400}}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err != nil {
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("error does not wrap ErrConfig: %v", err)
			}
			return
		}
		// A config that parses is valid, stays valid, and its shares
		// are fractions summing to at most 1.
		if err := c.Validate(); err != nil {
			t.Fatalf("second Validate: %v", err)
		}
		for i := range c.Ports {
			var sum float64
			for _, s := range c.ConfiguredShares(i) {
				if !(s >= 0 && s <= 1+1e-9) {
					t.Fatalf("port %d share %v", i, s)
				}
				sum += s
			}
			if sum > 1+1e-9 {
				t.Fatalf("port %d shares sum to %v", i, sum)
			}
		}
	})
}

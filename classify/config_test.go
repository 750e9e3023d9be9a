package classify

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadRuleSetGood(t *testing.T) {
	f, err := os.Open("testdata/rules.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := ReadRuleConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	tab := [64]uint8{}
	for d := range tab {
		tab[d] = uint8(d >> 3)
	}
	tab[46], tab[34] = 7, 4
	want := RuleConfig{
		Default: &Action{0, TCFromDSCP},
		DSCP:    &tab,
		Rules: []Rule{
			{Name: "voice", Priority: 100, Proto: ProtoUDP, Src: pfx("10.0.0.0/8"), DstPorts: PortRange{16384, 32767}, Action: Action{1, 6}},
			{Name: "ssh", Priority: 50, Proto: ProtoTCP, DstPorts: PortRange{22, 22}, Action: Action{1, TCFromDSCP}},
			{Name: "host", Src: pfx("2001:db8::1/128"), Dst: pfx("2001:db8::/32"), Proto: ProtoICMPv6, Action: Action{2, 0}},
		},
	}
	if *c.Default != *want.Default || *c.DSCP != *want.DSCP || len(c.Rules) != len(want.Rules) {
		t.Fatalf("config %+v, want %+v", c, want)
	}
	for i := range want.Rules {
		if c.Rules[i] != want.Rules[i] {
			t.Fatalf("rule %d: %+v, want %+v", i, c.Rules[i], want.Rules[i])
		}
	}
	rs, err := LoadRuleSet("testdata/rules.json")
	if err != nil {
		t.Fatal(err)
	}
	f2 := flow4("10.9.9.9", "1.1.1.1", ProtoUDP, 5, 20000)
	if act, idx := rs.Match(&f2); rs.Name(idx) != "voice" || act != (Action{1, 6}) {
		t.Fatalf("voice flow: %v %d", act, idx)
	}
	if _, err := LoadRuleSet(filepath.Join(t.TempDir(), "missing.json")); !errors.Is(err, ErrConfig) {
		t.Fatalf("missing file: %v", err)
	}
}

// TestParseRuleConfigErrors: each bad config's error wraps ErrConfig and
// names the field and line.
func TestParseRuleConfigErrors(t *testing.T) {
	cases := []struct{ name, json, want string }{
		{"not json", "{\n  \"rules\": [,]\n}", "line 2: invalid character ','"},
		{"top level array", "[]", `top level (line 1): want "{"`},
		{"unknown top field", "{\n\"rule\": []}", `"rule" (line 2): unknown field`},
		{"repeated field", "{\"rules\": [],\n \"rules\": []}", "rules (line 2): repeated"},
		{"unknown rule field", "{\"rules\": [\n {\"port\": 1},\n {\"port\": 1, \"prot\": 6}]}", `rules[1]: unknown field "prot" (line 3)`},
		{"wrong type", "{\"rules\": [\n\n {\"port\": 1, \"priority\": \"high\"}]}", "rules[0].priority (line 3): a JSON string where int is wanted"},
		{"bad src", "{\"rules\": [{\"port\": 1,\n \"src\": \"10.0.0/8\"}]}", `rules[0].src (line 2): "10.0.0/8" is not an address or prefix`},
		{"bad dst", "{\"rules\": [{\"port\": 1, \"dst\": \"host\"}]}", `rules[0].dst (line 1)`},
		{"mixed families", "{\"rules\": [{\"port\": 1, \"src\": \"10.0.0.0/8\",\n \"dst\": \"::/0\"}]}", "rules[0].dst (line 2): ::/0 is not of the family"},
		{"bad proto name", "{\"rules\": [{\"port\": 1, \"proto\": \"sctp\"}]}", `rules[0].proto (line 1): "sctp" is not tcp`},
		{"bad proto number", "{\"rules\": [{\"port\": 1, \"proto\": 300}]}", "rules[0].proto (line 1): 300 is not a protocol number"},
		{"ports without tcp/udp", "{\"rules\": [{\"port\": 1, \"proto\": \"icmp\", \"dst_ports\": 7}]}", "rules[0].proto (line 1): protocol 1 has no ports"},
		{"empty range", "{\"rules\": [{\"port\": 1,\n\n \"src_ports\": \"9-3\"}]}", `rules[0].src_ports (line 3): "9-3" is an empty range`},
		{"bad range", "{\"rules\": [{\"port\": 1, \"dst_ports\": \"a-b\"}]}", `rules[0].dst_ports (line 1): "a-b" is not a port`},
		{"port 70000", "{\"rules\": [{\"port\": 1, \"dst_ports\": 70000}]}", "rules[0].dst_ports (line 1): 70000 is not a port"},
		{"port 0", "{\"rules\": [{\"port\": 1, \"dst_ports\": 0}]}", "rules[0].dst_ports (line 1): port 0 cannot be matched"},
		{"missing port", "{\"rules\": [\n {\"name\": \"x\"}]}", "rules[0].port (line 2): missing"},
		{"output port range", "{\"rules\": [{\"port\": 65536}]}", "rules[0].port (line 1): 65536 is not 0..65535"},
		{"tc 8", "{\"rules\": [{\"port\": 1,\n \"tc\": 8}]}", "rules[0].tc (line 2): 8 is not 0..7"},
		{"default tc", "{\"default\": {\"port\": 1, \"tc\": -1}}", "default.tc (line 1)"},
		{"default unknown", "{\"default\": {\"port\": 1, \"queue\": 1}}", `default: unknown field "queue" (line 1)`},
		{"dscp key", "{\"dscp_tc\": {\n\"64\": 1}}", `dscp_tc["64"] (line 2): DSCP must be 0..63`},
		{"dscp tc", "{\"dscp_tc\": {\"3\": 9}}", `dscp_tc["3"] (line 1): traffic class 9`},
		{"dscp type", "{\"dscp_tc\": {\"3\": \"x\"}}", `dscp_tc`},
		{"trailing data", "{}\n{}", "line 2: invalid character '{' after top-level value"},
		{"truncated", "{\"rules\": [", "line 1: unexpected end of JSON input"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseRuleConfig([]byte(c.json))
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("err %v, want ErrConfig", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q\ndoes not contain %q", err, c.want)
			}
		})
	}
}

func FuzzParseRuleConfig(f *testing.F) {
	good, err := os.ReadFile("testdata/rules.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"rules": [{"port": 1, "src_ports": "1-2", "proto": 6}], "dscp_tc": {"1": 2}}`))
	f.Add([]byte(`{"default": {"port": 3, "tc": 1}}`))
	f.Add([]byte(`{"rules": [{"port": 1, "dst": "::1"}, {"port": 2, "src": "1.2.3.4/0"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseRuleConfig(data)
		if err != nil {
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("error %v does not wrap ErrConfig", err)
			}
			return
		}
		if _, err := NewRuleSet(c); err != nil {
			t.Fatalf("accepted config does not compile: %v", err)
		}
	})
}

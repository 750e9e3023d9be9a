package netns_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ringkit/ringkit/linuxport/netns"
)

const snmpSample = `Ip: Forwarding DefaultTTL
Ip: 2 64
Tcp: RtoAlgorithm RtoMin MaxConn ActiveOpens RetransSegs EstabResets
Tcp: 1 200 -1 35 7 1
`

const netstatSample = `TcpExt: PAWSActive PAWSEstab TCPTimeouts TCPAbortOnData TCPAbortOnClose TCPAbortFailed
TcpExt: 1 2 3 4 5 6
IpExt: InOctets
IpExt: 99
`

func TestParseCounters(t *testing.T) {
	c := netns.Counters{}
	for _, s := range []string{snmpSample, netstatSample} {
		if err := netns.ParseCounters(strings.NewReader(s), c); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]int64{"IpForwarding": 2, "TcpMaxConn": -1, "TcpActiveOpens": 35, "TcpRetransSegs": 7,
		"TcpExtPAWSEstab": 2, "TcpExtTCPAbortFailed": 6, "IpExtInOctets": 99}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("%s = %d, want %d", k, c[k], v)
		}
	}
	if len(c) != 15 {
		t.Errorf("%d counters, want 15", len(c))
	}
	tcp := c.TCP()
	if tcp.Aborts != 4+5+6 || tcp.PAWS != 3 || tcp.Timeouts != 3 || tcp.RetransSegs != 7 || tcp.EstabResets != 1 || tcp.Clean() {
		t.Errorf("TCP() = %+v", tcp)
	}
	d := c.Sub(netns.Counters{"TcpRetransSegs": 5})
	if d["TcpRetransSegs"] != 2 || d["TcpActiveOpens"] != 35 {
		t.Errorf("Sub: %v", d)
	}
	if !(netns.Counters{"TcpRetransSegs": 3, "TcpOutRsts": 1}).TCP().Clean() {
		t.Error("retransmissions and resets to forgotten connections are not unclean")
	}
	for _, k := range []string{"TcpExtTCPAbortOnTimeout", "TcpEstabResets", "TcpAttemptFails", "TcpExtPAWSEstab", "TcpInErrs"} {
		if (netns.Counters{k: 1}).TCP().Clean() {
			t.Errorf("%s 1 is clean", k)
		}
	}
}

func TestParseCountersErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"no values", "Tcp: A B\n", "without values"},
		{"prefix differs", "Tcp: A\nUdp: 1\n", "prefix"},
		{"no colon", "Tcp A\nTcp 1\n", "prefix"},
		{"count differs", "Tcp: A B\nTcp: 1\n", "1 values for 2 names"},
		{"not a number", "Tcp: A\nTcp: x\n", "TcpA"},
		{"overflow", "Tcp: A\nTcp: 99999999999999999999\n", "TcpA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := netns.ParseCounters(strings.NewReader(tc.in), netns.Counters{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	var b strings.Builder
	b.WriteString("X:")
	for i := range netns.MaxCounters + 1 {
		fmt.Fprintf(&b, " a%d", i)
	}
	b.WriteString("\nX:")
	for range netns.MaxCounters + 1 {
		b.WriteString(" 1")
	}
	if err := netns.ParseCounters(strings.NewReader(b.String()), netns.Counters{}); err == nil {
		t.Fatal("more than MaxCounters counters taken")
	}
}

func FuzzParseCounters(f *testing.F) {
	f.Add(snmpSample)
	f.Add(netstatSample)
	f.Add("Tcp: A\nTcp: -1\n\n")
	f.Fuzz(func(t *testing.T, s string) {
		c := netns.Counters{}
		if err := netns.ParseCounters(strings.NewReader(s), c); err != nil {
			return
		}
		if len(c) > netns.MaxCounters {
			t.Fatalf("%d counters", len(c))
		}
	})
}

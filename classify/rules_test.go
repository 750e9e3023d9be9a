package classify

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/ringkit/ringkit/descriptor"
	"github.com/ringkit/ringkit/frame"
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func mustRuleSet(t testing.TB, c RuleConfig) *RuleSet {
	t.Helper()
	rs, err := NewRuleSet(c)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

var tableRules = []Rule{
	{Name: "web", Priority: 50, Dst: pfx("10.0.0.0/24"), Proto: ProtoTCP, DstPorts: PortRange{80, 443}, Action: Action{2, 3}},
	{Name: "exact", Priority: 100, Src: pfx("10.0.0.1/32"), Dst: pfx("10.0.0.2/32"), Proto: ProtoTCP,
		SrcPorts: PortRange{1234, 1234}, DstPorts: PortRange{80, 80}, Action: Action{1, 7}},
	{Name: "v6net", Priority: 50, Src: pfx("2001:db8::/32"), Action: Action{3, TCFromDSCP}},
	{Name: "v6net-twin", Priority: 50, Src: pfx("2001:db8::/48"), Action: Action{9, 0}}, // same priority, later: never wins over v6net
	{Name: "udp-high", Priority: 10, Proto: ProtoUDP, SrcPorts: PortRange{1024, 65535}, Action: Action{4, 1}},
	{Name: "net8", Priority: 5, Dst: pfx("10.0.0.0/8"), Action: Action{5, 0}},
	{Name: "upper-half", Priority: 60, Dst: pfx("10.0.0.128/25"), Action: Action{6, 2}}, // listed last, tried before web
	{Name: "v6-exact-dst", Priority: 70, Dst: pfx("2001:db8:1::9/128"), Proto: ProtoUDP, DstPorts: PortRange{53, 53}, Action: Action{7, 5}},
}

func flow4(src, dst string, proto uint8, sp, dp uint16) Flow {
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	f := Flow{SrcLo: v4MappedLo | uint64(be32(s[:])), DstLo: v4MappedLo | uint64(be32(d[:])), Proto: proto, Kind: FlowIPv4}
	if proto == ProtoTCP || proto == ProtoUDP {
		f.SrcPort, f.DstPort, f.Kind = sp, dp, f.Kind|FlowPorts
	}
	return f
}

func flow6(src, dst string, proto uint8, sp, dp uint16) Flow {
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	f := Flow{SrcHi: be64(s[:8]), SrcLo: be64(s[8:]), DstHi: be64(d[:8]), DstLo: be64(d[8:]), Proto: proto, Kind: FlowIPv6}
	if proto == ProtoTCP || proto == ProtoUDP {
		f.SrcPort, f.DstPort, f.Kind = sp, dp, f.Kind|FlowPorts
	}
	return f
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func TestRuleMatch(t *testing.T) {
	rs := mustRuleSet(t, RuleConfig{Rules: tableRules, Default: &Action{0, TCFromDSCP}})
	cases := []struct {
		name string
		f    Flow
		want string // rule name, or "default"
	}{
		{"exact 5-tuple", flow4("10.0.0.1", "10.0.0.2", ProtoTCP, 1234, 80), "exact"},
		{"exact, other source port", flow4("10.0.0.1", "10.0.0.2", ProtoTCP, 1235, 80), "web"},
		{"port range low end", flow4("1.2.3.4", "10.0.0.9", ProtoTCP, 5, 80), "web"},
		{"port range high end", flow4("1.2.3.4", "10.0.0.9", ProtoTCP, 5, 443), "web"},
		{"port above range", flow4("1.2.3.4", "10.0.0.9", ProtoTCP, 5, 444), "net8"},
		{"port below range", flow4("1.2.3.4", "10.0.0.9", ProtoTCP, 5, 79), "net8"},
		{"proto mismatch", flow4("1.2.3.4", "10.0.0.9", ProtoUDP, 5, 80), "net8"},
		{"higher priority listed later", flow4("1.2.3.4", "10.0.0.200", ProtoTCP, 5, 80), "upper-half"},
		{"prefix edge inside", flow4("1.2.3.4", "10.255.255.255", ProtoICMP, 0, 0), "net8"},
		{"prefix edge outside", flow4("1.2.3.4", "11.0.0.0", ProtoICMP, 0, 0), "default"},
		{"udp source range", flow4("1.2.3.4", "9.9.9.9", ProtoUDP, 1024, 1), "udp-high"},
		{"udp source below", flow4("1.2.3.4", "9.9.9.9", ProtoUDP, 1023, 1), "default"},
		{"v6 prefix, equal priority keeps order", flow6("2001:db8::5", "::1", ProtoTCP, 1, 2), "v6net"},
		{"v6 outside prefix", flow6("2001:db9::5", "::1", ProtoTCP, 1, 2), "default"},
		{"v6 exact dst beats prefix", flow6("2001:db8::5", "2001:db8:1::9", ProtoUDP, 7, 53), "v6-exact-dst"},
		{"v4-mapped v6 is not v4", flow6("::ffff:10.0.0.1", "::ffff:10.0.0.2", ProtoTCP, 1234, 80), "default"},
		{"no ports: port rules skip", flow4("1.2.3.4", "9.9.9.9", ProtoUDP, 0, 0), "default"},
		{"not IP", Flow{}, "default"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "no ports: port rules skip" {
				c.f.Kind &^= FlowPorts
				c.f.SrcPort, c.f.DstPort = 0, 0
			}
			_, idx := rs.Match(&c.f)
			got := "default"
			if idx >= 0 {
				got = rs.Name(idx)
			}
			if got != c.want {
				t.Fatalf("matched %q, want %q", got, c.want)
			}
		})
	}
	rs = mustRuleSet(t, RuleConfig{Rules: tableRules})
	f := flow4("1.2.3.4", "11.0.0.0", ProtoICMP, 0, 0)
	if _, idx := rs.Match(&f); idx != MatchNone {
		t.Fatalf("no default: got %d, want MatchNone", idx)
	}
}

func TestDSCPTable(t *testing.T) {
	rs := mustRuleSet(t, RuleConfig{})
	for d := range uint8(64) {
		if rs.TCForDSCP(d) != d>>3 || rs.Resolve(Action{TC: TCFromDSCP}, d) != d>>3 {
			t.Fatalf("default table: DSCP %d -> %d", d, rs.TCForDSCP(d))
		}
	}
	var tab [64]uint8
	tab[46] = 7
	rs = mustRuleSet(t, RuleConfig{DSCP: &tab})
	if rs.TCForDSCP(46) != 7 || rs.TCForDSCP(8) != 0 || rs.Resolve(Action{TC: 3}, 46) != 3 {
		t.Fatal("custom table not applied")
	}
}

func TestNewRuleSetErrors(t *testing.T) {
	bad := [64]uint8{5: 8}
	cases := map[string]RuleConfig{
		"DSCP[5]":    {DSCP: &bad},
		"Default":    {Default: &Action{TC: 9}},
		"rule 0":     {Rules: []Rule{{Name: "x", SrcPorts: PortRange{9, 3}}}},
		"SrcPorts":   {Rules: []Rule{{SrcPorts: PortRange{9, 3}}}},
		"families":   {Rules: []Rule{{Src: pfx("10.0.0.0/8"), Dst: pfx("::/0")}}},
		"Proto 1":    {Rules: []Rule{{Proto: 1, DstPorts: PortRange{1, 2}}}},
		"TC 8":       {Rules: []Rule{{Action: Action{TC: 8}}}},
		"Src: inval": {Rules: []Rule{{Src: netip.PrefixFrom(netip.MustParseAddr("10.0.0.0"), 33)}}},
	}
	for want, c := range cases {
		_, err := NewRuleSet(c)
		if !errors.Is(err, ErrRule) || !contains(err.Error(), want) {
			t.Errorf("%s: %v", want, err)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// randRules returns n random rules over a small address space, so that
// random flows match them often.
func randRules(r *rand.Rand, n int) []Rule {
	rules := make([]Rule, n)
	for i := range rules {
		ru := Rule{Name: string(rune('a' + i%26)), Priority: r.IntN(5), Action: Action{uint16(r.IntN(4)), uint8(r.IntN(NumTC))}}
		if r.IntN(2) == 0 {
			ru.Src = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, byte(r.IntN(4)), byte(r.IntN(256))}), 16+r.IntN(17)).Masked()
		}
		if r.IntN(2) == 0 {
			ru.Dst = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 1, byte(r.IntN(4)), byte(r.IntN(256))}), 16+r.IntN(17)).Masked()
		}
		if r.IntN(2) == 0 {
			ru.Proto = []uint8{ProtoTCP, ProtoUDP}[r.IntN(2)]
			lo := uint16(r.IntN(8))
			ru.DstPorts = PortRange{lo, lo + uint16(r.IntN(4))}
			if ru.DstPorts.Lo == 0 && ru.DstPorts.Hi == 0 {
				ru.DstPorts.Hi = 1
			}
		}
		if r.IntN(8) == 0 {
			ru.Action.TC = TCFromDSCP
		}
		rules[i] = ru
	}
	return rules
}

// randFlowSpec returns a frame from a small space of flows.
func randFlowSpec(r *rand.Rand) frame.Spec {
	return frame.Spec{
		Src: netip.AddrFrom4([4]byte{10, 0, byte(r.IntN(4)), byte(r.IntN(8))}), Dst: netip.AddrFrom4([4]byte{10, 1, byte(r.IntN(4)), byte(r.IntN(8))}),
		Proto: []uint8{ProtoTCP, ProtoUDP, ProtoICMP}[r.IntN(3)], SrcPort: uint16(r.IntN(4)), DstPort: uint16(r.IntN(10)), DSCP: uint8(r.IntN(64)),
	}
}

// TestFlowCacheMatchesRuleWalk classifies random packets of a few hundred
// flows through a small (evicting) flow cache and requires, for each, the
// answer of the uncached rule walk; then changes the rules and requires
// the new rules' answers (a stale cache entry would give the old one).
func TestFlowCacheMatchesRuleWalk(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	n := 20000
	if testing.Short() {
		n = 5000
	}
	rs1 := mustRuleSet(t, RuleConfig{Rules: randRules(r, 16), Default: &Action{9, TCFromDSCP}})
	rs2 := mustRuleSet(t, RuleConfig{Rules: randRules(r, 16)})
	c, err := NewClassifier(rs1, 64)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 256)
	check := func(rs *RuleSet) {
		for range n {
			s := randFlowSpec(r)
			buf = frame.Build(buf[:0], &s)
			var p descriptor.Packet
			v := c.Classify(buf, &p)
			var f Flow
			f.Extract(buf, &p)
			act, idx := rs.Match(&f)
			switch {
			case idx == MatchNone:
				if v != DropNoRoute {
					t.Fatalf("flow %+v: verdict %d, want no route", f, v)
				}
			case v != Forward || p.OutPort != act.Port || p.TC != rs.Resolve(act, s.DSCP):
				t.Fatalf("flow %+v: verdict %d port %d tc %d, rule walk %+v (rule %d)", f, v, p.OutPort, p.TC, act, idx)
			}
		}
	}
	check(rs1)
	st := c.Stats()
	c.Flush()
	if st = c.Stats(); st.CacheHits == 0 || st.CacheMisses == 0 {
		t.Fatalf("cache not exercised: %+v", st)
	}
	if err := c.SetRules(rs2); err != nil {
		t.Fatal(err)
	}
	check(rs2)
}

// TestFlowCacheGenerationWrap: invalidating across the generation wrap
// empties the cache instead of reviving old entries.
func TestFlowCacheGenerationWrap(t *testing.T) {
	c := newFlowCache(8)
	f := flow4("1.1.1.1", "2.2.2.2", ProtoTCP, 1, 2)
	c.gen = ^uint32(0)
	c.insert(&f, f.hash(), Action{Port: 1}, 0)
	if _, ok := c.lookup(&f, f.hash()); !ok {
		t.Fatal("inserted entry not found")
	}
	c.invalidate() // wraps
	if c.gen == 0 {
		t.Fatal("generation 0 in use")
	}
	for range 1 << 1 {
		if _, ok := c.lookup(&f, f.hash()); ok {
			t.Fatal("entry survived invalidation")
		}
		c.gen = ^uint32(0) // the old entry's generation again
		if _, ok := c.lookup(&f, f.hash()); ok {
			t.Fatal("entry survived the wrap")
		}
	}
}

func TestRuleHitCounters(t *testing.T) {
	rs := mustRuleSet(t, RuleConfig{Rules: tableRules, Default: &Action{0, 0}})
	c, _ := NewClassifier(rs, 0)
	frames := map[string]frame.Spec{
		"exact":   {Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Proto: ProtoTCP, SrcPort: 1234, DstPort: 80},
		"web":     {Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Proto: ProtoTCP, SrcPort: 1, DstPort: 80},
		"default": {Src: netip.MustParseAddr("1.0.0.1"), Dst: netip.MustParseAddr("1.0.0.2"), Proto: ProtoTCP, SrcPort: 1, DstPort: 80},
	}
	count := map[string]int{"exact": 3, "web": 5, "default": 2}
	for name, s := range frames {
		b := frame.Build(nil, &s)
		for range count[name] {
			var p descriptor.Packet
			c.Classify(b, &p)
		}
	}
	if rs.Hits(1) != 0 {
		t.Fatal("hits visible before Flush")
	}
	c.Flush()
	if rs.Hits(1) != 3 || rs.Hits(0) != 5 || rs.Hits(MatchDefault) != 2 || rs.Hits(2) != 0 || rs.Hits(99) != 0 {
		t.Fatalf("hits exact %d web %d default %d", rs.Hits(1), rs.Hits(0), rs.Hits(MatchDefault))
	}
	if st := c.Stats(); st.Packets != 10 || st.CacheMisses != 3 || st.CacheHits != 7 {
		t.Fatalf("%+v", st)
	}
}

func TestClassifyAllocs(t *testing.T) {
	rs := mustRuleSet(t, RuleConfig{Rules: tableRules, Default: &Action{0, 0}})
	c, _ := NewClassifier(rs, 0)
	b := frame.Build(nil, &frame.Spec{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Proto: ProtoTCP, SrcPort: 1234, DstPort: 80})
	var p descriptor.Packet
	if a := testing.AllocsPerRun(1000, func() { c.Classify(b, &p); c.Flush() }); a != 0 {
		t.Fatalf("%v allocs", a)
	}
}
